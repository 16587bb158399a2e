#include "keel/layers/merge.h"

#include <array>
#include <cassert>

#include "keel/core/error.h"
#include "layer_config.h"

namespace keel {

namespace {
// Inputs' data pointers for the kernels; merges take a handful of inputs, the array avoids a
// heap allocation per call.
constexpr size_t kMaxMergeInputs = 64;

void check_input_count(const Layer& layer, size_t k) {
  KEEL_CHECK(k <= kMaxMergeInputs, "layer '", layer.name(), "' (", layer.class_name(), ") takes at most ",
             kMaxMergeInputs, " inputs, got ", k);
}
}  // namespace

namespace {
struct MergeNames {
  MergeOp op;
  const char* class_name;
  const char* prefix;
};
constexpr MergeNames kMergeNames[] = {
    {MergeOp::kAdd, "Add", "add"},           {MergeOp::kSubtract, "Subtract", "subtract"},
    {MergeOp::kMultiply, "Multiply", "multiply"}, {MergeOp::kAverage, "Average", "average"},
    {MergeOp::kMaximum, "Maximum", "maximum"}, {MergeOp::kMinimum, "Minimum", "minimum"},
};
const MergeNames& names_of(MergeOp op) {
  for (const auto& n : kMergeNames)
    if (n.op == op) return n;
  assert(false && "every MergeOp has names");
  return kMergeNames[0];
}
}  // namespace

ElementwiseMerge::ElementwiseMerge(MergeOp op, MergeOptions options)
    : Layer(names_of(op).prefix, std::move(options.name), {}), op_(op) {
  set_trainable(options.trainable);
}

std::string ElementwiseMerge::class_name() const { return names_of(op_).class_name; }

std::vector<Shape> ElementwiseMerge::compute_output_shapes(std::span<const Shape> input_shapes) const {
  check_input_count(*this, input_shapes.size());
  for (const Shape& s : input_shapes) {
    // Keras broadcasts some shape pairs; keel merges equal shapes only and says so.
    KEEL_CHECK(s == input_shapes[0], "layer '", name(), "' (", class_name(),
               "): inputs must have the same shape, got ", input_shapes[0].to_string(), " and ",
               s.to_string());
  }
  return {input_shapes[0]};
}

void ElementwiseMerge::forward(const Context&, std::span<const TensorRef> x,
                               std::span<const TensorRef> y) {
  std::array<const float*, kMaxMergeInputs> xs{};
  for (size_t i = 0; i < x.size(); ++i) xs[i] = x[i].f32();
  merge_forward(op_, {xs.data(), x.size()}, y[0].f32(), y[0].num_elements());
}

void ElementwiseMerge::backward(const Context&, std::span<const TensorRef> x,
                                std::span<const TensorRef>, std::span<const TensorRef> dy,
                                std::span<const TensorRef> dx, Write) {
  std::array<const float*, kMaxMergeInputs> xs{};
  std::array<float*, kMaxMergeInputs> dxs{};
  for (size_t i = 0; i < x.size(); ++i) {
    xs[i] = x[i].f32();
    dxs[i] = static_cast<float*>(dx[i].data);
  }
  merge_backward(op_, {xs.data(), x.size()}, dy[0].f32(), {dxs.data(), x.size()},
                 dy[0].num_elements());
}

nlohmann::json ElementwiseMerge::get_config() const { return base_config(); }

std::unique_ptr<Layer> elementwise_merge_from_config(const std::string& class_name,
                                                     const nlohmann::json& config) {
  auto base = layer_config::parse_base(config, class_name, {});
  for (const auto& n : kMergeNames) {
    if (class_name == n.class_name) {
      return std::make_unique<ElementwiseMerge>(
          n.op, MergeOptions{.name = std::move(base.name), .trainable = base.trainable});
    }
  }
  KEEL_FAIL("'", class_name, "' is not an elementwise merge layer");
}

Concatenate::Concatenate(ConcatenateOptions options)
    : Layer("concatenate", options.name, {}), options_(std::move(options)) {
  set_trainable(options_.trainable);
}

int64_t Concatenate::normalized_axis(int64_t rank) const {
  const int64_t a = options_.axis < 0 ? options_.axis + rank : options_.axis;
  KEEL_CHECK(a >= 1 && a < rank, "layer '", name(), "' (Concatenate): axis ", options_.axis,
             " is out of range for inputs of rank ", rank, " (the batch axis 0 cannot be joined)");
  return a;
}

std::vector<Shape> Concatenate::compute_output_shapes(std::span<const Shape> input_shapes) const {
  check_input_count(*this, input_shapes.size());
  const Shape& first = input_shapes[0];
  const int64_t a = normalized_axis(first.rank());
  Shape out = first;
  out[a] = 0;
  for (const Shape& s : input_shapes) {
    bool compatible = s.rank() == first.rank();
    for (int64_t i = 1; compatible && i < s.rank(); ++i) compatible = i == a || s[i] == first[i];
    KEEL_CHECK(compatible, "layer '", name(), "' (Concatenate): inputs must match except along axis ",
               options_.axis, ", got ", first.to_string(), " and ", s.to_string());
    out[a] += s[a];
  }
  return {out};
}

void Concatenate::on_build() {
  const Shape& s = input_shape();
  const int64_t a = normalized_axis(s.rank());
  inner_ = 1;
  for (int64_t i = a + 1; i < s.rank(); ++i) inner_ *= s[i];
  outer_per_sample_ = 1;
  for (int64_t i = 1; i < a; ++i) outer_per_sample_ *= s[i];
  widths_.clear();
  for (const Shape& in : input_shapes()) widths_.push_back(in[a] * inner_);
}

void Concatenate::forward(const Context&, std::span<const TensorRef> x, std::span<const TensorRef> y) {
  std::array<const float*, kMaxMergeInputs> xs{};
  for (size_t i = 0; i < x.size(); ++i) xs[i] = x[i].f32();
  concat_forward({xs.data(), x.size()}, widths_, y[0].f32(), x[0].batch() * outer_per_sample_);
}

void Concatenate::backward(const Context&, std::span<const TensorRef> x, std::span<const TensorRef>,
                           std::span<const TensorRef> dy, std::span<const TensorRef> dx, Write) {
  std::array<float*, kMaxMergeInputs> dxs{};
  for (size_t i = 0; i < dx.size(); ++i) dxs[i] = static_cast<float*>(dx[i].data);
  concat_backward(dy[0].f32(), {dxs.data(), dx.size()}, widths_, x[0].batch() * outer_per_sample_);
}

nlohmann::json Concatenate::get_config() const {
  nlohmann::json config = base_config();
  config["axis"] = options_.axis;
  return config;
}

std::unique_ptr<Layer> Concatenate::from_config(const nlohmann::json& config) {
  auto base = layer_config::parse_base(config, "Concatenate", {"axis"});
  ConcatenateOptions options;
  options.axis = layer_config::get_int(config, "Concatenate", "axis", -1);
  options.name = std::move(base.name);
  options.trainable = base.trainable;
  return std::make_unique<Concatenate>(std::move(options));
}

}  // namespace keel
