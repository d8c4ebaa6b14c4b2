#!/usr/bin/env bash
# The main job, end to end on a fresh machine: build the CLI, then inspect and evaluate a model.
# (Until the build-time compression pipeline lands, the demo runs the engine through the CLI.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source build/common.sh

dotnet build src/ModelBuildTasks.Cli -c Release -nologo -v quiet
# The third-party ResNet-18 ONNX file comes from a NuGet package the tests restore.
dotnet restore tests/ModelBuildTasks.Engine.Tests -v quiet
cli() { dotnet "src/ModelBuildTasks.Cli/bin/Release/net10.0/dotnet-compress-model.dll" "$@"; }

packages=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')
model="${packages%/}/microsoft.ml.dnnimagefeaturizer.resnet18/0.23.1/tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx"
data="samples/data/fashion-mnist/t10k-images-idx3-ubyte.gz"

echo "== dotnet compress-model inspect (a real third-party model: ResNet-18, CNTK export)"
cli inspect "$model"
echo
echo "== dotnet compress-model evaluate (Fashion-MNIST resized to its 3x224x224 input)"
echo "   ResNet-18 here is a feature extractor (512 outputs), so top-1 against Fashion-MNIST's labels is not meaningful;"
echo "   the run shows data loading, preprocessing, batching and latency on a real model."
cli evaluate "$model" --data "$data" --preprocess "resize=224x224;channels=3" --limit 64 --latency-samples 20
