#include "keel/layers/reshape.h"

#include <algorithm>
#include <cstring>

#include "keel/core/error.h"
#include "layer_config.h"

namespace keel {

namespace {
std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}
}  // namespace

Reshape::Reshape(std::vector<int64_t> target_shape, ReshapeOptions options)
    : UnaryLayer("reshape", options.name, options.input_shape), target_shape_(std::move(target_shape)) {
  const auto unknown = std::count(target_shape_.begin(), target_shape_.end(), -1);
  KEEL_CHECK(unknown <= 1, "layer '", name(), "' (Reshape): target_shape ", dims_text(target_shape_),
             " can only specify one unknown dimension (-1)");
  for (int64_t d : target_shape_) {
    KEEL_CHECK(d == -1 || d > 0, "layer '", name(), "' (Reshape): target_shape ",
               dims_text(target_shape_), " has entry ", d, "; expected positive sizes or one -1");
  }
  set_trainable(options.trainable);
}

Shape Reshape::compute_output_shape(const Shape& in) const {
  const int64_t total = in.sample_size();
  int64_t known = 1;
  for (int64_t d : target_shape_) known *= d == -1 ? 1 : d;
  std::vector<int64_t> dims{in[0]};
  for (int64_t d : target_shape_) {
    if (d != -1) {
      dims.push_back(d);
      continue;
    }
    KEEL_CHECK(total % known == 0, "layer '", name(), "' (Reshape): total size of new array must be "
               "unchanged, input_shape = ", in.to_string(), ", target_shape = ", dims_text(target_shape_));
    dims.push_back(total / known);
    known = total;
  }
  KEEL_CHECK(known == total, "layer '", name(), "' (Reshape): total size of new array must be "
             "unchanged, input_shape = ", in.to_string(), ", target_shape = ", dims_text(target_shape_));
  return Shape(std::move(dims));
}

void Reshape::unary_forward(const float* x, float* y, int64_t batch, Mode) {
  if (x != y) std::memcpy(y, x, size_t(batch * input_shape().sample_size()) * sizeof(float));
}

void Reshape::unary_backward(const float*, const float*, const float* dy, float* dx, int64_t batch,
                             Write) {
  if (dx != nullptr && dx != dy) {
    std::memcpy(dx, dy, size_t(batch * input_shape().sample_size()) * sizeof(float));
  }
}

nlohmann::json Reshape::get_config() const {
  nlohmann::json config = base_config();
  config["target_shape"] = target_shape_;
  return config;
}

std::unique_ptr<Layer> Reshape::from_config(const nlohmann::json& config) {
  auto base = layer_config::parse_base(config, "Reshape", {"target_shape"});
  KEEL_CHECK(config.contains("target_shape") && config["target_shape"].is_array(),
             "Reshape: config needs 'target_shape' as a list of integers");
  std::vector<int64_t> target;
  for (const auto& d : config["target_shape"]) {
    KEEL_CHECK(d.is_number_integer(), "Reshape: 'target_shape' entry ", d.dump(),
               " must be an integer");
    target.push_back(d.get<int64_t>());
  }
  return std::make_unique<Reshape>(std::move(target),
                                   ReshapeOptions{std::move(base.input_shape), std::move(base.name),
                                                  base.trainable});
}

}  // namespace keel
