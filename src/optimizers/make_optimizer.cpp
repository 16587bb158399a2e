// make_optimizer: Keras name + Keras get_config keys -> optimizer.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <string>

#include "keel/core/error.h"
#include "keel/optimizers/adagrad.h"
#include "keel/optimizers/adam.h"
#include "keel/optimizers/nadam.h"
#include "keel/optimizers/optimizer.h"
#include "keel/optimizers/rmsprop.h"
#include "keel/optimizers/sgd.h"

namespace keel {
namespace {

// Reads config keys, remembering which were consumed so leftovers can be reported.
class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& config, std::string optimizer)
      : config_(config), optimizer_(std::move(optimizer)) {
    KEEL_CHECK(config_.is_object() || config_.is_null(), "optimizer '", optimizer_,
               "': config must be a JSON object, got ", config_.dump());
  }
  template <typename T>
  void read(const char* key, T& out) {
    used_.insert(key);
    if (!config_.is_object() || !config_.contains(key) || config_[key].is_null()) return;
    try {
      out = config_[key].get<T>();
    } catch (const nlohmann::json::exception&) {
      KEEL_FAIL("optimizer '", optimizer_, "': config key '", key, "' has value ",
                config_[key].dump(), " of the wrong type");
    }
  }
  void read(const char* key, std::optional<double>& out) {
    used_.insert(key);
    if (!config_.is_object() || !config_.contains(key)) return;
    if (config_[key].is_null()) {
      out.reset();
      return;
    }
    KEEL_CHECK(config_[key].is_number(), "optimizer '", optimizer_, "': config key '", key,
               "' is ", config_[key].dump(), "; expected a number or null");
    out = config_[key].get<double>();
  }
  // Keras keys keel accepts only at the value that means "feature off".
  void accept_default(const char* key, const nlohmann::json& allowed) {
    used_.insert(key);
    if (!config_.is_object() || !config_.contains(key)) return;
    const nlohmann::json& v = config_[key];
    KEEL_CHECK(v.is_null() || v == allowed, "optimizer '", optimizer_, "': '", key, "' = ",
               v.dump(), " is not supported by keel; expected ", allowed.dump());
  }
  void ignore(const char* key) { used_.insert(key); }
  void common(std::optional<double>& wd, std::optional<double>& cn, std::optional<double>& gcn,
              std::optional<double>& cv, std::optional<double>& agc, NonFinitePolicy& policy,
              std::string& name) {
    read("weight_decay", wd);
    read("clipnorm", cn);
    read("global_clipnorm", gcn);
    read("clipvalue", cv);
    read("agc", agc);  // keel-specific (adaptive gradient clipping's lambda)
    read("name", name);
    std::string on_nonfinite;
    read("on_nonfinite", on_nonfinite);
    if (on_nonfinite == "error") policy = NonFinitePolicy::kError;
    else if (on_nonfinite == "skip_step") policy = NonFinitePolicy::kSkipStep;
    else if (on_nonfinite == "ignore") policy = NonFinitePolicy::kIgnore;
    else KEEL_CHECK(on_nonfinite.empty(), "optimizer '", optimizer_, "': on_nonfinite is '",
                    on_nonfinite, "'; expected error, skip_step or ignore");
    accept_default("use_ema", false);
    accept_default("is_legacy_optimizer", false);
    ignore("ema_momentum");
    ignore("ema_overwrite_frequency");
    ignore("jit_compile");
  }
  void finish() const {
    if (!config_.is_object()) return;
    for (const auto& [key, value] : config_.items()) {
      KEEL_CHECK(used_.count(key), "optimizer '", optimizer_, "': unknown config key '", key,
                 "' (value ", value.dump(), ")");
    }
  }

 private:
  const nlohmann::json& config_;
  std::string optimizer_;
  std::set<std::string> used_;
};

template <typename Options>
void read_common(ConfigReader& r, Options& o) {
  r.common(o.weight_decay, o.clipnorm, o.global_clipnorm, o.clipvalue, o.agc, o.on_nonfinite,
           o.name);
  r.read("learning_rate", o.learning_rate);
}

}  // namespace

// The Adam family's shared hyperparameters (Adam, AdamW, Nadam).
template <typename Options>
void read_moments(ConfigReader& r, Options& o) {
  r.read("beta_1", o.beta_1);
  r.read("beta_2", o.beta_2);
  r.read("epsilon", o.epsilon);
}

std::unique_ptr<Optimizer> make_optimizer(std::string_view name, const nlohmann::json& config) {
  std::string key(name);
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  ConfigReader r(config, std::string(name));
  std::unique_ptr<Optimizer> out;
  if (key == "sgd") {
    SGDOptions o;
    read_common(r, o);
    r.read("momentum", o.momentum);
    r.read("nesterov", o.nesterov);
    r.finish();
    out = std::make_unique<SGD>(o);
  } else if (key == "adam") {
    AdamOptions o;
    read_common(r, o);
    read_moments(r, o);
    r.read("amsgrad", o.amsgrad);
    r.finish();
    out = std::make_unique<Adam>(o);
  } else if (key == "adamw") {
    AdamWOptions o;
    read_common(r, o);
    read_moments(r, o);
    r.read("amsgrad", o.amsgrad);
    r.finish();
    out = std::make_unique<AdamW>(o);
  } else if (key == "nadam") {
    NadamOptions o;
    read_common(r, o);
    read_moments(r, o);
    r.finish();
    out = std::make_unique<Nadam>(o);
  } else if (key == "rmsprop") {
    RMSpropOptions o;
    read_common(r, o);
    r.read("rho", o.rho);
    r.read("momentum", o.momentum);
    r.read("epsilon", o.epsilon);
    r.read("centered", o.centered);
    r.finish();
    out = std::make_unique<RMSprop>(o);
  } else if (key == "adagrad") {
    AdagradOptions o;
    read_common(r, o);
    r.read("initial_accumulator_value", o.initial_accumulator_value);
    r.read("epsilon", o.epsilon);
    r.finish();
    out = std::make_unique<Adagrad>(o);
  } else {
    KEEL_FAIL("unknown optimizer '", name,
              "'; expected one of sgd, adam, adamw, nadam, rmsprop, adagrad");
  }
  return out;
}

}  // namespace keel
