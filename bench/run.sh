#!/usr/bin/env bash
# Load scenarios against a local platform. Starts it with ./run.sh (detached) plus two comparison
# instances: profile-service without the revocation check (port base+5, 5105) and token-service signing
# ES256 (port base+6, 5106, own database).
# RUN_PORT_BASE moves every port (see run.sh). Prints one JSON line per scenario; see bench/README.md.
#
#   bench/run.sh [scenario ...]     default: login refresh code-exchange profile profile-no-revocation client-credentials client-credentials-es256
#   bench/run.sh profile-pair client-credentials-pair   two variants at once, half the workers each (see below)
#   bench/run.sh refresh-vs-peer client-credentials-vs-peer   ours and oidc-provider (bench/peer) at once, N workers each
#   bench/run.sh password-hash login login-19mib login-pair login-limiter-pair   a login in Argon2id hashes, before/after; limiter
#   BENCH_SECONDS=20 BENCH_WORKERS=16 BENCH_WARMUP=5 bench/run.sh
#
# CPU counted per scenario: the serving services plus this platform's own PostgreSQL (the postmaster and all its
# backends) and Redis, as process trees (PIDs from eng/infra.sh status). A *-pair scenario loads two variants at the
# same time and counts only each variant's own service process, so both see the same machine (the noise of a
# shared machine swamps sequential runs); it ends with the ratio of their CPU per request. BENCH_CPU=names counts, as before, every
# process named postgres or redis-server on the machine instead (wrong when others run their own servers).
# A *-vs-peer scenario starts panva's oidc-provider (bench/peer, node, port base+90 or BENCH_PEER_PORT; its
# refresh-token minting route on the next port), checks that it rotates refresh tokens and issues RS256 JWTs, and
# loads ours (token-service + PostgreSQL + Redis) and the peer (the node process) over the same seconds.
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
extra_pids=()
# shellcheck source=bench/lib.sh
source bench/lib.sh
servers="$(servers_pids)"
start_extra() { start_service "$ROOT" "$@"; } # start_extra <svc> <project> <port> VAR=value...
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
    login-mfa-pair) start_auth_variant mfa $((BASE + 9)) ;;
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
vs_peer() { # vs_peer <label> <scenario> [peer options]: ours and the peer at once, WORKERS each, over the same seconds
  local label="$1" name="$2" token_pid gate out ours peer alone ready load; shift 2
  start_peer "http://127.0.0.1:$((BASE + 2))"
  token_pid="$(pid_of token-service)"
  gate="$(mktemp -d)"; out="$(mktemp -d)"
  run "$name" "$token_pid" --gate "$gate" >"$out/ours" 2> >(sed -u 's/^\[bench\]/[bench ours]/' >&2) &
  local ours_job=$!
  CPU_MODE=pair run "$name" "$peer_pid" --token "$PEER" --token-path /token --gate "$gate" "$@" >"$out/peer" 2> >(sed -u 's/^\[bench\]/[bench peer]/' >&2) &
  local peer_job=$!
  load="$(open_gate "$gate" "$ours_job" "$peer_job")"   # both prepared (ours signs its users in first); the load average as they start
  wait "$ours_job" || echo "[bench] $label: ours failed or had more than 1 % errors" >&2
  wait "$peer_job" || echo "[bench] $label: the peer failed or had more than 1 % errors" >&2
  ours="$(cat "$out/ours")"; peer="$(cat "$out/peer")"; rm -rf "$gate" "$out"
  [[ -n "$ours" && -n "$peer" ]] || { echo "[bench] $label: no result" >&2; return 1; }
  jq -c --arg s "$label-ours" '.scenario = $s' <<<"$ours"
  jq -c --arg s "$label-peer" '.scenario = $s' <<<"$peer"
  alone="$(tree_alone_per_cpu_second "$ours" "$token_pid")"
  jq -nc --arg s "$label" --argjson o "$ours" --argjson p "$peer" --argjson alone "$alone" --argjson load "$load" \
    '{scenario: $s, loadAverageAtStart: $load, oursPerCpuSecond: $o.perCpuSecond, tokenServiceAlonePerCpuSecond: $alone, peerPerCpuSecond: $p.perCpuSecond,
      ratioOursToPeer: ($o.perCpuSecond / $p.perCpuSecond * 1000 | round / 1000), ratioTokenServiceAloneToPeer: ($alone / $p.perCpuSecond * 1000 | round / 1000)}'
}
pair() { # pair <label> <scenario> <pid A> <options A> <pid B> <options B> [scenario B]: both at once, CPU of each service only
  local label="$1" name="$2" a_pid="$3" a_opts="$4" b_pid="$5" b_opts="$6" b_name="${7:-$2}" half=$(( (WORKERS + 1) / 2 )) out gate a b a_job b_job
  out="$(mktemp -d)" gate="$(mktemp -d)"
  # shellcheck disable=SC2086
  WORKERS=$half CPU_MODE=pair run "$name" "$a_pid" --gate "$gate" $a_opts >"$out/a" &
  a_job=$!
  # shellcheck disable=SC2086
  WORKERS=$half CPU_MODE=pair run "$b_name" "$b_pid" --gate "$gate" $b_opts >"$out/b" &
  b_job=$!
  open_gate "$gate" "$a_job" "$b_job" >/dev/null # both prepared, then both warm up and measure over the same seconds
  wait "$a_job" || true; wait "$b_job" || true
  a="$(cat "$out/a")"; b="$(cat "$out/b")"; rm -rf "$out" "$gate"
  jq -c --arg s "$label-a" '.scenario = $s' <<<"$a"
  jq -c --arg s "$label-b" '.scenario = $s' <<<"$b"
  awk -v a="$(jq -r .perCpuSecond <<<"$a")" -v b="$(jq -r .perCpuSecond <<<"$b")" \
    -v label="$label" 'BEGIN { if (a > 0 && b > 0) printf "{\"scenario\":\"%s\",\"cpuPerRequestRatioAtoB\":%.3f}\n", label, b / a }'
}
scenarios=("$@")
((${#scenarios[@]})) || scenarios=(login refresh code-exchange profile profile-no-revocation client-credentials client-credentials-es256)
for s in "${scenarios[@]}"; do
  case "$s" in
    login) run login "$(pid_of auth-service),$(pid_of token-service)" ;;
    # both steps of a sign-in with TOTP (password → ticket, ticket + code → session), counted as login
    login-mfa) run login-mfa "$(pid_of auth-service),$(pid_of token-service)" ;;
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
    # ours (token-service + PostgreSQL + Redis) against oidc-provider (node), both loaded at the same time
    refresh-vs-peer) vs_peer refresh-vs-peer refresh --refresh-tokens-from "$PEER_MINT" ;;
    client-credentials-vs-peer) vs_peer client-credentials-vs-peer client-credentials ;;
    # a = m=19 MiB t=2 (the previous default), b = the default: what the cheaper Argon2id parameters save per login
    login-pair)
      pair login-pair login "${auth_variant[argon19]}" "--auth http://127.0.0.1:$((BASE + 7))" "$(pid_of auth-service)" "" ;;
    # the whole login (auth-service + token-service + PostgreSQL + Redis) with m=19 MiB t=2: "before", next to login
    login-19mib)
      run login "${auth_variant[argon19]},$(pid_of token-service)" --auth "http://127.0.0.1:$((BASE + 7))" | sed 's/"scenario":"login"/"scenario":"login-19mib"/' ;;
    # a = limiter on (the default), b = RateLimiting:Enabled=false (the middleware and the sign-in throttle off)
    login-limiter-pair)
      pair login-limiter-pair login "$(pid_of auth-service)" "" "${auth_variant[nolimiter]}" "--auth http://127.0.0.1:$((BASE + 8))" ;;
    # a = password-only logins, b = logins with TOTP on a second, identical auth-service (base+9); each auth-service
    # alone (token-service is shared): what the second step adds to auth-service per sign-in, over the same seconds
    login-mfa-pair)
      pair login-mfa-pair login "$(pid_of auth-service)" "" "${auth_variant[mfa]}" "--auth http://127.0.0.1:$((BASE + 9))" login-mfa ;;
    # one Argon2id verification per OWASP configuration, this machine, now: the unit "hashes per login" is measured in
    password-hash)
      dotnet build bench/PasswordHashCost -c Release -v quiet -clp:ErrorsOnly -nologo >/dev/null
      dotnet artifacts/bin/PasswordHashCost/release/PasswordHashCost.dll --rounds "${BENCH_HASH_ROUNDS:-8}" ;;
    *) echo "unknown scenario $s" >&2; exit 2 ;;
  esac
done
