#!/usr/bin/env bash
# The main job, end to end on a fresh machine: pack ModelBuildTasks into a local feed, build the
# sample app (its build compresses its bundled model and embeds it), then run the app, which
# compares the embedded compressed model with the fp32 original on held-out data.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source build/common.sh

# A fresh version each run, so the NuGet cache never serves an older build of our packages.
version="0.1.0-demo.$(date +%Y%m%d%H%M%S)"
echo "== Packing ModelBuildTasks $version into .artifacts/feed"
mkdir -p .artifacts
if ! bash build/pack.sh "$root/.artifacts/feed" "$version" > .artifacts/pack.log 2>&1; then
  cat .artifacts/pack.log
  echo "error: packing failed (log above, also in .artifacts/pack.log)" >&2
  exit 1
fi

echo "== dotnet build samples/FashionClassifier (compresses samples/models/fashion_vgg.onnx)"
if ! dotnet build samples/FashionClassifier -c Release -nologo -p:ModelBuildTasksVersion="$version" \
  -nodeReuse:false --disable-build-servers > .artifacts/demo-build.log 2>&1; then
  cat .artifacts/demo-build.log
  echo "error: the sample app did not build (log above, also in .artifacts/demo-build.log)" >&2
  exit 1
fi
grep -E "ModelBuildTasks|warn|Build succeeded" .artifacts/demo-build.log || true

echo
echo "== dotnet run (the app)"
dotnet samples/FashionClassifier/bin/Release/net10.0/FashionClassifier.dll
