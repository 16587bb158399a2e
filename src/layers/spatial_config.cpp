#include "spatial_config.h"

#include <algorithm>
#include <cctype>

#include "keel/core/error.h"

namespace keel::spatial_config {

bool parse_padding(const std::string& padding, std::string_view layer, std::string_view cls) {
  std::string p = padding;
  std::transform(p.begin(), p.end(), p.begin(), [](unsigned char c) { return std::tolower(c); });
  KEEL_CHECK(p == "valid" || p == "same", "layer '", layer, "' (", cls, "): padding '", padding,
             "' is not supported; expected 'valid' or 'same'");
  return p == "same";
}

void check_data_format(const std::string& data_format, std::string_view layer,
                       std::string_view cls) {
  KEEL_CHECK(data_format.empty() || data_format == "channels_last", "layer '", layer, "' (", cls,
             "): data_format '", data_format,
             "' is not supported; keel computes in channels_last (NHWC): expected "
             "'channels_last' (transpose NCHW data to NHWC first)");
}

void check_positive(const Size2& v, std::string_view arg, std::string_view layer,
                    std::string_view cls) {
  KEEL_CHECK(v.h >= 1 && v.w >= 1, "layer '", layer, "' (", cls, "): ", arg, " (", v.h, ", ",
             v.w, ") must contain positive integers only");
}

nlohmann::json to_json(const Size2& v) { return nlohmann::json::array({v.h, v.w}); }

Size2 get_size2(const nlohmann::json& config, std::string_view cls, const char* key,
                Size2 fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  const auto& v = config[key];
  if (v.is_number_integer()) return Size2(v.get<int64_t>());
  KEEL_CHECK(v.is_array() && v.size() == 2 && v[0].is_number_integer() &&
                 v[1].is_number_integer(),
             cls, ": '", key, "' must be an integer or a list of two integers, got ", v.dump());
  return Size2(v[0].get<int64_t>(), v[1].get<int64_t>());
}

}  // namespace keel::spatial_config
