#!/usr/bin/env bash
# The runs behind docs/normalization_free.md: resnet-mlp-{plain,bn,fixup} at BLOCKS (default
# "8 32 128"), plus resnet-mlp-fixup with --agc, same seed and SGD recipe, each with a JSON report
# and a TensorBoard log with the gradient norms of every step. Then prints the table.
#   tools/normalization_free_study.sh OUT_DIR [EPOCHS] [BLOCKS...]
# Extra train flags for every run (e.g. --learning-rate 0.1) come from $KEEL_STUDY_FLAGS.
set -euo pipefail
out=${1:?usage: normalization_free_study.sh OUT_DIR [EPOCHS] [BLOCKS...]}
epochs=${2:-5}
shift $(( $# >= 2 ? 2 : $# ))
blocks=("$@")
(( ${#blocks[@]} )) || blocks=(8 32 128)
keel=${KEEL_BIN:-$(dirname "$0")/../build/keel}
agc=${KEEL_STUDY_AGC:-0.01}
mkdir -p "$out"
run() {  # run NAME MODEL BLOCKS [flags...]
  local name=$1 model=$2 n=$3
  shift 3
  [[ -f $out/$name.json ]] && return  # resumable
  echo "== $name" >&2
  # shellcheck disable=SC2086
  "$keel" train "$model" --blocks "$n" --epochs "$epochs" --verbose 2 --seed 42 \
    --logdir "$out/$name.logs" --grad-norm-every 1 --report "$out/$name.json" \
    ${KEEL_STUDY_FLAGS:-} "$@" >"$out/$name.log" 2>&1 || echo "$name failed: see $out/$name.log" >&2
}
for n in "${blocks[@]}"; do
  for variant in plain bn fixup; do run "$variant-$n" "resnet-mlp-$variant" "$n"; done
  run "fixup-agc-$n" resnet-mlp-fixup "$n" --agc "$agc"
done
python3 "$(dirname "$0")/normalization_free_table.py" "$out"
