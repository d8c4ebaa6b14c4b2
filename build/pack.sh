#!/usr/bin/env bash
# Packs every shippable package into a local feed:
#   ModelBuildTasks (the MSBuild package users reference), ModelBuildTasks.Runtime and .Container
#   (what the app runs), and the two tools dotnet-compress-model and dotnet-compress-model-train.
# Usage: build/pack.sh [FEED_DIR] [VERSION]   (defaults: .artifacts/feed, 0.1.0)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/build/common.sh"
feed=$(realpath -m "${1:-$root/.artifacts/feed}")
version=${2:-0.1.0}
mkdir -p "$feed"
# Reproducible packs: the zip entries get the commit's time instead of the time of the pack.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 315532800)}
# Packing ModelBuildTasks.Build publishes the CLI into the package from inside its own build, which
# cannot restore: restore every packed project first, so a fresh clone packs too.
for project in ModelBuildTasks.Container ModelBuildTasks.Runtime ModelBuildTasks.Build ModelBuildTasks.Cli; do
  dotnet restore "$root/src/$project" -nologo -v quiet
done
# The CLI before ModelBuildTasks.Build: the build package publishes the CLI into itself, and that
# publish takes the CLI's deps.json as up to date even when it was made by an earlier build with
# another version; packing the CLI first regenerates it with this version (reproducible packs).
for project in ModelBuildTasks.Container ModelBuildTasks.Runtime ModelBuildTasks.Cli ModelBuildTasks.Build; do
  dotnet pack "$root/src/$project" -c Release -o "$feed" -p:Version="$version" -p:ContinuousIntegrationBuild=true -nologo -v quiet
done
if [ "${PACK_TRAINING:-0}" = "1" ]; then
  dotnet pack "$root/src/ModelBuildTasks.Training.Cli" -c Release -o "$feed" -p:Version="$version" -p:ContinuousIntegrationBuild=true -nologo -v quiet
fi
# Only this run's packages: the feed may hold other versions.
python3 "$root/build/fix-zip-times.py" "$feed"/*."$version".nupkg $(ls "$feed"/*."$version".snupkg 2>/dev/null)
ls "$feed"
