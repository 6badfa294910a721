#!/usr/bin/env bash
# Load scenarios against a local platform. Starts it with ./run.sh (detached) plus two comparison
# instances: profile-service without the revocation check (port base+5, 5105) and token-service signing
# ES256 (port base+6, 5106, own database).
# RUN_PORT_BASE moves every port (see run.sh). Prints one JSON line per scenario; see bench/README.md.
#
#   bench/run.sh [scenario ...]     default: login refresh code-exchange profile profile-no-revocation client-credentials client-credentials-es256
#   bench/run.sh profile-pair client-credentials-pair   two variants at once, half the workers each (see below)
#   bench/run.sh password-hash login login-19mib login-pair login-limiter-pair   a login in Argon2id hashes, before/after; limiter
#   BENCH_SECONDS=20 BENCH_WORKERS=16 BENCH_WARMUP=5 bench/run.sh
#
# CPU counted per scenario: the serving services plus this platform's own PostgreSQL (the postmaster and all its
# backends) and Redis, as process trees (PIDs from eng/infra.sh status). A *-pair scenario loads two variants at the
# same time and counts only each variant's own service process, so both see the same machine (the noise of a
# shared machine swamps sequential runs); it ends with the ratio of their CPU per request. BENCH_CPU=names counts, as before, every
# process named postgres or redis-server on the machine instead (wrong when others run their own servers).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_PER=${BENCH_SECONDS:-20}
WORKERS=${BENCH_WORKERS:-16}
WARMUP=${BENCH_WARMUP:-5}
CPU_MODE=${BENCH_CPU:-tree}
export BENCH_CLIENT_SECRET="${BENCH_CLIENT_SECRET:-$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')}"
LOGS="$ROOT/.local/logs"
BASE="${RUN_PORT_BASE:-5100}"

# Plain processes: the bench needs PIDs and extra instances. Exported, so that print-env and the trap's stop use the
# same mode (with RUN_PORT_BASE set they refused otherwise, and the trap left the platform running).
export RUN_MODE=processes
RUN_DETACH=1 ./run.sh >/dev/null
dotnet build bench/LoadGen -c Release -v quiet -clp:ErrorsOnly -nologo
pid_of() { cat "$ROOT/.local/run/$1.pid"; }
infra_pid() { eng/infra.sh status "$1" | awk '{ for (i = 1; i < NF; i++) if ($i == "pid") { print $(i + 1); exit } }'; }
servers="$(infra_pid postgres),$(infra_pid redis)"
[[ "$servers" =~ ^[0-9]+,[0-9]+$ ]] || { echo "[bench] could not read the PIDs of PostgreSQL and Redis from eng/infra.sh status" >&2; exit 1; }

extra_pids=()
start_extra() { # start_extra <svc> <project> <port> VAR=value...
  local svc="$1" project="$2" port="$3"; shift 3
  mapfile -t assignments < <(./run.sh print-env "$svc" "$port")
  ( cd "artifacts/bin/$project/release" && exec env "${assignments[@]}" "$@" setsid dotnet "$project.dll" >"$LOGS/bench-$svc-$port.log" 2>&1 </dev/null ) &
  extra_pids+=($!)
  for _ in $(seq 1 600); do [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" == 200 ]] && return 0; sleep 0.1; done
  echo "[bench] $project on $port did not become healthy (log: $LOGS/bench-$svc-$port.log)" >&2; return 1
}
trap 'kill "${extra_pids[@]}" 2>/dev/null || true; ./run.sh stop >/dev/null' EXIT
es_db="$(./run.sh print-env token $((BASE + 6)) | sed -n 's/^ConnectionStrings__tokendb=//p' | sed 's/Database=tokendb/Database=tokendb_es256/')"
start_extra profile Profile.Api $((BASE + 5)) Auth__Revocation__Enabled=false
start_extra token Token.Api $((BASE + 6)) Token__SigningAlgorithm=ES256 "ConnectionStrings__tokendb=$es_db" Token__Issuer=http://127.0.0.1:$((BASE + 6))/

# auth-service variants for the login scenarios, started only when one asks for them, all before the first scenario
# (a variant started later would be measured while its JIT still warms up): the previous Argon2id parameters
# (m=19 MiB t=2, base+7) and no rate limiter (base+8). They share authdb, token-service and the servers.
declare -A auth_variant=()
start_auth_variant() { # start_auth_variant <name> <port> VAR=value...: once; its PID in auth_variant[name]
  local name="$1" port="$2"; shift 2
  [[ -n "${auth_variant[$name]:-}" ]] && return 0
  start_extra auth Auth.Api "$port" "$@"
  auth_variant[$name]=${extra_pids[-1]}
}
for s in "$@"; do
  case "$s" in
    login-19mib|login-pair) start_auth_variant argon19 $((BASE + 7)) PasswordHashing__MemoryKiB=19456 PasswordHashing__Iterations=2 ;;
    login-limiter-pair) start_auth_variant nolimiter $((BASE + 8)) RateLimiting__Enabled=false ;;
  esac
done

