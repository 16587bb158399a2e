// TrainingState and TrainingData (training_state.h).
#include "training_state.h"

#include <algorithm>

#include "keel/core/error.h"

namespace keel {

TrainingData TrainingData::of(const DataView& data) {
  TrainingData result;
  DataView x = data;
  x.y_float = nullptr;
  x.y_uint8 = nullptr;
  x.y_width = 0;
  result.inputs.push_back(std::move(x));
  if (data.has_labels()) {
    DataView y;
    y.size = data.size;
    y.sample_dims = {data.y_width};
    y.x_float = data.y_float;
    y.x_uint8 = data.y_uint8;
    result.targets.push_back(std::move(y));
  }
  return result;
}

TrainingData TrainingData::of(std::span<const Tensor> xs, std::span<const Tensor> ys) {
  TrainingData result;
  for (const Tensor& x : xs) result.inputs.push_back(DataView::of(x));
  for (const Tensor& y : ys) {
    KEEL_CHECK(y.rank() >= 1, "label array must have at least one dimension (the samples)");
    DataView view;
    view.size = y.dim(0);
    view.sample_dims = {y.row_size()};
    view.x_float = y.data();
    result.targets.push_back(std::move(view));
  }
  return result;
}

TrainingData TrainingData::slice(int64_t begin, int64_t end) const {
  TrainingData result;
  for (const DataView& v : inputs) result.inputs.push_back(v.slice(begin, end));
  for (const DataView& v : targets) result.targets.push_back(v.slice(begin, end));
  return result;
}

void TrainingData::gather(const int64_t* indices, int64_t first, int64_t n,
                          std::span<float* const> x_out, std::span<float* const> y_out) const {
  for (size_t i = 0; i < inputs.size(); ++i) inputs[i].gather(indices, first, n, x_out[i], nullptr);
  for (size_t i = 0; i < targets.size() && i < y_out.size(); ++i)
    targets[i].gather(indices, first, n, y_out[i], nullptr);
}

void TrainingData::prefetch(const int64_t* indices, int64_t first, int64_t n) const {
  for (const DataView& v : inputs) v.prefetch(indices, first, n);
}

void check_sample_layout(const Shape& input, std::span<const int64_t> sample_dims, const char* what,
                         int64_t input_index) {
  const std::vector<int64_t>& dims = input.dims();
  if (sample_dims.size() < 2 || dims.size() < 3) return;
  KEEL_CHECK(std::equal(sample_dims.begin(), sample_dims.end(), dims.begin() + 1, dims.end()), what,
             input_index >= 0 ? " input " + std::to_string(input_index) : std::string(), ": samples of shape ", Shape::batched({sample_dims.begin(), sample_dims.end()}).to_string(),
             " do not match the model's input ", input.to_string(),
             " (the same number of values in another layout; reshape or transpose the data)");
}

std::vector<int64_t> TrainingState::label_widths(const TrainingData& data) const {
  std::vector<int64_t> widths;
  for (const DataView& t : data.targets) widths.push_back(t.x_width());
  return widths;
}

void TrainingState::ensure_batch_buffers(const Model& model, int64_t batch,
                                         std::span<const int64_t> y_widths) {
  const bool widths_fit = y_capacity_widths.size() == y_widths.size() &&
                          std::equal(y_widths.begin(), y_widths.end(), y_capacity_widths.begin(),
                                     [](int64_t want, int64_t have) { return want <= have; });
  if (batch <= batch_capacity && widths_fit) return;
  batch = std::max(batch, batch_capacity);
  const size_t n_in = model.input_tensors().size(), n_out = outputs.size();
  x_batches.resize(n_in);
  x_pointers.resize(n_in);
  x_inputs.resize(n_in);
  for (size_t i = 0; i < n_in; ++i) {
    const int64_t width = model.tensors()[size_t(model.input_tensors()[i])].shape.sample_size();
    x_batches[i] = allocate_aligned_floats(batch * width);
    x_pointers[i] = x_batches[i].get();
    x_inputs[i] = x_pointers[i];
  }
  y_pointers.resize(n_out);
  dloss_inputs.resize(n_out);
  from_logits = std::make_unique<bool[]>(n_out);
  y_capacity_widths.assign(n_out, 1);
  for (size_t i = 0; i < n_out; ++i) {
    const int64_t out_width = model.tensors()[size_t(model.output_tensors()[i])].shape.sample_size();
    const int64_t y_width = std::max<int64_t>(i < y_widths.size() ? y_widths[i] : 1, 1);
    outputs[i].y_batch = allocate_aligned_floats(batch * y_width);
    outputs[i].dloss = allocate_aligned_floats(batch * out_width);
    y_pointers[i] = outputs[i].y_batch.get();
    dloss_inputs[i] = outputs[i].dloss.get();
    y_capacity_widths[i] = y_width;
  }
  batch_capacity = batch;
}

void TrainingState::ensure_metrics(OutputTraining& output, int64_t out_width,
                                   int64_t true_width) const {
  if (output.metrics_true_width == true_width) return;
  output.metrics.clear();
  output.metric_keys.clear();
  for (const auto& name : metric_names) {
    output.metrics.push_back(make_metric(name, out_width, true_width));
    output.metric_keys.push_back(output.metric_prefix + output.metrics.back()->name());
  }
  output.metrics_true_width = true_width;
}

void TrainingState::reset_metrics() {
  loss_tracker.reset();
  for (OutputTraining& o : outputs) {
    o.loss_tracker.reset();
    for (auto& m : o.metrics) m->reset();
  }
}

void TrainingState::fill_logs(Logs& out) const {
  visit_means([&](std::string_view key, const Mean& m) { out.set(key, m.result()); });
}

void TrainingState::fill_logs(Logs& out, const Communicator& comm) const {
  read_means(comm, rank_sums, [this](auto&& f) { visit_means(f); }, out);
}

Logs TrainingState::logs() const {
  Logs out;
  fill_logs(out);
  return out;
}

}  // namespace keel
