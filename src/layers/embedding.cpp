#include "keel/layers/embedding.h"

#include <cmath>
#include <cstring>

#include "keel/core/error.h"
#include "layer_config.h"

namespace keel {

namespace {
std::vector<int64_t> shape_with_length(const EmbeddingOptions& o) {
  if (!o.input_shape.empty() || !o.input_length) return o.input_shape;
  return {*o.input_length};
}
}  // namespace

Embedding::Embedding(int64_t input_dim, int64_t output_dim, EmbeddingOptions options)
    : UnaryLayer("embedding", options.name, shape_with_length(options)),
      input_dim_(input_dim),
      output_dim_(output_dim),
      options_(std::move(options)) {
  KEEL_CHECK(input_dim > 0 && output_dim > 0, "layer '", name(), "' (Embedding): input_dim ",
             input_dim, " and output_dim ", output_dim, " must be positive integers");
  KEEL_CHECK(!options_.mask_zero, "layer '", name(),
             "' (Embedding): mask_zero=True (masking) is not supported yet");
  set_trainable(options_.trainable);
}

Shape Embedding::compute_output_shape(const Shape& input_shape) const {
  std::vector<int64_t> dims = input_shape.dims();
  dims.push_back(output_dim_);
  return Shape(std::move(dims));
}

std::vector<VariableSpec> Embedding::variable_specs() const {
  return {{"embeddings", {input_dim_, output_dim_}, true, options_.embeddings_initializer}};
}

int64_t Embedding::id_at(const float* x, int64_t i) const {
  const float v = x[i];
  // tf.cast(float -> int32) truncates towards zero.
  KEEL_CHECK(std::isfinite(v) && v > -1.0f && v < static_cast<float>(input_dim_), "layer '", name(),
             "' (Embedding): id ", v, " at input element ", i, " is outside [0, ", input_dim_,
             ")");
  return static_cast<int64_t>(v);
}

void Embedding::unary_forward(const float* x, float* y, int64_t batch, Mode) {
  const int64_t n = batch * input_shape().sample_size();
  const float* table = variables()[0].value;
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(y + i * output_dim_, table + id_at(x, i) * output_dim_,
                static_cast<size_t>(output_dim_) * sizeof(float));
  }
}

void Embedding::unary_backward(const float* x, const float*, const float* dy, float* dx,
                               int64_t batch, Write write) {
  const int64_t n = batch * input_shape().sample_size();
  if (dx != nullptr) std::fill_n(dx, n, 0.0f);
  float* grad = variables()[0].grad;
  if (grad == nullptr) return;
  if (write == Write::kSet) std::fill_n(grad, input_dim_ * output_dim_, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    float* row = grad + id_at(x, i) * output_dim_;
    const float* d = dy + i * output_dim_;
    for (int64_t j = 0; j < output_dim_; ++j) row[j] += d[j];
  }
}

nlohmann::json Embedding::get_config() const {
  nlohmann::json config = base_config();
  // Keras declares an Embedding's input as (None,) when no input_length is given: a sequence of
  // unknown length.
  if (!config.contains("batch_input_shape")) config["batch_input_shape"] = {nullptr, nullptr};
  config["input_dim"] = input_dim_;
  config["output_dim"] = output_dim_;
  config["embeddings_initializer"] = options_.embeddings_initializer.to_config();
  config["embeddings_regularizer"] = nullptr;
  config["activity_regularizer"] = nullptr;
  config["embeddings_constraint"] = nullptr;
  config["mask_zero"] = options_.mask_zero;
  config["input_length"] =
      options_.input_length ? nlohmann::json(*options_.input_length) : nlohmann::json(nullptr);
  return config;
}

std::unique_ptr<Layer> Embedding::from_config(const nlohmann::json& config_in) {
  namespace lc = layer_config;
  // Keras's (None, None) "unknown length" input declares nothing keel can use: the length comes
  // from the model's input.
  nlohmann::json config = config_in;
  if (config.contains("batch_input_shape") && config["batch_input_shape"] == nlohmann::json{nullptr, nullptr}) {
    config.erase("batch_input_shape");
  }
  auto base = lc::parse_base(config, "Embedding",
                             {"input_dim", "output_dim", "embeddings_initializer", "mask_zero",
                              "input_length"},
                             {"embeddings_regularizer", "activity_regularizer",
                              "embeddings_constraint"});
  KEEL_CHECK(config.contains("input_dim") && config.contains("output_dim"),
             "Embedding: config needs 'input_dim' and 'output_dim'");
  EmbeddingOptions o;
  if (config.contains("embeddings_initializer"))
    o.embeddings_initializer = Initializer::from_config(config["embeddings_initializer"]);
  o.mask_zero = lc::get_bool(config, "Embedding", "mask_zero", false);
  if (config.contains("input_length") && !config["input_length"].is_null())
    o.input_length = lc::get_int(config, "Embedding", "input_length", 0);
  o.input_shape = std::move(base.input_shape);
  o.name = std::move(base.name);
  o.trainable = base.trainable;
  return std::make_unique<Embedding>(lc::get_int(config, "Embedding", "input_dim", 0),
                                     lc::get_int(config, "Embedding", "output_dim", 0),
                                     std::move(o));
}

}  // namespace keel
