#include "keel/io/fashion_mnist.h"

#include <cstdlib>
#include <string>

#include "keel/core/error.h"
#include "keel/io/idx.h"

namespace keel {

namespace {

constexpr const char* kHowToGet =
    "install it with `apt-get install dataset-fashion-mnist` (files go to "
    "/usr/share/datasets/fashion-mnist) or pass --data DIR with the four "
    "{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] files";

std::filesystem::path find_file(const std::filesystem::path& dir, const std::string& stem) {
  std::error_code ec;
  const std::filesystem::path gz = dir / (stem + ".gz");
  if (std::filesystem::exists(gz, ec)) return gz;
  const std::filesystem::path raw = dir / stem;
  if (std::filesystem::exists(raw, ec)) return raw;
  KEEL_FAIL("Fashion-MNIST: ", gz.string(), " not found (nor ", raw.string(), "); ", kHowToGet);
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + ")";
}

struct Split {
  int64_t count = 0;
  std::vector<uint8_t> images;
  std::vector<uint8_t> labels;
};

Split load_split(const std::filesystem::path& dir, const std::string& prefix) {
  const auto images_path = find_file(dir, prefix + "-images-idx3-ubyte");
  const auto labels_path = find_file(dir, prefix + "-labels-idx1-ubyte");

  IdxArray images = read_idx(images_path, {.item_name = "images", .allow_nonfinite = false});
  KEEL_CHECK(images.type == IdxType::kUint8, images_path.string(), ": type is ",
             idx_type_name(images.type), "; expected uint8 images");
  KEEL_CHECK(images.dims.size() == 3 && images.dims[1] == FashionMnist::kRows &&
                 images.dims[2] == FashionMnist::kCols,
             images_path.string(), ": images have dims ", dims_text(images.dims),
             "; expected (N, 28, 28)");

  IdxArray labels = read_idx(labels_path, {.item_name = "labels", .allow_nonfinite = false});
  KEEL_CHECK(labels.type == IdxType::kUint8, labels_path.string(), ": type is ",
             idx_type_name(labels.type), "; expected uint8 labels");
  KEEL_CHECK(labels.dims.size() == 1, labels_path.string(), ": labels have dims ",
             dims_text(labels.dims), "; expected (N,)");
  KEEL_CHECK(labels.dims[0] == images.dims[0], labels_path.string(), ": label count ", labels.dims[0],
             " does not match the image count ", images.dims[0], " of ", images_path.string(),
             "; expected equal counts");
  for (size_t i = 0; i < labels.bytes.size(); ++i) {
    KEEL_CHECK(labels.bytes[i] < FashionMnist::kClasses, labels_path.string(), ": label ", i, " is ",
               int{labels.bytes[i]}, "; expected a class in 0..9");
  }
  return {images.dims[0], std::move(images.bytes), std::move(labels.bytes)};
}

}  // namespace

std::filesystem::path default_fashion_mnist_dir() {
  const char* env = std::getenv("KEEL_FASHION_MNIST_DIR");
  if (env != nullptr && *env != '\0') return env;
  return "/usr/share/datasets/fashion-mnist";
}

FashionMnist load_fashion_mnist(const std::filesystem::path& dir) {
  std::error_code ec;
  KEEL_CHECK(std::filesystem::is_directory(dir, ec), "Fashion-MNIST: directory ", dir.string(),
             std::filesystem::exists(dir, ec) ? " is not a directory" : " does not exist", "; ",
             kHowToGet);
  Split train = load_split(dir, "train");
  Split test = load_split(dir, "t10k");
  FashionMnist data;
  data.train_count = train.count;
  data.train_images = std::move(train.images);
  data.train_labels = std::move(train.labels);
  data.test_count = test.count;
  data.test_images = std::move(test.images);
  data.test_labels = std::move(test.labels);
  return data;
}

DataView fashion_mnist_view(const FashionMnist& data, FashionMnistSplit split) {
  const bool train = split == FashionMnistSplit::kTrain;
  DataView view;
  view.size = train ? data.train_count : data.test_count;
  view.sample_dims = {FashionMnist::kRows, FashionMnist::kCols};
  view.x_uint8 = (train ? data.train_images : data.test_images).data();
  view.x_scale = 1.0f / 255.0f;
  view.y_uint8 = (train ? data.train_labels : data.test_labels).data();
  view.y_width = 1;
  return view;
}

}  // namespace keel
