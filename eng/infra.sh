#!/usr/bin/env bash
# eng/infra.sh - local PostgreSQL, Redis and RabbitMQ for SecurePlatform, without Docker or systemd.
#
# The servers run as plain background processes owned by this repo: data under
# <repo>/.local/infra (git-ignored), listening on 127.0.0.1 only, on non-default ports,
# with generated local passwords (never postgres/guest/app).
#
# Usage: eng/infra.sh COMMAND [ARGS]
#   up     [postgres|redis|rabbitmq ...]  install missing packages, start, wait until ready (idempotent)
#   down   [postgres|redis|rabbitmq ...]  stop by PID and wait (idempotent; rabbitmq also stops its epmd)
#   status [postgres|redis|rabbitmq ...]  one line per server; exit 0 only if all are ready
#   env    [--export]                     connection strings (dotenv lines, or `export NAME='value'`)
#   clean                                 down + delete all data and the generated passwords
#   install [browser]                     only install the Debian packages (apt-get, as root); browser: chromium
#   psql | redis-cli | rabbitmqctl | rabbitmq-diagnostics | rabbitmq-plugins  [ARGS...]
#                                         that client, wired to this instance (passwords via env)
#
#   eval "$(eng/infra.sh env --export)"   # after `up`; `up` prints nothing on stdout
#
# Settings (environment, all optional):
#   INFRA_DIR            data folder                  default <repo>/.local/infra
#   INFRA_PORT_OFFSET=N  added to every default port  default 0 (use 100, 200, ... for more instances)
#   PG_PORT=55432 REDIS_PORT=56379 RMQ_PORT=55672 RMQ_MGMT_PORT=55673 RMQ_DIST_PORT=55674
#   RMQ_EPMD_PORT=55675 RMQ_CTL_PORT_MIN=55680 (CLI tools use MIN..MIN+9)
#   PG_PASSWORD REDIS_PASSWORD RMQ_PASSWORD  taken instead of random ones while that server's
#                        data does not exist yet (then saved in $INFRA_DIR/secrets.env)
#   RMQ_MANAGEMENT=1     0 = no management plugin (HTTP UI/API); RabbitMQ then stops ~5 s faster
#   INFRA_WAIT_SECS=90   readiness timeout per server
#   INFRA_NO_INSTALL=1   never call apt-get
#   PG_TLS_DIR           a folder with server.crt and server.key (PEM): PostgreSQL then serves TLS 1.2+ and
#                        accepts TLS connections only (pg_hba hostssl). Meant for an instance of its own.
set -euo pipefail

# ------------------------------------------------------------------ settings
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel 2>/dev/null || (cd "$SCRIPT_DIR/.." && pwd -P))"
INFRA_DIR="${INFRA_DIR:-$ROOT/.local/infra}"
mkdir -p "$INFRA_DIR"
INFRA_DIR="$(cd "$INFRA_DIR" && pwd -P)"

OFFSET="${INFRA_PORT_OFFSET:-0}"
[[ "$OFFSET" =~ ^[0-9]+$ ]] || { echo "[infra] ERROR: INFRA_PORT_OFFSET must be a number" >&2; exit 2; }
PG_PORT="${PG_PORT:-$((55432 + OFFSET))}"
REDIS_PORT="${REDIS_PORT:-$((56379 + OFFSET))}"
RMQ_PORT="${RMQ_PORT:-$((55672 + OFFSET))}"
RMQ_MGMT_PORT="${RMQ_MGMT_PORT:-$((55673 + OFFSET))}"
RMQ_DIST_PORT="${RMQ_DIST_PORT:-$((55674 + OFFSET))}"
RMQ_EPMD_PORT="${RMQ_EPMD_PORT:-$((55675 + OFFSET))}"
RMQ_CTL_PORT_MIN="${RMQ_CTL_PORT_MIN:-$((55680 + OFFSET))}"
RMQ_CTL_PORT_MAX=$((RMQ_CTL_PORT_MIN + 9))
for _p in PG_PORT REDIS_PORT RMQ_PORT RMQ_MGMT_PORT RMQ_DIST_PORT RMQ_EPMD_PORT RMQ_CTL_PORT_MAX; do
  if ! [[ "${!_p}" =~ ^[0-9]+$ ]] || ((${!_p} <= 1024 || ${!_p} > 65535)); then
    echo "[infra] ERROR: $_p=${!_p} is not a usable port (1025-65535)" >&2; exit 2
  fi
done

PG_USER=postgres
PG_DATABASES=(authdb tokendb auditdb profiledb)   # like Aspire's AddDatabase(...)
RMQ_USER=secureplatform
RMQ_NODENAME="${RMQ_NODENAME:-secureplatform-${RMQ_PORT}@localhost}"   # unique per instance
RMQ_MANAGEMENT="${RMQ_MANAGEMENT:-1}"
WAIT_SECS="${INFRA_WAIT_SECS:-90}"

