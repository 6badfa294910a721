# Shared by bench/run.sh and bench/compare.sh (sourced, not run): extra service instances, the PIDs of this platform's
# servers, the oidc-provider peer with its honesty checks, and the gate that lets several load generators warm up and
# measure over the same seconds. Expects ROOT (the checkout, also the working directory), LOGS, BASE (RUN_PORT_BASE),
# BENCH_CLIENT_SECRET and an array extra_pids (every process started here is added, for the caller's trap).

# start_service <checkout> <svc> <project> <port> VAR=value...: <checkout>'s build of <project> with ./run.sh's
# environment for <svc> on <port>, overridden by the assignments; waits until /health answers 200.
start_service() {
  local checkout="$1" svc="$2" project="$3" port="$4" assignments; shift 4
  mapfile -t assignments < <(./run.sh print-env "$svc" "$port")
  ( cd "$checkout/artifacts/bin/$project/release" && exec env "${assignments[@]}" "$@" setsid dotnet "$project.dll" >"$LOGS/bench-$svc-$port.log" 2>&1 </dev/null ) &
  extra_pids+=($!)
  for _ in $(seq 1 600); do [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" == 200 ]] && return 0; sleep 0.1; done
  echo "[bench] $project on $port did not become healthy (log: $LOGS/bench-$svc-$port.log)" >&2; return 1
}

# servers_pids: "postmaster,redis" of this platform's own instance (eng/infra.sh status), counted as process trees.
servers_pids() {
  local pg redis
  infra_pid() { eng/infra.sh status "$1" | awk '{ for (i = 1; i < NF; i++) if ($i == "pid") { print $(i + 1); exit } }'; }
  pg="$(infra_pid postgres)" redis="$(infra_pid redis)"
  [[ "$pg,$redis" =~ ^[0-9]+,[0-9]+$ ]] || { echo "[bench] could not read the PIDs of PostgreSQL and Redis from eng/infra.sh status" >&2; return 1; }
  echo "$pg,$redis"
}

# open_gate <gate dir> <job pid...>: once every job has written its .ready file (or one has ended), prints the
# 1-minute load average and opens the gate, so all of them warm up and measure over the same seconds.
open_gate() {
  local gate="$1" ready j; shift
  for _ in $(seq 1 6000); do
    ready=("$gate"/*.ready)
    [[ -e "${ready[0]}" ]] && (( ${#ready[@]} == $# )) && break
    for j; do kill -0 "$j" 2>/dev/null || break 2; done
    sleep 0.1
  done
  cut -d' ' -f1 /proc/loadavg
  touch "$gate/go"
}

# tree_alone_per_cpu_second <LoadGen result> <pid>: requests per CPU-second of that one process tree of the result.
tree_alone_per_cpu_second() {
  jq --arg p "$2/" '.ok / ([.cpuByTree | to_entries[] | select(.key | startswith($p)) | .value] | add) * 10 | round / 10' <<<"$1"
}

# --- the oidc-provider peer (bench/peer): port base+90 or BENCH_PEER_PORT, its refresh-token minting route on the next
PEER_PORT="${BENCH_PEER_PORT:-$((BASE + 90))}"
PEER="http://127.0.0.1:$PEER_PORT"
PEER_MINT="http://127.0.0.1:$((PEER_PORT + 1))/refresh-tokens"
peer_pid=""
b64url() { local s="${1//-/+}"; s="${s//_//}"; while (( ${#s} % 4 )); do s+="="; done; base64 -d <<<"$s"; }
check_fail() { echo "[bench] peer check failed: $*" >&2; exit 1; }
# An RS256 JWT access token (3 parts, 15 minutes): the same kind of token as ours.
check_access_token() { # check_access_token <who> <access token>
  local header claims
  [[ "$(tr -cd . <<<"$2")" == .. ]] || check_fail "$1: the access token is not a JWT"
  header="$(b64url "$(cut -d. -f1 <<<"$2")")"; claims="$(b64url "$(cut -d. -f2 <<<"$2")")"
  [[ "$(jq -r .alg <<<"$header")" == RS256 ]] || check_fail "$1: access token header $header, not RS256"
  [[ "$(jq -r '.exp - .iat' <<<"$claims")" == 900 ]] || check_fail "$1: access token lifetime $(jq -r '.exp - .iat' <<<"$claims") s, not 900"
}
# start_peer <our token-service URL...>: the peer once, checked, and each of ours given checked the same way.
start_peer() {
  [[ -z "$peer_pid" ]] || return 0
  command -v node >/dev/null && command -v jq >/dev/null || { echo "[bench] the peer needs node and jq" >&2; exit 1; }
  local dir jwks token first second reuse ours
  dir="$(bench/peer/install.sh)"
  ( cd "$dir" && exec env NODE_ENV=production setsid node peer.mjs "$PEER_PORT" >"$LOGS/bench-peer-$PEER_PORT.log" 2>&1 </dev/null ) &
  peer_pid=$!; extra_pids+=("$peer_pid")
  for _ in $(seq 1 300); do curl -sf -o /dev/null "$PEER/jwks" && break; sleep 0.1; done
  # Honest comparison: a 2048-bit RSA key, RS256 JWT access tokens from both grants, and rotation with reuse detection.
  jwks="$(curl -sf "$PEER/jwks")" || check_fail "no JWKS at $PEER/jwks (log: $LOGS/bench-peer-$PEER_PORT.log)"
  [[ "$(jq -c '[.keys[] | [.kty, .alg, (.n | length)]]' <<<"$jwks")" == '[["RSA","RS256",342]]' ]] || check_fail "JWKS is not one RSA-2048 RS256 key: $jwks"
  token="$(curl -sf -d grant_type=client_credentials -d client_id=bench -d "client_secret=$BENCH_CLIENT_SECRET" -d scope=api "$PEER/token")" || check_fail "client_credentials refused"
  check_access_token "peer client_credentials" "$(jq -r .access_token <<<"$token")"
  first="$(curl -sf -X POST "$PEER_MINT?count=1" | jq -r '.refresh_tokens[0]')" || check_fail "no refresh token minted"
  token="$(curl -sf -d grant_type=refresh_token -d client_id=platform-app -d "refresh_token=$first" "$PEER/token")" || check_fail "refresh_token grant refused"
  check_access_token "peer refresh_token" "$(jq -r .access_token <<<"$token")"
  second="$(jq -r .refresh_token <<<"$token")"
  [[ -n "$second" && "$second" != null && "$second" != "$first" ]] || check_fail "the refresh did not rotate: $token"
  reuse="$(curl -s -o /dev/null -w '%{http_code}' -d grant_type=refresh_token -d client_id=platform-app -d "refresh_token=$first" "$PEER/token")"
  [[ "$reuse" == 400 ]] || check_fail "the used refresh token was answered $reuse, not refused"
  reuse="$(curl -s -o /dev/null -w '%{http_code}' -d grant_type=refresh_token -d client_id=platform-app -d "refresh_token=$second" "$PEER/token")"
  [[ "$reuse" == 400 ]] || check_fail "after reuse, the rotated refresh token was answered $reuse, not refused (no reuse detection)"
  for ours; do # ours, the same check on what the scenarios use: RS256 JWTs
    token="$(curl -sf -d grant_type=client_credentials -d client_id=bench -d "client_secret=$BENCH_CLIENT_SECRET" -d scope=api "$ours/connect/token")" || check_fail "client_credentials refused by $ours"
    check_access_token "client_credentials of $ours" "$(jq -r .access_token <<<"$token")"
  done
  echo "[bench] peer oidc-provider $(jq -r .version "$dir/node_modules/oidc-provider/package.json") on $PEER (pid $peer_pid): RSA-2048 RS256 JWTs, refresh tokens rotate, reuse refused" >&2
}
