// compile / fit / train_on_batch: the Keras training loop.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <numeric>

#include "keel/model/progbar_logger.h"
#include "keel/core/error.h"
#include "keel/core/rng.h"
#include "keel/kernels/thread_governor.h"
#include "keel/model/model.h"
#include "keel/optimizers/sgd.h"
#include "data_parallel.h"
#include "training_state.h"

namespace keel {

namespace {
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

const std::vector<double>& History::operator[](const std::string& key) const {
  for (const auto& [k, v] : history)
    if (k == key) return v;
  KEEL_FAIL("history has no key '", key, "'");
}

bool History::contains(const std::string& key) const {
  return std::any_of(history.begin(), history.end(), [&](const auto& kv) { return kv.first == key; });
}

void History::append(int64_t e, const Logs& logs) {
  epoch.push_back(e);
  for (const auto& [name, value] : logs.items()) {
    // Capture by an explicit init-capture: clang < 16 cannot capture structured bindings.
    auto it = std::find_if(history.begin(), history.end(),
                           [&key = name](const auto& kv) { return kv.first == key; });
    if (it == history.end()) {
      history.emplace_back(name, std::vector<double>{});
      it = history.end() - 1;
    }
    it->second.push_back(value);
  }
}

void Model::compile(CompileOptions options) {
  check_no_call_running("compile()");
  if (!built_) build();
  const size_t n_out = output_tensors_.size();
  KEEL_CHECK(!options.loss.empty() || !options.losses.empty(),
             "compile(): no loss given; expected a Keras loss name such as ",
             "\"sparse_categorical_crossentropy\"");
  KEEL_CHECK(options.loss.empty() || options.losses.empty(),
             "compile(): give either `loss` (one for every output) or `losses` (one per output), "
             "not both");
  KEEL_CHECK(options.losses.empty() || options.losses.size() == n_out, "compile(): ",
             options.losses.size(), " losses given for the ", n_out, " outputs of model '", name_,
             "' (", output_names_text(), ")");
  KEEL_CHECK(options.loss_weights.empty() || options.loss_weights.size() == n_out, "compile(): ",
             options.loss_weights.size(), " loss_weights given for the ", n_out,
             " outputs of model '", name_, "' (", output_names_text(), ")");
  auto state = std::make_unique<TrainingState>();
  state->optimizer = options.optimizer ? std::move(options.optimizer) : std::make_shared<SGD>();
  state->metric_names = std::move(options.metrics);
  state->params = optimizer_params();
  for (size_t i = 0; i < n_out; ++i) {
    OutputTraining& o = state->outputs.emplace_back();
    o.loss = make_loss(options.losses.empty() ? options.loss : options.losses[i], options.from_logits);
    if (!options.loss_weights.empty()) {
      const double w = options.loss_weights[i];
      KEEL_CHECK(std::isfinite(w), "compile(): loss_weights[", i, "] = ", w, " must be finite");
      o.weight = w;
    }
    // Keras names a multi-output model's logs after the output layers: "cls_loss", "cls_accuracy".
    if (n_out > 1) {
      o.metric_prefix = output_name(static_cast<int64_t>(i)) + "_";
      o.loss_key = o.metric_prefix + "loss";
    }
  }
  training_ = std::move(state);
}

bool Model::compiled() const { return training_ != nullptr; }

Optimizer& Model::optimizer() {
  KEEL_CHECK(training_, "model '", name_, "' is not compiled; call compile() first");
  return *training_->optimizer;
}

const StepStats& Model::last_step() const {
  KEEL_CHECK(training_, "model '", name_, "' is not compiled; call compile() first");
  return training_->last;
}

std::vector<std::string> Model::metric_names() const {
  return training_ ? training_->metric_names : std::vector<std::string>{};
}

// Loss of output `i` on the last forward pass (sum over the batch, unweighted); writes
// d(loss)/d(output) (or d/d(logits)) times `gradient_scale` into its dloss buffer.
static double output_loss(Model& model, TrainingState& t, size_t i, int64_t n, int64_t y_width,
                          double gradient_scale) {
  OutputTraining& o = t.outputs[i];
  const auto index = static_cast<int64_t>(i);
  const int64_t out_width = model.tensors()[size_t(model.output_tensors()[i])].shape.sample_size();
  LossBatch lb;
  lb.y_pred = model.output(index);
  lb.logits = model.outputs_softmax(index) ? model.output_logits(index) : nullptr;
  lb.y_true = t.y_pointers[i];
  lb.batch = n;
  lb.width = out_width;
  lb.true_width = y_width;
  bool wrt_logits = false;
  const double loss_sum = o.loss->compute(lb, o.dloss.get(), &wrt_logits);
  t.from_logits[i] = wrt_logits;
  if (gradient_scale != 1.0) {
    const auto w = static_cast<float>(gradient_scale);
    for (int64_t k = 0; k < n * out_width; ++k) o.dloss[k] *= w;
  }
  return loss_sum;
}

// This rank's forward, losses, metrics and backward (gradients written, not yet all-reduced);
// returns the loss summed over its rows (weighted by loss_weights).
static double forward_and_backward(Model& model, TrainingState& t, int64_t n, BatchSlice slice,
                                   std::span<const int64_t> y_widths) {
  model.forward(t.x_inputs, n, Mode::kTraining, slice);
  const int64_t global_n = slice.global;
  double total = 0.0;
  // The loss is the mean over the global batch: each rank's mean over its rows weighs n/global_n,
  // and the ranks' gradients are summed (Keras's scale_loss_for_distribution, then an all-reduce).
  const double share = static_cast<double>(n) / static_cast<double>(global_n);
  for (size_t i = 0; i < t.outputs.size(); ++i) {
    OutputTraining& o = t.outputs[i];
    const double loss_sum = output_loss(model, t, i, n, y_widths[i], o.weight * share);
    total += o.weight * loss_sum;
    o.loss_tracker.update(loss_sum / static_cast<double>(n), static_cast<double>(n));
    // Metrics see the predictions of this forward pass, before the update (as in Keras).
    const int64_t out_width = model.tensors()[size_t(model.output_tensors()[i])].shape.sample_size();
    t.ensure_metrics(o, out_width, y_widths[i]);
    for (auto& m : o.metrics)
      m->update({model.output(static_cast<int64_t>(i)), t.y_pointers[i], n, out_width, y_widths[i]});
  }
  // Overwrites every gradient the optimizer reads (no zero_gradients pass): layers that run
  // backward write theirs, and Model::backward zeroes those of layers below the lowest
  // trainable one (frozen after compile()).
  model.backward(t.dloss_inputs, std::span<const bool>(t.from_logits.get(), t.outputs.size()), n,
                 Model::GradientUpdate::kOverwrite);
  return total;
}

// Sums the gradients over the ranks; returns the seconds it took.
static double all_reduce_gradients(Model& model, const Communicator& comm) {
  if (comm.size() == 1) return 0.0;
  const auto start = std::chrono::steady_clock::now();
  comm.all_reduce_sum(model.gradient_arena());
  return seconds_since(start);
}

// One optimizer step on samples already gathered into the batch buffers: this rank's n rows,
// rows [slice.first, slice.first + n) of a global batch of slice.global rows (n == slice.global
// with one process). Returns the seconds spent in the gradient all-reduce.
static double train_step(Model& model, TrainingState& t, int64_t n, BatchSlice slice,
                       std::span<const int64_t> y_widths,
                       std::span<const std::shared_ptr<Callback>> callbacks = {}, int64_t batch = 0) {
  const Communicator& comm = model.communicator();
  double total = 0.0;
  if (n == 0) {  // a global batch with fewer rows than ranks: this rank adds zero gradients
    std::fill(model.gradient_arena().begin(), model.gradient_arena().end(), 0.0f);
  } else {
    total = forward_and_backward(model, t, n, slice, y_widths);
  }
  // Before clipping: clipnorm / global_clipnorm / AGC see the global batch's gradient.
  const double allreduce_seconds = all_reduce_gradients(model, comm);
  for (auto& cb : callbacks) cb->on_train_batch_gradients(batch);
  const StepResult r = t.optimizer->apply_gradients(t.params);
  const double mean_loss = n > 0 ? total / static_cast<double>(n) : 0.0;
  t.last = {mean_loss, r.clip.preclip_global_norm, r.clip.postclip_global_norm, r.clip.clipped,
            r.skipped};
  if (n > 0) t.loss_tracker.update(mean_loss, static_cast<double>(n));
  return allreduce_seconds;
}

// The name of input i for messages ("input 'input_2'") when the model has several.
static std::string input_label(const Model& model, size_t i) {
  const GraphTensor& t = model.tensors()[size_t(model.input_tensors()[i])];
  return model.num_inputs() == 1 ? std::string()
                                 : " input " + std::to_string(i) + " ('" +
                                       (t.input_layer ? t.input_layer->name() : "?") + "')";
}

void check_training_data(const Model& model, const TrainingData& data, const char* what) {
  KEEL_CHECK(data.size() > 0, what, " holds no samples");
  KEEL_CHECK(!data.targets.empty(), what, " has no labels (y)");
  KEEL_CHECK(data.inputs.size() == size_t(model.num_inputs()), what, ": ", data.inputs.size(),
             " input arrays given but model '", model.name(), "' has ", model.num_inputs(), " inputs");
  KEEL_CHECK(data.targets.size() == size_t(model.num_outputs()), what, ": ", data.targets.size(),
             " label arrays given but model '", model.name(), "' has ", model.num_outputs(),
             " outputs");
  for (size_t i = 0; i < data.inputs.size(); ++i) {
    const DataView& x = data.inputs[i];
    const Shape& shape = model.tensors()[size_t(model.input_tensors()[i])].shape;
    KEEL_CHECK(x.size == data.size(), what, input_label(model, i), " holds ", x.size,
               " samples but input 0 holds ", data.size());
    const int64_t expected = shape.sample_size();
    KEEL_CHECK(x.x_width() == expected, what, input_label(model, i), ": each sample has ",
               x.x_width(), " values but the model '", model.name(), "' expects input ",
               shape.to_string(), " (", expected, " values per sample)");
    check_sample_layout(shape, x.sample_dims, what, model.num_inputs() > 1 ? int64_t(i) : -1);
  }
  for (size_t i = 0; i < data.targets.size(); ++i) {
    KEEL_CHECK(data.targets[i].size == data.size(), what, ": labels ", i, " hold ",
               data.targets[i].size, " samples but the inputs hold ", data.size());
  }
}

History Model::fit(const Tensor& x, const Tensor& y, FitOptions options) {
  return fit(DataView::of(x, y), std::move(options));
}

History Model::fit(std::span<const Tensor> xs, std::span<const Tensor> ys, FitOptions options) {
  KEEL_CHECK(!options.validation_data, "fit(): validation_data is a one-input, one-output view; "
             "with arrays per input and output give validation_xs and validation_ys");
  std::optional<TrainingData> validation;
  if (!options.validation_xs.empty() || !options.validation_ys.empty())
    validation = TrainingData::of(options.validation_xs, options.validation_ys);
  return fit_data(TrainingData::of(xs, ys), std::move(validation), std::move(options));
}

History Model::fit(const DataView& all_data, FitOptions options) {
  check_single_io("fit(DataView)");
  KEEL_CHECK(options.validation_xs.empty() && options.validation_ys.empty(),
             "fit(DataView): validation_xs / validation_ys go with fit(xs, ys); give a view as "
             "validation_data");
  std::optional<TrainingData> validation;
  if (options.validation_data) validation = TrainingData::of(*options.validation_data);
  return fit_data(TrainingData::of(all_data), std::move(validation), std::move(options));
}

History Model::fit_data(const TrainingData& all_data, std::optional<TrainingData> validation,
                        FitOptions options) {
  KEEL_CHECK(training_, "model '", name_, "' is not compiled; call compile() before fit()");
  const ActiveCall running(*this, "fit()");
  KEEL_CHECK(options.batch_size >= 1, "fit(): batch_size ", options.batch_size, " must be >= 1");
  KEEL_CHECK(options.epochs >= 1, "fit(): epochs ", options.epochs, " must be >= 1");
  KEEL_CHECK(options.initial_epoch >= 0 && options.initial_epoch <= options.epochs,
             "fit(): initial_epoch ", options.initial_epoch, " must be in [0, epochs=",
             options.epochs, "]");
  KEEL_CHECK(options.validation_split >= 0.0 && options.validation_split < 1.0,
             "fit(): validation_split ", options.validation_split, " must be in [0, 1)");
  KEEL_CHECK(options.verbose >= 0 && options.verbose <= 2, "fit(): verbose ", options.verbose,
             " must be 0, 1 or 2");
  TrainingState& t = *training_;
  std::ostream& out = options.out ? *options.out : std::cout;

  TrainingData data = all_data;
  if (options.validation_split > 0.0 && !validation) {
    // Keras: the last fraction of the samples, before any shuffling.
    const auto split_at = static_cast<int64_t>(
        std::floor(static_cast<double>(all_data.size()) * (1.0 - options.validation_split)));
    data = all_data.slice(0, split_at);
    validation = all_data.slice(split_at, all_data.size());
  }
  check_training_data(*this, data, "training data");
  if (validation) check_training_data(*this, *validation, "validation data");
  const std::vector<int64_t> y_widths = t.label_widths(data);
  for (size_t i = 0; validation && i < y_widths.size(); ++i) {
    const int64_t vw = validation->targets[i].x_width();
    KEEL_CHECK(vw == y_widths[i], "validation labels have ", vw,
               " values per sample but training labels have ", y_widths[i]);
  }

  const int64_t n = data.size(), bs = options.batch_size;
  // The last partial batch is kept (Keras). Not (n + bs - 1) / bs: that overflows for a huge
  // --batch-size.
  const int64_t steps = n / bs + (n % bs != 0 ? 1 : 0);
  t.ensure_batch_buffers(*this, std::min(bs, n), y_widths);
  std::vector<int64_t> order(static_cast<size_t>(n));

  const Communicator& comm = communicator();
  check_ranks_agree(comm, {{"the number of training samples", n},
                           {"the number of validation samples", validation ? validation->size() : 0},
                           {"batch_size", bs},
                           {"epochs", options.epochs},
                           {"initial_epoch", options.initial_epoch},
                           {"shuffle", options.shuffle ? 1 : 0},
                           {"seed", static_cast<int64_t>(options.seed & 0xffffffff)}});
  check_every_rank_has_rows(*this, comm, "the training data", n, bs);
  broadcast_training_state(*this, *t.optimizer, comm);

  std::vector<std::shared_ptr<Callback>> callbacks;
  // Only rank 0 prints: the other ranks' logs are the same numbers.
  if (options.verbose > 0 && comm.is_chief()) callbacks.push_back(std::make_shared<ProgbarLogger>(out));
  callbacks.insert(callbacks.end(), options.callbacks.begin(), options.callbacks.end());
  const TrainingParams params{options.epochs, options.initial_epoch, steps, options.verbose};
  for (auto& cb : callbacks) {
    cb->set_model(this);
    cb->set_params(params);
  }

  History history;
  {  // Capped (a few MB) so a huge --epochs neither overflows nor allocates up front.
    constexpr int64_t kMaxReserved = int64_t{1} << 20;
    const int64_t epochs_left = options.epochs - options.initial_epoch;
    history.step_seconds.reserve(
        static_cast<size_t>(epochs_left > kMaxReserved / steps ? kMaxReserved : steps * epochs_left));
  }
  stop_training = false;
  Logs empty;
  for (auto& cb : callbacks) cb->on_train_begin(empty);
  Logs batch_logs;  // reused by every batch so a step allocates nothing
  Logs last_epoch_logs;  // Keras hands on_train_end the last epoch's logs
  ThreadGovernor governor;  // fewer threads while other processes keep cores busy
  for (int64_t epoch = options.initial_epoch; epoch < options.epochs && !stop_training; ++epoch) {
    for (auto& cb : callbacks) cb->on_epoch_begin(epoch, empty);
    std::iota(order.begin(), order.end(), int64_t{0});
    if (options.shuffle) {
      // One stream per epoch index, so resuming at epoch k replays exactly the same order.
      Rng rng(options.seed, /*stream=*/1000 + static_cast<uint64_t>(epoch));
      for (int64_t i = n - 1; i > 0; --i)
        std::swap(order[i], order[rng.uniform_int(static_cast<uint64_t>(i + 1))]);
    }
    t.reset_metrics();
    for (int64_t step = 0; step < steps; ++step) {
      const auto start = std::chrono::steady_clock::now();
      const int64_t first = step * bs, count = std::min(bs, n - first);
      for (auto& cb : callbacks) cb->on_train_batch_begin(step, empty);
      // Every rank walks the same shuffled order and computes its own rows of the global batch.
      const RankRows rows = rank_rows(first, count, comm);
      data.gather(order.data(), rows.first, rows.count, t.x_pointers, t.y_pointers);
      if (step + 1 < steps) {
        const RankRows next = rank_rows(first + bs, std::min(bs, n - first - bs), comm);
        data.prefetch(order.data(), next.first, next.count);
      }
      history.allreduce_seconds +=
          train_step(*this, t, rows.count, {rows.first - first, count}, y_widths, callbacks, step);
      history.step_seconds.push_back(seconds_since(start));
      history.train_seconds += history.step_seconds.back();
      history.train_samples += count;
      governor.tick();
      t.fill_logs(batch_logs, comm);
      for (auto& cb : callbacks) cb->on_train_batch_end(step, batch_logs);
      if (stop_training) break;
    }
    average_non_trainable(*this, comm);
    Logs logs = batch_logs;  // the epoch's logs: the running values plus validation
    if (validation) {
      const Logs val =
          evaluate_data(*validation, {.batch_size = bs, .verbose = 0, .callbacks = callbacks});
      for (const auto& [name, value] : val.items()) logs.set("val_" + name, value);
    }
    history.append(epoch, logs);
    for (auto& cb : callbacks) cb->on_epoch_end(epoch, logs);
    last_epoch_logs = std::move(logs);
  }
  for (auto& cb : callbacks) cb->on_train_end(last_epoch_logs);
  history.lowest_threads = governor.lowest_threads();
  history.thread_changes = governor.changes();
  return history;
}

Logs Model::train_on_batch(const Tensor& x, const Tensor& y) {
  return train_on_batch(std::span<const Tensor>(&x, 1), std::span<const Tensor>(&y, 1));
}

Logs Model::train_on_batch(std::span<const Tensor> xs, std::span<const Tensor> ys) {
  KEEL_CHECK(training_, "model '", name_, "' is not compiled; call compile() before train_on_batch()");
  const ActiveCall running(*this, "train_on_batch()");
  const TrainingData data = TrainingData::of(xs, ys);
  check_training_data(*this, data, "train_on_batch data");
  TrainingState& t = *training_;
  const std::vector<int64_t> y_widths = t.label_widths(data);
  t.ensure_batch_buffers(*this, data.size(), y_widths);
  // Data-parallel like fit: every rank passes the whole batch and computes its own rows.
  const Communicator& comm = communicator();
  check_ranks_agree(comm, {{"the train_on_batch batch size", data.size()}});
  check_every_rank_has_rows(*this, comm, "the train_on_batch batch", data.size(), data.size());
  const RankRows rows = rank_rows(0, data.size(), comm);
  data.gather(nullptr, rows.first, rows.count, t.x_pointers, t.y_pointers);
  t.reset_metrics();
  train_step(*this, t, rows.count, {rows.first, data.size()}, y_widths);
  Logs logs;
  t.fill_logs(logs, comm);
  return logs;
}

}  // namespace keel
