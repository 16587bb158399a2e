#include "keel/layers/layer.h"

#include <map>
#include <mutex>

#include "keel/core/error.h"

namespace keel {

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
}  // namespace

std::string unique_layer_name(std::string_view prefix) {
  std::lock_guard lock(names_mutex());
  auto& counts = name_counts();
  auto it = counts.find(prefix);
  if (it == counts.end()) it = counts.emplace(std::string(prefix), 0).first;
  const int64_t n = it->second++;
  return n == 0 ? std::string(prefix) : std::string(prefix) + "_" + std::to_string(n);
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

void Layer::ensure_name() {
  if (name_.empty()) name_ = unique_layer_name(default_prefix_);
}

void Layer::build(const Shape& input_shape) {
  ensure_name();
  output_shape_ = compute_output_shape(input_shape);
  input_shape_ = input_shape;
  built_ = true;
  on_build();
}

void Layer::set_trainable(bool trainable) {
  trainable_ = trainable;
  // Variables that can train at all have a gradient view (the model gives one to every variable
  // whose spec is trainable).
  for (auto& v : variables_) v.trainable = trainable && v.grad != nullptr;
}

void Layer::bind_variables(std::vector<Variable> variables) { variables_ = std::move(variables); }

int64_t Layer::count_params() const {
  int64_t n = 0;
  for (const auto& v : variables_) n += v.size();
  return n;
}

void Layer::backward_from_logits(const float*, const float*, float*, int64_t) {
  KEEL_FAIL("layer '", name_, "' (", class_name(), ") has no softmax output");
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
  config["dtype"] = "float32";
  return config;
}

}  // namespace keel
