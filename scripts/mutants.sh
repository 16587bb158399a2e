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
  'src/model/graph_construction.cpp|s/return da != db ? da > db :/return da != db ? da < db :/|*FunctionalSummary*:FunctionalTraining.WeightsAre*|model.layers sorted by increasing depth'
  'src/model/summary.cpp|s/std::to_string(producer.node_index)/std::string("0")/|*FunctionalSummary*|"Connected to" ignores which call of a shared layer'
  'src/kernels/merge.cpp|s/if (m != i)/if (m == i)/|LayersMerge.*:FunctionalTraining.*|Multiply backward multiplies by its own input'
  'src/kernels/merge.cpp|s/const bool keep = op == MergeOp::kMaximum ? value >= v : value <= v;/const bool keep = op == MergeOp::kMaximum ? value > v : value < v;/|LayersMerge.*|Maximum/Minimum tie routes the gradient to the last input'
  'src/kernels/merge.cpp|s/        std::memcpy(dxs\[i\] + r \* widths\[i\], row,/        std::memcpy(dxs[i] + r * widths[i], dy + r * total,/|LayersMerge.*:FunctionalTraining.*|Concatenate backward reads every input'"'"'s gradient from the row start'
  'src/model/plan.cpp|s/case Seed::kCopy: std::memcpy(grad_data_\[r\], dys\[i\], size_t(n) \* sizeof(float)); break;/case Seed::kCopy: break;/|FunctionalModel.Output*|an output also read inside the graph loses the caller'"'"'s dy'
  'src/layers/dense.cpp|s/if (dbias != nullptr \&\& write == Write::kSet) std::fill_n(dbias, units_, 0.0f);//|LayersDense*|Write::kSet adds into the bias gradient instead of overwriting it'
  'src/model/model.cpp|s/params.back().exclude_from_agc = classifier \&\& v.shape.size() >= 2;/params.back().exclude_from_agc = false;/|FunctionalModel.Agc*|AGC clips the final classifier'
  # Functional configs and multi-output training (issue 12)
  'src/io/functional_config.cpp|s/ordered_json::array({node.layer->name(), node.node_index, tensor.output_index})/ordered_json::array({node.layer->name(), 0, tensor.output_index})/|*FunctionalConfig.*|to_json writes every call of a shared layer as its first'
  'src/io/functional_config.cpp|s/while (replay_next_call(entry)) progress = true;/while (replay_next_call(entry)) {}/|FunctionalConfig*|config reader does one pass: a call reading a later layer is lost'
  'src/model/fit.cpp|s/    if (o.weight != 1.0) {/    if (false) {/|MultiIoTraining.*|loss_weights ignored in the gradients'
  'src/model/fit.cpp|s/total += o.weight \* loss_sum;/total += loss_sum;/|MultiIoTraining.*|logged total loss ignores loss_weights'
  # Deployment on graphs (issue 12)
  'src/io/checkpoint.cpp|s/    layer->load_state(state);/    (void)state;/|Checkpoint.*|restore reads the layer states but never gives them to the layers (Dropout masks diverge after resume)'
  'src/deploy/fold_batch_norm.cpp|s/    if (n != bn_node)/    if (false)/|FoldBatchNorm*|BN folds back into a Dense whose output also feeds other layers (the skip path changes)'
  'src/deploy/fold_batch_norm.cpp|s/  if (calls == 1) return "";/  return "";/|FoldBatchNorm*|BN folds into a shared Dense (its other calls change)'
  'src/deploy/onnx_emitters.cpp|s/cat.axis() < 0 ? cat.axis() + rank : cat.axis()/cat.axis() < 0 ? cat.axis() + rank - 1 : cat.axis()/|OnnxInterop.*|ONNX Concat on the axis before the one Keras joins'
  # Fixup (issue 12, part 3)
  'src/model/fixup.cpp|s/static_cast<double>(2 \* m - 2)/static_cast<double>(2 * m)/|Fixup.*|branch layers scaled by L^(-1/2m) instead of L^(-1/(2m-2))'
  'src/model/fixup.cpp|s/for (Variable\& v : classifier->variables()) fill(v, 0.0f);//|Fixup.*|the classifier keeps its Glorot weights (not zeroed)'
  'src/layers/fixup_layers.cpp|s/shift ? 1.0f : \*var.value/1.0f/|LayersFixup.*|FixupScale backward passes dy to x unscaled'
  'src/model/fixup.cpp|s/FixupBias()(FixupScale()(mapped/FixupScale()(FixupBias()(mapped/|Fixup.*|branch ends with scale·(out + bias) instead of scale·out + bias'
  # Convolutional networks (issue 13, part 1)
  'src/kernels/conv.cpp|s/return {total \/ 2, total - total \/ 2};/return {total - total \/ 2, total \/ 2};/|CnnGolden.*:ConvKernel.*|TF same padding puts the odd pixel before (top/left) instead of after'
  'src/layers/batch_normalization.cpp|s/for (int64_t i = axes_.back() + 1; i < rank; ++i) inner_ \*= s\[i\];/for (int64_t i = axes_.back() + 1; i < rank; ++i) outer_per_sample_ *= s[i];/|CnnGolden.*:CnnLayers.*|BN axis: the axes after the normalised one are read as outer rows (wrong channel layout for axis 1 or 2 of NHWC)'
  'src/kernels/batch_norm.cpp|s/const float adjust = static_cast<float>(n) \/ static_cast<float>(std::max<int64_t>(n - 1, 1));/const float adjust = 1.0f;/|CnnGolden.*:CnnTrainingGolden.*|fused 4-D BN feeds the biased batch variance to moving_variance (Keras fused: unbiased)'
  'src/kernels/pool.cpp|s/const float count = static_cast<float>(win.cells());/const float count = static_cast<float>(g.pool_h * g.pool_w);/|CnnGolden.*:CnnLayers.*|AveragePooling2D same: padded cells counted in the divisor'
  'src/layers/conv_core.cpp|s/conv2d_backward_weights(at(batch), x, dz, dkernel, write == Write::kAdd)/conv2d_backward_weights(at(batch), x, dz, dkernel, write == Write::kSet)/|CnnLayers.*:CnnGolden.*|conv backward weights: Write::kSet accumulates and kAdd overwrites'
  'src/kernels/conv.cpp|s/    entry.prim_weights = dnnl::memory(prim_md, ctx.engine);/    entry.prim_weights = dnnl::memory(prim_md, ctx.engine); if (kind == Kind::kBackwardWeights) entry.weights_reorder = make_reorder(prim_md, user_md, false, ctx.engine); else/|ConvKernel.*:CnnLayers.*|conv backward weights overwrites the kernel gradient when asked to accumulate'
  'src/kernels/pool.cpp|s/std::fill_n(out, c, -std::numeric_limits<float>::infinity());/std::fill_n(out, c, 0.0f);/|CnnGolden.*:CnnLayers.*|max pooling starts from 0 instead of -inf (padded cells / negative windows)'
  'src/layers/dense.cpp|s/rows_per_sample_ = input_shape().sample_size() \/ fan_in_;/rows_per_sample_ = 1;/|CnnGolden.*|Dense on a rank-4 input transforms only the first row of each sample'
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
