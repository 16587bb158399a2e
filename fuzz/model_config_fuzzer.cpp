// libFuzzer target for Keras JSON configs: model_from_json (parse, validate, build, initialise),
// then what `keel summary` and a save do with the model.
//
// A config may legitimately ask for a big model (Dense(100000) is valid and just allocates), which
// would trip -malloc_limit_mb without being a bug. So inputs whose sizes could add up to more
// than ~2^25 parameters are skipped before building: every integer <= 1024, every list of
// integers (an input shape) with product <= 4096, and all "units" together <= 4096. Sizes beyond
// that are the library's job to reject cleanly (Sequential::build caps parameters and input size;
// tests/data/malformed/model_config/ and the CLI table cover it), so skipping them here loses
// only the allocation itself.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_input.h"
#include "keel/core/error.h"
#include "keel/io/model_config.h"

namespace {

struct Budget {
  bool too_big = false;
  double units = 0;  // double: a claimed 1e21 must not overflow the harness itself
};

void measure(const nlohmann::json& j, Budget& b, int depth = 0) {
  if (b.too_big || depth > 64) {
    b.too_big = true;
    return;
  }
  if (j.is_number_integer() || j.is_number_float()) {
    const double v = j.get<double>();
    if (v > 1024 || v < -1024) b.too_big = true;
  } else if (j.is_array()) {
    double product = 1;
    bool all_ints = !j.empty();
    for (const auto& item : j) {
      all_ints = all_ints && item.is_number_integer();
      if (item.is_number_integer()) product *= static_cast<double>(item.get<int64_t>());
      measure(item, b, depth + 1);
    }
    if (all_ints && product > 4096) b.too_big = true;
  } else if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if (key == "units" && value.is_number()) b.units += value.get<double>();
      measure(value, b, depth + 1);
    }
    if (b.units > 4096) b.too_big = true;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  Budget budget;
  if (!doc.is_discarded()) measure(doc, budget);
  if (budget.too_big) return 0;
  try {
    keel::Model model = keel::model_from_json(text, "<fuzz>", 42);
    (void)model.summary();
    (void)keel::model_to_json(model);
  } catch (const keel::Error& e) {
    keel::fuzz::report(e);
  }
  return 0;
}
