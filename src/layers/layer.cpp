#include "keel/layers/layer.h"

#include <map>
#include <mutex>

#include "keel/core/error.h"
#include "keel/kernels/bf16.h"
#include "keel/layers/keras_tensor.h"

namespace keel {

std::string without_output_index(std::string_view tf_name) {
  if (tf_name.size() > 2 && tf_name.ends_with(":0")) tf_name.remove_suffix(2);
  return std::string(tf_name);
}

int64_t Variable::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {
std::mutex& names_mutex() {
  static std::mutex mutex;
  return mutex;
}
std::map<std::string, int64_t, std::less<>>& name_counts() {
  static std::map<std::string, int64_t, std::less<>> counts;
  return counts;
}
int64_t next_uid(std::string_view prefix) {
  std::lock_guard lock(names_mutex());
  auto& counts = name_counts();
  auto it = counts.find(prefix);
  if (it == counts.end()) it = counts.emplace(std::string(prefix), 0).first;
  return it->second++;
}
}  // namespace

std::string unique_layer_name(std::string_view prefix) {
  const int64_t n = next_uid(prefix);
  return n == 0 ? std::string(prefix) : std::string(prefix) + "_" + std::to_string(n);
}

std::string unique_one_based_name(std::string_view prefix) {
  return std::string(prefix) + "_" + std::to_string(next_uid(prefix) + 1);
}

void reset_default_names() {
  std::lock_guard lock(names_mutex());
  name_counts().clear();
}

Layer::Layer(std::string_view default_prefix, std::string name, std::vector<int64_t> input_shape)
    : name_(std::move(name)),
      default_prefix_(default_prefix),
      declared_input_shape_(std::move(input_shape)) {
  for (int64_t d : declared_input_shape_) {
    KEEL_CHECK(d > 0, "layer '", name_.empty() ? default_prefix_ : name_,
               "': input_shape dimension ", d, " must be positive");
  }
}

void initialize_variable(const VariableSpec& spec, std::span<float> values, Rng& rng) {
  if (spec.pieces.empty()) {
    spec.initializer.fill(values, spec.shape, rng);
    return;
  }
  size_t at = 0;
  for (const auto& [length, initializer] : spec.pieces) {
    KEEL_CHECK(at + static_cast<size_t>(length) <= values.size(), "variable '", spec.short_name,
               "': its pieces are longer than the variable");
    initializer.fill(values.subspan(at, static_cast<size_t>(length)), {length}, rng);
    at += static_cast<size_t>(length);
  }
  KEEL_CHECK(at == values.size(), "variable '", spec.short_name,
             "': its pieces do not cover the variable");
}

void Layer::ensure_name() {
  if (name_.empty()) name_ = unique_layer_name(default_prefix_);
  on_named();
}

namespace {
void warn_if_no_bf16_kernels(const DTypePolicy& policy) {
  if (policy.computes_in_bf16() && bf16_kernels() == Bf16Kernels::kNone) warn_bf16_fallback_once();
}
}  // namespace

void Layer::build(std::span<const Shape> input_shapes) {
  ensure_name();
  const int expected = num_inputs();
  const auto given = static_cast<int64_t>(input_shapes.size());
  KEEL_CHECK(expected == kVariadic ? given >= 2 : given == expected, "layer '", name(), "' (",
             class_name(), ") takes ", expected == kVariadic ? "two or more" : std::to_string(expected),
             " input tensor(s), got ", given);
  output_shapes_ = compute_output_shapes(input_shapes);
  for (const Shape& shape : output_shapes_) {
    check_output_sample_size(shape, "layer '" + name() + "' (" + class_name() + ")");
  }
  input_shapes_.assign(input_shapes.begin(), input_shapes.end());
  built_ = true;
  warn_if_no_bf16_kernels(dtype_policy_);
  on_build();
}

void Layer::set_trainable(bool trainable) {
  trainable_ = trainable;
  // Variables that can train at all have a gradient view (the model gives one to every variable
  // whose spec is trainable).
  for (auto& v : variables_) v.trainable = trainable && v.grad != nullptr;
}

void Layer::bind_variables(std::vector<Variable> variables) {
  variables_ = std::move(variables);
  on_bind_variables();
}

void Layer::set_dtype_policy(const DTypePolicy& policy) {
  dtype_policy_ = policy;
  if (built_) warn_if_no_bf16_kernels(policy);
}

bool Layer::runs_bf16_products() const {
  return dtype_policy_.computes_in_bf16() && bf16_kernels() != Bf16Kernels::kNone;
}

const Variable* Layer::find_variable(std::string_view short_name) const {
  const std::string full = name() + "/" + std::string(short_name) + ":0";
  for (const Variable& v : variables_)
    if (v.name == full) return &v;
  return nullptr;
}

int64_t Layer::count_params() const {
  int64_t n = 0;
  for (const auto& v : variables_) n += v.size();
  return n;
}

nlohmann::json Layer::base_config() const {
  nlohmann::json config;
  config["name"] = name();
  config["trainable"] = trainable_;
  if (!declared_input_shape_.empty()) {
    nlohmann::json shape = nlohmann::json::array({nullptr});
    for (int64_t d : declared_input_shape_) shape.push_back(d);
    config["batch_input_shape"] = shape;
  }
  config["dtype"] = dtype_policy_.to_config();
  return config;
}

KerasTensor Layer::operator()(const KerasTensor& x) && {
  return std::move(*this)(std::vector<KerasTensor>{x});
}

KerasTensor Layer::operator()(const std::vector<KerasTensor>& x) && {
  // A temporary: its clone becomes the graph's layer (the temporary itself dies at the ';').
  std::shared_ptr<Layer> owned = clone();
  return call_layer(owned, x);
}

KerasTensor Layer::operator()(const KerasTensor& x) & { return (*this)(std::vector{x}); }

KerasTensor Layer::operator()(const std::vector<KerasTensor>& x) & {
  std::shared_ptr<Layer> self = weak_from_this().lock();
  KEEL_CHECK(self != nullptr, "layer '", name(), "' (", class_name(),
             ") is called on tensors but is not owned by a std::shared_ptr; to call one layer "
             "several times (shared weights) create it with keel::shared(...), otherwise call a "
             "temporary: Dense(10)(x)");
  return call_layer(self, x);
}

std::vector<Shape> UnaryLayer::compute_output_shapes(std::span<const Shape> input_shapes) const {
  return {compute_output_shape(input_shapes.front())};
}

void UnaryLayer::forward(const Context& ctx, std::span<const TensorRef> x,
                         std::span<const TensorRef> y) {
  relu_after_ = ctx.relu_after;
  unary_forward(x[0].f32(), y[0].f32(), x[0].batch(), ctx.mode);
}

void UnaryLayer::backward(const Context& ctx, std::span<const TensorRef> x,
                          std::span<const TensorRef> y, std::span<const TensorRef> dy,
                          std::span<const TensorRef> dx, Write write) {
  float* dx0 = dx.empty() ? nullptr : static_cast<float*>(dx[0].data);
  relu_after_ = ctx.relu_after;
  if (ctx.dy_wrt_logits) {
    unary_backward_from_logits(x[0].f32(), dy[0].f32(), dx0, x[0].batch(), write);
  } else {
    unary_backward(x[0].f32(), y[0].f32(), dy[0].f32(), dx0, x[0].batch(), write);
  }
}

void UnaryLayer::unary_backward_from_logits(const float*, const float*, float*, int64_t, Write) {
  KEEL_FAIL("layer '", name(), "' (", class_name(), ") has no softmax output");
}

}  // namespace keel
