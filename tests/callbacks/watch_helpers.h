// Shared by the issue-6 tests: a small separable problem, a small BN model, paths and a shell.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>
#include <string>
#include <vector>

#include "keel/core/error.h"
#include "keel/core/rng.h"
#include "keel/core/tensor.h"
#include "keel/layers/layers.h"
#include "keel/model/sequential.h"
#include "temp_dir.h"

namespace keel::watch_test {

// 3 classes on 6 features, separable.
inline void make_data(int64_t n, Tensor& x, Tensor& y, uint64_t seed = 3) {
  Rng rng(seed);
  x = Tensor({n, 6});
  y = Tensor({n, 1});
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = static_cast<int64_t>(rng.uniform_int(3));
    y[i] = static_cast<float>(label);
    for (int64_t j = 0; j < 6; ++j)
      x[i * 6 + j] = static_cast<float>(rng.normal() * 0.5 + (j % 3 == label ? 2.0 : 0.0));
  }
}

inline Sequential small_model() {
  return Sequential(Flatten({.input_shape = {6}}), Dense(16, {.activation = "relu"}),
                    BatchNormalization(), Dense(3, {.activation = "softmax"}));
}

inline std::vector<float> arena(Model& m) {
  auto a = m.parameter_arena();
  return {a.begin(), a.end()};
}

// A fresh directory under the system temp dir, removed with everything in it when the returned
// object goes out of scope.
inline testing::TempDir fresh_dir(const std::string& name) { return testing::TempDir("watch_" + name); }

// Runs a shell command, returns (exit status, stdout).
inline std::pair<int, std::string> run(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return {-1, out};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// The keel executable: $KEEL_BIN (ctest) or <build dir>/keel.
inline std::string keel_bin() {
  if (const char* env = std::getenv("KEEL_BIN")) return env;
  return std::string(KEEL_BINARY_DIR) + "/keel";
}

}  // namespace keel::watch_test
