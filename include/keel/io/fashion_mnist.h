// Fashion-MNIST (Zalando): 60000 training and 10000 test 28x28 grayscale images in 10 classes,
// as the four IDX files of the original distribution, raw or gzip'd. Debian's
// `dataset-fashion-mnist` package installs them in /usr/share/datasets/fashion-mnist.
//
// Data stays uint8 in memory (47 MB instead of 188 MB as float); the training pipeline converts
// each batch to float while gathering it.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "keel/model/data_view.h"

namespace keel {

struct FashionMnist {
  static constexpr int64_t kRows = 28;
  static constexpr int64_t kCols = 28;
  static constexpr int64_t kClasses = 10;

  int64_t train_count = 0;
  std::vector<uint8_t> train_images;  // (train_count, 28, 28), row-major, 0..255
  std::vector<uint8_t> train_labels;  // (train_count,), 0..9
  int64_t test_count = 0;
  std::vector<uint8_t> test_images;   // (test_count, 28, 28)
  std::vector<uint8_t> test_labels;   // (test_count,)
};

// Label -> class name, as in the dataset's documentation ("T-shirt/top", ..., "Ankle boot").
inline constexpr std::array<std::string_view, 10> kFashionMnistClassNames = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// $KEEL_FASHION_MNIST_DIR if set and non-empty, else /usr/share/datasets/fashion-mnist.
std::filesystem::path default_fashion_mnist_dir();

// Loads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from `dir` (the .gz file wins when both
// exist). Validates images are (N, 28, 28) uint8, labels (N,) uint8 in 0..9, and that each split
// has as many labels as images. A missing directory or file throws a keel::Error that says how to
// get the data.
FashionMnist load_fashion_mnist(const std::filesystem::path& dir);

enum class FashionMnistSplit { kTrain, kTest };

// One split as keel trains on it, Keras's convention for this data (Hands-On ML): pixels / 255
// (scaled while gathering each batch, the data stays uint8), labels as class ids (one per
// sample). The view points into `data`, which must outlive it.
DataView fashion_mnist_view(const FashionMnist& data, FashionMnistSplit split);

}  // namespace keel
