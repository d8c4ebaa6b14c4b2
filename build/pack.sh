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
# Packing ModelBuildTasks.Build publishes the CLI into the package from inside its own build, which
# cannot restore: restore every packed project first, so a fresh clone packs too.
for project in ModelBuildTasks.Container ModelBuildTasks.Runtime ModelBuildTasks.Build ModelBuildTasks.Cli; do
  dotnet restore "$root/src/$project" -nologo -v quiet
done
for project in ModelBuildTasks.Container ModelBuildTasks.Runtime ModelBuildTasks.Build ModelBuildTasks.Cli; do
  dotnet pack "$root/src/$project" -c Release -o "$feed" -p:Version="$version" -nologo -v quiet
done
if [ "${PACK_TRAINING:-0}" = "1" ]; then
  dotnet pack "$root/src/ModelBuildTasks.Training.Cli" -c Release -o "$feed" -p:Version="$version" -nologo -v quiet
fi
ls "$feed"
