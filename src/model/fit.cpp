// compile / fit / train_on_batch: the Keras training loop.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <numeric>

#include "keel/model/progbar_logger.h"
#include "keel/core/error.h"
#include "keel/core/rng.h"
#include "keel/model/model.h"
#include "keel/optimizers/sgd.h"
#include "training_state.h"

namespace keel {

namespace {
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

void TrainingState::ensure_batch_buffers(int64_t batch, int64_t x_width, int64_t y_width,
                                         int64_t out_width) {
  if (batch <= batch_capacity && y_width <= y_capacity_width) return;
  batch = std::max(batch, batch_capacity);
  x_batch = allocate_aligned_floats(batch * x_width);
  y_batch = allocate_aligned_floats(batch * std::max<int64_t>(y_width, 1));
  dloss = allocate_aligned_floats(batch * out_width);
  batch_capacity = batch;
  y_capacity_width = y_width;
}

void TrainingState::ensure_metrics(int64_t out_width, int64_t true_width) {
  if (metrics_true_width == true_width) return;
  metrics.clear();
  for (const auto& name : metric_names) metrics.push_back(make_metric(name, out_width, true_width));
  metrics_true_width = true_width;
}

void TrainingState::reset_metrics() {
  loss_tracker.reset();
  for (auto& m : metrics) m->reset();
}

void TrainingState::fill_logs(Logs& out) const {
  out.set("loss", loss_tracker.result());
  for (const auto& m : metrics) out.set(m->name(), m->result());
}

Logs TrainingState::logs() const {
  Logs out;
  fill_logs(out);
  return out;
}

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
  if (!built_) build();
  check_single_io("compile()");
  KEEL_CHECK(!options.loss.empty(), "compile(): no loss given; expected a Keras loss name such as ",
             "\"sparse_categorical_crossentropy\"");
  auto state = std::make_unique<TrainingState>();
  state->optimizer = options.optimizer ? std::move(options.optimizer) : std::make_shared<SGD>();
  state->loss = make_loss(options.loss, options.from_logits);
  state->metric_names = std::move(options.metrics);
  state->params = optimizer_params();
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

// One optimizer step on samples already gathered into the batch buffers.
static void train_step(Model& model, TrainingState& t, int64_t n, int64_t y_width,
                       std::span<const std::shared_ptr<Callback>> callbacks = {}, int64_t batch = 0) {
  const int64_t out_width = model.output_shape().sample_size();
  const float* out = model.forward(t.x_batch.get(), n, Mode::kTraining);
  LossBatch lb;
  lb.y_pred = out;
  lb.logits = model.outputs_softmax() ? model.output_logits() : nullptr;
  lb.y_true = t.y_batch.get();
  lb.batch = n;
  lb.width = out_width;
  lb.true_width = y_width;
  bool wrt_logits = false;
  const double loss_sum = t.loss->compute(lb, t.dloss.get(), &wrt_logits);
  // Metrics see the predictions of this forward pass, before the update (as in Keras).
  t.ensure_metrics(out_width, y_width);
  for (auto& m : t.metrics) m->update({out, t.y_batch.get(), n, out_width, y_width});
  // Overwrites every gradient the optimizer reads (no zero_gradients pass): layers that run
  // backward write theirs, and Model::backward zeroes those of layers below the lowest
  // trainable one (frozen after compile()).
  model.backward(t.x_batch.get(), t.dloss.get(), n, wrt_logits,
                 Model::GradientUpdate::kOverwrite);
  for (auto& cb : callbacks) cb->on_train_batch_gradients(batch);
  const StepResult r = t.optimizer->apply_gradients(t.params);
  t.last = {loss_sum / static_cast<double>(n), r.clip.preclip_global_norm,
            r.clip.postclip_global_norm, r.clip.clipped, r.skipped};
  t.loss_tracker.update(loss_sum / static_cast<double>(n), static_cast<double>(n));
}

static void check_data(const Model& model, const DataView& data, const char* what) {
  KEEL_CHECK(data.size > 0, what, " holds no samples");
  KEEL_CHECK(data.has_labels(), what, " has no labels (y)");
  const int64_t expected = model.input_shape().sample_size();
  KEEL_CHECK(data.x_width() == expected, what, ": each sample has ", data.x_width(),
             " values but the model '", model.name(), "' expects input ",
             model.input_shape().to_string(), " (", expected, " values per sample)");
}

History Model::fit(const Tensor& x, const Tensor& y, FitOptions options) {
  return fit(DataView::of(x, y), std::move(options));
}

History Model::fit(const DataView& all_data, FitOptions options) {
  KEEL_CHECK(training_, "model '", name_, "' is not compiled; call compile() before fit()");
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

  DataView data = all_data;
  std::optional<DataView> validation = options.validation_data;
  if (options.validation_split > 0.0 && !validation) {
    // Keras: the last fraction of the samples, before any shuffling.
    const auto split_at = static_cast<int64_t>(
        std::floor(static_cast<double>(all_data.size) * (1.0 - options.validation_split)));
    data = all_data.slice(0, split_at);
    validation = all_data.slice(split_at, all_data.size);
  }
  check_data(*this, data, "training data");
  if (validation) check_data(*this, *validation, "validation data");
  KEEL_CHECK(!validation || validation->y_width == data.y_width, "validation labels have ",
             validation->y_width, " values per sample but training labels have ", data.y_width);

  const int64_t n = data.size, bs = options.batch_size;
  // The last partial batch is kept (Keras). Not (n + bs - 1) / bs: that overflows for a huge
  // --batch-size.
  const int64_t steps = n / bs + (n % bs != 0 ? 1 : 0);
  const int64_t x_width = data.x_width(), y_width = data.y_width;
  t.ensure_batch_buffers(std::min(bs, n), x_width, y_width, output_shape().sample_size());
  std::vector<int64_t> order(static_cast<size_t>(n));

  std::vector<std::shared_ptr<Callback>> callbacks;
  if (options.verbose > 0) callbacks.push_back(std::make_shared<ProgbarLogger>(out));
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
      data.gather(order.data(), first, count, t.x_batch.get(), t.y_batch.get());
      if (step + 1 < steps) data.prefetch(order.data(), first + bs, std::min(bs, n - first - bs));
      train_step(*this, t, count, y_width, callbacks, step);
      history.step_seconds.push_back(seconds_since(start));
      history.train_seconds += history.step_seconds.back();
      history.train_samples += count;
      t.fill_logs(batch_logs);
      for (auto& cb : callbacks) cb->on_train_batch_end(step, batch_logs);
      if (stop_training) break;
    }
    Logs logs = batch_logs;  // the epoch's logs: the running values plus validation
    if (validation) {
      const Logs val = evaluate(*validation, {.batch_size = bs, .verbose = 0});
      for (const auto& [name, value] : val.items()) logs.set("val_" + name, value);
    }
    history.append(epoch, logs);
    for (auto& cb : callbacks) cb->on_epoch_end(epoch, logs);
  }
  for (auto& cb : callbacks) cb->on_train_end(empty);
  return history;
}

Logs Model::train_on_batch(const Tensor& x, const Tensor& y) {
  KEEL_CHECK(training_, "model '", name_, "' is not compiled; call compile() before train_on_batch()");
  const DataView data = DataView::of(x, y);
  check_data(*this, data, "train_on_batch data");
  TrainingState& t = *training_;
  t.ensure_batch_buffers(data.size, data.x_width(), data.y_width, output_shape().sample_size());
  data.gather(nullptr, 0, data.size, t.x_batch.get(), t.y_batch.get());
  t.reset_metrics();
  train_step(*this, t, data.size, data.y_width);
  return t.logs();
}

}  // namespace keel
