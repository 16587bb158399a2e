// libtorch (PyTorch's C++ API) baseline for bench/run.sh's CNN table: bench/torch_seed_cnn.py's
// benchmark mode without Python (same model, initialisation, recipe and JSON keys; see its
// docstring). Built by bench/run.sh like seed_mlp.cpp.
// Usage: seed_cnn [--data DIR] [--samples N]   (training at batch 64 over the first N images)
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common.h"

namespace {

using libtorch_bench::median_latency;
using libtorch_bench::Options;
using libtorch_bench::parse_options;
using libtorch_bench::read_idx;
using libtorch_bench::seconds_since;

// Keras he_normal: normal with stddev sqrt(2 / fan_in) / .87962566, redrawn beyond 2 sd.
void he_normal(torch::Tensor& w, int64_t fan_in) {
  torch::NoGradGuard no_grad;
  const double sd = std::sqrt(2.0 / double(fan_in)) / 0.87962566103423978;
  w.normal_(0.0, sd);
  for (auto out = w.abs() > 2 * sd; out.any().item<bool>(); out = w.abs() > 2 * sd)
    w.index_put_({out}, torch::randn({out.sum().item<int64_t>()}) * sd);
}

void add_conv_block(torch::nn::Sequential& s, int64_t cin, int64_t cout) {
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(cin, cout, 3).padding(1).bias(false));
  he_normal(conv->weight, 9 * cin);
  s->push_back(conv);
  s->push_back(torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(cout).eps(1e-3).momentum(0.01)));
  s->push_back(torch::nn::ReLU());
}

torch::nn::Sequential seed_cnn() {
  torch::nn::Sequential s;
  add_conv_block(s, 1, 32);
  add_conv_block(s, 32, 32);
  s->push_back(torch::nn::MaxPool2d(2));
  add_conv_block(s, 32, 64);
  add_conv_block(s, 64, 64);
  s->push_back(torch::nn::MaxPool2d(2));
  s->push_back(torch::nn::Flatten());
  torch::nn::Linear dense(torch::nn::LinearOptions(3136, 128).bias(false));
  he_normal(dense->weight, 3136);
  s->push_back(dense);
  s->push_back(torch::nn::BatchNorm1d(torch::nn::BatchNorm1dOptions(128).eps(1e-3).momentum(0.01)));
  s->push_back(torch::nn::ReLU());
  s->push_back(torch::nn::Dropout(0.3));
  torch::nn::Linear head(128, 10);
  torch::nn::init::xavier_uniform_(head->weight);
  torch::nn::init::zeros_(head->bias);
  s->push_back(head);
  return s;
}

torch::Tensor images(const torch::Tensor& x_u8, const torch::Tensor& idx) {
  return x_u8.index_select(0, idx).to(torch::kFloat).mul_(1.0 / 255.0).unsqueeze(1);
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv, "seed_cnn", 6400);
  const std::string& data = options.data;
  const int64_t samples = options.samples;
  torch::set_num_threads(2);
  torch::manual_seed(42);
  const auto x = read_idx(data + "/train-images-idx3-ubyte.gz");
  const auto y = read_idx(data + "/train-labels-idx1-ubyte.gz").to(torch::kLong);
  auto model = seed_cnn();
  torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.01));
  model->train();
  auto gen = at::detail::createCPUGenerator(42);
  const auto order = torch::randperm(samples, gen, torch::kLong);
  const int64_t batch = 64;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t first = 0; first < samples; first += batch) {
    const auto idx = order.slice(0, first, std::min(first + batch, samples));
    opt.zero_grad(true);
    torch::nn::functional::cross_entropy(model->forward(images(x, idx)), y.index_select(0, idx)).backward();
    opt.step();
  }
  const double train = double(samples) / seconds_since(t0);
  const double b1 = median_latency(model, images(x, torch::arange(1)), 1000);
  const double b1000 = median_latency(model, images(x, torch::arange(1000)), 20);
  std::printf("{\"peer\": \"libtorch\", \"version\": \"libtorch %s (C++)\", \"threads\": %d, "
              "\"train_samples_per_s_b64\": %.3f, \"predict_b1_us\": %.3f, \"predict_b1000_ms\": %.3f}\n",
              TORCH_VERSION, torch::get_num_threads(), train, b1 * 1e6, b1000 * 1e3);
  return 0;
}
