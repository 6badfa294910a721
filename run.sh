#!/usr/bin/env bash
# Runs the whole platform locally without Docker: PostgreSQL, Redis and RabbitMQ as local processes
# (eng/infra.sh), then the Aspire AppHost (Release build) with those servers as connection strings
# (Infrastructure:Mode=existing): it starts the four services on 5101-5104 and the dashboard on 18888.
# Ctrl-C or SIGTERM stops everything this script started.
#
#   ./run.sh              build (when a source changed), start, wait until every service is healthy, keep running
#   RUN_NO_BUILD=1 ./run.sh   skip the build
#   RUN_DETACH=1 ./run.sh     return once healthy and leave the platform running (stop: ./run.sh stop)
#   ./run.sh stop         stop what a detached run started
#   RUN_MODE=processes ./run.sh   no AppHost: the four services as plain processes with the configuration the
#                         AppHost injects (bench/ uses this mode: it needs each service's PID and extra instances)
#   RUN_PORT_BASE=5200 RUN_MODE=processes ./run.sh   ports base+1..base+4 instead of 5101-5104 (a second checkout)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
STATE="$ROOT/.local/run"
LOGS="$ROOT/.local/logs"
mkdir -p "$STATE" "$LOGS"

PORT_BASE="${RUN_PORT_BASE:-5100}"
MODE="${RUN_MODE:-apphost}"
[[ "$MODE" == apphost || "$MODE" == processes ]] || { echo "[run] RUN_MODE must be apphost or processes" >&2; exit 2; }
[[ "$MODE" == processes || "$PORT_BASE" == 5100 ]] || { echo "[run] RUN_PORT_BASE needs RUN_MODE=processes (the AppHost takes the ports from launchSettings.json)" >&2; exit 2; }
DASHBOARD_PORT=18888 OTLP_PORT=18889 RESOURCE_SERVICE_PORT=18890
DCP_CONFIG=""
SERVICES=(auth:Auth.Api:$((PORT_BASE + 1)) token:Token.Api:$((PORT_BASE + 2)) audit:Audit.Api:$((PORT_BASE + 3)) profile:Profile.Api:$((PORT_BASE + 4)))
say() { printf '[run] %s\n' "$*"; }
t0=$(date +%s%3N)
elapsed() { printf '%.1f s' "$(( $(date +%s%3N) - t0 ))e-3"; }

