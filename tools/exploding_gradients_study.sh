#!/usr/bin/env bash
# The runs behind docs/exploding_gradients.md: Pascanu et al.'s adding problem at length T
# (default 50), same seed and plain SGD recipe (learning rate 0.05, batch 20), trained
#   none            adding-srnn without clipping
#   clipvalue       adding-srnn --clipvalue 1
#   clipnorm        adding-srnn --clipnorm 1
#   global_clipnorm adding-srnn --global-clipnorm 1   (the paper's rule, threshold 1)
#   lstm            adding-lstm without clipping
# each with a JSON report, a TensorBoard log with the pre-clip gradient norms of every 10th step
# and the clipped fraction of every 10 steps (every step is counted; sampling keeps the plots
# small), and an SVG of its curves (keel plot). Then prints the table.
#   tools/exploding_gradients_study.sh OUT_DIR [EPOCHS] [T]
# Non-finite gradients are let through (--on-nonfinite ignore), as in Keras; keel's TerminateOnNaN
# then stops a run whose loss is no longer finite.
set -euo pipefail
out=${1:?usage: exploding_gradients_study.sh OUT_DIR [EPOCHS] [T]}
epochs=${2:-40}
length=${3:-50}
keel=${KEEL_BIN:-$(dirname "$0")/../build/keel}
mkdir -p "$out"
run() {  # run NAME MODEL [flags...]
  local name=$1 model=$2
  shift 2
  [[ -f $out/$name.json ]] && return  # resumable
  echo "== $name" >&2
  "$keel" train "$model" --data "adding:$length" --optimizer sgd --learning-rate 0.05 \
    --batch-size 20 --epochs "$epochs" --seed 42 --on-nonfinite ignore --verbose 2 \
    --logdir "$out/$name.logs" --grad-norm-every 10 --report "$out/$name.json" "$@" \
    >"$out/$name.log" 2>&1 || echo "$name failed: see $out/$name.log" >&2
  "$keel" plot "$out/$name.logs" -o "$out/$name.svg" --title "adding:$length, $name" >/dev/null
}
run none adding-srnn
run clipvalue adding-srnn --clipvalue 1
run clipnorm adding-srnn --clipnorm 1
run global_clipnorm adding-srnn --global-clipnorm 1
run lstm adding-lstm
python3 "$(dirname "$0")/exploding_gradients_table.py" "$out"
