#!/usr/bin/env bash
# The test command: local servers up (installing them on a fresh machine), build, every test project
# against the real PostgreSQL, Redis and RabbitMQ, then one line: N passed, N failed[, N skipped].
# Each run gets its own databases (suffix = run id) and RabbitMQ vhost, removed afterwards.
#
#   ./test.sh                    everything
#   ./test.sh Auth.Tests ...     only these test projects
#   TEST_FILTER='FullyQualifiedName~Outbox' ./test.sh
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
say() { printf '[test] %s\n' "$*"; }
t0=$(date +%s)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export RMQ_MANAGEMENT="${RMQ_MANAGEMENT:-0}"
RUN_ID="${TEST_RUN_ID:-$(date +%m%d%H%M%S)$$}"
export TEST_RUN_ID="$RUN_ID"
RESULTS="$ROOT/.local/test-results/$RUN_ID"
mkdir -p "$RESULTS"

# ---------------------------------------------------------------- servers
say "starting local servers (eng/infra.sh up)"
eng/infra.sh up || { say "infrastructure failed to start"; echo "0 passed, 1 failed"; exit 1; }
while IFS= read -r kv; do export "${kv?}"; done < <(eng/infra.sh env)
VHOST="test-$RUN_ID"
eng/infra.sh rabbitmqctl -q add_vhost "$VHOST" >/dev/null
eng/infra.sh rabbitmqctl -q set_permissions -p "$VHOST" secureplatform '.*' '.*' '.*' >/dev/null
export ConnectionStrings__rabbitmq="$ConnectionStrings__rabbitmq/$VHOST"

cleanup() {
  eng/infra.sh rabbitmqctl -q delete_vhost "$VHOST" >/dev/null 2>&1 || true
  local dbs
  dbs=$(eng/infra.sh psql -d postgres -tAc "SELECT datname FROM pg_database WHERE datname LIKE '%\_${RUN_ID}\_%'" 2>/dev/null || true)
  for db in $dbs; do eng/infra.sh psql -d postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

# The browser tests drive Debian's chromium (headless, Playwright with ExecutablePath=/usr/bin/chromium; Playwright's own browser download is never used).
if printf '%s\n' "${@:-Browser.Tests}" | grep -qx 'Browser.Tests'; then
  eng/infra.sh install browser || { say "chromium could not be installed"; echo "0 passed, 1 failed"; exit 1; }
fi

# ---------------------------------------------------------------- build
# The AppHost (Aspire SDK 13.6.4, packages 13.6.5 from this machine's feed) is built first, on its own: no skip.
say "building the AppHost"
dotnet build AppHost/AppHost.csproj -c Release -v quiet -clp:ErrorsOnly -nologo || { say "AppHost build failed"; echo "0 passed, 1 failed"; exit 1; }
# Every project but the AppHost must be in the solution filter the build uses.
missing=$(comm -23 <(dotnet sln SecurePlatform.sln list | grep -E '\.csproj$' | grep -v '^AppHost/' | sort) \
                   <(grep -oE '"[^"]+\.csproj"' SecurePlatform.Services.slnf | tr -d '"' | sort))
[[ -z "$missing" ]] || { say "projects missing from SecurePlatform.Services.slnf: $missing"; echo "0 passed, 1 failed"; exit 1; }
say "building (Release)"
dotnet build SecurePlatform.Services.slnf -c Release -v quiet -clp:ErrorsOnly -nologo || { say "build failed"; echo "0 passed, 1 failed"; exit 1; }
say "built in $(( $(date +%s) - t0 )) s"

# ---------------------------------------------------------------- tests
if (($#)); then PROJECTS=("$@"); else
  mapfile -t PROJECTS < <(ls -d tests/*.Tests | xargs -n1 basename)
fi
status=0
for project in "${PROJECTS[@]}"; do
  started=$(date +%s)
  say "$project ..."
  dotnet test "tests/$project/$project.csproj" -c Release --no-build --nologo \
      ${TEST_FILTER:+--filter "$TEST_FILTER"} \
      --logger "trx;LogFileName=$project.trx" --logger "console;verbosity=minimal" \
      --results-directory "$RESULTS" >"$RESULTS/$project.log" 2>&1 || status=1
  grep -E '^\s*(Failed|Passed!|Failed!|Skipped) ' "$RESULTS/$project.log" | grep -vE '^\s*Passed ' | head -40
  say "$project done in $(( $(date +%s) - started )) s"
done

# ---------------------------------------------------------------- summary (from the TRX files)
read -r passed failed skipped < <(python3 - "$RESULTS" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
p = f = s = 0
for path in glob.glob(sys.argv[1] + "/*.trx"):
    for r in ET.parse(path).getroot().iterfind(".//t:UnitTestResult", ns):
        o = r.get("outcome")
        if o == "Passed": p += 1
        elif o in ("NotExecuted", "Inconclusive"): s += 1
        else: f += 1
print(p, f, s)
PY
)
# Why each failed test failed, so a CI log alone explains a red run (message and the first stack lines).
python3 - "$RESULTS" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for path in sorted(glob.glob(sys.argv[1] + "/*.trx")):
    for r in ET.parse(path).getroot().iterfind(".//t:UnitTestResult", ns):
        if r.get("outcome") != "Failed":
            continue
        message = (r.findtext(".//t:ErrorInfo/t:Message", "", ns) or "").strip().splitlines()
        stack = (r.findtext(".//t:ErrorInfo/t:StackTrace", "", ns) or "").strip().splitlines()
        print(f"[test] FAILED {r.get('testName')}")
        for line in message[:12] + [l for l in stack if "SecurePlatform" in l][:4]:
            print(f"[test]     {line.strip()[:300]}")
PY
trx_count=$(ls "$RESULTS"/*.trx 2>/dev/null | wc -l)
if (( trx_count < ${#PROJECTS[@]} )); then
  say "some test projects produced no results (see logs in $RESULTS)"
  failed=$((failed + ${#PROJECTS[@]} - trx_count))
fi
say "finished in $(( $(date +%s) - t0 )) s; logs and TRX files in ${RESULTS#"$ROOT"/}"
line="$passed passed, $failed failed"
((skipped == 0)) || line="$line, $skipped skipped"
echo "$line"
((failed == 0 && status == 0 && passed > 0))
