// evaluate / predict: inference-mode passes. They never change weights or BN statistics; only
// scratch buffers (activations, batch buffers) are written.
#include <algorithm>
#include <iostream>

#include "keel/model/progbar.h"
#include "keel/core/error.h"
#include "keel/kernels/thread_governor.h"
#include "keel/model/model.h"
#include "data_parallel.h"
#include "training_state.h"

namespace keel {

Logs Model::evaluate(const Tensor& x, const Tensor& y, EvaluateOptions options) {
  return evaluate(DataView::of(x, y), options);
}

Logs Model::evaluate(std::span<const Tensor> xs, std::span<const Tensor> ys, EvaluateOptions options) {
  KEEL_CHECK(training_, "model '", name_, "' is not compiled; call compile() before evaluate()");
  const TrainingData data = TrainingData::of(xs, ys);
  check_training_data(*this, data, "evaluate() data");
  return evaluate_data(data, options);
}

Logs Model::evaluate(const DataView& data, EvaluateOptions options) {
  KEEL_CHECK(training_, "model '", name_, "' is not compiled; call compile() before evaluate()");
  check_single_io("evaluate(DataView)");
  KEEL_CHECK(data.size > 0 && data.has_labels(), "evaluate(): data needs samples and labels");
  KEEL_CHECK(data.x_width() == input_shape().sample_size(), "evaluate(): each sample has ",
             data.x_width(), " values but the model expects input ", input_shape().to_string());
  check_sample_layout(input_shape(), data.sample_dims, "evaluate()");
  return evaluate_data(TrainingData::of(data), options);
}

Logs Model::evaluate_data(const TrainingData& data, const EvaluateOptions& options) {
  const ActiveCall running(*this, "evaluate()");
  KEEL_CHECK(options.batch_size >= 1, "evaluate(): batch_size ", options.batch_size,
             " must be >= 1");
  TrainingState& t = *training_;
  // Not (n + bs - 1) / bs: that overflows for a huge batch size.
  const int64_t n = data.size(), bs = options.batch_size, steps = n / bs + (n % bs != 0 ? 1 : 0);
  const std::vector<int64_t> y_widths = t.label_widths(data);
  t.ensure_batch_buffers(*this, std::min(bs, n), y_widths);

  // Own trackers: evaluate inside fit must not disturb the training epoch's running values.
  struct OutputTrackers {
    Mean loss;
    std::vector<std::unique_ptr<Metric>> metrics;
  };
  std::vector<OutputTrackers> trackers(t.outputs.size());
  Mean total;
  for (size_t i = 0; i < t.outputs.size(); ++i) {
    const int64_t out_width = tensors_[size_t(output_tensors_[i])].shape.sample_size();
    for (const auto& name : t.metric_names)
      trackers[i].metrics.push_back(make_metric(name, out_width, y_widths[i]));
  }
  std::ostream& out = options.out ? *options.out : std::cout;
  const Communicator& comm = communicator();
  check_ranks_agree(comm, {{"the number of evaluation samples", n}, {"batch_size", bs}});
  // The keys and running means in log order, for read_means (sums over the ranks).
  std::vector<std::pair<std::string, const Mean*>> means = {{"loss", &total}};
  for (size_t i = 0; i < t.outputs.size(); ++i)
    if (!t.outputs[i].loss_key.empty()) means.emplace_back(t.outputs[i].loss_key, &trackers[i].loss);
  for (size_t i = 0; i < t.outputs.size(); ++i)
    for (const auto& m : trackers[i].metrics)
      means.emplace_back(t.outputs[i].metric_prefix + m->name(), &m->running_mean());
  const auto visit = [&](auto&& f) {
    for (const auto& [key, mean] : means) f(std::string_view(key), *mean);
  };
  std::vector<double> rank_sums;
  std::unique_ptr<Progbar> bar;
  if (options.verbose > 0 && comm.is_chief()) bar = std::make_unique<Progbar>(steps, options.verbose, out, is_terminal(out));

  Logs logs;
  const Logs empty;
  for (const auto& cb : options.callbacks) {
    cb->set_model(this);
    cb->on_test_begin(empty);
  }
  ThreadGovernor governor;  // fewer threads while other processes keep cores busy
  for (int64_t step = 0; step < steps; ++step) {
    governor.tick();
    for (const auto& cb : options.callbacks) cb->on_test_batch_begin(step, empty);
    // Each rank evaluates its rows of the batch (none when the batch has fewer rows than ranks).
    const RankRows rows = rank_rows(step * bs, std::min(bs, n - step * bs), comm);
    const int64_t count = rows.count;
    if (count > 0) {
      data.gather(nullptr, rows.first, count, t.x_pointers, t.y_pointers);
      forward(t.x_inputs, count, Mode::kInference);
      double weighted = 0.0;
      for (size_t i = 0; i < t.outputs.size(); ++i) {
        const auto index = static_cast<int64_t>(i);
        const int64_t out_width = tensors_[size_t(output_tensors_[i])].shape.sample_size();
        LossBatch lb;
        lb.y_pred = output(index);
        lb.logits = outputs_softmax(index) ? output_logits(index) : nullptr;
        lb.y_true = t.y_pointers[i];
        lb.batch = count;
        lb.width = out_width;
        lb.true_width = y_widths[i];
        const double loss_sum = t.outputs[i].loss->compute(lb, nullptr, nullptr);
        weighted += t.outputs[i].weight * loss_sum;
        trackers[i].loss.update(loss_sum / static_cast<double>(count), static_cast<double>(count));
        for (auto& m : trackers[i].metrics)
          m->update({output(index), t.y_pointers[i], count, out_width, y_widths[i]});
      }
      total.update(weighted / static_cast<double>(count), static_cast<double>(count));
    }
    logs.clear();
    read_means(comm, rank_sums, visit, logs);
    if (bar) bar->update(step + 1, logs.items(), step + 1 == steps);
    for (const auto& cb : options.callbacks) cb->on_test_batch_end(step, logs);
  }
  for (const auto& cb : options.callbacks) cb->on_test_end(logs);
  return logs;
}

namespace {

// Float samples already in memory, read in place: out (count, out_width) = model(x (count, width)).
// Allocates nothing once the model's activation buffers have seen a batch of min(bs, count).
void predict_float_rows(Model& model, const float* x, int64_t count, int64_t width,
                        float* out, int64_t bs) {
  const int64_t out_width = model.output_shape().sample_size();
  for (int64_t first = 0; first < count; first += bs) {
    const int64_t n = std::min(bs, count - first);
    const float* y = model.forward(x + first * width, n, Mode::kInference);
    std::copy_n(y, n * out_width, out + first * out_width);
  }
}

}  // namespace

Tensor Model::predict(const Tensor& x, int64_t batch_size) {
  // Not through DataView::of: a single-sample predict is a few µs, and the view's sample_dims
  // vector is an allocation and a copy on every call. Same checks, same messages.
  KEEL_CHECK(x.rank() >= 1, "input array must have at least one dimension (the samples)");
  if (!built_) build();
  const ActiveCall running(*this, "predict()");
  check_single_io("predict()");
  KEEL_CHECK(batch_size >= 1, "predict(): batch_size ", batch_size, " must be >= 1");
  int64_t width = 1;
  for (int64_t i = 1; i < x.rank(); ++i) width *= x.dim(i);
  KEEL_CHECK(width == input_shape().sample_size(), "predict(): each sample has ", width,
             " values but the model expects input ", input_shape().to_string());
  check_sample_layout(input_shape(), std::span<const int64_t>(x.dims()).subspan(1), "predict()");
  const int64_t count = x.dim(0);
  std::vector<int64_t> dims = output_shape().dims();
  dims[0] = count;
  Tensor result(std::move(dims));
  predict_float_rows(*this, x.data(), count, width, result.data(),
                     std::min(batch_size, std::max<int64_t>(count, 1)));
  return result;
}

void Model::predict_into(std::span<const float> x, std::span<float> out, int64_t batch_size) {
  if (!built_) build();
  const ActiveCall running(*this, "predict()");
  check_single_io("predict()");
  KEEL_CHECK(batch_size >= 1, "predict_into(): batch_size ", batch_size, " must be >= 1");
  const int64_t width = input_shape().sample_size(), out_width = output_shape().sample_size();
  const auto size = static_cast<int64_t>(x.size());
  KEEL_CHECK(size % width == 0, "predict_into(): the input holds ", size,
             " values, not a whole number of samples of ", width, " values (input ",
             input_shape().to_string(), ")");
  const int64_t count = size / width;
  KEEL_CHECK(static_cast<int64_t>(out.size()) == count * out_width, "predict_into(): the output "
             "holds ", out.size(), " values but ", count, " samples need ", count * out_width,
             " (output ", output_shape().to_string(), ")");
  predict_float_rows(*this, x.data(), count, width, out.data(),
                     std::min(batch_size, std::max<int64_t>(count, 1)));
}

std::vector<Tensor> Model::predict(std::span<const Tensor> xs, int64_t batch_size) {
  if (!built_) build();
  const ActiveCall running(*this, "predict()");
  KEEL_CHECK(batch_size >= 1, "predict(): batch_size ", batch_size, " must be >= 1");
  KEEL_CHECK(xs.size() == input_tensors_.size(), "predict(): ", xs.size(),
             " input arrays given but model '", name_, "' has ", input_tensors_.size(), " inputs");
  const int64_t count = xs.empty() || xs[0].rank() < 1 ? 0 : xs[0].dim(0);
  std::vector<int64_t> widths;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Shape& shape = tensors_[size_t(input_tensors_[i])].shape;
    KEEL_CHECK(xs[i].rank() >= 1 && xs[i].dim(0) == count, "predict(): input ", i, " holds ",
               xs[i].rank() >= 1 ? xs[i].dim(0) : 0, " samples but input 0 holds ", count);
    widths.push_back(xs[i].row_size());
    KEEL_CHECK(widths.back() == shape.sample_size(), "predict(): input ", i, ": each sample has ",
               widths.back(), " values but the model expects input ", shape.to_string());
    check_sample_layout(shape, std::span<const int64_t>(xs[i].dims()).subspan(1), "predict():",
                        int64_t(i));
  }
  std::vector<Tensor> results;
  for (int64_t id : output_tensors_) {
    std::vector<int64_t> dims = tensors_[size_t(id)].shape.dims();
    dims[0] = count;
    results.emplace_back(std::move(dims));
  }
  const int64_t bs = std::min(batch_size, std::max<int64_t>(count, 1));
  std::vector<const float*> inputs(xs.size());
  for (int64_t first = 0; first < count; first += bs) {
    const int64_t n = std::min(bs, count - first);
    for (size_t i = 0; i < xs.size(); ++i) inputs[i] = xs[i].data() + first * widths[i];
    forward(inputs, n, Mode::kInference);
    for (size_t o = 0; o < results.size(); ++o) {
      const int64_t out_width = results[o].row_size();
      std::copy_n(output(int64_t(o)), n * out_width, results[o].data() + first * out_width);
    }
  }
  return results;
}

