#!/usr/bin/env bash
# Installs the full Fashion-MNIST (60k train, 10k test) from Debian's package, for training and
# benchmarks. Tests never need it: they use the subset committed in samples/data/.
set -euo pipefail
source "$(dirname "$0")/common.sh"
apt_install dataset-fashion-mnist
echo "/usr/share/datasets/fashion-mnist"
