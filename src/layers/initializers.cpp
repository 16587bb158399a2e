#include "keel/layers/initializers.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "keel/core/error.h"

namespace keel {

namespace {

// scipy.stats.truncnorm.std(a=-2, b=2, loc=0., scale=1.), as in Keras VarianceScaling.
constexpr double kTruncatedNormalStd = 0.87962566103423978;

struct VarianceScalingPreset {
  std::string_view snake, camel;
  double scale;
  std::string_view mode, distribution;
};
constexpr std::array<VarianceScalingPreset, 6> kPresets{{
    {"glorot_uniform", "GlorotUniform", 1.0, "fan_avg", "uniform"},
    {"glorot_normal", "GlorotNormal", 1.0, "fan_avg", "truncated_normal"},
    {"he_normal", "HeNormal", 2.0, "fan_in", "truncated_normal"},
    {"he_uniform", "HeUniform", 2.0, "fan_in", "uniform"},
    {"lecun_normal", "LecunNormal", 1.0, "fan_in", "truncated_normal"},
    {"lecun_uniform", "LecunUniform", 1.0, "fan_in", "uniform"},
}};

constexpr std::array<std::pair<std::string_view, std::string_view>, 8> kPlain{{
    {"zeros", "Zeros"},
    {"ones", "Ones"},
    {"constant", "Constant"},
    {"random_normal", "RandomNormal"},
    {"random_uniform", "RandomUniform"},
    {"truncated_normal", "TruncatedNormal"},
    {"variance_scaling", "VarianceScaling"},
    {"orthogonal", "Orthogonal"},
}};

// Standard normal truncated to [-2, 2] by redrawing (TF / Keras truncated_normal).
double truncated_standard_normal(Rng& rng) {
  for (;;) {
    const double z = rng.normal();
    if (std::fabs(z) <= 2.0) return z;
  }
}

// Keras Orthogonal: the variable seen as a (rows, cols) matrix, rows the product of every dim but
// the last; Q of the QR factorisation of a (max, min) standard normal matrix with R's diagonal
// made positive (q *= sign(diag(r))), transposed when rows < cols, times gain. Modified
// Gram-Schmidt in double, twice per column (re-orthogonalised), gives that Q: its R has a
// positive diagonal by construction.
void fill_orthogonal(std::span<float> values, const std::vector<int64_t>& shape, double gain,
                     Rng& rng) {
  KEEL_CHECK(shape.size() >= 2, "initializer Orthogonal: needs a variable of rank >= 2, got rank ",
             shape.size());
  const int64_t cols = shape.back();
  const int64_t rows = static_cast<int64_t>(values.size()) / cols;
  const int64_t n = std::max(rows, cols), k = std::min(rows, cols);
  std::vector<double> a(static_cast<size_t>(n * k));  // (n, k) row-major
  for (double& v : a) v = rng.normal();
  auto at = [&](int64_t r, int64_t c) -> double& { return a[static_cast<size_t>(r * k + c)]; };
  for (int64_t j = 0; j < k; ++j) {
    for (int pass = 0; pass < 2; ++pass) {
      for (int64_t p = 0; p < j; ++p) {
        double dot = 0.0;
        for (int64_t r = 0; r < n; ++r) dot += at(r, p) * at(r, j);
        for (int64_t r = 0; r < n; ++r) at(r, j) -= dot * at(r, p);
      }
    }
    double norm = 0.0;
    for (int64_t r = 0; r < n; ++r) norm += at(r, j) * at(r, j);
    norm = std::sqrt(norm);
    KEEL_CHECK(norm > 0.0, "initializer Orthogonal: degenerate random matrix");
    for (int64_t r = 0; r < n; ++r) at(r, j) /= norm;
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const double q = rows >= cols ? at(r, c) : at(c, r);
      values[static_cast<size_t>(r * cols + c)] = static_cast<float>(gain * q);
    }
  }
}

// Keras _compute_fans.
std::pair<double, double> compute_fans(const std::vector<int64_t>& shape) {
  if (shape.empty()) return {1.0, 1.0};
  if (shape.size() == 1) return {double(shape[0]), double(shape[0])};
  if (shape.size() == 2) return {double(shape[0]), double(shape[1])};
  double receptive = 1.0;
  for (size_t i = 0; i + 2 < shape.size(); ++i) receptive *= double(shape[i]);
  return {double(shape[shape.size() - 2]) * receptive, double(shape.back()) * receptive};
}

void check_keys(const nlohmann::json& config, const std::string& class_name,
                std::initializer_list<std::string_view> allowed) {
  KEEL_CHECK(config.is_object(), "initializer ", class_name, ": config must be an object, got ",
             config.dump());
  for (const auto& [key, value] : config.items()) {
    const bool known = std::find(allowed.begin(), allowed.end(), key) != allowed.end();
    KEEL_CHECK(known, "initializer ", class_name, ": unknown argument '", key, "'");
  }
}

double number(const nlohmann::json& config, const char* key, double fallback,
              const std::string& class_name) {
  if (!config.contains(key)) return fallback;
  KEEL_CHECK(config[key].is_number(), "initializer ", class_name, ": '", key,
             "' must be a number, got ", config[key].dump());
  return config[key].get<double>();
}

}  // namespace

