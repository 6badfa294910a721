#!/usr/bin/env bash
# CPU profile of one service while bench/run.sh loads it: perf samples with call stacks, JIT frames resolved through
# the runtime's perf map (DOTNET_PerfMapEnabled=3: the map only, no jitdump; DOTNET_EnableWriteXorExecute=0 so the
# code runs where the map says). The maps are written into the output folder, not /tmp, so that nothing here touches
# other processes' maps; the profiled service's map is copied to /tmp/perf-<pid>.map, where perf looks, while perf
# resolves the samples. Prints the top frames by inclusive share of the service's samples and the share of each part of the stack
# (OpenIddict, crypto, EF Core, Npgsql, Kestrel, ...). See bench/README.md, "CPU profile".
#
#   bench/profile.sh <scenario> [scenario ...]   scenarios as in bench/run.sh (refresh, refresh-vs-peer, ...)
#   PROFILE_SERVICE=auth-service PROFILE_TOP=40 PROFILE_FREQ=499 BENCH_SECONDS=20 bench/profile.sh login
#   bench/profile.sh refresh-vs-peer refresh-vs-peer   the first run only warms up (the first scenario after start
#                                                      runs colder): the samples are the last scenario's
#
# The samples cover the measured seconds of the last scenario given (from its "measuring" line), of one service
# process (PROFILE_SERVICE, default token-service).
# Output (perf.data, perf script text, result lines, the report) in .local/profile/<scenario>-<time>/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
(($#)) || { echo "usage: bench/profile.sh <scenario> [scenario ...]" >&2; exit 2; }
scenario="${*: -1}"
service="${PROFILE_SERVICE:-token-service}"
command -v perf >/dev/null || { echo "[profile] needs perf (Debian: apt-get install linux-perf)" >&2; exit 1; }
export BENCH_SECONDS="${BENCH_SECONDS:-20}"
out="$ROOT/.local/profile/$scenario-$(date -u +%Y%m%dT%H%M%S)"
mkdir -p "$out/maps"

DOTNET_PerfMapEnabled=3 DOTNET_PerfMapJitDumpPath="$out/maps" DOTNET_EnableWriteXorExecute=0 bench/run.sh "$@" >"$out/result.jsonl" 2>"$out/bench.log" &
bench_job=$!
trap 'kill "$bench_job" 2>/dev/null || true' EXIT
# One "measuring" line per scenario from our load generator ("[bench]", or "[bench ours]" beside the peer).
measuring() { grep -cE '^\[bench( ours)?\] .*measuring' "$out/bench.log" 2>/dev/null || true; }
until (( $(measuring) + 0 >= $# )); do
  kill -0 "$bench_job" 2>/dev/null || { cat "$out/bench.log" >&2; echo "[profile] bench/run.sh ended before measuring" >&2; exit 1; }
  sleep 0.2
done
pid="$(cat "$ROOT/.local/run/$service.pid")"
record_seconds=$((BENCH_SECONDS > 3 ? BENCH_SECONDS - 2 : 1))
echo "[profile] $service (pid $pid): sampling $record_seconds s of $scenario" >&2
perf record -q -F "${PROFILE_FREQ:-499}" -g -p "$pid" -o "$out/perf.data" -- sleep "$record_seconds" 2>>"$out/perf.log"
wait "$bench_job" || echo "[profile] bench/run.sh failed (see $out/bench.log)" >&2
trap - EXIT
[[ ! -e "/tmp/perf-$pid.map" ]] || { echo "[profile] /tmp/perf-$pid.map exists already; not overwriting it" >&2; exit 1; }
cp "$out/maps/perf-$pid.map" "/tmp/perf-$pid.map"
perf script -i "$out/perf.data" -F comm,tid,ip,sym,dso 2>>"$out/perf.log" >"$out/perf.script" || true
rm -f "/tmp/perf-$pid.map"
rm -rf "$out/maps"   # one map per dotnet process the bench started, several MB each
cat "$out/result.jsonl"

python3 bench/profile-report.py "$out/perf.script" "${PROFILE_TOP:-20}" | tee "$out/report.txt"