stop_services() {
  local pidfile pid pids=() _
  for pidfile in "$STATE"/*-service.pid; do
    [[ -e "$pidfile" ]] || continue
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null && pids+=("$pid"); fi
    rm -f "$pidfile"
  done
  # Give them a moment to shut down cleanly. Only the processes this script started: matching command lines
  # ('artifacts/bin/…Api.dll') also waited for other checkouts' services, 5 s on every start of a shared machine.
  ((${#pids[@]})) || return 0
  for _ in $(seq 1 50); do kill -0 "${pids[@]}" 2>/dev/null || break; sleep 0.1; done
}

# The AppHost stops its orchestrator (DCP), which stops the services, on SIGTERM. Wait for all of it, then make sure.
stop_apphost() {
  local pidfile="$STATE/apphost.pid" pid _
  [[ -e "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  # DCP's processes all name the kubeconfig of this run (the AppHost logs it)
  DCP_CONFIG="$(grep -oE -- '--kubeconfig "?[^" ]+' "$LOGS/apphost.log" 2>/dev/null | head -1 | sed 's/--kubeconfig "\?//' || true)"
  if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  for _ in $(seq 1 300); do apphost_tree_alive "$pid" || break; sleep 0.1; done
  if apphost_tree_alive "$pid"; then
    say "the AppHost did not stop within 30 s; killing what is left"
    kill -KILL "$pid" 2>/dev/null || true
    [[ -z "$DCP_CONFIG" ]] || pkill -KILL -f -- "$DCP_CONFIG" 2>/dev/null || true
    pkill -KILL -f -- "^$ROOT/artifacts/bin/[A-Za-z]+\.Api/release/" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}
apphost_tree_alive() { # the AppHost, its DCP (started with --monitor <AppHost pid>) or a service it ran
  [[ "$(ps -o stat= -p "$1" 2>/dev/null)" =~ ^[^Z] ]] && return 0
  pgrep -f -- "--monitor $1( |$)" >/dev/null && return 0
  [[ -n "$DCP_CONFIG" ]] && pgrep -f -- "$DCP_CONFIG" >/dev/null && return 0
  pgrep -f -- "^$ROOT/artifacts/bin/[A-Za-z]+\.Api/release/|dotnet run --project $ROOT/services/" >/dev/null
}

if [[ "${1:-}" == stop ]]; then
  stop_apphost
  stop_services
  [[ ! -e "$STATE/infra-started" ]] || { eng/infra.sh down; rm -f "$STATE/infra-started"; }
  say "stopped"
  exit 0
fi

# ---------------------------------------------------------------- infrastructure
infra_was_running=1
eng/infra.sh status >/dev/null 2>&1 || infra_was_running=0
eng/infra.sh up
((infra_was_running)) || touch "$STATE/infra-started"
declare -A CS
while IFS='=' read -r key value; do CS["${key#ConnectionStrings__}"]="$value"; done < <(eng/infra.sh env)

# Development secrets of the platform itself, generated once and kept in a git-ignored file.
SECRETS="$STATE/secrets.env"
if [[ ! -s "$SECRETS" ]]; then
  gen() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }
  umask 077
  {
    echo "AUTH_CLIENT_SECRET=$(gen)"
    echo "CLIENT_SECRET_HASH_KEY=$(gen)"
    echo "BOOTSTRAP_ADMIN_PASSWORD=${Bootstrap__AdminPassword:-$(gen)}"
  } > "$SECRETS"
fi
# shellcheck disable=SC1090
source "$SECRETS"
ADMIN_EMAIL="${Bootstrap__AdminEmail:-admin@secureplatform.local}"
ADMIN_PASSWORD="${Bootstrap__AdminPassword:-$BOOTSTRAP_ADMIN_PASSWORD}"

service_env() { # the variables the AppHost would inject, plus the platform's development secrets
  local svc="$1" port="$2" s name p
  echo "ASPNETCORE_ENVIRONMENT=Development"
  echo "ASPNETCORE_URLS=http://127.0.0.1:$port"
  echo "ConnectionStrings__${svc}db=${CS[${svc}db]}"
  echo "ConnectionStrings__redis=${CS[redis]}"
  echo "ConnectionStrings__rabbitmq=${CS[rabbitmq]}"
  for s in "${SERVICES[@]}"; do IFS=: read -r name _ p <<<"$s"; echo "services__${name}-service__http__0=http://127.0.0.1:$p"; done
  echo "TokenService__ClientSecret=$AUTH_CLIENT_SECRET"
  echo "Clients__auth-service__Secret=$AUTH_CLIENT_SECRET"
  echo "Token__ClientSecretHashKey=$CLIENT_SECRET_HASH_KEY"
  echo "Bootstrap__AdminEmail=$ADMIN_EMAIL"
  echo "Bootstrap__AdminPassword=$ADMIN_PASSWORD"
  echo "Token__Issuer=http://127.0.0.1:$((PORT_BASE + 2))/"
  [[ -z "${BENCH_CLIENT_SECRET:-}" ]] || echo "Clients__bench__Secret=$BENCH_CLIENT_SECRET"
  # bench/: a first-party public app for the authorization code flow (loopback redirect, any port)
  [[ -z "${BENCH_CLIENT_SECRET:-}" ]] || printf '%s\n' "Clients__bench-app__FirstParty=true" "Clients__bench-app__RedirectUris__0=http://127.0.0.1/callback"
  # bench/: the limiter runs (its cost is part of what is measured) with budgets no load run reaches
  if [[ -n "${BENCH_CLIENT_SECRET:-}" ]]; then
    for p in ceiling login login-account register password-change token token-ip; do
      printf '%s\n' "RateLimiting__Policies__${p}__PermitLimit=1000000000" "RateLimiting__Policies__${p}__Window=00:01:00"
    done
  fi
}

if [[ "${1:-}" == print-env ]]; then   # ./run.sh print-env <auth|token|audit|profile> <port>: what a service gets
  service_env "$2" "$3"
  exit 0
fi

# ---------------------------------------------------------------- build
# The AppHost project builds the four services too. Skipped when no source file is newer than the last build.
STAMP="$STATE/build.stamp"
sources_changed() {
  [[ ! -e "$STAMP" ]] && return 0
  [[ -n "$(find AppHost ServiceDefaults services Directory.Build.props Directory.Packages.props global.json \
            -type f -newer "$STAMP" -not -path '*/obj/*' -not -path '*/bin/*' -print -quit)" ]]
}
if [[ "${RUN_NO_BUILD:-}" != 1 ]] && sources_changed; then
  say "building (Release)..."
  touch "$STAMP.next"
  dotnet build AppHost/AppHost.csproj -c Release --nologo -v quiet -clp:ErrorsOnly >"$LOGS/build.log" 2>&1 \
    || { tail -30 "$LOGS/build.log"; say "build failed (full log: $LOGS/build.log)"; exit 1; }
  mv "$STAMP.next" "$STAMP"
  say "built in $(elapsed)"
fi

# ---------------------------------------------------------------- start
stop_apphost; stop_services   # leftovers of an earlier detached run
cleanup() {
  echo; say "stopping..."
  stop_apphost; stop_services
  [[ ! -e "$STATE/infra-started" || -n "${RUN_DETACH:-}" ]] || { eng/infra.sh down; rm -f "$STATE/infra-started"; }
  say "stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for s in "${SERVICES[@]}"; do
  IFS=: read -r svc _ port <<<"$s"
  if ss -Hltn "sport = :$port" | grep -q .; then say "port $port ($svc-service) is already in use"; exit 1; fi
done

apphost_env() { # the AppHost in Infrastructure:Mode=existing; the platform's secrets as its parameters
  local name
  echo "DOTNET_ENVIRONMENT=Development"
  echo "ASPNETCORE_URLS=http://localhost:$DASHBOARD_PORT"
  echo "ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL=http://localhost:$OTLP_PORT"
  echo "ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL=http://localhost:$RESOURCE_SERVICE_PORT"
  echo "ASPIRE_ALLOW_UNSECURED_TRANSPORT=true"   # plain http on loopback; the dashboard still asks for its token
  echo "Infrastructure__Mode=existing"
  echo "AppHost__LaunchBuiltServices=true"   # the built service executables, not dotnet run (AppHost/Extensions/BuiltServiceExtensions.cs)
  for name in authdb tokendb auditdb profiledb redis rabbitmq; do echo "ConnectionStrings__$name=${CS[$name]}"; done
  echo "Parameters__auth-client-secret=$AUTH_CLIENT_SECRET"
  echo "Parameters__client-secret-hash-key=$CLIENT_SECRET_HASH_KEY"
  echo "Parameters__bootstrap-admin-email=$ADMIN_EMAIL"
  echo "Parameters__bootstrap-admin-password=$ADMIN_PASSWORD"
}

if [[ "$MODE" == apphost ]]; then
  for port in $DASHBOARD_PORT $OTLP_PORT $RESOURCE_SERVICE_PORT; do
    if ss -Hltn "sport = :$port" | grep -q .; then say "port $port (dashboard) is already in use"; exit 1; fi
  done
  dir="$ROOT/artifacts/bin/AppHost/release"
  [[ -f "$dir/AppHost.dll" ]] || { say "the AppHost is not built; run without RUN_NO_BUILD"; exit 1; }
  mapfile -t assignments < <(apphost_env)
  ( cd "$dir" && exec env "${assignments[@]}" setsid dotnet AppHost.dll >"$LOGS/apphost.log" 2>&1 </dev/null ) &
  echo $! > "$STATE/apphost.pid"
  alive() { kill -0 "$(cat "$STATE/apphost.pid")" 2>/dev/null; }
  died() { tail -30 "$LOGS/apphost.log"; say "the AppHost exited (log: $LOGS/apphost.log)"; }
else
  for s in "${SERVICES[@]}"; do
    IFS=: read -r svc project port <<<"$s"
    dir="$ROOT/artifacts/bin/$project/release"
    [[ -f "$dir/$project.dll" ]] || { say "$project is not built; run without RUN_NO_BUILD"; exit 1; }
    # env(1), not export: names such as services__token-service__http__0 are not valid shell identifiers
    mapfile -t assignments < <(service_env "$svc" "$port")
    ( cd "$dir" && exec env "${assignments[@]}" setsid dotnet "$project.dll" >"$LOGS/$svc-service.log" 2>&1 </dev/null ) &
    echo $! > "$STATE/$svc-service.pid"
  done
  alive() { local s svc; for s in "${SERVICES[@]}"; do IFS=: read -r svc _ _ <<<"$s"; kill -0 "$(cat "$STATE/$svc-service.pid" 2>/dev/null || echo 0)" 2>/dev/null || return 1; done; }
  died() { say "a service exited (logs: $LOGS/*-service.log)"; }
fi

say "waiting for /health on every service..."
for s in "${SERVICES[@]}"; do
  IFS=: read -r svc project port <<<"$s"
  ok=0
  for _ in $(seq 1 1200); do
    alive || { died; exit 1; }
    if [[ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" == 200 ]]; then ok=1; break; fi
    sleep 0.1
  done
  ((ok)) || { say "$svc-service not healthy after 120 s: $(curl -s "http://127.0.0.1:$port/health")"; exit 1; }
done

say "all four services healthy in $(elapsed)"
if [[ "$MODE" == apphost ]]; then
  login="$(grep -oE "http://localhost:$DASHBOARD_PORT/login\?t=[0-9a-f]+" "$LOGS/apphost.log" | tail -1 || true)"
  echo
  echo "  dashboard        http://localhost:$DASHBOARD_PORT   (needs a login token: open ${login:-the login URL in $LOGS/apphost.log})"
  echo "  service logs     in the dashboard (Console); AppHost log: .local/logs/apphost.log"
else
  echo
  echo "  (RUN_MODE=processes: no AppHost, no dashboard; logs in .local/logs/<service>.log)"
fi
cat <<INFO

  auth-service     http://127.0.0.1:$((PORT_BASE + 1))
  token-service    http://127.0.0.1:$((PORT_BASE + 2))   discovery: /.well-known/openid-configuration
  audit-service    http://127.0.0.1:$((PORT_BASE + 3))
  profile-service  http://127.0.0.1:$((PORT_BASE + 4))
  OpenAPI          /openapi/v1.json on each; health /health, liveness /alive
  RabbitMQ UI      http://127.0.0.1:55673 (user secureplatform, password in .local/infra/secrets.env)
  admin account    $ADMIN_EMAIL (password in .local/run/secrets.env)
  data             .local/infra (eng/infra.sh status | down | clean)

INFO
if [[ -n "${RUN_DETACH:-}" ]]; then
  trap - EXIT
  say "detached; stop with ./run.sh stop"
  exit 0
fi
say "press Ctrl-C to stop"
# Wait until something dies or we are told to stop.
while alive; do sleep 1; done
died
exit 1
