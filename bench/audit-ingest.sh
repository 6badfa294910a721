#!/usr/bin/env bash
# Audit ingestion + query benchmark against the local servers (eng/infra.sh), on loopback only.
# Creates a RabbitMQ vhost and a database of its own and removes both afterwards.
#
#   bench/audit-ingest.sh                                  all phases: ingest 60 s, seed to 1M rows, query, verify
#   bench/audit-ingest.sh --duration 60 --rate 6000 --writers 16   ingest settings (outbox rows per second, writer tasks)
#   bench/audit-ingest.sh --phases seed,query,verify --rows 1000000 --queries 1000
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 RMQ_MANAGEMENT="${RMQ_MANAGEMENT:-0}"
eng/infra.sh up
while IFS= read -r kv; do export "${kv?}"; done < <(eng/infra.sh env)
VHOST="bench-audit-$(date +%m%d%H%M%S)"
eng/infra.sh rabbitmqctl -q add_vhost "$VHOST" >/dev/null
eng/infra.sh rabbitmqctl -q set_permissions -p "$VHOST" secureplatform '.*' '.*' '.*' >/dev/null
trap 'eng/infra.sh rabbitmqctl -q delete_vhost "$VHOST" >/dev/null 2>&1 || true' EXIT
export ConnectionStrings__rabbitmq="$ConnectionStrings__rabbitmq/$VHOST"
# CPU is counted for this instance's servers only (other checkouts may run theirs on the same machine).
BENCH_PG_PID="$(eng/infra.sh status postgres | awk '{print $4}')"
BENCH_RMQ_PID="$(eng/infra.sh status rabbitmq | awk '{print $4}')"
export BENCH_PG_PID BENCH_RMQ_PID
dotnet build bench/AuditIngest/AuditIngest.csproj -c Release -v quiet -clp:ErrorsOnly -nologo
dotnet artifacts/bin/AuditIngest/release/AuditIngest.dll "$@"
