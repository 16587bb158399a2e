// libtorch (PyTorch's C++ API) baseline for bench/run.sh: bench/torch_seed_mlp.py without Python.
// Same model, initialisation, recipe, data handling and JSON keys (see that script's docstring).
// Built by bench/run.sh against the libtorch inside the PyPI torch wheel (MKL, oneDNN):
//   g++ -O2 -std=c++20 bench/libtorch/seed_mlp.cpp $(torch include/lib flags) -lz  (common.h: IDX, timing)
// Usage: seed_mlp [--data DIR] [--samples N]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common.h"

namespace {

using libtorch_bench::median_latency;
using libtorch_bench::Options;
using libtorch_bench::parse_options;
using libtorch_bench::read_idx;
using libtorch_bench::seconds_since;

torch::nn::Linear dense(int64_t fan_in, int64_t units, bool he) {
  torch::nn::Linear layer(fan_in, units);
  torch::NoGradGuard no_grad;
  if (he) {  // Keras he_normal: normal with stddev sqrt(2 / fan_in) / .87962566, redrawn beyond 2 sd
    const double sd = std::sqrt(2.0 / double(fan_in)) / 0.87962566103423978;
    auto& w = layer->weight;
    w.normal_(0.0, sd);
    for (auto out = w.abs() > 2 * sd; out.any().item<bool>(); out = w.abs() > 2 * sd)
      w.index_put_({out}, torch::randn({out.sum().item<int64_t>()}) * sd);
  } else {
    torch::nn::init::xavier_uniform_(layer->weight);
  }
  torch::nn::init::zeros_(layer->bias);
  return layer;
}

torch::nn::BatchNorm1d bn(int64_t c) {
  return torch::nn::BatchNorm1d(torch::nn::BatchNorm1dOptions(c).eps(1e-3).momentum(0.01));
}

// Softmax folded into the loss (cross_entropy takes logits), as Keras does.
torch::nn::Sequential seed_model() {
  return torch::nn::Sequential(torch::nn::Flatten(), bn(784), dense(784, 300, true), torch::nn::ELU(),
                               bn(300), dense(300, 100, true), torch::nn::ELU(), bn(100),
                               dense(100, 10, false));
}

double train_epoch(torch::nn::Sequential& model, const torch::Tensor& x_u8, const torch::Tensor& y,
                   int64_t batch, int64_t samples) {
  torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.01));
  model->train();
  auto gen = at::detail::createCPUGenerator(42);
  const auto order = torch::randperm(samples, gen, torch::kLong);
  const auto params = model->parameters();
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t first = 0; first < samples; first += batch) {
    const auto idx = order.slice(0, first, std::min(first + batch, samples));
    const auto xb = x_u8.index_select(0, idx).to(torch::kFloat).mul_(1.0 / 255.0);
    const auto yb = y.index_select(0, idx);
    opt.zero_grad(true);
    const auto loss = torch::nn::functional::cross_entropy(model->forward(xb), yb);
    loss.backward();
    for (const auto& p : params) torch::nn::utils::clip_grad_norm_(p, 1.0);  // Keras clipnorm: per variable
    opt.step();
  }
  return double(samples) / seconds_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv, "seed_mlp", 55000);
  const std::string& data = options.data;
  const int64_t samples = options.samples;
  torch::set_num_threads(2);
  torch::manual_seed(0);
  const auto x = read_idx(data + "/train-images-idx3-ubyte.gz");
  const auto y = read_idx(data + "/train-labels-idx1-ubyte.gz").to(torch::kLong);
  double train[2];
  const int64_t batches[2] = {32, 256};
  for (int i = 0; i < 2; ++i) {
    auto model = seed_model();
    train[i] = train_epoch(model, x, y, batches[i], samples);
  }
  auto model = seed_model();
  train_epoch(model, x, y, 256, 2560);  // non-trivial BN statistics
  const auto x1 = x.slice(0, 0, 1).to(torch::kFloat).div(255.0);
  const auto x10k = x.slice(0, 0, 10000).to(torch::kFloat).div(255.0);
  const double b1 = median_latency(model, x1, 2000), b10k = median_latency(model, x10k, 20);
  std::printf(
      "{\"peer\": \"libtorch\", \"version\": \"libtorch %s (C++)\", \"blas\": \"%s\", \"threads\": %d, "
      "\"train_samples_per_s_b32\": %.3f, \"train_samples_per_s_b256\": %.3f, "
      "\"predict_b1_us\": %.3f, \"predict_b10000_ms\": %.3f}\n",
      TORCH_VERSION, at::globalContext().hasMKL() ? "mkl, oneDNN" : "not MKL", torch::get_num_threads(),
      train[0], train[1], b1 * 1e6, b10k * 1e3);
  return 0;
}