RMQ_BIN=/usr/lib/rabbitmq/bin   # the real scripts; /usr/sbin/rabbitmq* su to user 'rabbitmq'
SECRETS="$INFRA_DIR/secrets.env"

# ------------------------------------------------------------------ helpers
log() { printf '[infra] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now_us() { local t="${EPOCHREALTIME:-}"; t="${t/[.,]/}"; [[ -n "$t" ]] || t="$(date +%s%6N)"; printf '%s' "$t"; }
since() { # since T0_US -> "1.23 s"
  local ms=$(( ($(now_us) - $1) / 1000 ))
  printf '%d.%02d s' $((ms / 1000)) $(((ms % 1000) / 10))
}

# "Ours and alive": the process exists, is not a zombie and has the expected name. PID 1 on
# these machines reaps orphans lazily, so a stopped server lingers as a zombie that
# `kill -0` still reports as alive. Read /proc directly (no ps needed).
alive() {
  local pid="${1:-}" name="${2:-}" stat comm rest
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  [[ -n "$stat" ]] || return 1
  comm="${stat#*(}"; comm="${comm%)*}"
  rest="${stat##*) }"
  [[ "${rest%% *}" != Z && "${rest%% *}" != X ]] || return 1
  [[ -z "$name" || "$comm" == "$name"* ]]
}

# A server must not keep descriptors inherited from whoever runs us (a CI runner waiting for
# EOF on a pipe, our own lock file). Call first thing in the subshell that starts a daemon.
close_inherited_fds() {
  local fd
  for fd in /proc/"$BASHPID"/fd/*; do
    fd="${fd##*/}"
    if [[ "$fd" =~ ^[0-9]+$ ]] && ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
}

port_busy() { [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]; }
port_owner_pids() { ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u; }
require_free_port() {
  ! port_busy "$1" || die "port $1 ($2) is already in use: $(ss -Hltnp "sport = :$1" | head -1)"
}

# stop_pid PID NAME SIGNAL: signal, then wait (up to 60 s) until the process is gone
stop_pid() {
  local pid="$1" name="$2" sig="$3" i
  alive "$pid" "$name" || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < 600; i++)); do alive "$pid" "$name" || return 0; sleep 0.1; done
  log "$name (pid $pid) did not stop within 60 s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do alive "$pid" "$name" || return 0; sleep 0.1; done
}

wait_until() { # wait_until SECS cmd...
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    (( $(date +%s) < deadline )) || return 1
    sleep 0.1
  done
}

# Serialise up/down/clean/install per INFRA_DIR (tests may call `up` concurrently).
# The fd is closed in every daemon by close_inherited_fds, so no server holds the lock.
take_lock() {
  command -v flock >/dev/null || return 0
  exec {LOCK_FD}>"$INFRA_DIR/.lock"
  if ! flock -n "$LOCK_FD"; then
    log "another eng/infra.sh is working on $INFRA_DIR; waiting for it"
    flock -w 600 "$LOCK_FD" || die "gave up waiting for $INFRA_DIR/.lock"
  fi
}

# ------------------------------------------------------------------ passwords
gen_secret() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }   # 32 hex chars
valid_secret() { [[ "$1" =~ ^[A-Za-z0-9._~-]+$ ]]; }             # safe in all three URI/keyword forms

pg_data_path() { # no side effects (pg_dir may create the /var/tmp fallback)
  if [[ -L "$INFRA_DIR/postgres" ]]; then printf '%s/data' "$(readlink "$INFRA_DIR/postgres")"
  else printf '%s/data' "$INFRA_DIR/postgres"; fi
}
pg_initialised() { [[ -s "$(pg_data_path)/PG_VERSION" ]]; }
rmq_initialised() { [[ -n "$(ls -A "$INFRA_DIR/rabbitmq/mnesia" 2>/dev/null)" ]]; }
redis_running() { alive "$(cat "$INFRA_DIR/redis/redis.pid" 2>/dev/null)" redis-server; }

write_secrets() { # write_secrets PG REDIS RMQ -> atomically (re)writes secrets.env, mode 600
  local tmp="$SECRETS.tmp.$$"
  ( umask 077
    printf '# Local-only passwords for this instance, generated by eng/infra.sh. Never commit.\n'
    printf 'PG_PASSWORD=%s\nREDIS_PASSWORD=%s\nRMQ_PASSWORD=%s\n' "$1" "$2" "$3" ) > "$tmp"
  chmod 600 "$tmp"
  if [[ "${4:-}" == replace ]]; then mv -f "$tmp" "$SECRETS"
  else ln "$tmp" "$SECRETS" 2>/dev/null || true; rm -f "$tmp"; fi   # first writer wins
}