run() { # run <scenario> <service pids> [options]
  local name="$1" pids="$2" cpu; shift 2
  case "$CPU_MODE" in
    tree) cpu=(--cpu-tree "$pids,$servers") ;;
    pair) cpu=(--cpu-tree "$pids") ;;
    names) cpu=(--cpu-pids "$pids") ;;
    *) echo "BENCH_CPU must be tree or names" >&2; exit 2 ;;
  esac
  dotnet "artifacts/bin/LoadGen/release/LoadGen.dll" "$name" --auth "http://127.0.0.1:$((BASE + 1))" --token "http://127.0.0.1:$((BASE + 2))" --profile "http://127.0.0.1:$((BASE + 4))" --seconds "$SECONDS_PER" --warmup "$WARMUP" --workers "${WORKERS}" "${cpu[@]}" "$@"
}
pair() { # pair <label> <scenario> <pid A> <options A> <pid B> <options B>: both at once, CPU of each service only
  local label="$1" name="$2" a_pid="$3" a_opts="$4" b_pid="$5" b_opts="$6" half=$(( (WORKERS + 1) / 2 )) out a b
  out="$(mktemp -d)"
  # shellcheck disable=SC2086
  WORKERS=$half CPU_MODE=pair run "$name" "$a_pid" $a_opts >"$out/a" &
  local a_job=$!
  # shellcheck disable=SC2086
  WORKERS=$half CPU_MODE=pair run "$name" "$b_pid" $b_opts >"$out/b" || true
  wait "$a_job" || true
  a="$(cat "$out/a")"; b="$(cat "$out/b")"; rm -rf "$out"
  echo "$a" | sed "s/\"scenario\":\"$name\"/\"scenario\":\"$label-a\"/"
  echo "$b" | sed "s/\"scenario\":\"$name\"/\"scenario\":\"$label-b\"/"
  awk -v a="$(echo "$a" | grep -o '"perCpuSecond":[0-9.]*' | cut -d: -f2)" -v b="$(echo "$b" | grep -o '"perCpuSecond":[0-9.]*' | cut -d: -f2)" \
    -v label="$label" 'BEGIN { if (a > 0 && b > 0) printf "{\"scenario\":\"%s\",\"cpuPerRequestRatioAtoB\":%.3f}\n", label, b / a }'
}
scenarios=("$@")
((${#scenarios[@]})) || scenarios=(login refresh code-exchange profile profile-no-revocation client-credentials client-credentials-es256)
for s in "${scenarios[@]}"; do
  case "$s" in
    login) run login "$(pid_of auth-service),$(pid_of token-service)" ;;
    refresh) run refresh "$(pid_of token-service)" ;;
    profile) run profile "$(pid_of profile-service)" ;;
    profile-no-revocation) run profile "${extra_pids[0]}" --profile "http://127.0.0.1:$((BASE + 5))" | sed 's/"scenario":"profile"/"scenario":"profile-no-revocation"/' ;;
    client-credentials) run client-credentials "$(pid_of token-service)" ;;
    code-exchange) run code-exchange "$(pid_of token-service)" ;;
    client-credentials-es256) run client-credentials "${extra_pids[1]}" --token "http://127.0.0.1:$((BASE + 6))" | sed 's/"scenario":"client-credentials"/"scenario":"client-credentials-es256"/' ;;
    # a = revocation check on, b = off: the check's share of the request's CPU is 1 - ratio
    profile-pair) pair profile-pair profile "$(pid_of profile-service)" "" "${extra_pids[0]}" "--profile http://127.0.0.1:$((BASE + 5))" ;;
    # a = RS256 (default), b = ES256: what the RSA signature costs per grant
    client-credentials-pair) pair client-credentials-pair client-credentials "$(pid_of token-service)" "" "${extra_pids[1]}" "--token http://127.0.0.1:$((BASE + 6))" ;;
    # a = m=19 MiB t=2 (the previous default), b = the default: what the cheaper Argon2id parameters save per login
    login-pair)
      pair login-pair login "${auth_variant[argon19]}" "--auth http://127.0.0.1:$((BASE + 7))" "$(pid_of auth-service)" "" ;;
    # the whole login (auth-service + token-service + PostgreSQL + Redis) with m=19 MiB t=2: "before", next to login
    login-19mib)
      run login "${auth_variant[argon19]},$(pid_of token-service)" --auth "http://127.0.0.1:$((BASE + 7))" | sed 's/"scenario":"login"/"scenario":"login-19mib"/' ;;
    # a = limiter on (the default), b = RateLimiting:Enabled=false (the middleware and the sign-in throttle off)
    login-limiter-pair)
      pair login-limiter-pair login "$(pid_of auth-service)" "" "${auth_variant[nolimiter]}" "--auth http://127.0.0.1:$((BASE + 8))" ;;
    # one Argon2id verification per OWASP configuration, this machine, now: the unit "hashes per login" is measured in
    password-hash)
      dotnet build bench/PasswordHashCost -c Release -v quiet -clp:ErrorsOnly -nologo >/dev/null
      dotnet artifacts/bin/PasswordHashCost/release/PasswordHashCost.dll --rounds "${BENCH_HASH_ROUNDS:-8}" ;;
    *) echo "unknown scenario $s" >&2; exit 2 ;;
  esac
done
