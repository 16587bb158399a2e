// keel_bench --report-rnn: the seed-lstm numbers of bench/rnn.sh (issue 14), as one JSON object.
//   * training seed-lstm (LSTM(128) over 28 rows of 28 pixels, Dense(10, softmax)) one epoch of
//     the first 12,800 Fashion-MNIST training images at batch 64 and 32, Adam lr 0.001 with
//     clipnorm 1 (the recipe), through the public fit(), after a 640-sample warm-up fit;
//   * predict latency of one sequence (batch 1, median of 5,000 calls) and of 10,000 sequences.
// bench/torch_seed_lstm.py does the same with PyTorch.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "bench_common.h"
#include "keel/io/fashion_mnist.h"
#include "keel/model/builtin_models.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/adam.h"

namespace keel::bench {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

constexpr int64_t kTrainSamples = 12800;

Model compiled_seed_lstm() {
  Model model = builtin_model("seed-lstm");
  model.build(std::nullopt, 42);
  model.compile({.optimizer = std::make_shared<Adam>(AdamOptions{.learning_rate = 0.001, .clipnorm = 1.0}),
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});
  return model;
}

}  // namespace

int run_rnn_report() {
  const FashionMnist fm = load_fashion_mnist(default_fashion_mnist_dir());
  const DataView all = fashion_mnist_view(fm, FashionMnistSplit::kTrain);
  std::printf("{");
  for (int64_t batch : {64, 32}) {
    Model model = compiled_seed_lstm();
    model.fit(all.slice(0, 640), {.batch_size = batch, .epochs = 1, .verbose = 0});
    const History h = model.fit(all.slice(0, kTrainSamples), {.batch_size = batch, .epochs = 1, .verbose = 0});
    std::printf("\"train_samples_per_s_b%lld\": %.1f, ", static_cast<long long>(batch),
                static_cast<double>(h.train_samples) / h.train_seconds);
  }
  Model model = compiled_seed_lstm();
  Tensor x10k({10000, 28, 28});
  for (int64_t i = 0; i < x10k.size(); ++i) x10k[i] = static_cast<float>(fm.test_images[size_t(i)]) / 255.0f;
  Tensor x1({1, 28, 28});
  std::copy_n(x10k.data(), 784, x1.data());
  for (int i = 0; i < 500; ++i) model.predict(x1, 1);
  std::vector<double> t1;
  for (int i = 0; i < 5000; ++i) {
    const auto t = Clock::now();
    const Tensor y = model.predict(x1, 1);
    t1.push_back(since(t));
  }
  model.predict(x10k, 10000);
  std::vector<double> t10k;
  for (int r = 0; r < 3; ++r) {
    const auto t = Clock::now();
    const Tensor y = model.predict(x10k, 10000);
    t10k.push_back(since(t));
  }
  std::printf("\"predict_b1_us\": %.2f, \"predict_b10000_ms\": %.2f}\n", 1e6 * median(t1),
              1e3 * median(t10k));
  return 0;
}

}  // namespace keel::bench
