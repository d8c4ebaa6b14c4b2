#!/usr/bin/env bash
# Restores, builds (Release, warnings as errors in src/) and runs every test project, then prints
# one closing line "N passed, N failed" summed over all projects from their TRX results.
# Needs only the .NET 10 SDK; everything else comes from NuGet during restore (and Azurite from npm,
# with Node.js from apt when npm is missing).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source "$root/build/common.sh"
apt_install xz-utils # the container size tests compare with xz -9 (Debian priority standard: usually there already)

results="$root/.artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"

if ! dotnet build ModelBuildTasks.sln -c Release -nologo -v minimal; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# The remote-cache tests start a real Azure Storage emulator: Azurite, pinned, in .artifacts/azurite.
if ! bash build/install-azurite.sh >/dev/null; then
  echo "could not install Azurite (build/install-azurite.sh)"
  echo "0 passed, 1 failed"
  exit 1
fi

# Snapshot tests must fail on a missing snapshot in CI instead of writing one.
export SNAPSHOOTER_STRICT_MODE=${SNAPSHOOTER_STRICT_MODE:-on}
dotnet test ModelBuildTasks.sln -c Release --no-build -nologo \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results"
status=$?

passed=0; failed=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  e=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0}))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi # a crashed test host counts as a failure
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
