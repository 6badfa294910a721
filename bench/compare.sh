#!/usr/bin/env bash
# Before/after in one run: this checkout's token-service (a) and the token-service of an earlier commit (b), loaded
# at the same time with the same workers, each counted alone (its own process tree). On a shared machine sequential
# runs minutes apart swing far more than the change being measured; two variants side by side see the same machine.
# A *-vs-peer scenario adds panva's oidc-provider (bench/peer, as in run.sh): before and after, each beside the peer.
#
#   bench/compare.sh <git-ref> [scenario ...]     default scenarios: refresh client-credentials code-exchange
#   BENCH_SECONDS=30 BENCH_WARMUP=60 BENCH_WORKERS=4 bench/compare.sh 9624595 refresh
#   BENCH_WARMUP=60 bench/compare.sh 9624595 refresh-vs-peer client-credentials-vs-peer
#
# <git-ref>'s token-service is built in a detached worktree under .local/bench-base (kept for the next run) and runs
# on port base+16 with its own database (tokendb_base), behind a second auth-service (this checkout's, port base+15)
# that signs in through it and that it asks for credential checks; both share this platform's PostgreSQL, Redis and
# RabbitMQ. BENCH_WORKERS is per load generator.
#
# <scenario>: a and b at once, each token-service alone; one JSON line per variant, then
#   {"scenario":..., "perCpuSecondAtoB": a/b}.
# <scenario>-vs-peer (refresh, client-credentials): three rounds over the same seconds each, all warmed up alike —
#   a beside the peer, b beside the peer (token-service + PostgreSQL + Redis against the node process; only one of
#   a and b is loaded, so the servers' CPU is that variant's), then a beside b (each token-service alone); one JSON
#   line per load generator, then one summary line with every ratio: before and after beside the peer, and after/before.
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
# shellcheck source=bench/lib.sh
source bench/lib.sh
trap 'kill "${extra_pids[@]}" 2>/dev/null || true; ./run.sh stop >/dev/null' EXIT
servers="$(servers_pids)"
a_token=$((BASE + 2)) a_auth=$((BASE + 1)) b_token=$((BASE + 16)) b_auth=$((BASE + 15))
b_db="$(./run.sh print-env token "$b_token" | sed -n 's/^ConnectionStrings__tokendb=//p' | sed 's/Database=tokendb/Database=tokendb_base/')"
# b's hosted login checks credentials at its own auth-service front (the one that trusts b's tokens)
start_service "$tree" token Token.Api "$b_token" "ConnectionStrings__tokendb=$b_db" "Token__Issuer=http://127.0.0.1:$b_token/" "services__auth-service__http__0=http://127.0.0.1:$b_auth"
start_service "$ROOT" auth Auth.Api "$b_auth" "services__token-service__http__0=http://127.0.0.1:$b_token" "Token__Issuer=http://127.0.0.1:$b_token/"
a_pid="$(cat "$ROOT/.local/run/token-service.pid")" b_pid="${extra_pids[0]}"

