// Test helpers shared by the deployment tests: seed models after a few real training steps (so BN
// gamma/beta/moving statistics are non-trivial), fresh random inputs, scratch directories.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <unistd.h>

#include "keel/core/rng.h"
#include "keel/core/tensor.h"
#include "keel/model/builtin_models.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/sgd.h"

namespace keel::testing {

// (n, 28, 28) values in [0, 1) with a per-image offset, so batches have varied statistics.
inline Tensor random_images(int64_t n, uint64_t seed) {
  Tensor x({n, 28, 28});
  Rng rng(seed);
  for (int64_t i = 0; i < n; ++i) {
    const float offset = 0.3f * rng.uniform();
    for (int64_t j = 0; j < 784; ++j) x[i * 784 + j] = offset + 0.7f * rng.uniform();
  }
  return x;
}

// A built-in seed model after `steps` SGD steps (lr 0.05) on random images with random labels.
// BN momentum is 0.99, so 40 steps move the moving statistics by about a third of the way.
inline Model trained_seed_model(std::string_view name, int steps = 40, uint64_t seed = 3) {
  Model m = builtin_model(name);
  m.build(std::nullopt, seed);
  m.compile({.optimizer = std::make_shared<SGD>(SGDOptions{.learning_rate = 0.05}),
             .loss = "sparse_categorical_crossentropy"});
  Rng rng(seed + 100);
  for (int s = 0; s < steps; ++s) {
    const Tensor x = random_images(32, seed * 1000 + uint64_t(s));
    Tensor y({32});
    for (int64_t i = 0; i < 32; ++i) y[i] = static_cast<float>(rng.uniform_int(10));
    m.train_on_batch(x, y);
  }
  return m;
}

// A fresh, empty directory under the system temp dir, removed when the object dies.
class ScratchDir {
 public:
  explicit ScratchDir(std::string_view tag)
      : path_(std::filesystem::temp_directory_path() /
              ("keel_" + std::string(tag) + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace keel::testing