Initializer::Initializer() = default;

Initializer::Initializer(const char* identifier)
    : Initializer(std::string_view(identifier ? identifier : "")) {}

Initializer::Initializer(std::string_view identifier) {
  for (const auto& p : kPresets) {
    if (identifier == p.snake || identifier == p.camel) {
      class_name_ = p.camel;
      scale_ = p.scale;
      mode_ = p.mode;
      distribution_ = p.distribution;
      return;
    }
  }
  for (const auto& [snake, camel] : kPlain) {
    if (identifier == snake || identifier == camel) {
      class_name_ = camel;
      return;
    }
  }
  KEEL_FAIL("unknown initializer '", identifier,
            "'; expected zeros, ones, constant, random_normal, random_uniform, truncated_normal, "
            "variance_scaling, orthogonal, glorot_uniform, glorot_normal, he_normal, he_uniform, "
            "lecun_normal or lecun_uniform");
}

Initializer Initializer::constant(double value) {
  Initializer init("Constant");
  init.value_ = value;
  return init;
}

Initializer Initializer::from_config(const nlohmann::json& config) {
  if (config.is_string()) return Initializer(config.get<std::string>());
  KEEL_CHECK(config.is_object() && config.contains("class_name") && config["class_name"].is_string(),
             "initializer: expected a string or {\"class_name\": ..., \"config\": {...}}, got ",
             config.dump());
  // Keras 2.13+ / Keras 3 add "module" and "registered_name" next to class_name, and tf.keras 2.x
  // writes "shared_object_id" where one initializer object is serialised twice (an RNN layer and
  // its cell in a functional model); they carry no arguments.
  for (const auto& [key, value] : config.items()) {
    KEEL_CHECK(key == "class_name" || key == "config" || key == "module" ||
                   key == "registered_name" || key == "shared_object_id",
               "initializer: unknown key '", key, "' in ", config.dump());
  }
  const std::string class_name = config["class_name"].get<std::string>();
  const nlohmann::json args = config.value("config", nlohmann::json::object());
  Initializer init(class_name);  // validates the class name
  const std::string& cls = init.class_name_;

  auto read_seed = [&] {
    if (args.contains("seed") && !args["seed"].is_null()) {
      KEEL_CHECK(args["seed"].is_number_integer(), "initializer ", cls,
                 ": 'seed' must be an integer or null, got ", args["seed"].dump());
      init.seed_ = args["seed"].get<int64_t>();
    }
  };
  if (cls == "Zeros" || cls == "Ones") {
    check_keys(args, cls, {});
  } else if (cls == "Constant") {
    check_keys(args, cls, {"value"});
    init.value_ = number(args, "value", 0.0, cls);
  } else if (cls == "RandomNormal" || cls == "TruncatedNormal") {
    check_keys(args, cls, {"mean", "stddev", "seed"});
    init.mean_ = number(args, "mean", 0.0, cls);
    init.stddev_ = number(args, "stddev", 0.05, cls);
    read_seed();
  } else if (cls == "RandomUniform") {
    check_keys(args, cls, {"minval", "maxval", "seed"});
    init.minval_ = number(args, "minval", -0.05, cls);
    init.maxval_ = number(args, "maxval", 0.05, cls);
    read_seed();
  } else if (cls == "VarianceScaling") {
    check_keys(args, cls, {"scale", "mode", "distribution", "seed"});
    init.scale_ = number(args, "scale", 1.0, cls);
    KEEL_CHECK(init.scale_ > 0.0, "initializer VarianceScaling: scale ", init.scale_,
               " must be > 0");
    init.mode_ = args.value("mode", std::string("fan_in"));
    KEEL_CHECK(init.mode_ == "fan_in" || init.mode_ == "fan_out" || init.mode_ == "fan_avg",
               "initializer VarianceScaling: mode '", init.mode_,
               "' is not one of fan_in, fan_out, fan_avg");
    init.distribution_ = args.value("distribution", std::string("truncated_normal"));
    // Keras maps the legacy "normal" to "truncated_normal" (TF.js writes "normal").
    if (init.distribution_ == "normal") init.distribution_ = "truncated_normal";
    KEEL_CHECK(init.distribution_ == "truncated_normal" ||
                   init.distribution_ == "untruncated_normal" || init.distribution_ == "uniform",
               "initializer VarianceScaling: distribution '", init.distribution_,
               "' is not one of truncated_normal, untruncated_normal, uniform");
    read_seed();
  } else if (cls == "Orthogonal") {
    check_keys(args, cls, {"gain", "seed"});
    init.gain_ = number(args, "gain", 1.0, cls);
    read_seed();
  } else {  // the VarianceScaling presets take only a seed
    check_keys(args, cls, {"seed"});
    read_seed();
  }
  return init;
}

