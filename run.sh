#!/usr/bin/env bash
# Installs what is missing, builds keel (Release), and runs the main job: training the seed's model
# (Flatten, BN, Dense 300 elu, BN, Dense 100 elu, BN, Dense 10 softmax) on Fashion-MNIST.
# Extra arguments go to `keel train`, e.g. ./run.sh --epochs 2 --clipnorm 1.0
# Another model: ./run.sh --model seed-cnn --epochs 10   (or ./run.sh seed-cnn --epochs 10)
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
scripts/build.sh build Release >&2
model=seed-mlp
case "${1:-}" in
  --model) model=$2; shift 2 ;;
  --model=*) model=${1#--model=}; shift ;;
  -*|'') ;;
  *) model=$1; shift ;;
esac
exec build/keel train "$model" "$@"
