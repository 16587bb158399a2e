#!/usr/bin/env bash
# Installs what is missing, builds keel (Release), and runs the main job: training the seed's model
# (Flatten, BN, Dense 300 elu, BN, Dense 100 elu, BN, Dense 10 softmax) on Fashion-MNIST.
# Extra arguments go to `keel train`, e.g. ./run.sh --epochs 2 --clipnorm 1.0
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
scripts/build.sh build Release >&2
exec build/keel train seed-mlp "$@"
