#!/usr/bin/env bash
# Benchmarks, measured side by side in one run (never asserted in tests):
#  1. per sample model, on full Fashion-MNIST: size ratio, test-accuracy drop, latency int8 vs fp32,
#     cold compression time (build/Benchmarks);
#  2. the no-op rebuild overhead: a consuming app with the three models vs the same app without
#     them, each rebuilt with nothing changed, median of 7 builds.
#  build/bench.sh --methods | --orders | --search | --contract: the method, order, search and contract tables of
#  docs/benchmarks.md (these fine-tune, with the training add-on built here). With
#  BENCH_REPORTS=DIR, --search also writes each result's report (.json, .html) and container there.
# Installs the full dataset from Debian's package. Usage: build/bench.sh [MODE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source build/common.sh
data=$(bash build/install-datasets.sh | tail -n 1)
models=(${BENCH_MODELS:-samples/models/fashion_vgg.onnx samples/models/fashion_resnet.onnx samples/models/fashion_densenet.onnx})

# The training add-on, for the modes that fine-tune.
with_training() {
  dotnet build src/ModelBuildTasks.Training.Cli -c Release -nologo -v quiet >/dev/null
  export MBT_TRAINING_TOOL="$root/src/ModelBuildTasks.Training.Cli/bin/Release/net10.0/dotnet-compress-model-train.dll"
}
bench() { dotnet build build/Benchmarks -c Release -nologo -v quiet >/dev/null; dotnet build/Benchmarks/bin/Release/net10.0/mbt-bench.dll "$@"; }
train="${BENCH_TRAIN_DATA:-$root/samples/data/fashion-mnist/train-images-idx3-ubyte.gz}"

case "${1:-}" in
  --methods)
    # IQ, NS, DC and IQ+NS+DC at fixed ratios, post-training and fine-tuned.
    with_training
    echo "## Methods at fixed ratios (fine-tuning data: $(basename "$train"))"
    echo
    bench --methods "$data" "$train" "${models[@]}"
    exit 0 ;;
  --orders)
    # The same knobs in four orders of iq, ns, dc; then the margin search in each order (VGG).
    with_training
    echo "## Orders (fine-tuning data: $(basename "$train"))"
    echo
    bench --orders "$data" "$train" "${models[0]}"
    exit 0 ;;
  --contract)
    # The held-out drop against the 1-point budget, post-training default search, three models:
    # deciding on the point estimate (confidence 0.5) and on the default 0.9 lower bound
    # (BENCH_CONFIDENCES="0.9" for one of them).
    for confidence in ${BENCH_CONFIDENCES:-0.5 0.9}; do
      echo "## Margin search, post-training (resolution 0.05), decided at confidence $confidence"
      echo
      BENCH_CONFIDENCE=$confidence bench --search "$data" "margin:0.05" "${models[@]}"
      echo
    done
    exit 0 ;;
  --search)
    # 1. Margin search against the brute-force grid at the same resolution, post-training (the grid
    #    evaluates about 900 points at resolution 0.1: VGG only by default, BENCH_GRID_MODELS for more).
    # 2. The margin search alone at the default resolution, post-training, three models.
    # 3. The margin search with fine-tuning (BENCH_TUNED_EPOCHS, default 2, per step on the full training set), VGG.
    echo "## Margin search vs grid, post-training (ratio resolution ${BENCH_RESOLUTION:-0.1})"
    echo
    bench --search "$data" "post:${BENCH_RESOLUTION:-0.1}" ${BENCH_GRID_MODELS:-${models[0]}}
    echo
    echo "## Margin search, post-training (resolution 0.05)"
    echo
    bench --search "$data" "margin:0.05" "${models[@]}"
    with_training
    echo
    echo "## Margin search with fine-tuning (${BENCH_TUNED_EPOCHS:-2} epochs per step on the full training set)"
    echo
    bench --search "$data" "tuned:0.05:${BENCH_TUNED_EPOCHS:-2}e:$data/train-images-idx3-ubyte.gz" ${BENCH_TUNED_MODELS:-${models[0]}}
    exit 0 ;;
esac

echo "## Compression (IQ, 8 bits, max drop 1 point; validation 5,000 / test 5,000 images of the 10k test set)"
echo
bench "$data" "${models[@]}"

echo
echo "## No-op rebuild overhead"
echo
version="0.1.0-bench.$(date +%Y%m%d%H%M%S)"
feed="$root/.artifacts/bench-feed"
bash build/pack.sh "$feed" "$version" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make_app() { # name, items
  mkdir -p "$work/$1"
  cat > "$work/$1/NuGet.config" <<XML
<configuration><packageSources><add key="bench" value="$feed" /></packageSources></configuration>
XML
  cat > "$work/$1/App.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ModelCompressionCacheDir>$work/cache</ModelCompressionCacheDir></PropertyGroup>
  <ItemGroup><PackageReference Include="ModelBuildTasks" Version="$version" />$2</ItemGroup>
</Project>
XML
  echo 'System.Console.WriteLine("app");' > "$work/$1/Program.cs"
}
items=""
for m in "${models[@]}"; do
  items="$items<CompressModel Include=\"$root/$m\" ValidationData=\"$root/samples/data/fashion-mnist/val-images-idx3-ubyte.gz\" />"
done
make_app with "$items"
make_app without ""
build() { dotnet build "$work/$1" -nodeReuse:false --disable-build-servers -nologo -v quiet >/dev/null; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
build with; build without   # first builds: restore, compress, compile
time_builds() { for i in 1 2 3 4 5 6 7; do s=$(date +%s.%N); build "$1"; e=$(date +%s.%N); awk -v a="$e" -v b="$s" 'BEGIN { printf "%.3f\n", a - b }'; done | median; }
with=$(time_builds with)
without=$(time_builds without)
echo "| app | no-op rebuild (median of 7) |"
echo "|---|---|"
echo "| with 3 CompressModel items | ${with} s |"
echo "| without | ${without} s |"
echo "| overhead | $(awk -v a="$with" -v b="$without" 'BEGIN { printf "%.3f", a - b }') s |"