nlohmann::json Initializer::to_config() const {
  nlohmann::json seed = seed_ ? nlohmann::json(*seed_) : nlohmann::json(nullptr);
  nlohmann::json config = nlohmann::json::object();
  if (class_name_ == "Constant") {
    config["value"] = value_;
  } else if (class_name_ == "RandomNormal" || class_name_ == "TruncatedNormal") {
    config = {{"mean", mean_}, {"stddev", stddev_}, {"seed", seed}};
  } else if (class_name_ == "RandomUniform") {
    config = {{"minval", minval_}, {"maxval", maxval_}, {"seed", seed}};
  } else if (class_name_ == "VarianceScaling") {
    config = {{"scale", scale_}, {"mode", mode_}, {"distribution", distribution_}, {"seed", seed}};
  } else if (class_name_ == "Orthogonal") {
    config = {{"gain", gain_}, {"seed", seed}};
  } else if (class_name_ != "Zeros" && class_name_ != "Ones") {
    config["seed"] = seed;
  }
  return {{"class_name", class_name_}, {"config", config}};
}

void Initializer::fill(std::span<float> values, const std::vector<int64_t>& shape, Rng& rng) const {
  // A seeded Keras initializer gives the same values wherever it is used.
  Rng seeded(static_cast<uint64_t>(seed_.value_or(0)));
  Rng& r = seed_ ? seeded : rng;
  if (class_name_ == "Zeros" || class_name_ == "Ones" || class_name_ == "Constant") {
    const double v = class_name_ == "Zeros" ? 0.0 : class_name_ == "Ones" ? 1.0 : value_;
    std::fill(values.begin(), values.end(), static_cast<float>(v));
  } else if (class_name_ == "RandomNormal") {
    for (float& v : values) v = static_cast<float>(mean_ + stddev_ * r.normal());
  } else if (class_name_ == "TruncatedNormal") {
    for (float& v : values) v = static_cast<float>(mean_ + stddev_ * truncated_standard_normal(r));
  } else if (class_name_ == "RandomUniform") {
    for (float& v : values) v = static_cast<float>(minval_ + (maxval_ - minval_) * r.uniform_double());
  } else if (class_name_ == "Orthogonal") {
    fill_orthogonal(values, shape, gain_, r);
  } else {  // VarianceScaling and its presets
    const auto [fan_in, fan_out] = compute_fans(shape);
    double scale = scale_;
    if (mode_ == "fan_in") scale /= std::max(1.0, fan_in);
    else if (mode_ == "fan_out") scale /= std::max(1.0, fan_out);
    else scale /= std::max(1.0, (fan_in + fan_out) / 2.0);
    if (distribution_ == "truncated_normal") {
      const double stddev = std::sqrt(scale) / kTruncatedNormalStd;
      for (float& v : values) v = static_cast<float>(stddev * truncated_standard_normal(r));
    } else if (distribution_ == "untruncated_normal") {
      const double stddev = std::sqrt(scale);
      for (float& v : values) v = static_cast<float>(stddev * r.normal());
    } else {
      const double limit = std::sqrt(3.0 * scale);
      for (float& v : values) v = static_cast<float>(-limit + 2.0 * limit * r.uniform_double());
    }
  }
}

}  // namespace keel