Tensor Model::predict(const DataView& data, int64_t batch_size) {
  return predict(data, PredictOptions{.batch_size = batch_size});
}

Tensor Model::predict(const DataView& data, const PredictOptions& options) {
  const int64_t batch_size = options.batch_size;
  if (!built_) build();
  const ActiveCall running(*this, "predict()");
  check_single_io("predict()");
  KEEL_CHECK(batch_size >= 1, "predict(): batch_size ", batch_size, " must be >= 1");
  KEEL_CHECK(data.x_width() == input_shape().sample_size(), "predict(): each sample has ",
             data.x_width(), " values but the model expects input ", input_shape().to_string());
  check_sample_layout(input_shape(), data.sample_dims, "predict()");
  std::vector<int64_t> dims = output_shape().dims();
  dims[0] = data.size;
  Tensor result(dims);
  const int64_t out_width = output_shape().sample_size();
  const int64_t bs = std::min(batch_size, std::max<int64_t>(data.size, 1));
  // Float inputs are read in place; uint8 inputs are converted a batch at a time.
  std::unique_ptr<float[], detail::AlignedFree> staging;
  if (data.x_float == nullptr) staging = allocate_aligned_floats(bs * data.x_width());
  const int64_t steps = (data.size + bs - 1) / bs;
  std::ostream& out = options.out ? *options.out : std::cout;
  std::unique_ptr<Progbar> bar;
  if (options.verbose > 0 && communicator().is_chief())
    bar = std::make_unique<Progbar>(steps, options.verbose, out, is_terminal(out));
  for (int64_t step = 0, first = 0; first < data.size; ++step, first += bs) {
    const int64_t count = std::min(bs, data.size - first);
    const float* x = data.x_float ? data.x_float + first * data.x_width() : nullptr;
    if (!x) {
      data.gather(nullptr, first, count, staging.get(), nullptr);
      x = staging.get();
    }
    const float* y = forward(x, count, Mode::kInference);
    std::copy_n(y, count * out_width, result.data() + first * out_width);
    if (bar) bar->update(step + 1, {}, step + 1 == steps);
    if (options.after_batch) options.after_batch();
  }
  return result;
}

}  // namespace keel
