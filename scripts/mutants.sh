#!/usr/bin/env bash
# Mutation check (opt-in, ~1 min per mutant on 2 cores): puts deliberate bugs into a scratch copy
# of the tree one at a time, rebuilds the tests there and runs the tests that should catch each.
# Prints a markdown table; exits 1 when a mutant survives or a mutation no longer applies.
#   scripts/mutants.sh            every mutant
#   scripts/mutants.sh 3 5        only mutants 3 and 5
# Each entry: file | sed expression (must change the file) | gtest filter | what the bug is.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scratch=${KEEL_MUTANTS_DIR:-/tmp/keel-mutants}

mutants=(
  # Graph core (issue 12)
  'src/kernels/merge.cpp|s/for (int64_t j = 0; j < n; ++j) y\[j\] += x\[j\];$/for (int64_t j = 0; j < n; ++j) y[j] = x[j];/|FunctionalTraining.*|gradient of a tensor feeding several layers overwritten, not summed'
  'src/model/plan.cpp|s/step.write = first_of_layer ? Write::kSet : Write::kAdd;/step.write = Write::kSet;/|FunctionalTraining.*|shared layer: every call sets its parameter gradients (second call lost)'
  'src/model/model.cpp|s/return da != db ? da > db :/return da != db ? da < db :/|*FunctionalSummary*:FunctionalTraining.WeightsAre*|model.layers sorted by increasing depth'
  'src/model/summary.cpp|s/std::to_string(producer.node_index)/std::string("0")/|*FunctionalSummary*|"Connected to" ignores which call of a shared layer'
  'src/kernels/merge.cpp|s/if (m != i)/if (m == i)/|LayersMerge.*:FunctionalTraining.*|Multiply backward multiplies by its own input'
  'src/kernels/merge.cpp|s/const bool keep = op == MergeOp::kMaximum ? value >= v : value <= v;/const bool keep = op == MergeOp::kMaximum ? value > v : value < v;/|LayersMerge.*|Maximum/Minimum tie routes the gradient to the last input'
  'src/kernels/merge.cpp|s/        std::memcpy(dxs\[i\] + r \* widths\[i\], row,/        std::memcpy(dxs[i] + r * widths[i], dy + r * total,/|LayersMerge.*:FunctionalTraining.*|Concatenate backward reads every input'"'"'s gradient from the row start'
  'src/model/plan.cpp|s/case Seed::kCopy: std::memcpy(grad_data_\[r\], dys\[i\], size_t(n) \* sizeof(float)); break;/case Seed::kCopy: break;/|FunctionalModel.Output*|an output also read inside the graph loses the caller'"'"'s dy'
  'src/layers/dense.cpp|s/if (dbias != nullptr \&\& write == Write::kSet) std::fill_n(dbias, units_, 0.0f);//|LayersDense*|Write::kSet adds into the bias gradient instead of overwriting it'
  'src/model/model.cpp|s/params.back().exclude_from_agc = classifier \&\& v.shape.size() >= 2;/params.back().exclude_from_agc = false;/|FunctionalModel.Agc*|AGC clips the final classifier'
  # Fixup (issue 12, part 3)
  'src/model/fixup.cpp|s/static_cast<double>(2 \* m - 2)/static_cast<double>(2 * m)/|Fixup.*|branch layers scaled by L^(-1/2m) instead of L^(-1/(2m-2))'
  'src/model/fixup.cpp|s/for (Variable\& v : classifier->variables()) fill(v, 0.0f);//|Fixup.*|the classifier keeps its Glorot weights (not zeroed)'
  'src/layers/fixup_layers.cpp|s/shift ? 1.0f : \*var.value/1.0f/|LayersFixup.*|FixupScale backward passes dy to x unscaled'
  'src/model/fixup.cpp|s/FixupBias()(FixupScale()(mapped/FixupScale()(FixupBias()(mapped/|Fixup.*|branch ends with scale·(out + bias) instead of scale·out + bias'
)

selected=("$@")
run_one() { [[ ${#selected[@]} -eq 0 ]] || [[ " ${selected[*]} " == *" $1 "* ]]; }

echo "mutants.sh: copying the tree to $scratch and building the tests (Release)" >&2
rm -rf "$scratch/src"
mkdir -p "$scratch/src"
# tar keeps modification times, so a second run rebuilds only what changed.
tar -C "$root" --exclude='./build*' --exclude='./.git' -cf - . | tar -C "$scratch/src" -xf -
cmake -S "$scratch/src" -B "$scratch/build" -DCMAKE_BUILD_TYPE=Release -DKEEL_BUILD_BENCH=OFF >/dev/null
cmake --build "$scratch/build" -j"$(nproc)" --target keel_tests keel >/dev/null

echo "| # | file | deliberate bug | tests run | result |"
echo "|---|---|---|---|---|"
failed=0
for i in "${!mutants[@]}"; do
  n=$((i + 1))
  run_one "$n" || continue
  IFS='|' read -r file expr filter what <<<"${mutants[$i]}"
  target="$scratch/src/$file"
  cp "$target" "$target.orig"
  sed -i "$expr" "$target"  # basic regular expressions: ( ) ? + | are literal
  if cmp -s "$target" "$target.orig"; then
    result="NOT APPLIED (the code changed: update the mutant)"
    failed=1
  elif ! cmake --build "$scratch/build" -j"$(nproc)" --target keel_tests keel >/dev/null 2>&1; then
    result="caught (does not compile)"
  elif (cd "$scratch/build" && KEEL_BIN="$scratch/build/keel" ./keel_tests --gtest_filter="$filter" >/dev/null 2>&1); then
    result="**SURVIVED**"
    failed=1
  else
    result="caught"
  fi
  mv "$target.orig" "$target"
  touch "$target"
  echo "| $n | \`$file\` | $what | \`$filter\` | $result |"
done
cmake --build "$scratch/build" -j"$(nproc)" --target keel_tests >/dev/null 2>&1 || true
exit $failed
