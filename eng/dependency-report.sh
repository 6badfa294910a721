#!/usr/bin/env bash
# eng/dependency-report.sh - what is known about the dependencies, said honestly.
#
# Prints, for the whole solution: whether each configured NuGet source publishes vulnerability data (a
# source without the VulnerabilityInfo resource cannot report an advisory: "no vulnerable packages" from it
# means nothing), `dotnet list package --vulnerable --include-transitive`, and `--outdated`. It informs; the
# build's NuGet audit (Directory.Build.props) and the pinning test are what fail.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '[deps] %s\n' "$*"; }

data=0
while read -r url; do
  if curl -fsS -m 20 "$url" 2>/dev/null | grep -q '"VulnerabilityInfo/'; then
    say "source $url publishes vulnerability data"; data=1
  else
    say "source $url publishes NO vulnerability data: a package with a known advisory restores silently from it"
  fi
done < <(dotnet nuget list source --format short 2>/dev/null | awk '/^ *E /{print $2}')

dotnet restore "${DEPS_TARGET:-SecurePlatform.sln}" -v quiet >/dev/null 2>&1 || say "restore failed; the lists below may be incomplete"
say "vulnerable packages (direct and transitive):"
out=$(timeout 300 dotnet list "${DEPS_TARGET:-SecurePlatform.sln}" package --vulnerable --include-transitive 2>&1)
echo "$out" | grep -E '^\s*>|has the following vulnerable|error' | sed 's/^/  /'
if ((data == 0)); then
  say "=> no vulnerability data was available: this is not a clean bill, only an absence of information"
elif echo "$out" | grep -q 'has the following vulnerable'; then
  say "=> vulnerable packages found (the build's NuGet audit fails on them)"
else
  say "=> no known vulnerable package"
fi

say "outdated packages (requested, resolved, latest served; held back on purpose: MassTransit 9 is commercial, 11.x targets .NET 11):"
timeout 300 dotnet list "${DEPS_TARGET:-SecurePlatform.sln}" package --outdated 2>&1 | grep -E '^\s*>' | awk '{$1=$1};1' | sort -u | sed 's/^/  /' \
  || say "  (none found, or the source could not answer)"
exit 0
