// keel_bench --report-cnn: the built-in seed-cnn (issue 13) timed as bench/run.sh's CNN table
// needs, one JSON object on stdout:
//   train_samples_per_s_b64, median_step_us_b64   fit over the first 6,400 training images at
//                                                  batch 64 (100 steps), `keel train`'s recipe
//                                                  (Keras SGD(): lr 0.01)
//   bare_step_us_b64   keel's convolution and matmul kernels of one such step called directly
//                      (forward, backward weights, backward data where fit needs it), after warm-up
//   alternating_step_us_b64, alternating_bare_us_b64
//                      the same two timed in turn: one train_on_batch step, then the bare kernels,
//                      40 times after 5 warm-up pairs (medians). On a shared machine the load moves
//                      within seconds; timed one after the other (the epoch, then the kernels) the
//                      step / bare ratio of one build ranged 0.98-1.36 over 9 runs.
//   predict_b1_us, predict_b1000_ms                eval-mode predict, medians
#include <cstdio>
#include <vector>

#include "bench_common.h"
#include "keel/io/fashion_mnist.h"
#include "keel/kernels/conv.h"
#include "keel/kernels/gemm.h"
#include "keel/layers/layer.h"
#include "keel/model/builtin_models.h"
#include "keel/optimizers/sgd.h"

namespace keel::bench {

namespace {

Conv2dGeometry conv3x3_same(int64_t batch, int64_t hw, int64_t in_c, int64_t out_c) {
  Conv2dGeometry g;
  g.batch = batch, g.in_h = g.in_w = g.out_h = g.out_w = hw, g.in_c = in_c, g.out_c = out_c;
  g.kernel_h = g.kernel_w = 3, g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 1;
  return g;
}

// seed-cnn's products at batch b: conv 1->32 (28x28, no dx: its input is the image), 32->32,
// 32->64 (14x14), 64->64, Dense 3136->128 and 128->10 (forward, dW, dx).
struct BareStep {
  explicit BareStep(int64_t b);
  void operator()();

 private:
  struct Conv {
    Conv2dGeometry g;
    bool dx;
  };
  int64_t b_;
  std::vector<Conv> convs_;
  std::vector<float> x_, y_, k_, dk_, w_, dw_;
};

BareStep::BareStep(int64_t b)
    : b_(b),
      convs_{{conv3x3_same(b, 28, 1, 32), false}, {conv3x3_same(b, 28, 32, 32), true},
             {conv3x3_same(b, 14, 32, 64), true}, {conv3x3_same(b, 14, 64, 64), true}},
      x_(size_t(b) * 28 * 28 * 64, 0.01f),
      y_(size_t(b) * 28 * 28 * 64, 0.01f),
      k_(size_t(3) * 3 * 64 * 64, 0.01f),
      dk_(k_.size()),
      w_(size_t(3136) * 128, 0.01f),
      dw_(w_.size()) {}

void BareStep::operator()() {
  for (const Conv& c : convs_) {
    conv2d_forward(c.g, x_.data(), k_.data(), y_.data());
    conv2d_backward_weights(c.g, x_.data(), y_.data(), dk_.data(), false);
    if (c.dx) conv2d_backward_data(c.g, y_.data(), k_.data(), x_.data());
  }
  for (const auto [fan_in, units] : {std::pair<int64_t, int64_t>{3136, 128}, {128, 10}}) {
    gemm(x_.data(), w_.data(), y_.data(), b_, units, fan_in, false, false, false);
    gemm(x_.data(), y_.data(), dw_.data(), fan_in, units, b_, true, false, false);
    gemm(y_.data(), w_.data(), x_.data(), b_, fan_in, units, false, true, false);
  }
}

// Medians of `reps` training steps (train_on_batch over successive batches of `data`) and bare
// steps, timed in turn after `warmup` pairs.
std::pair<double, double> alternating_seconds(Model& model, const DataView& data, int64_t b,
                                              int warmup, int reps) {
  BareStep bare(b);
  Tensor x({b, 28, 28}), y({b, 1});
  std::vector<double> steps, bares;
  int64_t first = 0;
  for (int i = 0; i < warmup + reps; ++i) {
    if (first + b > data.size) first = 0;
    data.gather(nullptr, first, b, x.data(), y.data());
    first += b;
    auto t = Clock::now();
    model.train_on_batch(x, y);
    const double step = since(t);
    t = Clock::now();
    bare();
    const double kernels = since(t);
    if (i >= warmup) steps.push_back(step), bares.push_back(kernels);
  }
  return {median(steps), median(bares)};
}

double bare_step_seconds(int64_t b) {
  BareStep step(b);
  return median_call_seconds(5, 30, [&] { step(); });
}

}  // namespace

int run_cnn_report() {
  const FashionMnist fm = load_fashion_mnist(default_fashion_mnist_dir());
  const DataView all = fashion_mnist_view(fm, FashionMnistSplit::kTrain);
  reset_default_names();
  Model model = seed_cnn();
  model.build(std::nullopt, 42);
  const TrainResult r = train_one_epoch(all.slice(0, 6400), 64, model,
                                        std::make_shared<SGD>(SGDOptions{.learning_rate = 0.01}));
  const double bare = bare_step_seconds(64);
  const auto [alternating_step, alternating_bare] = alternating_seconds(model, all, 64, 5, 40);
  Tensor x1000({1000, 28, 28});
  all.gather(nullptr, 0, 1000, x1000.data(), nullptr);
  Tensor x1({1, 28, 28});
  std::copy_n(x1000.data(), 784, x1.data());
  const double t1 = median_call_seconds(50, 500, [&] { return model.predict(x1, 1); });
  const double t1000 = median_call_seconds(1, 7, [&] { return model.predict(x1000, 1000); });
  std::printf("{\"train_samples_per_s_b64\": %.1f, \"median_step_us_b64\": %.1f, "
              "\"bare_step_us_b64\": %.1f, \"alternating_step_us_b64\": %.1f, "
              "\"alternating_bare_us_b64\": %.1f, \"predict_b1_us\": %.2f, \"predict_b1000_ms\": %.3f}\n",
              r.samples_per_second, r.median_step_seconds * 1e6, bare * 1e6, alternating_step * 1e6,
              alternating_bare * 1e6, t1 * 1e6, t1000 * 1e3);
  return 0;
}

}  // namespace keel::bench
