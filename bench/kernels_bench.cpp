// Micro-benchmarks: each fast kernel against its naive reference, at the seed model's shapes
// (batch 32 and 256; widths 784, 300, 100, 10).
#include <benchmark/benchmark.h>

#include <vector>

#include "keel/core/rng.h"
#include "keel/kernels/activations.h"
#include "keel/kernels/batch_norm.h"
#include "keel/kernels/bf16.h"
#include "keel/kernels/bias.h"
#include "keel/kernels/gemm.h"
#include "keel/kernels/pool.h"
#include "keel/model/data_view.h"

namespace keel {
namespace {

std::vector<float> random_vector(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(rng.normal());
  return v;
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int64_t rows : {32, 256})
    for (int64_t cols : {784, 300, 100}) b->Args({rows, cols});
}

template <bool kRef>
void BM_BiasElu(benchmark::State& state) {
  const int64_t r = state.range(0), c = state.range(1);
  auto z = random_vector(r * c, 1), bias = random_vector(c, 2), y = z;
  for (auto _ : state) {
    if (kRef) bias_activation_forward_ref(z.data(), bias.data(), y.data(), r, c, ActivationKind::kElu);
    else bias_activation_forward(z.data(), bias.data(), y.data(), r, c, ActivationKind::kElu);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * r * c * 8);
}
BENCHMARK(BM_BiasElu<false>)->Apply(shapes);
BENCHMARK(BM_BiasElu<true>)->Apply(shapes);

template <bool kRef>
void BM_EluBackward(benchmark::State& state) {
  const int64_t r = state.range(0), c = state.range(1);
  auto y = random_vector(r * c, 1), dy = random_vector(r * c, 2), dz = y;
  for (auto _ : state) {
    if (kRef) activation_backward_ref(ActivationKind::kElu, nullptr, y.data(), dy.data(), dz.data(), r, c);
    else activation_backward(ActivationKind::kElu, nullptr, y.data(), dy.data(), dz.data(), r, c);
    benchmark::DoNotOptimize(dz.data());
  }
  state.SetBytesProcessed(state.iterations() * r * c * 12);
}
BENCHMARK(BM_EluBackward<false>)->Apply(shapes);
BENCHMARK(BM_EluBackward<true>)->Apply(shapes);

// Softmax of the output layer (10 classes): the batch-wide vector exp against libm per logit.
template <bool kRef>
void BM_Softmax(benchmark::State& state) {
  const int64_t r = state.range(0), c = state.range(1);
  auto z = random_vector(r * c, 1), y = z;
  for (auto _ : state) {
    if (kRef) activation_forward_ref(ActivationKind::kSoftmax, z.data(), y.data(), r, c);
    else activation_forward(ActivationKind::kSoftmax, z.data(), y.data(), r, c);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * r * c * 8);
}
BENCHMARK(BM_Softmax<false>)->Args({32, 10})->Args({256, 10});
BENCHMARK(BM_Softmax<true>)->Args({32, 10})->Args({256, 10});

// Training-mode BN forward: statistics + affine form + normalise.
template <bool kRef>
void BM_BatchNormForward(benchmark::State& state) {
  const int64_t r = state.range(0), c = state.range(1);
  auto x = random_vector(r * c, 1), y = x;
  std::vector<float> mean(c), var(c), scale(c), shift(c), inv(c), gamma(c, 1.0f), beta(c, 0.0f);
  for (auto _ : state) {
    if (kRef) {
      batch_norm_stats_ref(x.data(), mean.data(), var.data(), r, c, 1);
    } else {
      batch_norm_stats(x.data(), mean.data(), var.data(), r, c, 1);
    }
    batch_norm_scale_shift(mean.data(), var.data(), gamma.data(), beta.data(), 1e-3f,
                           scale.data(), shift.data(), inv.data(), c);
    if (kRef) batch_norm_apply_ref(x.data(), scale.data(), shift.data(), y.data(), r, c, 1);
    else batch_norm_apply(x.data(), scale.data(), shift.data(), y.data(), r, c, 1);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * r * c * 12);
}
BENCHMARK(BM_BatchNormForward<false>)->Apply(shapes);
BENCHMARK(BM_BatchNormForward<true>)->Apply(shapes);

template <bool kRef>
void BM_BatchNormBackward(benchmark::State& state) {
  const int64_t r = state.range(0), c = state.range(1);
  auto x = random_vector(r * c, 1), dy = random_vector(r * c, 2), dx = x;
  std::vector<float> mean(c, 0.1f), inv(c, 1.1f), gamma(c, 0.9f), dg(c), db(c);
  for (auto _ : state) {
    if (kRef) {
      batch_norm_backward_ref(x.data(), dy.data(), mean.data(), inv.data(), gamma.data(),
                              dx.data(), dg.data(), db.data(), r, c, 1);
    } else {
      batch_norm_backward(x.data(), dy.data(), mean.data(), inv.data(), gamma.data(), dx.data(),
                          dg.data(), db.data(), r, c, 1);
    }
    benchmark::DoNotOptimize(dx.data());
  }
  state.SetBytesProcessed(state.iterations() * r * c * 12);
}
BENCHMARK(BM_BatchNormBackward<false>)->Apply(shapes);
BENCHMARK(BM_BatchNormBackward<true>)->Apply(shapes);

// The seed CNN's BN -> ReLU -> MaxPooling2D(2) at batch 64 (28 x 28 x 32 and 14 x 14 x 64), as the
// plan runs it fused (kFused: max_pool2d_forward_affine_relu, the BN backward expanding the pool's
// gradient chunk by chunk) and as separate layers (the ReLU still fused into the BN).
Pool2dGeometry seed_cnn_pool(int64_t size, int64_t channels) {
  return Pool2dGeometry{64, size, size, channels, size / 2, size / 2, 2, 2, 2, 2, 0, 0};
}
template <bool kFused>
void BM_BatchNormReluPoolForward(benchmark::State& state) {
  const Pool2dGeometry g = seed_cnn_pool(state.range(0), state.range(1));
  const int64_t rows = g.batch * g.in_h * g.in_w, c = g.channels;
  auto x = random_vector(rows * c, 1), y = x, pooled = random_vector(rows * c / 4, 2);
  std::vector<float> scale(size_t(c), 0.9f), shift(size_t(c), 0.1f);
  std::vector<uint8_t> argmax(pooled.size());
  for (auto _ : state) {
    if (kFused) {
      max_pool2d_forward_affine_relu(g, x.data(), scale.data(), shift.data(), pooled.data(), argmax.data());
    } else {
      batch_norm_apply(x.data(), scale.data(), shift.data(), y.data(), rows, c, 1, true);
      max_pool2d_forward(g, y.data(), pooled.data(), argmax.data());
    }
    benchmark::DoNotOptimize(pooled.data());
  }
}
BENCHMARK(BM_BatchNormReluPoolForward<false>)->Args({28, 32})->Args({14, 64});
BENCHMARK(BM_BatchNormReluPoolForward<true>)->Args({28, 32})->Args({14, 64});

template <bool kFused>
void BM_BatchNormReluPoolBackward(benchmark::State& state) {
  const Pool2dGeometry g = seed_cnn_pool(state.range(0), state.range(1));
  const int64_t rows = g.batch * g.in_h * g.in_w, c = g.channels;
  auto x = random_vector(rows * c, 1), dy_full = x, dx = x, dy = random_vector(rows * c / 4, 2);
  std::vector<float> mean(size_t(c), 0.1f), inv(size_t(c), 1.1f), gamma(size_t(c), 0.9f), dg(mean), db(mean);
  std::vector<float> scale(size_t(c), 0.9f), shift(size_t(c), 0.1f), pooled(dy.size());
  std::vector<uint8_t> argmax(dy.size());
  max_pool2d_forward_affine_relu(g, x.data(), scale.data(), shift.data(), pooled.data(), argmax.data());
  const FusedRelu relu{pooled.data(), scale.data(), shift.data()};
  for (auto _ : state) {
    if (kFused) {
      batch_norm_backward(x.data(), dy.data(), mean.data(), inv.data(), gamma.data(), dx.data(),
                          dg.data(), db.data(), rows, c, 1, relu, FusedMaxPool{&g, argmax.data()});
    } else {
      max_pool2d_backward(g, x.data(), dy.data(), dy_full.data(), argmax.data());
      batch_norm_backward(x.data(), dy_full.data(), mean.data(), inv.data(), gamma.data(), dx.data(),
                          dg.data(), db.data(), rows, c, 1, relu);
    }
    benchmark::DoNotOptimize(dx.data());
  }
}
BENCHMARK(BM_BatchNormReluPoolBackward<false>)->Args({28, 32})->Args({14, 64});
BENCHMARK(BM_BatchNormReluPoolBackward<true>)->Args({28, 32})->Args({14, 64});

template <bool kRef>
void BM_BiasBackward(benchmark::State& state) {
  const int64_t r = state.range(0), c = state.range(1);
  auto dy = random_vector(r * c, 2);
  std::vector<float> db(c);
  for (auto _ : state) {
    if (kRef) bias_backward_ref(dy.data(), db.data(), r, c);
    else bias_backward(dy.data(), db.data(), r, c);
    benchmark::DoNotOptimize(db.data());
  }
}
BENCHMARK(BM_BiasBackward<false>)->Apply(shapes);
BENCHMARK(BM_BiasBackward<true>)->Apply(shapes);

// Forward GEMM of one Dense layer: (m, k)·(k, n); m = 1 exercises the small-M path.
template <bool kRef>
void BM_GemmForward(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  auto a = random_vector(m * k, 1), b = random_vector(k * n, 2);
  std::vector<float> c(static_cast<size_t>(m * n));
  for (auto _ : state) {
    if (kRef) gemm_ref(a.data(), b.data(), c.data(), m, n, k, false, false, false);
    else gemm(a.data(), b.data(), c.data(), m, n, k, false, false, false);
    benchmark::DoNotOptimize(c.data());
  }
  state.SetItemsProcessed(state.iterations() * 2 * m * n * k);
}
BENCHMARK(BM_GemmForward<false>)->Args({1, 784, 300})->Args({1, 300, 100})->Args({32, 784, 300})->Args({256, 784, 300})->Args({32, 300, 100})->Args({256, 300, 100});
BENCHMARK(BM_GemmForward<true>)->Args({1, 784, 300})->Args({32, 784, 300});

// The same products from bf16 operands (the mixed_bfloat16 policy; native kernels where the CPU
// has avx512_bf16, else emulated), and the float -> bf16 conversion of one (m, k) operand that
// each call of a mixed Dense layer adds: together, what bf16 saves or costs per product.
void BM_GemmBf16(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  if (bf16_kernels() == Bf16Kernels::kNone) set_bf16_kernels(Bf16Kernels::kEmulated);
  state.SetLabel(bf16_kernels() == Bf16Kernels::kNative ? gemm_bf16_implementation(m, n, k) : "emulated");
  std::vector<uint16_t> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(k * n));
  to_bf16(random_vector(m * k, 1).data(), a.data(), m * k);
  to_bf16(random_vector(k * n, 2).data(), b.data(), k * n);
  std::vector<float> c(static_cast<size_t>(m * n));
  for (auto _ : state) {
    gemm_bf16(a.data(), b.data(), c.data(), m, n, k, false, false, false);
    benchmark::DoNotOptimize(c.data());
  }
  state.SetItemsProcessed(state.iterations() * 2 * m * n * k);
}
BENCHMARK(BM_GemmBf16)->Args({1, 784, 300})->Args({32, 784, 300})->Args({256, 784, 300})->Args({32, 300, 100})->Args({256, 300, 100});