# Sets PG_PASSWORD, REDIS_PASSWORD, RMQ_PASSWORD from secrets.env (creating it on first use).
load_secrets() {
  local env_pg="${PG_PASSWORD:-}" env_redis="${REDIS_PASSWORD:-}" env_rmq="${RMQ_PASSWORD:-}" v
  for v in "$env_pg" "$env_redis" "$env_rmq"; do
    [[ -z "$v" ]] || valid_secret "$v" || die "passwords may only contain A-Z a-z 0-9 . _ ~ -"
  done
  if [[ ! -s "$SECRETS" ]]; then
    if pg_initialised || rmq_initialised; then
      die "$SECRETS is missing but server data exists, so its passwords are unknown; run 'eng/infra.sh clean'"
    fi
    write_secrets "${env_pg:-$(gen_secret)}" "${env_redis:-$(gen_secret)}" "${env_rmq:-$(gen_secret)}"
    log "generated local passwords in $SECRETS (mode 600)"
  fi
  local k val s_pg="" s_redis="" s_rmq=""
  while IFS='=' read -r k val; do
    case "$k" in PG_PASSWORD) s_pg="$val" ;; REDIS_PASSWORD) s_redis="$val" ;; RMQ_PASSWORD) s_rmq="$val" ;; esac
  done < "$SECRETS"
  [[ -n "$s_pg" && -n "$s_redis" && -n "$s_rmq" ]] || die "$SECRETS is incomplete; fix it or run 'eng/infra.sh clean'"
  # An override in the environment counts only while that server has no data yet.
  local changed=0
  if [[ -n "$env_pg" && "$env_pg" != "$s_pg" ]]; then
    if pg_initialised; then log "PG_PASSWORD from the environment ignored: the cluster already exists (see $SECRETS)"
    else s_pg="$env_pg"; changed=1; fi
  fi
  if [[ -n "$env_redis" && "$env_redis" != "$s_redis" ]]; then
    if redis_running; then log "REDIS_PASSWORD from the environment ignored while redis runs (down redis first)"
    else s_redis="$env_redis"; changed=1; fi
  fi
  if [[ -n "$env_rmq" && "$env_rmq" != "$s_rmq" ]]; then
    if rmq_initialised; then log "RMQ_PASSWORD from the environment ignored: the broker data already exists (see $SECRETS)"
    else s_rmq="$env_rmq"; changed=1; fi
  fi
  ((changed == 0)) || { write_secrets "$s_pg" "$s_redis" "$s_rmq" replace; log "updated $SECRETS from the environment"; }
  PG_PASSWORD="$s_pg"; REDIS_PASSWORD="$s_redis"; RMQ_PASSWORD="$s_rmq"
}

# ------------------------------------------------------------------ packages
pg_bin() {
  local b="${PG_BIN:-/usr/lib/postgresql/15/bin}"
  [[ -x "$b/initdb" ]] || b="$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -1)"
  printf '%s' "$b"
}
epmd_bin() { if [[ -x /usr/lib/erlang/bin/epmd ]]; then echo /usr/lib/erlang/bin/epmd; else command -v epmd || echo epmd; fi; }

