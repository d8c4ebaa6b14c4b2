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
bash build/pack.sh "$root/.artifacts/feed" "$version" >/dev/null

echo "== dotnet build samples/FashionClassifier (compresses samples/models/fashion_vgg.onnx)"
dotnet build samples/FashionClassifier -c Release -nologo -p:ModelBuildTasksVersion="$version" \
  -nodeReuse:false --disable-build-servers | grep -E "ModelBuildTasks|error|warn|Build succeeded" || true
[ -f samples/FashionClassifier/bin/Release/net10.0/FashionClassifier.dll ] || { echo "the sample app did not build"; exit 1; }

echo
echo "== dotnet run (the app)"
dotnet samples/FashionClassifier/bin/Release/net10.0/FashionClassifier.dll
