// Optimizer-step kernels (optimizer_kernels.h) against their naive references, to the bit, and the
// clip-fused SGD step against the unfused path (clip written back, then the update loops).
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel/core/rng.h"
#include "keel/kernels/optimizer_kernels.h"
#include "keel/kernels/threads.h"
#include "keel/optimizers/sgd.h"

namespace keel {
namespace {

const int64_t kAwkwardSizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65, 8191, 8192, 8193, 20000};

std::vector<float> random_floats(int64_t n, uint64_t seed, float scale) {
  Rng rng(seed, 3);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = (static_cast<float>(rng.uniform()) * 2.0f - 1.0f) * scale;
  return v;
}

// Bitwise equality that also accepts equal NaN payloads; reports the first difference.
void expect_same_bits(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) {
      ADD_FAILURE() << what << ": element " << i << " is " << a[i] << " vs " << b[i];
      return;
    }
  }
}

TEST(OptimizerKernels, ChunkSumsMatchReferenceToTheBit) {
  for (int64_t n : kAwkwardSizes) {
    std::vector<float> g = random_floats(n, static_cast<uint64_t>(n), 3.0f);
    g[0] = 0.5f;  // exactly at the clamp value: not moved
    if (n > 2) g[2] = -0.5f;
    if (n > 5) g[5] = std::numeric_limits<float>::quiet_NaN();  // counts as moved, sums NaN
    const int64_t sizes[] = {n, 5};
    std::vector<float> g2{1e20f, -3.0f, 0.25f, 0.0f, -0.0f};
    const float* grads[] = {g.data(), g2.data()};
    const auto chunks = split_into_chunks(sizes);
    ASSERT_EQ(chunks.size(), static_cast<size_t>((n + kOptimizerChunk - 1) / kOptimizerChunk + 1));
    for (float clamp : {0.0f, 0.5f}) {
      std::vector<ChunkSums> fast(chunks.size()), ref(chunks.size());
      gradient_chunk_sums(grads, chunks, clamp, fast.data());
      gradient_chunk_sums_ref(grads, chunks, clamp, ref.data());
      for (size_t c = 0; c < chunks.size(); ++c) {
        SCOPED_TRACE("n " + std::to_string(n) + " clamp " + std::to_string(clamp) + " chunk " +
                     std::to_string(c));
        EXPECT_EQ(std::bit_cast<uint64_t>(fast[c].sum_squares), std::bit_cast<uint64_t>(ref[c].sum_squares));
        EXPECT_EQ(std::bit_cast<uint64_t>(fast[c].clamped_sum_squares),
                  std::bit_cast<uint64_t>(ref[c].clamped_sum_squares));
        EXPECT_EQ(fast[c].clamped, ref[c].clamped);
        // The portable vector code (what CPUs without AVX-512 run) gives the same bits too.
        const ChunkSums portable =
            detail::chunk_sums_portable(grads[chunks[c].var] + chunks[c].begin, chunks[c].size, clamp);
        EXPECT_EQ(std::bit_cast<uint64_t>(portable.sum_squares), std::bit_cast<uint64_t>(ref[c].sum_squares));
        EXPECT_EQ(std::bit_cast<uint64_t>(portable.clamped_sum_squares),
                  std::bit_cast<uint64_t>(ref[c].clamped_sum_squares));
        EXPECT_EQ(portable.clamped, ref[c].clamped);
      }
    }
  }
}

TEST(OptimizerKernels, SumSquaresIsTheExactSumToDoublePrecision) {
  for (int64_t n : kAwkwardSizes) {
    const std::vector<float> g = random_floats(n, 100 + static_cast<uint64_t>(n), 2.0f);
    long double exact = 0.0L;
    for (float x : g) exact += static_cast<long double>(x) * x;
    const double s = sum_squares(g.data(), n);
    EXPECT_NEAR(s, static_cast<double>(exact), 1e-14 * static_cast<double>(exact)) << n;
  }
  // A clamp of 0 changes nothing and counts nothing (the clamp fields stay 0).
  std::vector<float> g{3.0f, 4.0f};
  const int64_t sizes[] = {2};
  const float* grads[] = {g.data()};
  ChunkSums out;
  gradient_chunk_sums(grads, split_into_chunks(sizes), 0.0f, &out);
  EXPECT_EQ(out.sum_squares, 25.0);
  EXPECT_EQ(out.clamped, 0);
}

TEST(OptimizerKernels, ClampCountsAndClampedSumsClosedForm) {
  std::vector<float> g{2.0f, -3.0f, 0.5f, -0.5f, 0.25f};
  const int64_t sizes[] = {5};
  const float* grads[] = {g.data()};
  ChunkSums out;
  gradient_chunk_sums(grads, split_into_chunks(sizes), 1.0f, &out);
  EXPECT_EQ(out.sum_squares, 4.0 + 9.0 + 0.25 + 0.25 + 0.0625);
  EXPECT_EQ(out.clamped_sum_squares, 1.0 + 1.0 + 0.25 + 0.25 + 0.0625);
  EXPECT_EQ(out.clamped, 2);
}

