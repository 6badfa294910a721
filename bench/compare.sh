#!/usr/bin/env bash
# Before/after in one run: this checkout's token-service (a) and the token-service of an earlier commit (b), loaded
# at the same time with the same workers, each counted alone (its own process tree). On a shared machine sequential
# runs minutes apart swing far more than the change being measured; two variants side by side see the same machine.
#
#   bench/compare.sh <git-ref> [scenario ...]     default scenarios: refresh client-credentials code-exchange
#   BENCH_SECONDS=30 BENCH_WARMUP=60 BENCH_WORKERS=4 bench/compare.sh 9624595 refresh
#
# <git-ref>'s token-service is built in a detached worktree under .local/bench-base (kept for the next run) and runs
# on port base+16 with its own database (tokendb_base), behind a second auth-service (this checkout's, port base+15)
# that signs in through it and that it asks for credential checks; both share this platform's PostgreSQL, Redis and RabbitMQ. BENCH_WORKERS is per variant.
# Prints one JSON line per variant and scenario, then {"scenario":..., "perCpuSecondAtoB": a/b}.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REF="${1:?usage: bench/compare.sh <git-ref> [scenario ...]}"; shift
SECONDS_PER=${BENCH_SECONDS:-30}
WARMUP=${BENCH_WARMUP:-60}
WORKERS=${BENCH_WORKERS:-4}
BASE="${RUN_PORT_BASE:-5100}"
LOGS="$ROOT/.local/logs"
export RUN_MODE=processes
export BENCH_CLIENT_SECRET="${BENCH_CLIENT_SECRET:-$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')}"

commit="$(git rev-parse --verify "$REF^{commit}")"
tree="$ROOT/.local/bench-base/${commit:0:12}"
if [[ ! -f "$tree/artifacts/bin/Token.Api/release/Token.Api.dll" ]]; then
  echo "[compare] building token-service at ${commit:0:12} in $tree" >&2
  [[ -d "$tree" ]] || git worktree add --detach "$tree" "$commit" >/dev/null
  dotnet build "$tree/services/Token/Token.Api.csproj" -c Release -v quiet -clp:ErrorsOnly -nologo >&2
fi

RUN_DETACH=1 ./run.sh >/dev/null
dotnet build bench/LoadGen -c Release -v quiet -clp:ErrorsOnly -nologo >&2
extra_pids=()
trap 'kill "${extra_pids[@]}" 2>/dev/null || true; ./run.sh stop >/dev/null' EXIT
start() { # start <checkout> <svc> <project> <port> VAR=value...
  local checkout="$1" svc="$2" project="$3" port="$4"; shift 4
  mapfile -t assignments < <(./run.sh print-env "$svc" "$port")
  ( cd "$checkout/artifacts/bin/$project/release" && exec env "${assignments[@]}" "$@" setsid dotnet "$project.dll" >"$LOGS/compare-$svc-$port.log" 2>&1 </dev/null ) &
  extra_pids+=($!)
  for _ in $(seq 1 600); do [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" == 200 ]] && return 0; sleep 0.1; done
  echo "[compare] $project on $port did not become healthy (log: $LOGS/compare-$svc-$port.log)" >&2; return 1
}
b_token=$((BASE + 16)) b_auth=$((BASE + 15))
b_db="$(./run.sh print-env token "$b_token" | sed -n 's/^ConnectionStrings__tokendb=//p' | sed 's/Database=tokendb/Database=tokendb_base/')"
# b's hosted login checks credentials at its own auth-service front (the one that trusts b's tokens)
start "$tree" token Token.Api "$b_token" "ConnectionStrings__tokendb=$b_db" "Token__Issuer=http://127.0.0.1:$b_token/" "services__auth-service__http__0=http://127.0.0.1:$b_auth"
start "$ROOT" auth Auth.Api "$b_auth" "services__token-service__http__0=http://127.0.0.1:$b_token" "Token__Issuer=http://127.0.0.1:$b_token/"
a_pid="$(cat "$ROOT/.local/run/token-service.pid")" b_pid="${extra_pids[0]}"

load() { # load <scenario> <auth port> <token port> <pid> <gate>
  dotnet artifacts/bin/LoadGen/release/LoadGen.dll "$1" --auth "http://127.0.0.1:$2" --token "http://127.0.0.1:$3" \
    --profile "http://127.0.0.1:$((BASE + 4))" --seconds "$SECONDS_PER" --warmup "$WARMUP" --workers "$WORKERS" --cpu-tree "$4" --gate "$5"
}
scenarios=("$@")
((${#scenarios[@]})) || scenarios=(refresh client-credentials code-exchange)
for s in "${scenarios[@]}"; do
  out="$(mktemp -d)" gate="$(mktemp -d)"
  load "$s" $((BASE + 1)) $((BASE + 2)) "$a_pid" "$gate" >"$out/a" &
  a_job=$!
  load "$s" "$b_auth" "$b_token" "$b_pid" "$gate" >"$out/b" &
  b_job=$!
  # both prepared (their sign-ins take different times), then both warm up and measure over the same seconds
  for _ in $(seq 1 6000); do
    ready=("$gate"/*.ready); [[ -e "${ready[0]}" ]] && (( ${#ready[@]} == 2 )) && break
    kill -0 "$a_job" 2>/dev/null && kill -0 "$b_job" 2>/dev/null || break
    sleep 0.1
  done
  touch "$gate/go"
  wait "$a_job" || true
  wait "$b_job" || true
  a="$(cat "$out/a")" b="$(cat "$out/b")"; rm -rf "$out" "$gate"
  echo "$a" | sed "s/\"scenario\":\"$s\"/\"scenario\":\"$s-this-checkout\"/"
  echo "$b" | sed "s/\"scenario\":\"$s\"/\"scenario\":\"$s-${commit:0:12}\"/"
  awk -v a="$(echo "$a" | grep -o '"perCpuSecond":[0-9.]*' | cut -d: -f2)" -v b="$(echo "$b" | grep -o '"perCpuSecond":[0-9.]*' | cut -d: -f2)" \
    -v s="$s" 'BEGIN { if (a > 0 && b > 0) printf "{\"scenario\":\"%s\",\"perCpuSecondAtoB\":%.3f}\n", s, a / b }'
done
