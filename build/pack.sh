#!/usr/bin/env bash
# Packs every shippable package into a local feed:
#   ModelBuildTasks (the MSBuild package users reference), ModelBuildTasks.Runtime and .Container
#   (what the app runs), and the two tools dotnet-compress-model and dotnet-compress-model-train.
# Usage: build/pack.sh [FEED_DIR] [VERSION]   (defaults: .artifacts/feed, 0.1.0)
#   PACK_TRAINING=1   also packs the training add-on (libtorch: about a minute more, 144 MB on linux-x64)
#   PACK_ALL_RIDS=1   packs each tool for every RID it supports, not only this machine's (a release)
# The tools are RID-specific (.NET 10): `dotnet-compress-model` is a pointer package that lists its
# RIDs, and `dotnet-compress-model.<rid>` holds the tool with that RID's natives; `dotnet tool
# install` fetches the pointer and then only the current platform's package. Installing on this
# machine needs the pointer and this RID's package, so that is all a normal pack makes: all five
# RIDs of dotnet-compress-model take a minute more (publishing and zipping each), which the tests
# and the demo would pay for packages they never install.
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
tools=(ModelBuildTasks.Cli)
if [ "${PACK_TRAINING:-0}" = "1" ]; then tools+=(ModelBuildTasks.Training.Cli); fi
for project in ModelBuildTasks.Container ModelBuildTasks.Runtime ModelBuildTasks.Build "${tools[@]}"; do
  dotnet restore "$root/src/$project" -nologo -v quiet
done
pack() { dotnet pack "$@" -c Release -o "$feed" -p:Version="$version" -p:ContinuousIntegrationBuild=true -nologo -v quiet; }

# pack_tool PROJECT: the pointer package and the RID-specific ones, for every RID the project lists
# (the SDK's own way, all RIDs in one pack) or for this machine's RID. Both ways give the same bytes
# for the packages they share.
pack_tool() {
  local project=$root/src/$1 rid
  if [ "${PACK_ALL_RIDS:-0}" = "1" ]; then
    pack "$project"
    return
  fi
  pack "$project" -p:CreateRidSpecificToolPackages=false # the pointer alone
  rid=$(dotnet msbuild "$project" -getProperty:ToolPackageRuntimeIdentifiers -getProperty:NETCoreSdkPortableRuntimeIdentifier | python3 -c '
import json, sys
p = json.load(sys.stdin)["Properties"]
print(p["NETCoreSdkPortableRuntimeIdentifier"] if p["NETCoreSdkPortableRuntimeIdentifier"] in p["ToolPackageRuntimeIdentifiers"].split(";") else "")')
  if [ -n "$rid" ]; then pack "$project" -r "$rid"
  else echo "warning: $1 has no package for this machine's RID, so it cannot be installed here (PACK_ALL_RIDS=1 packs its RIDs)" >&2
  fi
}
# The CLI before ModelBuildTasks.Build: the build package publishes the CLI into itself, and that
# publish takes the CLI's deps.json as up to date even when it was made by an earlier build with
# another version; packing the CLI first regenerates it with this version (reproducible packs).
pack "$root/src/ModelBuildTasks.Container"
pack "$root/src/ModelBuildTasks.Runtime"
for tool in "${tools[@]}"; do pack_tool "$tool"; done
pack "$root/src/ModelBuildTasks.Build"
# Only this run's packages: the feed may hold other versions.
python3 "$root/build/fix-zip-times.py" "$feed"/*."$version".nupkg $(ls "$feed"/*."$version".snupkg 2>/dev/null)
ls "$feed"
