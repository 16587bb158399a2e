// keel_bench --phases [BATCH]: where one training step of the seed model goes, phase by phase
// (gather, forward, loss, backward, clip + optimizer update, as fit() runs them), each timed over
// many steps on real Fashion-MNIST batches. For finding the step time the GEMMs do not explain.
#include "bench_common.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "keel/core/error.h"
#include "keel/core/rng.h"
#include "keel/io/fashion_mnist.h"
#include "keel/losses/loss.h"
#include "keel/model/builtin_models.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/sgd.h"

namespace keel::bench {

int run_phases(long long batch_arg) {
  const auto batch = static_cast<int64_t>(batch_arg);
  KEEL_CHECK(batch >= 1 && batch <= 55000, "keel_bench --phases: batch ", batch, " must be in [1, 55000]");
  using Clock = std::chrono::steady_clock;
  const FashionMnist fm = load_fashion_mnist(default_fashion_mnist_dir());
  const DataView all = fashion_mnist_view(fm, FashionMnistSplit::kTrain).slice(0, 55000);

  reset_default_names();
  Model model = seed_mlp();
  model.build(std::nullopt, 42);
  SGD sgd(SGDOptions{.learning_rate = 0.01, .clipnorm = 1.0});
  auto loss = make_loss("sparse_categorical_crossentropy");
  std::vector<ParamRef> params;
  for (Variable* v : model.variables())
    if (v->trainable) params.push_back({v->name, v->value, v->grad, v->size()});

  std::vector<int64_t> order(static_cast<size_t>(all.size));
  std::iota(order.begin(), order.end(), int64_t{0});
  Rng rng(42, 7);
  for (int64_t i = all.size - 1; i > 0; --i)
    std::swap(order[i], order[rng.uniform_int(static_cast<uint64_t>(i + 1))]);
  std::vector<float> x(static_cast<size_t>(batch * 784)), y(static_cast<size_t>(batch)),
      dloss(static_cast<size_t>(batch * 10));

  const char* names[] = {"gather", "forward", "loss", "backward (overwrites gradients)",
                         "clip + SGD update"};
  constexpr int kPhases = 5;
  double total[kPhases] = {};
  const int64_t steps = all.size / batch;
  int64_t timed = 0;
  for (int64_t s = 0; s < steps; ++s) {
    Clock::time_point t[kPhases + 1];
    t[0] = Clock::now();
    all.gather(order.data(), s * batch, batch, x.data(), y.data());
    if (s + 1 < steps) all.prefetch(order.data(), (s + 1) * batch, batch);  // as fit() does
    t[1] = Clock::now();
    const float* out = model.forward(x.data(), batch, Mode::kTraining);
    t[2] = Clock::now();
    LossBatch lb{out, model.output_logits(), LogitsOf::kSoftmax, y.data(), batch, 10, 1};
    bool wrt_logits = false;
    loss->compute(lb, dloss.data(), &wrt_logits);
    t[3] = Clock::now();
    model.backward(x.data(), dloss.data(), batch, wrt_logits, Model::GradientUpdate::kOverwrite);
    t[4] = Clock::now();
    sgd.apply_gradients(params);
    t[5] = Clock::now();
    if (s < steps / 10) continue;  // warm-up
    ++timed;
    for (int p = 0; p < kPhases; ++p) total[p] += std::chrono::duration<double>(t[p + 1] - t[p]).count();
  }
  double sum = 0.0;
  std::printf("batch %lld, %lld timed steps (µs per step)\n", static_cast<long long>(batch),
              static_cast<long long>(timed));
  for (int p = 0; p < kPhases; ++p) {
    std::printf("  %-20s %9.1f\n", names[p], total[p] / static_cast<double>(timed) * 1e6);
    sum += total[p];
  }
  std::printf("  %-20s %9.1f\n", "step", sum / static_cast<double>(timed) * 1e6);

  // The same passes layer by layer (training mode), through Layer::forward / backward directly.
  const int64_t layers = model.num_layers();
  std::vector<std::vector<float>> act(static_cast<size_t>(layers));
  std::vector<float> dx_a(static_cast<size_t>(batch * 784)), dx_b(static_cast<size_t>(batch * 784));
  for (int64_t i = 0; i < layers; ++i)
    act[size_t(i)].resize(static_cast<size_t>(batch * model.layer(i).output_shape().sample_size()));
  std::vector<double> fwd(static_cast<size_t>(layers)), bwd(static_cast<size_t>(layers));
  constexpr int kReps = 200;
  for (int rep = 0; rep < kReps + 20; ++rep) {
    all.gather(order.data(), (rep % steps) * batch, batch, x.data(), y.data());
    const float* in = x.data();
    for (int64_t i = 0; i < layers; ++i) {
      const auto t0 = Clock::now();
      auto& layer = static_cast<UnaryLayer&>(model.layer(i));
      layer.unary_forward(in, act[size_t(i)].data(), batch, Mode::kTraining);
      if (rep >= 20) fwd[size_t(i)] += std::chrono::duration<double>(Clock::now() - t0).count();
      in = act[size_t(i)].data();
    }
    LossBatch lb{in, model.output_logits(), LogitsOf::kSoftmax, y.data(), batch, 10, 1};
    bool wrt_logits = false;
    loss->compute(lb, dloss.data(), &wrt_logits);
    const float* dy = dloss.data();
    for (int64_t i = layers - 1; i >= 1; --i) {  // layer 0 (Flatten) needs no gradient
      float* dx = i == 1 ? nullptr : (i % 2 ? dx_a.data() : dx_b.data());
      const float* xin = act[size_t(i - 1)].data();
      const auto t0 = Clock::now();
      auto& layer = static_cast<UnaryLayer&>(model.layer(i));
      if (i == layers - 1) layer.unary_backward_from_logits(xin, dy, dx, batch, Write::kSet);
      else layer.unary_backward(xin, act[size_t(i)].data(), dy, dx, batch, Write::kSet);
      if (rep >= 20) bwd[size_t(i)] += std::chrono::duration<double>(Clock::now() - t0).count();
      dy = dx;
    }
  }
  std::printf("per layer (µs): forward / backward\n");
  for (int64_t i = 0; i < layers; ++i) {
    std::printf("  %-22s %9.1f %9.1f\n", model.layer(i).name().c_str(), fwd[size_t(i)] / kReps * 1e6,
                bwd[size_t(i)] / kReps * 1e6);
  }
  return 0;
}

}  // namespace keel::bench