ensure_packages() { # ensure_packages service...
  local s need=()
  for s in "$@"; do
    case "$s" in
      postgres) [[ -x "$(pg_bin)/initdb" && -x "$(pg_bin)/psql" ]] || need+=(postgresql) ;;
      redis) command -v redis-server >/dev/null && command -v redis-cli >/dev/null || need+=(redis-server) ;;
      rabbitmq) [[ -x "$RMQ_BIN/rabbitmq-server" ]] || need+=(rabbitmq-server) ;;
      browser) command -v chromium >/dev/null || need+=(chromium) ;;   # headless, for the browser tests
    esac
  done
  ((${#need[@]})) || return 0
  [[ "${INFRA_NO_INSTALL:-}" != 1 ]] || die "missing packages: ${need[*]} (INFRA_NO_INSTALL=1)"
  [[ $EUID -eq 0 ]] || die "missing packages: ${need[*]}; run as root or: sudo apt-get install ${need[*]}"
  local t0; t0=$(now_us)
  log "installing ${need[*]} with apt-get (log: $INFRA_DIR/apt.log)"
  # The packages' postinst would start the system-wide services (default ports, all
  # interfaces). A policy-rc.d that exits 101 makes invoke-rc.d refuse. The machine image
  # has one; if not, put ours in place for the duration of the install only.
  local own_policy=0 rc=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# temporary, from eng/infra.sh install\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  {
    apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends "${need[@]}"
  } </dev/null >"$INFRA_DIR/apt.log" 2>&1 || rc=$?
  if ((own_policy)); then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
  ((rc == 0)) || { tail -20 "$INFRA_DIR/apt.log" >&2; die "apt-get failed (see $INFRA_DIR/apt.log)"; }
  log "installed ${need[*]} in $(since "$t0")"
}

# ------------------------------------------------------------------ postgres
# postgres refuses to run as root: as root, run its tools as the Debian 'postgres' user, from /
# (the caller's folder may be unreadable for 'postgres', and then every tool complains).
as_pg() { if [[ $EUID -eq 0 ]]; then ( cd / && runuser -u postgres -- "$@" ); else "$@"; fi; }

pg_dir() { # the cluster's folder; creates the /var/tmp fallback when 'postgres' can't reach INFRA_DIR
  local d="$INFRA_DIR/postgres" alt
  if [[ $EUID -eq 0 ]] && ! as_pg test -x "$INFRA_DIR"; then
    alt="$(pg_fallback_dir)"
    if [[ ! -L "$d" ]]; then
      # no pointer in the project folder means fresh state: drop an orphaned old cluster
      if [[ -d "$alt/data" ]] && ! alive "$(head -1 "$alt/data/postmaster.pid" 2>/dev/null)" postgres; then
        rm -rf "$alt"
      fi
      mkdir -p "$alt" && rm -rf "$d" && ln -s "$alt" "$d"
      log "postgres: user 'postgres' cannot reach $INFRA_DIR; the cluster lives in $alt"
    fi
    d="$alt"
  fi
  printf '%s' "$d"
}
pg_fallback_dir() { printf '/var/tmp/infra-postgres-%s' "$(printf %s "$INFRA_DIR" | md5sum | cut -c1-12)"; }
pg_pid() { head -1 "$(pg_data_path)/postmaster.pid" 2>/dev/null || true; }
pg_procs_in() { # live processes whose cwd is the data dir (orphaned backends of a killed postmaster)
  local p
  for p in /proc/[0-9]*; do
    [[ "$(readlink "$p/cwd" 2>/dev/null)" != "$1" ]] || ! alive "${p#/proc/}" || printf '%s ' "${p#/proc/}"
  done
}
pg_ready() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2; }
psql_admin() {
  PGPASSWORD="$PG_PASSWORD" "$(pg_bin)/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres "$@"
}
pg_ensure_databases() {
  local existing db args=() created=()
  existing="$(psql_admin -c "SELECT datname FROM pg_database")" || die "postgres: cannot list databases"
  for db in "${PG_DATABASES[@]}"; do
    grep -qx "$db" <<<"$existing" || { args+=(-c "CREATE DATABASE \"$db\""); created+=("$db"); }
  done
  ((${#args[@]})) || return 0
  psql_admin "${args[@]}" >/dev/null || die "postgres: CREATE DATABASE failed"
  log "postgres: created databases ${created[*]}"
}

pg_up() {
  local t0 d data bin pid i
  t0=$(now_us); d="$(pg_dir)"; data="$d/data"; bin="$(pg_bin)"
  mkdir -p "$d"
  [[ $EUID -ne 0 ]] || { chown postgres:postgres "$d"; chmod 700 "$d"; }
  pid="$(pg_pid)"
  if alive "$pid" postgres; then
    wait_until "$WAIT_SECS" pg_ready || die "postgres (pid $pid) runs but is not ready on 127.0.0.1:$PG_PORT"
    pg_ensure_databases
    log "postgres: already running (pid $pid, 127.0.0.1:$PG_PORT)"
    return 0
  fi
  require_free_port "$PG_PORT" postgres
  if [[ -n "$pid" ]]; then
    # Killed or crashed earlier. Its zombie would make postgres refuse to start ("lock file
    # already exists"): wait for orphaned backends to go, then drop the stale pid file.
    for ((i = 0; i < 100; i++)); do [[ -n "$(pg_procs_in "$data")" ]] || break; sleep 0.1; done
    [[ -z "$(pg_procs_in "$data")" ]] || die "old postgres processes still use $data: $(pg_procs_in "$data")"
    log "postgres: removing stale postmaster.pid (pid $pid is gone)"
    as_pg rm -f "$data/postmaster.pid"
  fi
  if [[ ! -s "$data/PG_VERSION" ]]; then
    local ti; ti=$(now_us)
    as_pg rm -rf "$data"
    ( umask 077; printf '%s\n' "$PG_PASSWORD" > "$d/.pwfile" )
    [[ $EUID -ne 0 ]] || chown postgres:postgres "$d/.pwfile"
    # --no-sync skips only the fsync of the fresh cluster; the server keeps fsync=on.
    if ! as_pg "$bin/initdb" -D "$data" -U "$PG_USER" --pwfile="$d/.pwfile" -E UTF8 --locale=C.UTF-8 \
         --auth-host=scram-sha-256 --auth-local=peer --no-sync >"$d/initdb.log" 2>&1; then
      rm -f "$d/.pwfile"; cat "$d/initdb.log" >&2; die "initdb failed (log: $d/initdb.log)"
    fi
    rm -f "$d/.pwfile"
    echo "include_if_exists = 'infra.conf'" | as_pg tee -a "$data/postgresql.conf" >/dev/null
    log "postgres: initdb done in $(since "$ti")"
  fi
  # Rewritten on every start, so a changed port takes effect. TCP only: no unix socket
  # (/var/run/postgresql needs systemd-tmpfiles; socket paths are limited to 107 bytes).
  printf "%s\n" "# written by eng/infra.sh on every start" "listen_addresses = '127.0.0.1'" \
    "port = $PG_PORT" "unix_socket_directories = ''" "max_connections = 300" \
    | as_pg tee "$data/infra.conf" >/dev/null
  if [[ -n "${PG_TLS_DIR:-}" ]]; then
    # The key must belong to 'postgres' and be private, so the server reads copies inside its own folder.
    as_pg mkdir -p "$d/tls"
    cat "$PG_TLS_DIR/server.crt" | as_pg tee "$d/tls/server.crt" >/dev/null
    ( umask 077; cat "$PG_TLS_DIR/server.key" | as_pg tee "$d/tls/server.key" >/dev/null )
    as_pg chmod 600 "$d/tls/server.key"
    printf "%s\n" "ssl = on" "ssl_cert_file = '$d/tls/server.crt'" "ssl_key_file = '$d/tls/server.key'" \
      "ssl_min_protocol_version = 'TLSv1.2'" | as_pg tee -a "$data/infra.conf" >/dev/null
    printf "%s\n" "# written by eng/infra.sh (PG_TLS_DIR): TLS connections only" \
      "hostssl all all 127.0.0.1/32 scram-sha-256" | as_pg tee "$data/pg_hba.conf" >/dev/null
  fi
  as_pg touch "$d/postgres.log"   # must belong to 'postgres' before anyone appends to it
  # shellcheck disable=SC2094  # pg_ctl's own errors go to the same log (both only append)
  ( close_inherited_fds; as_pg "$bin/pg_ctl" -D "$data" -l "$d/postgres.log" -w -t "$WAIT_SECS" start ) \
    </dev/null >/dev/null 2>>"$d/postgres.log" \
    || { tail -20 "$d/postgres.log" >&2; die "postgres did not start (log: $d/postgres.log)"; }
  wait_until "$WAIT_SECS" pg_ready || die "postgres started but is not ready"
  pg_ensure_databases
  log "postgres: ready in $(since "$t0") (pid $(pg_pid), 127.0.0.1:$PG_PORT)"
}
pg_down() {
  local pid t0; pid="$(pg_pid)"; t0=$(now_us)
  alive "$pid" postgres || return 0
  stop_pid "$pid" postgres INT   # SIGINT = fast shutdown (what `pg_ctl stop -m fast` sends)
  STOPPED+=(postgres)
  log "postgres: stopped in $(since "$t0") (pid $pid)"
}

# ------------------------------------------------------------------ redis
redis_pid() { cat "$INFRA_DIR/redis/redis.pid" 2>/dev/null || true; }
# The password goes through REDISCLI_AUTH, never on a command line (visible in ps).
redis_ready() { [[ "$(REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }
redis_up() {
  local d="$INFRA_DIR/redis" t0 pid; t0=$(now_us)
  mkdir -p "$d"
  pid="$(redis_pid)"
  if alive "$pid" redis-server; then
    wait_until "$WAIT_SECS" redis_ready || die "redis (pid $pid) runs but does not answer PING on 127.0.0.1:$REDIS_PORT"
    log "redis: already running (pid $pid, 127.0.0.1:$REDIS_PORT)"
    return 0
  fi
  require_free_port "$REDIS_PORT" redis
  ( umask 077; cat > "$d/redis.conf" <<EOF
# written by eng/infra.sh on every start
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
requirepass $REDIS_PASSWORD
daemonize yes
pidfile "$d/redis.pid"
logfile "$d/redis.log"
dir "$d"
# Revocation keys and token-service's Data Protection key ring live here: keep them across restarts
# (append-only file, fsync once a second); no RDB snapshots.
save ""
appendonly yes
appendfsync everysec
EOF
  )
  rm -f "$d/redis.pid"
  ( close_inherited_fds; cd "$d"; exec redis-server "$d/redis.conf" ) </dev/null >>"$d/redis.log" 2>&1 \
    || { tail -20 "$d/redis.log" >&2; die "redis-server failed (log: $d/redis.log)"; }
  wait_until "$WAIT_SECS" redis_ready || { tail -20 "$d/redis.log" >&2; die "redis not ready (log: $d/redis.log)"; }
  log "redis: ready in $(since "$t0") (pid $(redis_pid), 127.0.0.1:$REDIS_PORT)"
}
redis_down() {
  local pid t0; pid="$(redis_pid)"; t0=$(now_us)
  alive "$pid" redis-server || return 0
  stop_pid "$pid" redis-server TERM
  STOPPED+=(redis)
  log "redis: stopped in $(since "$t0") (pid $pid)"
}

# ------------------------------------------------------------------ rabbitmq
# Everything the server AND its CLI tools need. Always use in a subshell: ( rmq_env; ... ).
rmq_env() {
  local d="$INFRA_DIR/rabbitmq"
  export HOME="$d/home"                              # .erlang.cookie for server and CLI
  export RABBITMQ_CONF_ENV_FILE=/dev/null            # ignore /etc/rabbitmq/rabbitmq-env.conf
  export RABBITMQ_NODENAME="$RMQ_NODENAME"
  export RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config"   # need not exist
  export RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins"
  export RABBITMQ_MNESIA_BASE="$d/mnesia"
  export RABBITMQ_LOG_BASE="$d/log"
  export RABBITMQ_PID_FILE="$d/rabbitmq.pid"          # beam.smp's PID, written early in boot
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$RMQ_PORT"
  export RABBITMQ_DIST_PORT="$RMQ_DIST_PORT"         # default is AMQP+20000: invalid for 55672
  export ERL_EPMD_PORT="$RMQ_EPMD_PORT"              # our own epmd, not the shared 4369
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CTL_DIST_PORT_MIN="$RMQ_CTL_PORT_MIN"   # default 35672-35682 on 0.0.0.0
  export RABBITMQ_CTL_DIST_PORT_MAX="$RMQ_CTL_PORT_MAX"
}
rmq_pid() { cat "$INFRA_DIR/rabbitmq/rabbitmq.pid" 2>/dev/null || true; }
# Ready = our beam.smp is alive and owns the AMQP listener. RabbitMQ opens its client
# listeners as the last boot step, so this is a cheap stand-in for `rabbitmqctl
# await_startup` (which costs ~0.6 s of Erlang VM start per call).
rmq_ready() {
  local pid; pid="$(rmq_pid)"
  alive "$pid" beam.smp && port_owner_pids "$RMQ_PORT" | grep -qx "$pid"
}
rmq_mgmt_enabled() { grep -qs rabbitmq_management "$INFRA_DIR/rabbitmq/enabled_plugins"; }
rmq_addr() {
  printf 'amqp 127.0.0.1:%s' "$RMQ_PORT"
  if rmq_mgmt_enabled; then printf ', management http://127.0.0.1:%s/' "$RMQ_MGMT_PORT"; fi
}

RMQ_T0="" RMQ_STARTER=""
rmq_launch() { # starts the node in the background; rmq_await waits for it
  local d="$INFRA_DIR/rabbitmq" pid p
  RMQ_T0=$(now_us); RMQ_STARTER=""
  mkdir -p "$d/home" "$d/mnesia" "$d/log"
  pid="$(rmq_pid)"
  if alive "$pid" beam.smp; then return 0; fi   # running (or still booting): rmq_await decides
  for p in "$RMQ_PORT:amqp" "$RMQ_DIST_PORT:erlang-distribution" \
           $( [[ "$RMQ_MANAGEMENT" != 1 ]] || echo "$RMQ_MGMT_PORT:management" ); do
    require_free_port "${p%%:*}" "rabbitmq ${p#*:}"
  done
  # An epmd on our port is fine if it is an epmd (left over from an earlier run of ours).
  if port_busy "$RMQ_EPMD_PORT" && ! ss -Hltnp "sport = :$RMQ_EPMD_PORT" | grep -q '"epmd"'; then
    die "port $RMQ_EPMD_PORT (rabbitmq epmd) is used by something else"
  fi
  # Pre-create the cookie, or the server and the first CLI call race to create different ones.
  if [[ ! -s "$d/home/.erlang.cookie" ]]; then
    ( umask 077; gen_secret > "$d/home/.erlang.cookie" ); chmod 400 "$d/home/.erlang.cookie"
  fi
  ( umask 077; cat > "$d/rabbitmq.conf" <<EOF
# written by eng/infra.sh on every start
listeners.tcp.default = 127.0.0.1:$RMQ_PORT
# kept even when the plugin is off, so a later 'rabbitmq-plugins enable' stays on loopback
management.tcp.ip = 127.0.0.1
management.tcp.port = $RMQ_MGMT_PORT
# used on the first boot of an empty data dir only (guest/guest is then never created)
default_user = $RMQ_USER
default_pass = $RMQ_PASSWORD
default_vhost = /
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
log.console = false
log.file.level = info
EOF
  )
  # what `rabbitmq-plugins --offline enable|disable rabbitmq_management` would write
  if [[ "$RMQ_MANAGEMENT" == 1 ]]; then echo '[rabbitmq_management].' > "$d/enabled_plugins"
  else echo '[].' > "$d/enabled_plugins"; fi
  rm -f "$d/rabbitmq.pid"
  # The real start script (not /usr/sbin/rabbitmq-server, which su's to 'rabbitmq'), in its
  # own session; in foreground mode it forwards SIGTERM to beam.smp, whose PID it writes out.
  ( close_inherited_fds; rmq_env; cd "$d"
    exec setsid "$RMQ_BIN/rabbitmq-server" >>"$d/log/console.log" 2>&1 </dev/null ) &
  RMQ_STARTER=$!
  disown 2>/dev/null || true
  log "rabbitmq: starting (node $RMQ_NODENAME)"
}
rmq_await() {
  local d="$INFRA_DIR/rabbitmq" pid i
  pid="$(rmq_pid)"
  if [[ -z "$RMQ_STARTER" ]]; then   # it was already running
    if alive "$pid" beam.smp && ! rmq_ready; then log "rabbitmq: pid $pid is running but not ready yet; waiting"; fi
  else
    # fail fast if the node dies before it writes its pid file (bad config, port taken, ...)
    for ((i = 0; i < WAIT_SECS * 10; i++)); do
      [[ -s "$d/rabbitmq.pid" ]] && break
      alive "$RMQ_STARTER" || { tail -30 "$d/log/console.log" >&2; rmq_down; die "rabbitmq exited during startup (logs: $d/log)"; }
      sleep 0.1
    done
  fi
  if [[ -z "$RMQ_STARTER" ]] && rmq_ready; then
    log "rabbitmq: already running (pid $pid, $(rmq_addr))"
    return 0
  fi
  # Waits for the pid file, the distribution and the 'rabbit' app. Run with our fds closed:
  # an Erlang CLI node must never hand our lock or the caller's pipes to a daemon.
  if ! ( close_inherited_fds; rmq_env; exec "$RMQ_BIN/rabbitmqctl" -q wait --timeout "$WAIT_SECS" "$d/rabbitmq.pid" ) \
       </dev/null >>"$d/log/cli.log" 2>&1; then
    tail -30 "$d/log/console.log" >&2; rmq_down; die "rabbitmq not ready (logs: $d/log)"
  fi
  wait_until 10 rmq_ready || die "rabbitmq is up but not listening on 127.0.0.1:$RMQ_PORT (logs: $d/log)"
  if [[ -n "$RMQ_STARTER" ]]; then log "rabbitmq: ready in $(since "$RMQ_T0") (pid $(rmq_pid), $(rmq_addr))"
  else log "rabbitmq: ready (pid $(rmq_pid), $(rmq_addr))"; fi
}
rmq_up() { rmq_launch; rmq_await; }
rmq_down() {
  local pid t0; pid="$(rmq_pid)"; t0=$(now_us)
  if alive "$pid" beam.smp; then
    stop_pid "$pid" beam.smp TERM   # graceful; ~6 s with the management plugin, ~1.3 s without
    STOPPED+=(rabbitmq)
    log "rabbitmq: stopped in $(since "$t0") (pid $pid)"
  fi
  # The node's epmd outlives it. `epmd -kill` refuses while any node is registered with it,
  # so this never breaks another node.
  if ss -Hltnp "sport = :$RMQ_EPMD_PORT" 2>/dev/null | grep -q '"epmd"'; then
    if ( rmq_env; "$(epmd_bin)" -kill ) >/dev/null 2>&1; then log "rabbitmq: epmd on port $RMQ_EPMD_PORT stopped"
    else log "rabbitmq: epmd on port $RMQ_EPMD_PORT still has nodes registered; left running"; fi
  fi
}

# ------------------------------------------------------------------ commands
SERVICES=() STOPPED=()
parse_services() {
  local s; SERVICES=()
  (($#)) || set -- postgres redis rabbitmq
  for s in "$@"; do
    case "$s" in postgres|redis|rabbitmq) SERVICES+=("$s") ;; *) die "unknown server '$s' (postgres, redis, rabbitmq)" ;; esac
  done
}
has_service() { local s; for s in "${SERVICES[@]}"; do [[ "$s" != "$1" ]] || return 0; done; return 1; }

cmd_up() {
  local t0; t0=$(now_us)
  parse_services "$@"
  take_lock
  ensure_packages "${SERVICES[@]}"
  load_secrets
  # RabbitMQ boots in ~5 s: start it first, bring up the others meanwhile, then wait for it.
  if has_service rabbitmq; then rmq_launch; fi
  if has_service postgres; then pg_up; fi
  if has_service redis; then redis_up; fi
  if has_service rabbitmq; then rmq_await; fi
  log "up: ${SERVICES[*]} ready in $(since "$t0")"
}
cmd_down() {
  local t0; t0=$(now_us)
  parse_services "$@"
  take_lock
  if has_service rabbitmq; then rmq_down; fi
  if has_service redis; then redis_down; fi
  if has_service postgres; then pg_down; fi
  if ((${#STOPPED[@]})); then log "down: stopped ${STOPPED[*]} in $(since "$t0")"
  else log "down: ${SERVICES[*]} not running; nothing to do"; fi
}
load_secrets_quiet() { [[ ! -s "$SECRETS" ]] || load_secrets; }   # status: never creates them

cmd_status() {
  local rc=0 pid
  parse_services "$@"
  load_secrets_quiet
  if has_service postgres; then
    pid="$(pg_pid)"
    if alive "$pid" postgres && pg_ready; then status_line postgres ready "$pid" "127.0.0.1:$PG_PORT"
    elif alive "$pid" postgres; then status_line postgres "not ready" "$pid" "127.0.0.1:$PG_PORT"; rc=1
    else status_line postgres stopped - "127.0.0.1:$PG_PORT"; rc=1; fi
  fi
  if has_service redis; then
    pid="$(redis_pid)"
    if alive "$pid" redis-server && [[ -n "${REDIS_PASSWORD:-}" ]] && redis_ready; then status_line redis ready "$pid" "127.0.0.1:$REDIS_PORT"
    elif alive "$pid" redis-server; then status_line redis "not ready" "$pid" "127.0.0.1:$REDIS_PORT"; rc=1
    else status_line redis stopped - "127.0.0.1:$REDIS_PORT"; rc=1; fi
  fi
  if has_service rabbitmq; then
    pid="$(rmq_pid)"
    if rmq_ready; then status_line rabbitmq ready "$pid" "$(rmq_addr)"
    elif alive "$pid" beam.smp; then status_line rabbitmq starting "$pid" "$(rmq_addr)"; rc=1
    else status_line rabbitmq stopped - "amqp 127.0.0.1:$RMQ_PORT"; rc=1; fi
  fi
  return "$rc"
}
status_line() { printf '%-9s %-9s pid %-8s %s\n' "$1" "$2" "$3" "$4"; }

cmd_env() {
  local as_export=0
  case "${1:-}" in "") ;; --export) as_export=1 ;; *) die "usage: env [--export]" ;; esac
  load_secrets
  local names=() values=() db
  for db in postgres "${PG_DATABASES[@]}"; do
    names+=("ConnectionStrings__$db")
    values+=("Host=127.0.0.1;Port=$PG_PORT;Username=$PG_USER;Password=$PG_PASSWORD;Database=$db")
  done
  names+=(ConnectionStrings__redis);    values+=("127.0.0.1:$REDIS_PORT,password=$REDIS_PASSWORD")
  names+=(ConnectionStrings__rabbitmq); values+=("amqp://$RMQ_USER:$RMQ_PASSWORD@127.0.0.1:$RMQ_PORT")
  local i
  for i in "${!names[@]}"; do
    if ((as_export)); then printf "export %s='%s'\n" "${names[$i]}" "${values[$i]}"   # values never contain '
    else printf '%s=%s\n' "${names[$i]}" "${values[$i]}"; fi
  done
}

cmd_clean() {
  local t0 alt; t0=$(now_us)
  take_lock
  rmq_down; redis_down; pg_down
  if [[ -L "$INFRA_DIR/postgres" ]]; then rm -rf "$(readlink "$INFRA_DIR/postgres")"; fi
  alt="$(pg_fallback_dir)"
  if [[ -d "$alt" ]] && ! alive "$(head -1 "$alt/data/postmaster.pid" 2>/dev/null)" postgres; then rm -rf "$alt"; fi
  # delete only what this script creates (INFRA_DIR may point anywhere)
  rm -rf "$INFRA_DIR/postgres" "$INFRA_DIR/redis" "$INFRA_DIR/rabbitmq" \
         "$SECRETS" "$INFRA_DIR/apt.log" "$INFRA_DIR/.lock"
  rmdir "$INFRA_DIR" 2>/dev/null || true
  log "clean: removed the data in $INFRA_DIR in $(since "$t0")"
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

cmd="${1:-}"; (($#)) && shift
case "$cmd" in
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  status) cmd_status "$@" ;;
  env) cmd_env "$@" ;;
  clean) (($# == 0)) || die "clean takes no arguments"; cmd_clean ;;
  install) take_lock; if (($#)); then ensure_packages "$@"; else ensure_packages postgres redis rabbitmq; fi ;;
  psql)
    load_secrets
    PGPASSWORD="$PG_PASSWORD" exec "$(pg_bin)/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres "$@" ;;
  redis-cli)
    load_secrets
    REDISCLI_AUTH="$REDIS_PASSWORD" exec redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@" ;;
  rabbitmqctl|rabbitmq-diagnostics|rabbitmq-plugins)
    rmq_env; exec "$RMQ_BIN/$cmd" "$@" ;;
  help|-h|--help) usage ;;
  *) usage >&2; exit 2 ;;
esac