void BM_ToBf16(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto x = random_vector(n, 3);
  std::vector<uint16_t> y(static_cast<size_t>(n));
  for (auto _ : state) {
    to_bf16(x.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * n * 6);
}
BENCHMARK(BM_ToBf16)->Arg(32 * 784)->Arg(784 * 300)->Arg(256 * 784);

// Shuffled gather of uint8 pixels into a float batch.
void BM_Gather(benchmark::State& state) {
  const int64_t batch = state.range(0), n = 4096, w = 784;
  std::vector<uint8_t> pixels(static_cast<size_t>(n * w), 7), labels(static_cast<size_t>(n), 3);
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[size_t(i)] = (i * 2654435761) % n;
  DataView view;
  view.size = n;
  view.sample_dims = {28, 28};
  view.x_uint8 = pixels.data();
  view.x_scale = 1.0f / 255.0f;
  view.y_uint8 = labels.data();
  view.y_width = 1;
  std::vector<float> x(static_cast<size_t>(batch * w)), y(static_cast<size_t>(batch));
  for (auto _ : state) {
    view.gather(order.data(), 0, batch, x.data(), y.data());
    benchmark::DoNotOptimize(x.data());
  }
  state.SetBytesProcessed(state.iterations() * batch * w * 5);
}
BENCHMARK(BM_Gather)->Arg(32)->Arg(256);

}  // namespace
}  // namespace keel
