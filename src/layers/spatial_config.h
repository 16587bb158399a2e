// Internal helpers of the 2-D spatial layers: argument checks and config (de)serialisation shared
// by Conv2D, DepthwiseConv2D, the pooling layers and ZeroPadding2D.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "keel/layers/spatial.h"

namespace keel::spatial_config {

// Keras normalize_padding: "valid" / "same", case-insensitive; returns true for same. Throws
// naming the layer and class otherwise.
bool parse_padding(const std::string& padding, std::string_view layer, std::string_view cls);
// "channels_last" or empty (Keras None = image_data_format() = channels_last) pass;
// "channels_first" and anything else throw naming the layer.
void check_data_format(const std::string& data_format, std::string_view layer,
                       std::string_view cls);
// Every entry >= 1 (>= 0 when allow_zero), naming the argument.
void check_positive(const Size2& v, std::string_view arg, std::string_view layer,
                    std::string_view cls);

nlohmann::json to_json(const Size2& v);  // [h, w]
// An int or a 2-list of ints under `key`; `fallback` when absent (or null and null_ok).
Size2 get_size2(const nlohmann::json& config, std::string_view cls, const char* key, Size2 fallback);

}  // namespace keel::spatial_config
