#include "keel/layers/layer_normalization.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "keel/core/error.h"
#include "keel/kernels/permute.h"
#include "layer_config.h"

namespace keel {

LayerNormalization::LayerNormalization(LayerNormalizationOptions options)
    : UnaryLayer("layer_normalization", options.name, options.input_shape),
      options_(std::move(options)) {
  KEEL_CHECK(!options_.axis.empty(), "layer '", name(),
             "' (LayerNormalization): axis is an empty list; expected an axis such as -1");
  KEEL_CHECK(std::isfinite(options_.epsilon) && options_.epsilon > 0, "layer '", name(),
             "' (LayerNormalization): epsilon ", options_.epsilon, " must be > 0");
  set_trainable(options_.trainable);
}

std::vector<int64_t> LayerNormalization::axes_for(const Shape& s) const {
  const int64_t rank = s.rank();
  std::vector<int64_t> axes;
  for (int64_t a : options_.axis) {
    const int64_t n = a < 0 ? a + rank : a;
    KEEL_CHECK(n >= 1 && n < rank, "layer '", name(), "' (LayerNormalization): axis ", a,
               " is invalid for an input of rank ", rank, "; expected an axis in [1, ", rank - 1,
               "] or [", -(rank - 1), ", -1]");
    KEEL_CHECK(std::find(axes.begin(), axes.end(), n) == axes.end(), "layer '", name(),
               "' (LayerNormalization): duplicate axis ", a);
    axes.push_back(n);
  }
  std::sort(axes.begin(), axes.end());
  KEEL_CHECK(rank <= 8, "layer '", name(), "' (LayerNormalization): inputs of rank ", rank,
             " are not supported (at most 8)");
  return axes;
}

Shape LayerNormalization::compute_output_shape(const Shape& input_shape) const {
  (void)axes_for(input_shape);
  return input_shape;
}

void LayerNormalization::on_build() {
  axes_ = axes_for(input_shape());
  width_ = 1;
  for (int64_t a : axes_) width_ *= input_shape()[a];
  rows_per_sample_ = input_shape().sample_size() / width_;
  perm_.clear();
  inverse_perm_.clear();
  const auto rank = static_cast<int>(input_shape().rank());
  const bool trailing = axes_.back() == rank - 1 &&
                        axes_.back() - axes_.front() + 1 == static_cast<int64_t>(axes_.size());
  if (trailing) return;
  // Rows layout: the batch, the other axes in order, then the normalised ones in order.
  perm_.push_back(0);
  for (int a = 1; a < rank; ++a)
    if (std::find(axes_.begin(), axes_.end(), a) == axes_.end()) perm_.push_back(a);
  for (int64_t a : axes_) perm_.push_back(static_cast<int>(a));
  inverse_perm_.resize(perm_.size());
  for (size_t k = 0; k < perm_.size(); ++k) inverse_perm_[size_t(perm_[k])] = static_cast<int>(k);
}

// (Dims on the stack: a training step allocates nothing.)
void LayerNormalization::to_rows(const float* x, float* out, int64_t batch) const {
  std::array<int64_t, 8> dims{};
  for (size_t k = 0; k < perm_.size(); ++k) dims[k] = input_shape()[static_cast<int64_t>(k)];
  dims[0] = batch;
  permute(x, out, dims.data(), perm_.data(), static_cast<int>(perm_.size()));
}

void LayerNormalization::from_rows(const float* rows, float* out, int64_t batch) const {
  std::array<int64_t, 8> dims{};
  for (size_t k = 0; k < perm_.size(); ++k) dims[k] = input_shape()[perm_[k]];
  dims[0] = batch;
  permute(rows, out, dims.data(), inverse_perm_.data(), static_cast<int>(perm_.size()));
}

std::vector<VariableSpec> LayerNormalization::variable_specs() const {
  std::vector<int64_t> shape;
  for (int64_t a : axes_) shape.push_back(input_shape()[a]);
  std::vector<VariableSpec> specs;
  if (options_.scale) specs.push_back({"gamma", shape, true, options_.gamma_initializer});
  if (options_.center) specs.push_back({"beta", shape, true, options_.beta_initializer});
  return specs;
}

void LayerNormalization::unary_forward(const float* x, float* y, int64_t batch, Mode) {
  const int64_t rows = batch * rows_per_sample_;
  if (perm_.empty()) return normalize_rows(x, y, rows);
  float* xt = xt_.ensure(rows * width_);
  float* yt = yt_.ensure(rows * width_);
  to_rows(x, xt, batch);
  normalize_rows(xt, yt, rows);
  from_rows(yt, y, batch);
}

void LayerNormalization::normalize_rows(const float* x, float* y, int64_t rows) {
  const int64_t w = width_;
  float* mean = mean_.ensure(rows);
  float* rstd = rstd_.ensure(rows);
  const float* gamma = options_.scale ? variables()[0].value : nullptr;
  const float* beta = options_.center ? variables()[options_.scale ? 1 : 0].value : nullptr;
  const auto eps = static_cast<float>(options_.epsilon);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * w;
    float* yr = y + r * w;
    // Two passes in double: the mean, then the biased variance around it.
    double sum = 0.0;
    for (int64_t j = 0; j < w; ++j) sum += xr[j];
    const double m = sum / double(w);
    double sq = 0.0;
    for (int64_t j = 0; j < w; ++j) sq += (xr[j] - m) * (xr[j] - m);
    mean[r] = static_cast<float>(m);
    rstd[r] = 1.0f / std::sqrt(static_cast<float>(sq / double(w)) + eps);
    for (int64_t j = 0; j < w; ++j) {
      const float xhat = (xr[j] - mean[r]) * rstd[r];
      yr[j] = (gamma ? xhat * gamma[j] : xhat) + (beta ? beta[j] : 0.0f);
    }
  }
}

