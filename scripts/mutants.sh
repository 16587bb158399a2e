#!/usr/bin/env bash
# Mutation check (opt-in, ~1 min per mutant on 2 cores): puts deliberate bugs into a scratch copy
# of the tree one at a time, rebuilds the tests there and runs the tests that should catch each.
# Prints a markdown table; exits 1 when a mutant survives, a mutation no longer applies, or a
# mutant's tests match nothing or fail on the unmutated tree.
#   scripts/mutants.sh            every mutant
#   scripts/mutants.sh 3 5        only mutants 3 and 5
# Each entry: file | sed expression (must change the file) | gtest filter | what the bug is.
# A filter "mpirun:FILTER" runs keel_dist_tests under `mpirun -np 3` instead of keel_tests;
# "pytest:EXPR" installs the Python package and runs `pytest -k EXPR` (scripts/python_tests.sh);
# "ctest:REGEX" runs the CTest tests matching REGEX (the installed-package tests).
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
  'src/model/fit.cpp|s/  if (gradient_scale != 1.0) {/  if (false) {/|MultiIoTraining.*|loss_weights ignored in the gradients'
  'src/model/fit.cpp|s/total += o.weight \* loss_sum;/total += loss_sum;/|MultiIoTraining.*|logged total loss ignores loss_weights'
  'src/model/fit.cpp|s/    validation = TrainingData::of(options.validation_xs, options.validation_ys);/    (void)0;/|MultiIoTraining.*|fit(xs, ys) ignores validation_xs \/ validation_ys (no val_ logs)'
  # Deployment on graphs (issue 12)
  'src/io/checkpoint.cpp|s/    layer->load_state(state);/    (void)state;/|Checkpoint.*|restore reads the layer states but never gives them to the layers (Dropout masks diverge after resume)'
  'src/deploy/fold_batch_norm.cpp|s/    if (n != bn_node)/    if (false)/|FoldBatchNorm*|BN folds back into a Dense whose output also feeds other layers (the skip path changes)'
  'src/deploy/fold_batch_norm.cpp|s/  if (calls == 1) return "";/  return "";/|FoldBatchNorm*|BN folds into a shared Dense (its other calls change)'
  'src/deploy/onnx_emitters.cpp|s/cat.axis() < 0 ? cat.axis() + rank : cat.axis()/cat.axis() < 0 ? cat.axis() + rank - 1 : cat.axis()/|OnnxInterop.*|ONNX Concat on the axis before the one Keras joins'
  'src/deploy/fold_batch_norm.cpp|s/  const auto calls_folded = static_cast<int64_t>(bypass_.size());/  const auto calls_folded = static_cast<int64_t>(folded_.size());/|FoldBatchNorm*|calls_folded counts fold entries (a BN folded into two heads counts twice)'
  # Fixup (issue 12, part 3)
  'src/model/fixup.cpp|s/static_cast<double>(2 \* m - 2)/static_cast<double>(2 * m)/|Fixup.*|branch layers scaled by L^(-1/2m) instead of L^(-1/(2m-2))'
  'src/model/fixup.cpp|s/for (Variable\& v : classifier->variables()) fill(v, 0.0f);//|Fixup.*|the classifier keeps its Glorot weights (not zeroed)'
  'src/layers/fixup_layers.cpp|s/shift ? 1.0f : \*var.value/1.0f/|LayersFixup.*|FixupScale backward passes dy to x unscaled'
  'src/model/fixup.cpp|s/FixupBias()(FixupScale()(mapped/FixupScale()(FixupBias()(mapped/|Fixup.*|branch ends with scale·(out + bias) instead of scale·out + bias'
  # Issue 17: the twelve bugs a reviewer planted (seven caught before, five caught by nothing or
  # one test), and metrics averaged without the batch sizes.
  'src/layers/batch_normalization.cpp|s/    batch_norm_moving_update(moving_variance, var_.data(), options_.momentum, channels_);/    for (int64_t c = 0; c < channels_; ++c) moving_variance[c] -= (moving_variance[c] - var_[c] * float(outer * inner_) \/ float(outer * inner_ - 1)) * float(1.0 - options_.momentum);/|LayersBatchNormalization.*:TrainingGolden*:KernelsBatchNorm*|BN moving variance from the unbiased batch variance (PyTorch) instead of the biased one'
  'src/kernels/batch_norm.cpp|s/  const auto decay = static_cast<float>(1.0 - momentum);/  const auto decay = static_cast<float>(momentum);/|LayersBatchNormalization.*:TrainingGolden*:KernelsBatchNorm*|BN moving averages decay by momentum instead of 1 - momentum'
  'src/optimizers/clipping.cpp|s/      const double s = ws.sum_squares\[k\];/      const double s = total;/|Clipping*:TrainingGolden*|clipnorm compares the global norm, not each variable'"'"'s own'
  'src/optimizers/clipping.cpp|s/        ws.transforms\[ws.chunks\[c\].var\] = {ClipKind::kClamp, v};//|Clipping*:TrainingGolden*|clipvalue never clamps'
  'src/layers/dense.cpp|s/activation_bias_backward(kind, z_.data(), y, dy, dz_.data(), dbias, m, units_);/activation_bias_backward(kind, z_.data(), y, dy, dz_.data(), nullptr, m, units_);/|LayersDense*:TrainingGolden*|Dense backward drops the bias gradient'
  'src/model/summary.cpp|s/format_thousands(trainable_params + non_trainable_params)/format_thousands(trainable_params)/|Summary*:SummaryCli*|summary()'"'"'s "Total params" counts only the trainable ones'
  'src/deploy/affine_fold.cpp|s/std::sqrt(static_cast<double>(var->value\[j\]) + epsilon)/std::sqrt(static_cast<double>(var->value[j]))/|FoldBatchNorm*|BN folding forgets epsilon'
  'src/model/evaluate.cpp|s/    total.update(weighted \/ static_cast<double>(count), static_cast<double>(count));/    total.update(weighted \/ static_cast<double>(count), 1.0);/|PartialBatchesKeras.*|evaluate() loss: unweighted mean of batch losses (a last partial batch counts as a full one)'
  'src/model/fit.cpp|s/  if (n > 0) t.loss_tracker.update(mean_loss, static_cast<double>(n));/  if (n > 0) t.loss_tracker.update(mean_loss, 1.0);/|PartialBatchesKeras.*|fit() epoch loss: unweighted mean of batch losses'
  'src/callbacks/terminate_on_nan.cpp|s/  model_->stop_training = true;//|TerminateOnNaN.*|TerminateOnNaN prints its message but never stops training'
  'src/io/checkpoint.cpp|s/    for (size_t i = 0; i < slots.size(); ++i)$/    for (size_t i = 0; i < 0 * slots.size(); ++i)/|ResumeCli.ResumeWith*|resume forgets the optimizer slots (momentum velocities, Adam moments)'
  'src/deploy/onnx_emitters.cpp|s/{{"epsilon", static_cast<float>(bn.options().epsilon), {}},/{{"epsilon", 1e-5f, {}},/|OnnxExport.*|ONNX BatchNormalization written with epsilon 1e-5 (the ONNX default), not the layer'"'"'s'
  'src/metrics/metric.cpp|s/mean_.update(sum \/ static_cast<double>(b.batch), static_cast<double>(b.batch));/mean_.update(sum \/ static_cast<double>(b.batch), 1.0);/|PartialBatchesKeras.*|fit() / evaluate() metrics: unweighted mean of batch values'
  # Data-parallel training on MPI (issue 15)
  'src/model/fit.cpp|s/  comm.all_reduce_sum(model.gradient_arena());/  (void)comm;/|mpirun:DataParallel.*|gradients not summed over the ranks (each rank steps on its own rows)'
  'src/model/fit.cpp|s/o.weight \* share);/o.weight);/|mpirun:DataParallel.*|each rank'"'"'s gradient not scaled by its share of the global batch'
  'src/model/fit.cpp|s/    average_non_trainable(\*this, comm);/    (void)0;/|mpirun:DataParallel.*|BN moving statistics left per rank (not averaged as Keras reads them)'
  'src/model/training_state.h|s/  comm.all_reduce_sum(sums);/  (void)comm;/|mpirun:DataParallel.*|loss and metrics of rank 0'"'"'s rows only'
  'src/model/data_parallel.cpp|s/const int64_t r = comm.rank(), size = comm.size();/const int64_t r = 0, size = comm.size();/|mpirun:DataParallel.*|every rank computes the first part of each global batch'
  'src/model/data_parallel.cpp|s/KEEL_CHECK(sum \* sum == /KEEL_CHECK(true or sum * sum == /|mpirun:DataParallel.*|ranks with different data train on silently'
  'src/cli/train_command.cpp|s/  if (f.verbose > 0 \&\& chief) std::cout << model.summary();/  if (f.verbose > 0) std::cout << model.summary();/|MpiCli.*|every rank prints the summary'
  # Synchronized BatchNormalization and dropout across ranks (issue 15, part 2)
  'src/layers/batch_normalization.cpp|s/  sync_comm_->all_reduce_sum(std::span<double>(sums, size_t(channels_ + 1)));/  (void)0;/|mpirun:DataParallel.Synchronized*|synchronized BN normalises with the rank'"'"'s own mean (sums not all-reduced)'
  'src/layers/batch_normalization.cpp|s/  sync_comm_->all_reduce_sum(std::span<double>(squares, size_t(channels_)));/  (void)0;/|mpirun:DataParallel.Synchronized*|synchronized BN: variance from the rank'"'"'s own rows'
  'src/layers/batch_normalization.cpp|s/  sync_comm_->all_reduce_sum(std::span<double>(s1, size_t(2 \* channels_)));/  (void)0;/|mpirun:DataParallel.Synchronized*|synchronized BN backward: dx from the rank'"'"'s own sums'
  'src/layers/batch_normalization.cpp|s/  if (dx == nullptr) return;  \/\/ the same/  sync_comm_->all_reduce_sum(std::span<double>(s1, size_t(2 * channels_))); if (dx == nullptr) return;  \/\/ the same/|mpirun:DataParallel.Synchronized*|synchronized BN: dgamma \/ dbeta from the all-reduced sums (counted once per rank)'
  'src/layers/dropout.cpp|s/  for (int64_t i = 0; i < before; ++i) rng_.next_u64();/  (void)before;/|mpirun:DataParallel.DropoutMasks*|dropout: every rank draws the first rows'"'"' masks'
  'src/model/data_parallel.cpp|s/smallest_batch >= comm.size()) return;/smallest_batch >= 0) return;/|mpirun:DataParallel.Synchronized*|synchronized BN with a batch smaller than the ranks is not refused'
  # Convolutional networks (issue 13, part 1)
  'src/kernels/conv.cpp|s/return {total \/ 2, total - total \/ 2};/return {total - total \/ 2, total \/ 2};/|CnnGolden.*:ConvKernel.*|TF same padding puts the odd pixel before (top/left) instead of after'
  'src/layers/batch_normalization.cpp|s/for (int64_t i = axes_.back() + 1; i < rank; ++i) inner_ \*= s\[i\];/for (int64_t i = axes_.back() + 1; i < rank; ++i) outer_per_sample_ *= s[i];/|CnnGolden.*:CnnLayers.*|BN axis: the axes after the normalised one are read as outer rows (wrong channel layout for axis 1 or 2 of NHWC)'
  'src/kernels/batch_norm.cpp|s/const float adjust = static_cast<float>(n) \/ static_cast<float>(std::max<int64_t>(n - 1, 1));/const float adjust = 1.0f;/|CnnGolden.*:CnnTrainingGolden.*|fused 4-D BN feeds the biased batch variance to moving_variance (Keras fused: unbiased)'
  'src/kernels/pool.cpp|s/const float count = static_cast<float>(win.cells());/const float count = static_cast<float>(g.pool_h * g.pool_w);/|CnnGolden.*:CnnLayers.*|AveragePooling2D same backward: padded cells counted in the divisor'
  'src/layers/conv_core.cpp|s/conv2d_backward_weights(at(batch), x, dz, dkernel, write == Write::kAdd)/conv2d_backward_weights(at(batch), x, dz, dkernel, write == Write::kSet)/|CnnLayers.*:CnnGolden.*|conv backward weights: Write::kSet accumulates and kAdd overwrites'
  'src/kernels/conv.cpp|s/    entry.prim_weights = dnnl::memory(prim_md, ctx.engine);/    entry.prim_weights = dnnl::memory(prim_md, ctx.engine); if (kind == Kind::kBackwardWeights) entry.weights_reorder = make_reorder(prim_md, user_md, false, ctx.engine); else/|ConvKernel.*:CnnLayers.*|conv backward weights overwrites the kernel gradient when asked to accumulate'
  'src/kernels/pool.cpp|s/      g, x, y, -std::numeric_limits<float>::infinity(),/      g, x, y, 0.0f,/|CnnGolden.*:CnnLayers.*|max pooling starts from 0 instead of -inf (padded cells / negative windows)'
  'src/deploy/affine_fold.cpp|s/  if (conv.same_padding() \&\& /  if (false \&\& /|FoldBatchNormCnn.*|BN folds into a following same-padded Conv2D (its zero padding misses the shift)'
  'src/layers/dense.cpp|s/rows_per_sample_ = input_shape().sample_size() \/ fan_in_;/rows_per_sample_ = 1;/|CnnGolden.*|Dense on a rank-4 input transforms only the first row of each sample'
  # The C++ package and the Python package (issue 16)
  'cmake/keelConfig.cmake.in|s/^find_dependency(OpenMP)$//|ctest:package.cmake|installed CMake package forgets keel'"'"'s OpenMP dependency (consumers fail to link)'
  'cmake/keel.pc.in|s/ -lkeel / /|ctest:package.pkg-config|keel.pc does not link libkeel'
  'src/losses/loss.cpp|s/b.y_true\[broadcast ? i \/ b.width : i\]/b.y_true[broadcast ? i % b.width : i]/|LossGolden.*|MSE broadcasts a width-1 target by output column instead of by row'
  'python/src/model.cpp|0,/nb::gil_scoped_release release;/s//(void)0;/|pytest:threads_run_while_fit|fit keeps the GIL while C++ trains'
  'python/src/callbacks.cpp|s/if (PyErr_CheckSignals() != 0) throw nb::python_error();/(void)0;/|pytest:ctrl_c|Ctrl-C is not seen until fit returns'
  'python/keel/keras/models.py|s/        return np.ascontiguousarray(array)$/        return np.array(array, copy=True)/|pytest:not_copied|float32 and uint8 inputs copied before training'
  'python/keel/keras/models.py|s/        return \[v for layer in self.layers for v in layer.weights\]/        return sorted([v for layer in self.layers for v in layer.weights], key=lambda v: not v.trainable)/|pytest:variables_numpy|model.weights: every trainable variable first, not tf.keras'"'"'s layer-by-layer order'
  'python/keel/keras/callbacks.py|s/    if method is not None and method is not getattr(Callback, hook):/    if False:/|pytest:callback|Python callbacks'"'"' overridden hooks never called'
  'python/keel/keras/layers.py|s/                raise TypeError(f"{type(self).__name__}: keyword argument not understood: .{key}.")/                pass/|pytest:unknown_keyword|an unknown layer argument reaches keel'"'"'s config reader (ValueError), not Keras'"'"'s TypeError'
  'python/src/callbacks.cpp|s/    if (!out.is_none()) {/    if (false) {/|pytest:progress_go_through_python|progress text bypasses sys.stdout'
  'python/keel/keras/models.py|s/        with self._busy:/        if True:/|pytest:two_threads|two threads run predict on one model at once (shared buffers)'
  'python/keel/keras/models.py|s/        _restore_kept(kept)$/        pass/|pytest:keeps_trained_weights|a layer joining another model (Sequential.add, transfer) is re-initialised'
  'python/keel/keras/models.py|s/        if native.built and any(layer._bound is not native for layer in self.layers):/        if False:/|pytest:trains_its_layers_again|a model trains layers that a later-built model has taken (its updates miss them)'
  # Recurrent layers and the exploding-gradients study (issue 14)
  'src/layers/lstm.cpp|s/cn\[j\] = ar\[u + j\] \* cp\[j\] + ar\[j\] \* ar\[2 \* u + j\];/cn[j] = ar[j] * cp[j] + ar[u + j] * ar[2 * u + j];/|RecurrentGolden.*|LSTM: input and forget gates swapped in the cell update'
  'src/layers/lstm.cpp|s/  gemm(dz, recurrent_kernel().value, dh_t, batch, u, G, false, true, false);/  std::fill_n(dh_t, batch * u, 0.0f);/|RecurrentGolden.*|LSTM BPTT: no gradient flows to h_{t-1} (truncated backprop through time)'
  'src/layers/lstm.cpp|s/{units(), Initializer("ones")}/{units(), options().bias_initializer}/|Recurrent.LstmUnitForgetBias|unit_forget_bias ignored (forget bias starts at 0)'
  'src/layers/gru.cpp|s/for (int64_t j = 0; j < u; ++j) xr\[2 \* u + j\] += r\[j\] \* rr\[2 \* u + j\];/for (int64_t j = 0; j < u; ++j) xr[2 * u + j] += rr[2 * u + j];/|RecurrentGolden.*|GRU reset_after: the reset gate not applied to the recurrent candidate'
  'src/layers/gru.cpp|s/h_new\[b \* u + j\] = z\[j\] \* h_prev\[b \* u + j\] + (1.0f - z\[j\]) \* hh\[j\];/h_new[b * u + j] = (1.0f - z[j]) * h_prev[b * u + j] + z[j] * hh[j];/|RecurrentGolden.*|GRU: the update gate mixes the other way round (PyTorch-style z)'
  'src/layers/gru.cpp|s/for (int64_t j = 0; j < u; ++j) rh\[b \* u + j\] = r\[j\] \* h_prev\[b \* u + j\];/for (int64_t j = 0; j < u; ++j) rh[b * u + j] = h_prev[b * u + j];/|RecurrentGolden.*|GRU reset_after=False: reset gate not applied before the candidate product'
  'src/layers/recurrent.cpp|s/const int64_t src_t = options_.go_backwards ? T - 1 - t : t;/const int64_t src_t = t;/|RecurrentGolden.*|go_backwards ignored'
  'src/layers/recurrent.cpp|s/for (int64_t j = 0; j < units_; ++j) row\[j\] += d\[j\];/for (int64_t j = 0; j < units_; ++j) row[j] = d[j];/|RecurrentGolden.*|return_sequences backward: the gradient carried from later steps overwritten by the step'"'"'s own'
  'src/layers/recurrent.cpp|s/const bool drop = options_.dropout > 0.0 .. !input_mask_.empty();/const bool drop = false;/|Recurrent.DropoutMasksFeaturesForEveryTimestep|dropout: dx not masked (dropped inputs get gradients)'
  'src/layers/initializers.cpp|s/for (int64_t r = 0; r < n; ++r) at(r, j) \/= norm;/(void)norm;/|Recurrent.OrthogonalInitializerIsOrthogonal|Orthogonal: columns not normalised'
  'src/kernels/recurrent_gates.cpp|s/const f32x16 t = (1.0f - e) \/ (1.0f + e);/const f32x16 t = (1.0f - e) \/ (1.0f + e) * 0.999f;/|RecurrentGolden.*|fast tanh 0.1% off'
  'src/io/sequence_tasks.cpp|s/failed += !(e \* e <= 0.04);/failed += e * e > 0.04;/|SequenceTasks.FailureCriterion|adding criterion: a NaN prediction counted as solved'
  'src/io/sequence_tasks.cpp|s/\*y = 0.5f \* (x\[p0 \* 2\] + x\[p1 \* 2\]);/*y = 0.5f * (x[p0 * 2] + x[p1 * 2 + 1]);/|SequenceTasks.AddingSamplesFollowTheDefinition|adding target reads the marker, not the value'
  'include/keel/model/builtin_models.h|s/inline constexpr double kAddingRecurrentGain = 1.2;/inline constexpr double kAddingRecurrentGain = 0.5;/|ExplodingGradients.*|adding-srnn starts in the vanishing regime: the unclipped run no longer explodes'
  'src/io/saved_model.cpp|s/    const auto it = by_name_without_cell.find(without_cell_scope(name));/    const auto it = by_name_without_cell.end();/|SavedModel.RecurrentWeightsLoadWhateverTheirCellNumber|saved-model loader: no match without the cell scope (files from another process fail to load)'
  'src/layers/recurrent.cpp|s/  if (layer == layer_prefix_) return 0;/  if (false) return 0;/|RecurrentModel.CellNamesFollowKeras|RNN cell names from the process-wide counter: a model read back from its config names its variables differently'
  'src/layers/layer_normalization.cpp|s/      dxr\[j\] = rstd\[r\] \* (g - mg - xhat \* mgx);/      dxr[j] = rstd[r] * (g - mg);/|RecurrentGolden.*|LayerNormalization backward: the variance term dropped'
  'src/layers/embedding.cpp|s/    for (int64_t j = 0; j < output_dim_; ++j) row\[j\] += d\[j\];/    for (int64_t j = 0; j < output_dim_; ++j) row[j] = d[j];/|Recurrent.EmbeddingLookupAndErrors|Embedding: a row looked up twice keeps only the last gradient'
  # Bidirectional and the ONNX export of sequence layers (issue 14)
  'src/layers/bidirectional.cpp|s/      const float\* br = b + (n \* T + (T - 1 - t)) \* u;/      const float* br = b + (n * T + t) * u;/|RecurrentGolden.*:RecurrentModel.*|Bidirectional: the backward sequence merged in processing order, not turned back to input order'
  'src/layers/bidirectional.cpp|s/          std::memcpy(o, fr, /          std::memcpy(o, br, /|RecurrentGolden.*|Bidirectional concat: the backward output in the forward half'
  'src/layers/bidirectional.cpp|s/out\[(n \* T + t) \* u + j\] = (fr\[j\] + br\[j\]) \/ 2.0f;/out[(n * T + t) * u + j] = fr[j] + br[j];/|RecurrentGolden.*|Bidirectional ave: the sum, not the mean'
  'src/layers/bidirectional.cpp|s/            df\[ft + j\] = dout\[ft + j\] \* b\[bt + j\];/            df[ft + j] = dout[ft + j] * f[ft + j];/|Recurrent.GradientsMatchFiniteDifferences|Bidirectional mul backward: the forward gradient scaled by its own output'
  'src/layers/bidirectional.cpp|s/  for (int64_t i = 0; i < n; ++i) dx0\[i\] += add\[i\];/  for (int64_t i = 0; i < n; ++i) dx0[i] = add[i];/|RecurrentGolden.*|Bidirectional: the input gradient of the forward direction overwritten by the backward one'
  'src/layers/bidirectional.cpp|s/backward_cell, !backwards);/backward_cell, backwards);/|RecurrentGolden.*|Bidirectional: the backward copy reads forwards too'
  'src/layers/bidirectional.cpp|s/std::to_string(3 \* \*n + 1)/std::to_string(*n + 1)/|RecurrentModel.Bidirectional*:Recurrent.BidirectionalNamesAndClone|Bidirectional: the forward cell numbered after the layer, not as Keras counts its three cells'
  'src/deploy/onnx_recurrent.cpp|s/return {0, 3, 1, 2};  \/\/ \[i o f c\]/return {0, 1, 2, 3};  \/\/ [i o f c]/|OnnxInterop.SequenceModelsAgreeWithKeel|ONNX LSTM weights in Keras'"'"'s gate order, not ONNX'"'"'s'
  'src/deploy/onnx_recurrent.cpp|s/reset_after ? 1 : 0/0/|OnnxInterop.SequenceModelsAgreeWithKeel|ONNX GRU: reset_after=True exported as linear_before_reset=0'
  'src/deploy/onnx_recurrent.cpp|s/    if (reverse_sequences) y = reverse(g, y, 0, p);/    (void)reverse_sequences;/|OnnxInterop.SequenceModelsAgreeWithKeel|ONNX: a go_backwards sequence returned in input order, not Keras'"'"'s processing order'
  'src/deploy/onnx_recurrent.cpp|s/        if (two_rows \&\& row == 1) v = bias->value\[G \* u + col\];/        (void)two_rows;/|OnnxInterop.SequenceModelsAgreeWithKeel|ONNX GRU reset_after: the recurrent bias row dropped'
  'src/deploy/onnx_recurrent.cpp|s/  const size_t fs = swapped ? 1 : 0, bs = 1 - fs;/  const size_t fs = 0, bs = 1 - fs;/|OnnxInterop.SequenceModelsAgreeWithKeel|ONNX Bidirectional over a go_backwards layer: the directions merged in the wrong order'
  'src/cli/train_command.cpp|s/    KEEL_CHECK(all.x_width() == input.sample_size(), /    KEEL_CHECK(true, /|CliErrors.MalformedFiles|train --data: arrays that do not fit the model fail only inside fit, after the summary was printed'
  'src/io/npy_data.cpp|s/y\[0\] == a\[i\].dims\[0\], paths\[i + 1\]/y[0] >= 0, paths[i + 1]/|NpyData.*:CliErrors.MalformedFiles|--data npy: a y with another sample count than its x accepted'
  'src/cli/train_command.cpp|s/    test = npy_data_view(arrays, false);/    test = npy_data_view(arrays, true);/|CliErrors.ControlTrainOnNpyArrays|--data npy: the test pair ignored (the training arrays evaluated as the test set)'
  # Recurrent dropout (issue 14)
  'src/layers/gate_masks.cpp|s/      for (int64_t j = 0; j < width_; ++j) o\[j\] += pr\[j\] \* mr\[j\];/      for (int64_t j = 0; j < width_; ++j) o[j] += pr[j];/|RecurrentGolden.*:Recurrent.GradientsMatchFiniteDifferences|recurrent dropout: the gradient reaching h_{t-1} (and dx) not masked'
  'src/layers/lstm.cpp|s/return meets_keras_fused_conditions(); }/return meets_keras_fused_conditions() \&\& false; }/|RecurrentGolden.*:Recurrent.DropoutMasksLikeKerasPaths|LSTM dropout: one mask reused over time where Keras draws a fresh one per timestep (fused path)'
  'src/layers/recurrent.cpp|s/  if (options_.recurrent_dropout > 0.0) options_.implementation = 1;/  (void)0;/|RecurrentGolden.*:Recurrent.RecurrentDropoutOnlyInTraining|recurrent_dropout does not switch to implementation 1 (one input mask for every gate)'
  'src/layers/gru.cpp|s/        for (int64_t j = 0; j < u; ++j) rh\[b \* u + j\] \*= m\[j\];/        (void)m;/|RecurrentGolden.*|GRU reset_after=False: the candidate gate reads h_{t-1} without its recurrent mask'
  'src/layers/recurrent.cpp|s/    input_masks_.sample(rng_, options_.dropout, fused ? T \* batch : batch, F, n, G \/ n,/    input_masks_.sample(rng_, options_.dropout, batch, F, n, G \/ n,/|Recurrent.DropoutMasksLikeKerasPaths|fused-path dropout mask drawn for the first timestep only (rows past the batch reuse it)'
  # ONNX export of the spatial layers (issue 13)
  'src/deploy/onnx_spatial.cpp|s/  return {h.before, w.before, h.after, w.after};/  return {h.before, h.after, w.before, w.after};/|OnnxInterop.ConvolutionalModelsAgreeWithKeel|ONNX same padding: pads written (top, bottom, left, right) instead of ONNX begin-then-end order'
  'src/deploy/onnx_spatial.cpp|s/attributes.push_back({"count_include_pad", {}, 0});/attributes.push_back({"count_include_pad", {}, 1});/|OnnxInterop.ConvolutionalModelsAgreeWithKeel|ONNX AveragePool same: count_include_pad=1, the padded cells counted in the average where TF averages the cells inside'
  'src/deploy/onnx_spatial.cpp|s/w\[size_t(((o \* cin + ci) \* kh + i) \* kw + j)\]/w[size_t(((o * cin + ci) * kw + j) * kh + i)]/|OnnxInterop.ConvolutionalModelsAgreeWithKeel|ONNX Conv weight: kernel rows and columns swapped in the reorder'
  'src/layers/layer_normalization.cpp|s/  for (size_t k = 0; k < perm_.size(); ++k) inverse_perm_\[size_t(perm_\[k\])\] = static_cast<int>(k);/  for (size_t k = 0; k < perm_.size(); ++k) inverse_perm_[k] = perm_[k];/|RecurrentGolden.*|LayerNormalization over non-trailing axes: the rows layout permuted back with the forward permutation'
  # Thread count on a busy machine (issue 18)
  'src/kernels/thread_governor.cpp|s/ - (current.self_seconds - last_.self_seconds))/)/|ThreadGovernor*|governor counts keel'"'"'s own CPU time as other processes'"'"' load'
  'src/kernels/thread_governor.cpp|s/  if (wanted > threads_ \&\& wanted != pending_) {/  if (false) {/|ThreadGovernor*|governor takes a core back after a single idle window (flaps on bursty load)'
  'src/kernels/threads.cpp|s/  fixed_by_call = true;/  fixed_by_call = false;/|BusyMachineCli.*|a count set with set_num_threads is still adapted by the governor'
  'src/kernels/thread_governor.cpp|s/  if (threads_ != ceiling_) set_default_num_threads(ceiling_);/  (void)0;/|ThreadGovernor*|the governor leaves its lowered count behind (the next fit starts with fewer threads)'
  'src/model/fit.cpp|s/      governor.tick();/      (void)governor;/|BusyMachineCli.*|fit never consults the governor (a busy machine keeps both threads)'
  # Mixed precision (issue 18)
  'include/keel/kernels/bf16.h|s/  bits += 0x7fffu + ((bits >> 16) \& 1u);/  bits += 0x7fffu;/|Bf16.*|bf16 rounding: ties rounded down instead of to even (not tf.cast'"'"'s rounding)'
  'src/layers/layer.cpp|s/  return dtype_policy_.computes_in_bf16() \&\& bf16_kernels() != Bf16Kernels::kNone;/  return false;/|MixedPrecision.*|the policy is recorded but every product stays float32'
  'src/io/model_config.cpp|s/  if (config.is_object() \&\& config.contains("dtype")) {/  if (false) {/|MixedPrecision.*|a config'"'"'s per-layer dtype is ignored (layers keep the global policy)'
  'src/layers/dtype_policy.cpp|s/  if (!mixed_bfloat16_) return name_;/  return name_;/|MixedPrecision.*|mixed_bfloat16 written as a bare string, not tf.keras'"'"'s serialized Policy'
  'src/layers/layer.cpp|s/  warn_if_no_bf16_kernels(dtype_policy_);/  (void)0;/|MixedPrecision.*:SummaryCli.DtypePolicyFlag|the float32 fallback is silent (no warning)'
  'src/layers/conv_core.cpp|s/  if (bf16) {/  if (false) {/|MixedPrecision.*|convolution backward ignores the policy (f32 gradients under mixed_bfloat16)'
  'src/layers/dense.cpp|s/  if (runs_bf16_products()) return gradients_bf16(x, dz, dx, m, write);/  (void)0;/|MixedPrecision.*|Dense backward ignores the policy (f32 gradients from bf16 forward)'
  'src/deploy/fold_batch_norm.cpp|s/    folded->set_dtype_policy(layer.dtype_policy());  \/\/ a mixed_bfloat16 layer stays one/    (void)0;/|MixedPrecision.*|BN folding turns the layers it folds into back to float32'
  # CNN step speed (issue 13): the vectorised pooling, threaded ReLU, row-chunk BN and BN + ReLU fusion
  'src/kernels/pool.cpp|s/write_window_gradient(g, win, lg, winner, lg.load(dyn + out + lg.k), dxn);/write_window_gradient(g, win, lg, winner, lg.load(dyn + out), dxn);/|KernelsPool.*|max-pool backward takes every channel vector'"'"'s dy from the first 16 channels'
  'src/kernels/pool.cpp|s/const i32x16 greater = v > best;/const i32x16 greater = v >= best;/|KernelsPool.*|max-pool backward: the last maximum of a window wins ties (TF: the first)'
  'src/kernels/pool.cpp|s/  if (!windows_tile_input(g)) std::fill_n/  if (false) std::fill_n/|KernelsPool.*|max-pool backward leaves cells outside every window unwritten'
  'src/kernels/activations.cpp|s/relu_backward_loop(y + begin, dy + begin/relu_backward_loop(y, dy + begin/|KernelsFused.Relu*|ReLU backward: every thread masks with the first share of y'
  'src/kernels/batch_norm.cpp|s/c < chunks; ++c) total += sums/c + 1 < chunks; ++c) total += sums/|KernelsBatchNorm.*|BN statistics of <= 64 channels drop the last row chunk'
  'src/kernels/batch_norm.cpp|s/    return v > 0.0f ? dy : zero;/    return dy + zero;/|ReluFusion.*|BN backward with a fused ReLU does not mask dy'
  'src/model/plan.cpp|s/    const Context ctx{Mode::kTraining, comm, logits, {}, relu_after_\[k\]};/    const Context ctx{Mode::kTraining, comm, logits};/|ReluFusion.*|the plan fuses the ReLU forward but not backward'
  'src/model/plan.cpp|s/ reads\[size_t(t)\] != 1) continue;/ false) continue;/|ReluFusion.*|ReLU fused although another layer or an output reads the values before it'
  'src/layers/batch_normalization.cpp|s/  if (relu_after() \&\& !mask_in_kernel) {/  if (false) {/|ReluFusion.*|permuted, wide or frozen BN ignores the fused ReLU in backward'
  'src/layers/batch_normalization.cpp|s/  if (relu_after() \&\& !relu_in_apply) {/  if (false) {/|ReluFusion.*|BN on a permuted axis ignores the fused ReLU in forward'
  'src/layers/conv_core.h|s/    return relu_after \&\& kind_ == ActivationKind::kLinear ? ActivationKind::kRelu : kind_;/    return kind_;/|ReluFusion.*|a ReLU fused into a linear Conv2D / DepthwiseConv2D is dropped'
  'src/layers/dense.cpp|s/  return relu_after() \&\& kind == ActivationKind::kLinear ? ActivationKind::kRelu : kind;/  return kind;/|ReluFusion.*|a ReLU fused into a linear Dense is dropped'
  'src/kernels/activations.cpp|s/dz\[i\] = y\[i\] > 0.0f ? dy\[i\] : 0.0f;/dz[i] = y[i] >= 0.0f ? dy[i] : 0.0f;/|KernelsFused.*:CnnLayers.*|ReLU backward (from the output) lets the gradient through where the output is 0'
  'src/layers/conv_core.cpp|s/    return backward_from_logits(x, dy, kernel, dx, dkernel, dbias, batch, write, bf16);/    return backward_from_logits(x, dy, kernel, dx, dkernel, nullptr, batch, write, bf16);/|CnnGolden.*:CnnLayers.*:CnnTrainingGolden.*|a linear Conv2D with a bias (dz = dy, no copy) gets no bias gradient'
  'src/layers/dense.cpp|s/  if (kind == ActivationKind::kLinear) return backward_dz(x, dy, dx, batch, write);/  if (kind == ActivationKind::kLinear) return backward_dz(x, dy, dx, batch, Write::kSet);/|FunctionalTraining.*:Cases/TrainingGolden.*:LayersDense.*|a linear Dense shared by two calls (dz = dy, no copy) overwrites its gradients'
  'src/kernels/batch_norm.cpp|s/      m2 += m2s\[c \* channels + j\] + rows \* d \* d;/      m2 += m2s[c * channels + j];/|KernelsBatchNorm.*|BN statistics by row chunks drop the spread of the chunk means (Chan combination)'
  'src/kernels/batch_norm.cpp|s/    const simd::f32x16 v = x \* scale + shift;/    const simd::f32x16 v = x * scale;/|ReluFusion.*|the BN backward recomputes the fused ReLU mask without the shift (not the value the forward clamped)'
  'src/layers/pooling2d.cpp|s/  const bool recorded = argmax_x_ == x \&\& argmax_batch_ == batch;/  const bool recorded = argmax_batch_ == batch;/|KernelsPool.*|max-pool backward uses the winners recorded for another input (a layer called twice)'
  'src/kernels/pool.cpp|s/argmax != nullptr ? load_cells(argmax + out + lg.k, lg)/argmax != nullptr ? load_cells(argmax + out, lg)/|KernelsPool.*|max-pool backward reads the recorded winners of the first 16 channels for every channel group'
  # BN + ReLU + MaxPooling2D fusion (issue 13)
  'src/kernels/pool.cpp|s/(oh \* g.out_w + ow) \* g.channels), cell};/(oh * g.out_w + ow) * g.channels), static_cast<int32_t>((h - (oh * g.stride_h - g.pad_top)) * g.pool_w + (w - (ow * g.stride_w - g.pad_left)))};/|KernelsPool.*:PoolFusion.*|the fused backward numbers a clipped window'"'"'s cells as in the unclipped window'
  'src/kernels/pool.cpp|s/places.assign(size_t(g.in_h \* g.in_w), CellPlace{-1, 0});/places.assign(size_t(g.in_h * g.in_w), CellPlace{0, 0});/|KernelsPool.*:PoolFusion.*|the fused backward gives cells outside every window (gaps, leftover rows) the first output'"'"'s gradient'
  'src/kernels/pool.cpp|s/if (++at == image_rows) at = 0, ++image;/if (++at == image_rows) at = 0;/|KernelsPool.*:PoolFusion.*|the fused backward'"'"'s row walk reads the first image'"'"'s gradient for every image'
  'src/kernels/pool.cpp|s/    return v > 0.0f ? v : zero;/    return v;/|KernelsPool.*:PoolFusion.*|the fused forward pools the BN output without the ReLU'
  'src/model/plan.cpp|s/reads\[size_t(relu_out)\] != 1/reads[size_t(relu_out)] < 1/|PoolFusion.*|a pool is fused although another layer reads the ReLU output'
  'src/layers/batch_normalization.cpp|s/    if (mask_in_kernel \&\& recorded) {/    if (recorded) {/|PoolFusion.*|a frozen BN takes the pooled gradient as if it were full size'
  'src/kernels/pool.cpp|s/      if (o != cached) {/      if (cached < 0) {/|KernelsPool.*:PoolFusion.*|the fused backward reuses the first window'"'"'s winners for every row'
  # Misuse found by an adversarial review (2026-12-03)
  'src/model/model.cpp|s/  KEEL_CHECK(active_calls_ == 0, /  KEEL_CHECK(true, /|Fit.CompileOrBuild*|compile() \/ build() from a callback of a running fit not refused (freed buffers)'
  'src/callbacks/early_stopping.cpp|s/    warn_monitor_missing("Early stopping", options_.monitor, logs);//|MonitoringCallbacks.*|EarlyStopping silent when its monitored value is missing'
  'python/keel/keras/models.py|s/            if self._running:/            if False:/|pytest:changing_the_model|compile \/ build \/ add from a fit callback reach the native model (crash)'
  'python/keel/keras/models.py|s/        if found == list(dims) or (not found and list(dims) == \[1\]):/        if int(np.prod(found)) == int(np.prod(dims)):/|pytest:input_arrays_must_have|input arrays checked by element count only (channels-first data read as channels-last)'
  'python/keel/keras/models.py|s/            layer.trainable = self._trainable/            pass/|pytest:trainable_false_freezes|model.trainable = False sets an attribute, freezes nothing'
  'python/keel/keras/models.py|s/                    if other is not self and other._running and other._native() is layer._bound:/                    if False:/|pytest:cannot_take_it_during|a model sharing a layer takes it during another model'"'"'s fit (that fit then trains nothing)'
  'python/keel/keras/models.py|s/            for other, other_values in kept:/            for other, other_values in []:/|pytest:reused_on_another_input_size|a failed build over a reused layer loses the other model'"'"'s weights'
  'python/keel/keras/layers.py|s/        self._bound = native$/        self._bound = native; self.__dict__.setdefault("_all", []).append(native)/|pytest:are_freed_with|every native model built over a layer kept alive (leak)'
  'python/keel/keras/layers.py|s/        if tuple(np.shape(value)) != tuple(variable.shape):/        if False:/|pytest:set_weights_checks_every|set_weights assigns the arrays before a later one is found wrong'
  'python/keel/keras/models.py|s/            self.optimizer, self._compile_args, self._compiled_native = kept/            pass/|pytest:failed_compile_keeps|a failed compile leaves the model uncompilable'
  'python/src/model.cpp|s/            if (PyErr_CheckSignals() != 0) throw nb::python_error();/            (void)0;/|pytest:ctrl_c_stops_predict|Ctrl-C is not seen until predict returns'
  'src/model/evaluate.cpp|s/    if (options.after_batch) options.after_batch();//|pytest:ctrl_c_stops_predict|predict never calls its after_batch hook'
  'python/keel/keras/models.py|s/            self._declared_input = \[int(d) for d in layer.shape\[1:\]\]/            pass/|pytest:sequential_starting_with|Sequential([keras.Input(shape), ...]) loses the declared shape'
  'src/io/saved_model.cpp|s/  for (int hops = 0; hops < 40 \&\& fs::is_symlink(p, ec); ++hops) {/  for (int hops = 0; hops < 0; ++hops) {/|SavedModel.SavesThroughASymbolicLink|a save replaces a symbolic link by a directory (the link target stays empty)'
  'src/model/training_state.cpp|s/  if (sample_dims.size() < 2 .. dims.size() < 3) return;/  return;/|Fit.SamplesInAnotherLayout*|C++ fit \/ evaluate \/ predict read samples of another layout (same size) as the input'"'"'s'
  # CLI misuse found by an adversarial review (2026-12-03)
  'src/cli/plot_command.cpp|s/  if (xmax - xmin < min_width) {/  if (false) {/;s/  for (int64_t i = 0; i < static_cast<int64_t>(xcount); ++i) {/  for (double x = xfirst; x <= xmax + 1e-9; x += xstep) {/;s/    const double x = xfirst + static_cast<double>(i) \* xstep;//|CliRobustness.Plot*|keel plot x ticks stepped with x += step again (a range of a few ulps never ends: hang)'
  'src/cli/plot_command.cpp|s/KEEL_CHECK(epoch_end != cells\[0\].c_str() \&\& \*epoch_end == .\\0. \&\& std::isfinite(epoch),/KEEL_CHECK(true,/|CliRobustness.Plot*|keel plot plots a non-numeric or nan epoch (at x = 0 / nan coordinates) instead of an error'
  'src/cli/train_command.cpp|s/f.threads >= 0 \&\& f.threads <= kMaxThreads/f.threads >= 0/|CliRobustness.Threads*|--threads without an upper bound (100000 crashes libgomp)'
  'src/cli/deploy_commands.cpp|s/x = a.dtype == NpyDtype::kUint8 ? a.to_tensor() : std::move(a.values);/x = a.to_tensor(); if (a.dtype == NpyDtype::kUint8) for (int64_t i = 0; i < x.size(); ++i) x[i] *= 1.0f \/ 255.0f;/|CliRobustness.Uint8*|predict scales uint8 .npy by 1\/255 while train --data npy: does not'
  'src/cli/train_command.cpp|s/    KEEL_CHECK(diverged.empty(), "training diverged (", diverged/    KEEL_CHECK(true, "training diverged (", diverged/|CliRobustness.Diverged*|train --save after a diverged run does not fail with "training diverged"'
  'src/io/saved_model.cpp|s/      KEEL_CHECK(std::isfinite(v->value\[i\]), dir.string(), ": not saved: weight /      KEEL_CHECK(true, dir.string(), ": not saved: weight /|SavedModelErrors.SaveRefuses*|save_model writes non-finite weights over a good model'
  'src/cli/train_command.cpp|s/!is_within(\*path, f.save)/true/|CliRobustness.SaveDirectory*|--save DIR with --logdir\/--csv\/--checkpoint inside DIR accepted (model lost after training)'
  'src/io/saved_model.cpp|s/v.value\[i\] >= 0.0f, where/true, where/|SavedModelErrors.NegativeMovingVariance|a negative BN moving_variance loads (predictions nan)'
  'src/cli/flag_values.cpp|s/  value = std::to_string(parsed);/  (void)parsed;/|CliRobustness.IntegerFlags*|integer flags with a leading 0 read as octal again (--epochs 010 is 8)'
  'src/cli/train_command.cpp|s/  if (model.built() \&\& !task) {/  if (false) {/|CliRobustness.ClassIds*|train checks class ids only inside the loss, after training (no file or row)'
  'src/cli/deploy_commands.cpp|s/  check_class_ids(model, "sparse_categorical_crossentropy", test->view,/  if (false) check_class_ids(model, "sparse_categorical_crossentropy", test->view,/|CliRobustness.ClassIds*|evaluate checks class ids only inside the loss (no file, row or model)'
  'src/cli/train_command.cpp|s/  if (!f.report.empty()) check_output_file("--report", f.report);//|CliRobustness.OutputPaths*|--report into a missing directory fails only after training'
  'src/cli/deploy_commands.cpp|s/  if (!f.verify.empty()) test = load_test_set("--verify", f.verify);/  (void)0;/|CliRobustness.FoldBn*|fold-bn writes OUT before (here: without) checking --verify'
  'src/cli/deploy_commands.cpp|s/  const bool unbatched = dims == sample_dims .*$/  const bool unbatched = x.size() == sample;/|CliRobustness.PredictRejects*|predict takes any array of one sample'"'"'s total size as that sample ((2, 392) for 784)'
  'src/callbacks/observability.cpp|s/KEEL_CHECK(static_cast<float>(\*o.learning_rate) == static_cast<float>(restored), "--resume ",/KEEL_CHECK(true, "--resume ",/|CliRobustness.Resume*|--resume silently ignores a --learning-rate that differs from the checkpoint'"'"'s'
  'src/io/saved_model.cpp|s/shards.shard_names.empty() ? gwhere + " (.paths. lists no shard file)" : shards.shard_names/shards.shard_names/|SavedModelErrors.EmptyShardList*|"paths": [] gives an error message starting with an empty file name'
  'src/cli/flag_values.cpp|s/return value.empty() ? std::string(".. is not allowed; expected a value") : std::string();/return std::string();/|CliRobustness.EmptyValues*|--save '"''"' \/ --report '"''"' \/ --output '"''"' silently ignored'
  'src/io/functional_config.cpp|s/    if (entry.inbound_nodes->empty() \&\& entry.calls.empty())/    if (false)/|CliRobustness.NeverCalled*|a never-called layer read by another is reported as a cycle'
  'src/cli/class_ids.cpp|s/  KEEL_CHECK(data.y_width == expected, file,/  KEEL_CHECK(true, file,/|CliRobustness.TargetWidth*|class ids with categorical_crossentropy fail inside the loss after the summary'
  'src/cli/model_arg.cpp|s/  KEEL_CHECK(fs::is_regular_file(model, ec), "MODEL ./  KEEL_CHECK(true, "MODEL /|CliRobustness.Device*|a MODEL that is a device (\/dev\/zero) is read until memory runs out'
  'src/cli/main.cpp|s/  } catch (const std::bad_alloc\&) {/  } catch (const std::range_error\&) {/|CliRobustness.Device*|std::bad_alloc reported as "internal error" (exit 1)'
  # Session 19: Fixup's random stream
  'include/keel/model/fixup.h|s/inline constexpr uint64_t kFixupRngStream = 1;/inline constexpr uint64_t kFixupRngStream = 0;/|Fixup.*|fixup() replays the model initialiser'"'"'s random stream (the first branch kernel is the stem'"'"'s draws again)'
  'include/keel/core/tensor.h|s/    for (size_t i = 1; i < dims_.size(); ++i) n \*= dims_\[i\];/    for (size_t i = 1; i < dims_.size(); ++i) n *= dims_[i];\n    if (!dims_.empty() \&\& dims_[0] == 0) n = 0;/|CoreTensor.*|row_size() of a tensor without rows is 0 (the old behaviour: callers saw width 0)'
  'src/layers/layer.cpp|s/    check_output_sample_size(shape, /    if (false) check_output_sample_size(shape, /|CnnLayers.ErrorsNameTheLayer|a layer output past 2^32 values per sample is built (fails later as a bare out of memory)'
  'src/io/checkpoint.cpp|s/  if (progress.train_samples > 0) ck.put_int64("train\/samples", progress.train_samples);//|CliRobustness.Resume*|checkpoints do not record the training-sample count: --resume with another --validation goes unnoticed'
  'src/callbacks/monitor.cpp|s/Can save best model only with /Can save the model only with /|MonitoringCallbacks.*|ModelCheckpoint(save_best_only) warning not Keras'"'"'s text'
  'src/model/model.cpp|s/KEEL_CHECK(appended_names_.insert(layer->name()).second,/KEEL_CHECK((appended_names_.insert(layer->name()), true),/|Sequential.ErrorsNameTheModelAndTheFix|a Sequential accepts two layers of one name'
)
selected=("$@")
run_one() { [[ ${#selected[@]} -eq 0 ]] || [[ " ${selected[*]} " == *" $1 "* ]]; }

echo "mutants.sh: copying the tree to $scratch and building the tests (Release)" >&2
# Synced by content: a file whose bytes differ from the scratch copy is copied with a new
# modification time, the others keep theirs, so a second run rebuilds only what changed -- also
# when an object is newer than its source's original time (an edit made while an earlier run was
# building, or a run killed with a mutant in place; copying modification times missed both).
stage="$scratch/stage"
rm -rf "$stage"
mkdir -p "$stage" "$scratch/src"
tar -C "$root" --exclude='./build*' --exclude='./.git' -cf - . | tar -C "$stage" -xf -
(cd "$stage" && find . -type f) | while IFS= read -r f; do
  if ! cmp -s "$stage/$f" "$scratch/src/$f"; then
    mkdir -p "$(dirname "$scratch/src/$f")"
    cp "$stage/$f" "$scratch/src/$f"
  fi
done
(cd "$scratch/src" && find . -type f) | while IFS= read -r f; do
  [[ -e "$stage/$f" ]] || rm -f "$scratch/src/$f"
done
rm -rf "$stage"
cmake -S "$scratch/src" -B "$scratch/build" -DCMAKE_BUILD_TYPE=Release -DKEEL_BUILD_BENCH=OFF >/dev/null
cmake --build "$scratch/build" -j"$(nproc)" --target keel_tests keel_dist_tests keel >/dev/null
run_tests() {  # FILTER, mpirun:FILTER, pytest:EXPR or ctest:REGEX (see the top)
  if [[ $1 == pytest:* ]]; then
    "$scratch/src/scripts/python_tests.sh" "$scratch/build" -k "${1#pytest:}"
  elif [[ $1 == ctest:* ]]; then
    ctest -R "${1#ctest:}" --output-on-failure
  elif [[ $1 == mpirun:* ]]; then
    env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
      OMPI_MCA_btl=self,vader OMPI_MCA_oob_tcp_if_include=lo \
      timeout 300 mpirun -np 3 ./keel_dist_tests --gtest_filter="${1#mpirun:}"
  else
    KEEL_BIN="$scratch/build/keel" ./keel_tests --gtest_filter="$1"
  fi
}

filter_matches() {  # whether FILTER names at least one test (run in the build directory)
  case $1 in
    pytest:*) grep -qs "def test_.*${1#pytest:}" "$scratch"/src/tests/python/test_*.py ;;
    ctest:*) ctest -N -R "${1#ctest:}" | grep -q 'Test *#' ;;
    mpirun:*) ./keel_dist_tests --gtest_filter="${1#mpirun:}" --gtest_list_tests | grep -q '^  ' ;;
    *) ./keel_tests --gtest_filter="$1" --gtest_list_tests | grep -q '^  ' ;;
  esac
}

# Each filter first runs on the unmutated tree: "caught" means nothing for a filter that matches
# no test or fails anyway.
declare -A baseline=()
for i in "${!mutants[@]}"; do
  run_one "$((i + 1))" || continue
  IFS='|' read -r _ _ filter _ <<<"${mutants[$i]}"
  [[ -n ${baseline[$filter]+set} ]] && continue
  if ! (cd "$scratch/build" && filter_matches "$filter"); then
    baseline[$filter]="the filter matches no test"
  elif (cd "$scratch/build" && run_tests "$filter" >/dev/null 2>&1); then
    baseline[$filter]=ok
  else
    baseline[$filter]="the tests fail without the mutant"
  fi
done

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
  if [[ ${baseline[$filter]} != ok ]]; then
    result="NOT CHECKED: ${baseline[$filter]}"
    failed=1
  elif cmp -s "$target" "$target.orig"; then
    result="NOT APPLIED (the code changed: update the mutant)"
    failed=1
  elif ! cmake --build "$scratch/build" -j"$(nproc)" --target keel_tests keel_dist_tests keel >/dev/null 2>&1; then
    result="caught (does not compile)"
  elif (cd "$scratch/build" && run_tests "$filter" >/dev/null 2>&1); then
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
