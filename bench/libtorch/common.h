// Shared by the libtorch baselines (seed_mlp.cpp, seed_cnn.cpp): reading Fashion-MNIST's IDX files
// and timing.
#pragma once

#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace libtorch_bench {

// An IDX file (gzipped), as a uint8 tensor of its dims.
inline torch::Tensor read_idx(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) {
    std::fprintf(stderr, "libtorch bench: cannot open %s\n", path.c_str());
    std::exit(2);
  }
  std::vector<unsigned char> bytes;
  unsigned char chunk[1 << 16];
  for (int got; (got = gzread(f, chunk, sizeof(chunk))) > 0;) bytes.insert(bytes.end(), chunk, chunk + got);
  gzclose(f);
  const int ndim = bytes.at(3);
  std::vector<int64_t> dims;
  for (int i = 0; i < ndim; ++i) {
    const unsigned char* p = &bytes.at(4 + 4 * i);
    dims.push_back((int64_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3]);
  }
  auto t = torch::empty(dims, torch::kUInt8);
  std::copy(bytes.begin() + 4 + 4 * ndim, bytes.end(), t.data_ptr<uint8_t>());
  return t;
}

// The baselines' flags: --data DIR (default $KEEL_FASHION_MNIST_DIR, else Debian's data set) and
// --samples N. Exits with a message naming the program on anything else.
struct Options {
  std::string data;
  int64_t samples;
};

inline Options parse_options(int argc, char** argv, const char* program, int64_t default_samples) {
  const char* env = std::getenv("KEEL_FASHION_MNIST_DIR");
  Options o{env && *env ? env : "/usr/share/datasets/fashion-mnist", default_samples};
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 < argc && flag == "--data") o.data = argv[i + 1];
    else if (i + 1 < argc && flag == "--samples") o.samples = std::atoll(argv[i + 1]);
    else {
      std::fprintf(stderr, "%s: unknown flag or missing value: %s (allowed: --data DIR, --samples N)\n",
                   program, flag.c_str());
      std::exit(2);
    }
  }
  return o;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline double median_latency(torch::nn::Sequential& model, const torch::Tensor& x, int repeats) {
  model->eval();
  torch::NoGradGuard no_grad;
  for (int i = 0; i < std::max(3, repeats / 10); ++i) model->forward(x);
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    model->forward(x);
    times.push_back(seconds_since(t0));
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

}  // namespace libtorch_bench