void LayerNormalization::unary_backward(const float* x, const float*, const float* dy, float* dx,
                                        int64_t batch, Write write) {
  const int64_t rows = batch * rows_per_sample_;
  if (perm_.empty()) return backward_rows(x, dy, dx, rows, write);
  // The rows layout of x again (the forward's may have been overwritten by another batch).
  float* xt = xt_.ensure(rows * width_);
  float* dyt = dyt_.ensure(rows * width_);
  float* dxt = yt_.ensure(rows * width_);
  to_rows(x, xt, batch);
  to_rows(dy, dyt, batch);
  backward_rows(xt, dyt, dx == nullptr ? nullptr : dxt, rows, write);
  if (dx != nullptr) from_rows(dxt, dx, batch);
}

void LayerNormalization::backward_rows(const float* x, const float* dy, float* dx, int64_t rows,
                                       Write write) {
  const int64_t w = width_;
  const float* mean = mean_.data();
  const float* rstd = rstd_.data();
  const Variable* gamma = options_.scale ? &variables()[0] : nullptr;
  const Variable* beta = options_.center ? &variables()[options_.scale ? 1 : 0] : nullptr;
  float* dgamma = gamma ? gamma->grad : nullptr;
  float* dbeta = beta ? beta->grad : nullptr;
  if (dgamma && write == Write::kSet) std::fill_n(dgamma, w, 0.0f);
  if (dbeta && write == Write::kSet) std::fill_n(dbeta, w, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * w;
    const float* dyr = dy + r * w;
    // dx = rstd · (g - mean(g) - x̂·mean(g·x̂)), g = dy·gamma.
    double sum_g = 0.0, sum_gx = 0.0;
    for (int64_t j = 0; j < w; ++j) {
      const float xhat = (xr[j] - mean[r]) * rstd[r];
      const float g = gamma ? dyr[j] * gamma->value[j] : dyr[j];
      sum_g += g;
      sum_gx += double(g) * xhat;
      if (dgamma) dgamma[j] += dyr[j] * xhat;
      if (dbeta) dbeta[j] += dyr[j];
    }
    if (dx == nullptr) continue;
    const auto mg = static_cast<float>(sum_g / double(w));
    const auto mgx = static_cast<float>(sum_gx / double(w));
    float* dxr = dx + r * w;
    for (int64_t j = 0; j < w; ++j) {
      const float xhat = (xr[j] - mean[r]) * rstd[r];
      const float g = gamma ? dyr[j] * gamma->value[j] : dyr[j];
      dxr[j] = rstd[r] * (g - mg - xhat * mgx);
    }
  }
}

nlohmann::json LayerNormalization::get_config() const {
  nlohmann::json config = base_config();
  // Keras writes the built layer's axes as a list of positive ints (the argument before build).
  config["axis"] = built() ? nlohmann::json(axes_) : nlohmann::json(options_.axis.size() == 1
                                                                         ? nlohmann::json(options_.axis[0])
                                                                         : nlohmann::json(options_.axis));
  config["epsilon"] = options_.epsilon;
  config["center"] = options_.center;
  config["scale"] = options_.scale;
  config["beta_initializer"] = options_.beta_initializer.to_config();
  config["gamma_initializer"] = options_.gamma_initializer.to_config();
  for (const char* key : {"beta_regularizer", "gamma_regularizer", "beta_constraint",
                          "gamma_constraint"}) {
    config[key] = nullptr;
  }
  return config;
}

std::unique_ptr<Layer> LayerNormalization::from_config(const nlohmann::json& config) {
  namespace lc = layer_config;
  auto base = lc::parse_base(config, "LayerNormalization",
                             {"axis", "epsilon", "center", "scale", "beta_initializer",
                              "gamma_initializer"},
                             {"beta_regularizer", "gamma_regularizer", "beta_constraint",
                              "gamma_constraint"});
  LayerNormalizationOptions o;
  if (config.contains("axis")) {
    const auto& a = config["axis"];
    KEEL_CHECK(a.is_number_integer() || (a.is_array() && !a.empty() &&
                                         std::all_of(a.begin(), a.end(), [](const auto& v) {
                                           return v.is_number_integer();
                                         })),
               "LayerNormalization: 'axis' must be an integer or a list of integers, got ", a.dump());
    o.axis = a.is_array() ? a.get<std::vector<int64_t>>() : std::vector<int64_t>{a.get<int64_t>()};
  }
  o.epsilon = lc::get_number(config, "LayerNormalization", "epsilon", 1e-3);
  o.center = lc::get_bool(config, "LayerNormalization", "center", true);
  o.scale = lc::get_bool(config, "LayerNormalization", "scale", true);
  if (config.contains("beta_initializer"))
    o.beta_initializer = Initializer::from_config(config["beta_initializer"]);
  if (config.contains("gamma_initializer"))
    o.gamma_initializer = Initializer::from_config(config["gamma_initializer"]);
  o.input_shape = std::move(base.input_shape);
  o.name = std::move(base.name);
  o.trainable = base.trainable;
  return std::make_unique<LayerNormalization>(std::move(o));
}

}  // namespace keel
