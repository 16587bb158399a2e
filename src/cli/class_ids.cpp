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

std::string fashion_mnist_labels_file(const std::filesystem::path& dir, const std::string& split) {
  const std::filesystem::path raw = dir / (split + "-labels-idx1-ubyte");
  std::error_code ec;
  return std::filesystem::exists(raw.string() + ".gz", ec) ? raw.string() + ".gz" : raw.string();
}

}  // namespace keel::cli