load() { # load <scenario> <auth port> <token URL> <cpu trees> <gate> [options]
  local s="$1" auth="$2" token="$3" trees="$4" gate="$5"; shift 5
  dotnet artifacts/bin/LoadGen/release/LoadGen.dll "$s" --auth "http://127.0.0.1:$auth" --token "$token" \
    --profile "http://127.0.0.1:$((BASE + 4))" --seconds "$SECONDS_PER" --warmup "$WARMUP" --workers "$WORKERS" --cpu-tree "$trees" --gate "$gate" "$@"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.3f", a / b; else printf "null" }'; }
labelled() { jq -c --arg s "$2" '.scenario = $s' <<<"$1"; } # labelled <result> <label>

a_beside_b() { # a_beside_b <scenario>: a's and b's results, labelled, one line each
  local s="$1" out gate a_job b_job a b; out="$(mktemp -d)" gate="$(mktemp -d)"
  load "$s" "$a_auth" "http://127.0.0.1:$a_token" "$a_pid" "$gate" >"$out/a" 2> >(sed -u 's/^\[bench\]/[bench after]/' >&2) &
  a_job=$!
  load "$s" "$b_auth" "http://127.0.0.1:$b_token" "$b_pid" "$gate" >"$out/b" 2> >(sed -u 's/^\[bench\]/[bench before]/' >&2) &
  b_job=$!
  open_gate "$gate" "$a_job" "$b_job" >/dev/null # both prepared (their sign-ins take different times)
  wait "$a_job" || true; wait "$b_job" || true
  a="$(cat "$out/a")" b="$(cat "$out/b")"; rm -rf "$out" "$gate"
  [[ -n "$a" && -n "$b" ]] || { echo "[compare] $s: no result" >&2; return 1; }
  labelled "$a" "$s-this-checkout"; labelled "$b" "$s-${commit:0:12}"
}

beside_peer() { # beside_peer <scenario> <label> <auth port> <token port> <pid> [peer options]: "<ours result>\n<peer result>\n<load>"
  local s="$1" label="$2" auth="$3" token="$4" pid="$5" out gate ours_job peer_job load; shift 5
  out="$(mktemp -d)" gate="$(mktemp -d)"
  load "$s" "$auth" "http://127.0.0.1:$token" "$pid,$servers" "$gate" >"$out/ours" 2> >(sed -u "s/^\[bench\]/[bench $label]/" >&2) &
  ours_job=$!
  load "$s" "$a_auth" "$PEER" "$peer_pid" "$gate" --token-path /token "$@" >"$out/peer" 2> >(sed -u "s/^\[bench\]/[bench peer beside $label]/" >&2) &
  peer_job=$!
  load="$(open_gate "$gate" "$ours_job" "$peer_job")"
  wait "$ours_job" || true; wait "$peer_job" || true
  [[ -s "$out/ours" && -s "$out/peer" ]] || { echo "[compare] $s beside the peer ($label): no result" >&2; rm -rf "$out" "$gate"; return 1; }
  cat "$out/ours" "$out/peer"; echo "$load"; rm -rf "$out" "$gate"
}

vs_peer() { # vs_peer <scenario> [peer options]
  local s="$1" after before a_ours a_peer a_load b_ours b_peer b_load pair a_alone b_alone; shift
  start_peer "http://127.0.0.1:$a_token" "http://127.0.0.1:$b_token"
  mapfile -t after < <(beside_peer "$s" after "$a_auth" "$a_token" "$a_pid" "$@")
  a_ours="${after[0]}" a_peer="${after[1]}" a_load="${after[2]}"
  labelled "$a_ours" "$s-vs-peer-this-checkout"; labelled "$a_peer" "$s-vs-peer-peer-beside-this-checkout"
  mapfile -t before < <(beside_peer "$s" before "$b_auth" "$b_token" "$b_pid" "$@")
  b_ours="${before[0]}" b_peer="${before[1]}" b_load="${before[2]}"
  labelled "$b_ours" "$s-vs-peer-${commit:0:12}"; labelled "$b_peer" "$s-vs-peer-peer-beside-${commit:0:12}"
  mapfile -t pair < <(a_beside_b "$s")
  (( ${#pair[@]} == 2 )) || return 1
  a_alone="$(tree_alone_per_cpu_second "$a_ours" "$a_pid")" b_alone="$(tree_alone_per_cpu_second "$b_ours" "$b_pid")"
  printf '%s\n' "${pair[@]}"
  jq -nc --arg s "$s-vs-peer" --arg before "${commit:0:12}" --argjson ao "$a_ours" --argjson ap "$a_peer" --argjson bo "$b_ours" --argjson bp "$b_peer" \
    --argjson aa "$a_alone" --argjson ba "$b_alone" --argjson al "$a_load" --argjson bl "$b_load" \
    --argjson pa "$(jq -r .perCpuSecond <<<"${pair[0]}")" --argjson pb "$(jq -r .perCpuSecond <<<"${pair[1]}")" '
    def r(x; y): (x / y * 1000 | round / 1000);
    {scenario: $s, before: $before,
     after:  {loadAverageAtStart: $al, oursPerCpuSecond: $ao.perCpuSecond, tokenServiceAlonePerCpuSecond: $aa, peerPerCpuSecond: $ap.perCpuSecond,
              ratioOursToPeer: r($ao.perCpuSecond; $ap.perCpuSecond), ratioTokenServiceAloneToPeer: r($aa; $ap.perCpuSecond)},
     beforeRound: {loadAverageAtStart: $bl, oursPerCpuSecond: $bo.perCpuSecond, tokenServiceAlonePerCpuSecond: $ba, peerPerCpuSecond: $bp.perCpuSecond,
              ratioOursToPeer: r($bo.perCpuSecond; $bp.perCpuSecond), ratioTokenServiceAloneToPeer: r($ba; $bp.perCpuSecond)},
     afterToBeforeSameSeconds: r($pa; $pb), afterToBeforeBesidePeer: r($ao.perCpuSecond / $ap.perCpuSecond; $bo.perCpuSecond / $bp.perCpuSecond)}'
}

scenarios=("$@")
((${#scenarios[@]})) || scenarios=(refresh client-credentials code-exchange)
for s in "${scenarios[@]}"; do
  case "$s" in
    refresh-vs-peer) vs_peer refresh --refresh-tokens-from "$PEER_MINT" ;;
    client-credentials-vs-peer) vs_peer client-credentials ;;
    *-vs-peer) echo "[compare] only refresh and client-credentials have a peer scenario" >&2; exit 2 ;;
    *)
      mapfile -t pair < <(a_beside_b "$s")
      (( ${#pair[@]} == 2 )) || continue
      printf '%s\n' "${pair[@]}"
      printf '{"scenario":"%s","perCpuSecondAtoB":%s}\n' "$s" "$(ratio "$(jq -r .perCpuSecond <<<"${pair[0]}")" "$(jq -r .perCpuSecond <<<"${pair[1]}")")" ;;
  esac
done
