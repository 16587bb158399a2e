#include "class_ids.h"

#include <cmath>

#include "keel/core/error.h"

namespace keel::cli {

void check_class_ids(const Model& model, const std::string& loss, const DataView& data,
                     const std::string& file) {
  if (!loss.starts_with("sparse_categorical") || model.num_outputs() != 1 || data.y_width != 1 ||
      !data.has_labels())
    return;
  const int64_t classes = model.output_shape().dims().back();
  for (int64_t row = 0; row < data.size; ++row) {
    const float id = data.y_float ? data.y_float[row] : static_cast<float>(data.y_uint8[row]);
    KEEL_CHECK(std::isfinite(id) && id >= 0.0f && id < static_cast<float>(classes) && id == std::floor(id),
               file, ": label of row ", row, " is ", id, "; expected an integer class id in [0, ",
               classes, ") for model '", model.name(), "' (", classes, " outputs, loss ", loss, ")");
  }
}

void check_targets(const Model& model, const std::string& loss, const DataView& data,
                   const std::string& file) {
  if (model.num_outputs() != 1 || !data.has_labels() || model.output_shape().dims().size() != 2) return;
  const bool sparse = loss.starts_with("sparse_categorical");
  const int64_t width = model.output_shape().dims().back();
  const int64_t expected = sparse ? 1 : width;
  const bool class_ids = !sparse && data.y_width == 1 && width > 1 && loss.find("categorical") != std::string::npos;
  KEEL_CHECK(data.y_width == expected, file, ": ", data.y_width, " target value(s) per sample, but loss ",
             loss, " on model '", model.name(), "' (", width, " outputs per sample) expects ", expected,
             class_ids ? "; class ids need --loss sparse_categorical_crossentropy" : "");
  check_class_ids(model, loss, data, file);
}

std::string fashion_mnist_labels_file(const std::filesystem::path& dir, const std::string& split) {
  const std::filesystem::path raw = dir / (split + "-labels-idx1-ubyte");
  std::error_code ec;
  return std::filesystem::exists(raw.string() + ".gz", ec) ? raw.string() + ".gz" : raw.string();
}

}  // namespace keel::cli
