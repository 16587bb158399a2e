// Micro-benchmarks of one clip + SGD step on the seed model's trainable variables (266,610
// floats): the fused kernels (one read pass for the norms, one fused clip+update pass) against
// the reference loops (norm pass, clip written back, update pass), and the whole
// SGD::apply_gradients. Thread count: OMP_NUM_THREADS.
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "keel/core/rng.h"
#include "keel/kernels/optimizer_kernels.h"
#include "keel/optimizers/sgd.h"

namespace keel {
namespace {

// Dense kernels/biases 784-300-100-10 and the BN gamma/beta of the seed model.
const std::vector<int64_t> kSeedSizes = {235200, 300, 30000, 100, 1000, 10,
                                         784,    784, 300,   300, 100,  100};

struct Buffers {
  std::vector<std::vector<float>> w, g, m;
  std::vector<ParamChunk> chunks = split_into_chunks(kSeedSizes);
  Buffers() {
    Rng rng(3);
    for (int64_t n : kSeedSizes) {
      w.emplace_back(static_cast<size_t>(n));
      g.emplace_back(static_cast<size_t>(n));
      m.emplace_back(static_cast<size_t>(n), 0.0f);
      for (float& x : w.back()) x = rng.uniform() - 0.5f;
      for (float& x : g.back()) x = (rng.uniform() - 0.5f) * 0.02f;
    }
  }
  int64_t total() const {
    int64_t t = 0;
    for (int64_t n : kSeedSizes) t += n;
    return t;
  }
};

// clipnorm 1.0 as if every variable were clipped: (g * 1) / max(norm, 1). The reference clips g
// in place, so after one iteration no norm would exceed 1 and its clip pass would vanish; this
// keeps the pass (and g's values) in every iteration of both variants.
GradTransform clipnorm_transform(double sum_squares) {
  const double norm = std::sqrt(sum_squares);
  return {ClipKind::kNorm, 1.0f, static_cast<float>(norm > 1.0 ? norm : 1.0)};
}

// state.range(0): momentum in percent (0 = plain SGD).
template <bool kFused>
void BM_ClipSgdStep(benchmark::State& state) {
  Buffers b;
  const float momentum = static_cast<float>(state.range(0)) / 100.0f;
  const SgdStep step{momentum > 0.0f ? SgdRule::kMomentum : SgdRule::kPlain, 1e-9f, momentum};
  const size_t nv = kSeedSizes.size();
  std::vector<const float*> grads;
  for (auto& g : b.g) grads.push_back(g.data());
  std::vector<ChunkSums> sums(b.chunks.size());
  std::vector<double> var_sums(nv);
  std::vector<SgdVar> vars(nv);
  for (auto _ : state) {
    if (kFused) {
      gradient_chunk_sums(grads.data(), b.chunks, 0.0f, sums.data());
    } else {
      gradient_chunk_sums_ref(grads.data(), b.chunks, 0.0f, sums.data());
    }
    std::fill(var_sums.begin(), var_sums.end(), 0.0);
    for (size_t c = 0; c < b.chunks.size(); ++c) var_sums[b.chunks[c].var] += sums[c].sum_squares;
    for (size_t v = 0; v < nv; ++v) {
      const GradTransform t = clipnorm_transform(var_sums[v]);
      float* m = momentum > 0.0f ? b.m[v].data() : nullptr;
      if (kFused) {
        vars[v] = {b.w[v].data(), b.g[v].data(), m, t};
      } else {
        // Clipping writes the gradient, then the update reads it again.
        apply_grad_transform_ref(b.g[v].data(), kSeedSizes[v], t);
        sgd_update_ref(b.w[v].data(), b.g[v].data(), m, kSeedSizes[v], step);
      }
    }
    if (kFused) sgd_update(vars.data(), b.chunks, step);
    benchmark::DoNotOptimize(b.w[0].data());
  }
  state.SetBytesProcessed(state.iterations() * b.total() * 4);
}
BENCHMARK(BM_ClipSgdStep<true>)->Arg(0)->Arg(90)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ClipSgdStep<false>)->Arg(0)->Arg(90)->Unit(benchmark::kMicrosecond);

// The whole optimizer step as fit() runs it: SGD(lr 0.01, clipnorm 1.0[, momentum 0.9]).
void BM_SgdApplyGradients(benchmark::State& state) {
  Buffers b;
  SGD sgd({.learning_rate = 1e-9, .momentum = static_cast<double>(state.range(0)) / 100.0,
           .clipnorm = 1.0});
  std::vector<ParamRef> params;
  for (size_t v = 0; v < kSeedSizes.size(); ++v)
    params.push_back({"v", b.w[v].data(), b.g[v].data(), kSeedSizes[v]});
  for (auto _ : state) {
    sgd.apply_gradients(params);
    benchmark::DoNotOptimize(b.w[0].data());
  }
  state.SetBytesProcessed(state.iterations() * b.total() * 4);
}
BENCHMARK(BM_SgdApplyGradients)->Arg(0)->Arg(90)->Unit(benchmark::kMicrosecond);

// The same step with adaptive gradient clipping (agc) on every variable, shapes from the seed
// model. Arg 0: no unit over its limit (AGC reads w and g once more, writes nothing); arg 1: every
// unit over it (AGC also scales g and the norms are read again); the gradients are restored
// outside the timing so every step clips.
void BM_SgdApplyGradientsAgc(benchmark::State& state) {
  Buffers b;
  const bool clip_all = state.range(0) == 1;
  SGD sgd({.learning_rate = 1e-9, .momentum = 0.9, .clipnorm = 1.0,
           .agc = clip_all ? 1e-6 : 1e6});
  const std::vector<std::vector<int64_t>> shapes = {{784, 300}, {300}, {300, 100}, {100},
                                                    {100, 10},  {10},  {784},      {784},
                                                    {300},      {300}, {100},      {100}};
  std::vector<ParamRef> params;
  for (size_t v = 0; v < kSeedSizes.size(); ++v)
    params.push_back({"v", b.w[v].data(), b.g[v].data(), kSeedSizes[v], shapes[v]});
  const auto g0 = b.g;
  for (auto _ : state) {
    if (clip_all) {
      state.PauseTiming();
      b.g = g0;
      state.ResumeTiming();
    }
    sgd.apply_gradients(params);
    benchmark::DoNotOptimize(b.w[0].data());
  }
  state.SetBytesProcessed(state.iterations() * b.total() * 4);
}
BENCHMARK(BM_SgdApplyGradientsAgc)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace keel