TEST(OptimizerKernels, SplitIntoChunksCoversEveryElementOnce) {
  const int64_t sizes[] = {0, 8192, 8193, 1, 0, 20000};
  const auto chunks = split_into_chunks(sizes);
  std::vector<int64_t> covered(6, 0);
  int64_t offset = 0;
  for (const ParamChunk& c : chunks) {
    EXPECT_EQ(c.offset, offset);
    offset += c.size;
    EXPECT_GT(c.size, 0);
    EXPECT_LE(c.size, kOptimizerChunk);
    EXPECT_EQ(c.begin, covered[static_cast<size_t>(c.var)]);  // in order, no gap
    covered[static_cast<size_t>(c.var)] += c.size;
  }
  for (size_t v = 0; v < 6; ++v) EXPECT_EQ(covered[v], sizes[v]);
  EXPECT_EQ(chunks.size(), 1u + 2u + 1u + 3u);
}

std::vector<GradTransform> transforms_for(ClipKind kind, size_t count) {
  std::vector<GradTransform> t(count);
  for (size_t v = 0; v < count; ++v) {
    if (kind == ClipKind::kNorm) t[v] = {kind, 1.0f, 3.7f + static_cast<float>(v)};
    if (kind == ClipKind::kScale) t[v] = {kind, 0.3183f};
    if (kind == ClipKind::kClamp) t[v] = {kind, 0.4f};
  }
  if (count > 1 && kind != ClipKind::kNone) t[1] = {};  // a variable left unclipped
  return t;
}

const ClipKind kKinds[] = {ClipKind::kNone, ClipKind::kNorm, ClipKind::kScale, ClipKind::kClamp};

TEST(OptimizerKernels, ApplyGradTransformsMatchesReferenceToTheBit) {
  for (ClipKind kind : kKinds) {
    std::vector<std::vector<float>> fast, ref;
    std::vector<int64_t> sizes;
    for (int64_t n : kAwkwardSizes) {
      fast.push_back(random_floats(n, 7 + static_cast<uint64_t>(n), 1.5f));
      fast.back()[0] = std::numeric_limits<float>::quiet_NaN();
      ref.push_back(fast.back());
      sizes.push_back(n);
    }
    const auto t = transforms_for(kind, sizes.size());
    std::vector<float*> grads;
    for (auto& g : fast) grads.push_back(g.data());
    apply_grad_transforms(grads.data(), t.data(), split_into_chunks(sizes));
    for (size_t v = 0; v < ref.size(); ++v) {
      apply_grad_transform_ref(ref[v].data(), sizes[v], t[v]);
      expect_same_bits(fast[v], ref[v], "kind " + std::to_string(int(kind)) + " var " + std::to_string(v));
    }
  }
}

TEST(OptimizerKernels, FusedSgdMatchesUnfusedLoopsToTheBit) {
  // For every clip rule x plain / momentum / nesterov (with and without weight decay): the fused
  // update from the pre-clip gradient gives the same bits as clipping the gradient in place and
  // then running the update loops the optimizer used before the fusion.
  const SgdRule rules[] = {SgdRule::kPlain, SgdRule::kMomentum, SgdRule::kNesterov};
  for (ClipKind kind : kKinds) {
    for (SgdRule rule : rules) {
      for (bool decay : {false, true}) {
        SCOPED_TRACE("kind " + std::to_string(int(kind)) + " rule " + std::to_string(int(rule)) +
                     " decay " + std::to_string(decay));
        const SgdStep step{rule, 0.0123f, rule == SgdRule::kPlain ? 0.0f : 0.9f, decay, 0.004f};
        std::vector<int64_t> sizes;
        std::vector<std::vector<float>> w, g, m;
        for (int64_t n : kAwkwardSizes) {
          sizes.push_back(n);
          const auto seed = static_cast<uint64_t>(n) * 31;
          w.push_back(random_floats(n, seed, 1.0f));
          g.push_back(random_floats(n, seed + 1, 2.0f));
          m.push_back(random_floats(n, seed + 2, 0.1f));
        }
        const auto t = transforms_for(kind, sizes.size());
        auto w_ref = w, m_ref = m, g_ref = g;
        const auto g_before = g;
        std::vector<SgdVar> vars;
        for (size_t v = 0; v < sizes.size(); ++v)
          vars.push_back({w[v].data(), g[v].data(), rule == SgdRule::kPlain ? nullptr : m[v].data(), t[v]});
        for (int rep = 0; rep < 2; ++rep) {  // the second step reads the velocity the first wrote
          sgd_update(vars.data(), split_into_chunks(sizes), step);
          for (size_t v = 0; v < sizes.size(); ++v) {
            std::vector<float> clipped = g_ref[v];
            apply_grad_transform_ref(clipped.data(), sizes[v], t[v]);
            sgd_update_ref(w_ref[v].data(), clipped.data(), m_ref[v].data(), sizes[v], step);
          }
        }
        for (size_t v = 0; v < sizes.size(); ++v) {
          expect_same_bits(w[v], w_ref[v], "w of var " + std::to_string(v));
          if (rule != SgdRule::kPlain) expect_same_bits(m[v], m_ref[v], "m of var " + std::to_string(v));
          expect_same_bits(g[v], g_before[v], "g of var " + std::to_string(v) + " (read only)");
        }
      }
    }
  }
}

}  // namespace
}  // namespace keel
