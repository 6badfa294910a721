#!/usr/bin/env bash
# Runs the whole platform locally without Docker: PostgreSQL, Redis and RabbitMQ as local processes
# (eng/infra.sh), then the four services (Release build) on fixed loopback ports with the configuration
# the Aspire AppHost would inject. Ctrl-C or SIGTERM stops everything this script started.
#
#   ./run.sh              build, start, wait until every service is healthy, keep running
#   RUN_NO_BUILD=1 ./run.sh   skip the build
#   RUN_DETACH=1 ./run.sh     return once healthy and leave the services running (stop: ./run.sh stop)
#   ./run.sh stop         stop services started by a detached run
#   RUN_PORT_BASE=5200 ./run.sh   ports base+1..base+4 instead of 5101-5104 (a second checkout beside this one)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
STATE="$ROOT/.local/run"
LOGS="$ROOT/.local/logs"
mkdir -p "$STATE" "$LOGS"

PORT_BASE="${RUN_PORT_BASE:-5100}"
SERVICES=(auth:Auth.Api:$((PORT_BASE + 1)) token:Token.Api:$((PORT_BASE + 2)) audit:Audit.Api:$((PORT_BASE + 3)) profile:Profile.Api:$((PORT_BASE + 4)))
say() { printf '[run] %s\n' "$*"; }
t0=$(date +%s%3N)
elapsed() { printf '%.1f s' "$(( $(date +%s%3N) - t0 ))e-3"; }

stop_services() {
  local pidfile pid
  for pidfile in "$STATE"/*.pid; do
    [[ -e "$pidfile" ]] || continue
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
    rm -f "$pidfile"
  done
  # give them a moment to shut down cleanly, then make sure
  for _ in $(seq 1 50); do pgrep -f 'artifacts/bin/.*\.Api\.dll' >/dev/null || break; sleep 0.1; done
}

if [[ "${1:-}" == stop ]]; then
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
}

if [[ "${1:-}" == print-env ]]; then   # ./run.sh print-env <auth|token|audit|profile> <port>: what a service gets
  service_env "$2" "$3"
  exit 0
fi

# ---------------------------------------------------------------- build
if [[ "${RUN_NO_BUILD:-}" != 1 ]]; then
  say "building (Release)..."
  dotnet build SecurePlatform.Services.slnf -c Release --nologo -v quiet -clp:ErrorsOnly >"$LOGS/build.log" 2>&1 \
    || { tail -30 "$LOGS/build.log"; say "build failed (full log: $LOGS/build.log)"; exit 1; }
  say "built in $(elapsed)"
fi

# ---------------------------------------------------------------- services
stop_services   # leftovers of an earlier detached run
trap 'echo; say "stopping..."; stop_services; [[ ! -e "$STATE/infra-started" || -n "${RUN_DETACH:-}" ]] || { eng/infra.sh down; rm -f "$STATE/infra-started"; }; say "stopped"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


for s in "${SERVICES[@]}"; do
  IFS=: read -r svc project port <<<"$s"
  dir="$ROOT/artifacts/bin/$project/release"
  [[ -f "$dir/$project.dll" ]] || { say "$project is not built; run without RUN_NO_BUILD"; exit 1; }
  if ss -Hltn "sport = :$port" | grep -q .; then say "port $port ($svc-service) is already in use"; exit 1; fi
  # env(1), not export: names such as services__token-service__http__0 are not valid shell identifiers
  mapfile -t assignments < <(service_env "$svc" "$port")
  ( cd "$dir" && exec env "${assignments[@]}" setsid dotnet "$project.dll" >"$LOGS/$svc-service.log" 2>&1 </dev/null ) &
  echo $! > "$STATE/$svc-service.pid"
done

say "waiting for /health on every service..."
for s in "${SERVICES[@]}"; do
  IFS=: read -r svc project port <<<"$s"
  ok=0
  for _ in $(seq 1 600); do
    kill -0 "$(cat "$STATE/$svc-service.pid")" 2>/dev/null || { tail -20 "$LOGS/$svc-service.log"; say "$svc-service exited (log: $LOGS/$svc-service.log)"; exit 1; }
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" == 200 ]]; then ok=1; break; fi
    sleep 0.1
  done
  ((ok)) || { say "$svc-service not healthy after 60 s: $(curl -s "http://127.0.0.1:$port/health")"; exit 1; }
done

say "all four services healthy in $(elapsed)"
cat <<INFO

  auth-service     http://127.0.0.1:$((PORT_BASE + 1))   log: .local/logs/auth-service.log
  token-service    http://127.0.0.1:$((PORT_BASE + 2))   log: .local/logs/token-service.log   discovery: /.well-known/openid-configuration
  audit-service    http://127.0.0.1:$((PORT_BASE + 3))   log: .local/logs/audit-service.log
  profile-service  http://127.0.0.1:$((PORT_BASE + 4))   log: .local/logs/profile-service.log
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
# Wait until a service dies or we are told to stop.
while :; do
  for s in "${SERVICES[@]}"; do
    IFS=: read -r svc _ _ <<<"$s"
    kill -0 "$(cat "$STATE/$svc-service.pid" 2>/dev/null || echo 0)" 2>/dev/null || { say "$svc-service stopped unexpectedly (log: $LOGS/$svc-service.log)"; exit 1; }
  done
  sleep 1
done
