#include "keel/kernels/batch_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "keel/core/rng.h"
#include "keel/core/tensor.h"
#include "keel/kernels/activations.h"
#include "keel/kernels/bias.h"
#include "keel/kernels/threads.h"

namespace keel {
namespace {

std::vector<float> random_vec(int64_t n, uint64_t seed, double offset = 0.0, double spread = 1.0) {
  Rng rng(seed, 3);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(offset + spread * rng.normal());
  return v;
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b, double tol,
                  const char* what) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_NEAR(a[i], b[i], tol * std::max(1.0f, std::fabs(b[i]))) << what << " at " << i;
  }
}

struct Layout {
  int64_t outer, channels, inner;
};

TEST(KernelsBatchNorm, FastMatchesReferenceAtAwkwardSizes) {
  std::vector<Layout> layouts;
  for (int64_t s : {1, 3, 7, 8, 9, 15, 16, 17, 64, 65}) {
    layouts.push_back({s, s, 1});
    layouts.push_back({5, s, 1});
    layouts.push_back({s, 3, 7});
    layouts.push_back({2, s, 3});
  }
  layouts.push_back({256, 300, 1});  // big enough for the parallel path
  layouts.push_back({64, 33, 17});
  for (const auto& l : layouts) {
    const int64_t n = l.outer * l.channels * l.inner;
    const auto x = random_vec(n, 1 + n, 0.5, 2.0);
    const auto dy = random_vec(n, 2 + n);
    const auto gamma = random_vec(l.channels, 3, 1.0, 0.3);
    std::vector<float> mean(l.channels), var(l.channels), mean_r(l.channels), var_r(l.channels);
    batch_norm_stats(x.data(), mean.data(), var.data(), l.outer, l.channels, l.inner);
    batch_norm_stats_ref(x.data(), mean_r.data(), var_r.data(), l.outer, l.channels, l.inner);
    expect_close(mean, mean_r, 1e-6, "mean");
    expect_close(var, var_r, 1e-6, "var");

    std::vector<float> scale(l.channels), shift(l.channels), inv_std(l.channels);
    batch_norm_scale_shift(mean.data(), var.data(), gamma.data(), nullptr, 1e-3f, scale.data(),
                           shift.data(), inv_std.data(), l.channels);
    std::vector<float> dx(n), dx_r(n), dg(l.channels, 1.0f), dg_r(l.channels, 1.0f),
        db(l.channels, -1.0f), db_r(l.channels, -1.0f);
    batch_norm_backward(x.data(), dy.data(), mean.data(), inv_std.data(), gamma.data(), dx.data(),
                        dg.data(), db.data(), l.outer, l.channels, l.inner);
    batch_norm_backward_ref(x.data(), dy.data(), mean.data(), inv_std.data(), gamma.data(),
                            dx_r.data(), dg_r.data(), db_r.data(), l.outer, l.channels, l.inner);
    expect_close(dx, dx_r, 2e-5, "dx");
    expect_close(dg, dg_r, 1e-5, "dgamma");
    expect_close(db, db_r, 1e-5, "dbeta");
  }
}

TEST(KernelsBatchNorm, LargeMeanSmallSpreadVariance) {
  // Features with mean 1e4 and spread 1: a one-pass E[x²]-E[x]² in float would lose everything.
  const int64_t n = 1000, c = 3;
  std::vector<float> x(n * c);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < c; ++j) x[i * c + j] = 1e4f + (i % 2 == 0 ? 1.0f : -1.0f) * (j + 1);
  }
  std::vector<float> mean(c), var(c);
  batch_norm_stats(x.data(), mean.data(), var.data(), n, c, 1);
  for (int64_t j = 0; j < c; ++j) {
    EXPECT_FLOAT_EQ(mean[j], 1e4f);
    EXPECT_FLOAT_EQ(var[j], float((j + 1) * (j + 1)));  // biased variance of ±(j+1)
  }
}

TEST(KernelsBatchNorm, ScaleShiftEvaluationOrder) {
  const float mean = 0.3f, var = 2.0f, gamma = 1.5f, beta = -0.25f, eps = 1e-3f;
  float scale, shift, inv_std;
  batch_norm_scale_shift(&mean, &var, &gamma, &beta, eps, &scale, &shift, &inv_std, 1);
  const float inv = 1.0f / std::sqrt(var + eps);
  EXPECT_EQ(inv_std, inv);
  EXPECT_EQ(scale, inv * gamma);
  EXPECT_EQ(shift, beta - mean * (inv * gamma));
  const float x = 1.7f;
  float y;
  batch_norm_apply(&x, &scale, &shift, &y, 1, 1, 1);
  EXPECT_EQ(y, x * scale + shift);
}

TEST(KernelsBatchNorm, MovingUpdateKerasForm) {
  float moving[2] = {0.0f, 1.0f};
  const float stat[2] = {2.0f, 0.5f};
  batch_norm_moving_update(moving, stat, 0.99, 2);
  const auto decay = static_cast<float>(1.0 - 0.99);
  EXPECT_EQ(moving[0], 0.0f - (0.0f - 2.0f) * decay);
  EXPECT_EQ(moving[1], 1.0f - (1.0f - 0.5f) * decay);
}

// The parallel paths at the seed model's batch-256 shapes: BN backward and Dense's ELU + bias
// backward write by column blocks when every row starts on a cache line (784 channels, aligned
// output) and by row ranges otherwise (300 channels; 784 with an output one float off a line).
// Every path must give the same bits for any thread count, and match the references.
TEST(KernelsBatchNorm, ResultsIndependentOfThreadCountOnEveryWritePath) {
  const int saved = num_threads();
  const int64_t outer = 256;
  for (int64_t c : {300, 784}) {
    std::vector<std::vector<float>> per_alignment;  // 2 threads, misalign 0 and 1
    for (int64_t misalign : {0, 1}) {
      const int64_t n = outer * c;
      const auto x = random_vec(n, 5, 3.0, 2.0), dy = random_vec(n, 6);
      const auto y_elu = random_vec(n, 7, 0.0, 1.0);
      const auto gamma = random_vec(c, 8, 1.0, 0.3);
      auto storage = allocate_aligned_floats(2 * n + 1);  // dx, dz: 64-byte aligned + misalign
      float* dx = storage.get() + misalign;
      float* dz = dx + n;
      std::vector<std::vector<float>> results;
      for (int threads : {1, 2, 3}) {
        set_num_threads(threads);
        std::vector<float> mean(c), var(c), dg(c, 0.0f), db(c, 0.0f), dbias(c, 0.0f), dbias2(c, 0.0f);
        batch_norm_stats(x.data(), mean.data(), var.data(), outer, c, 1);
        std::vector<float> inv_std(c);
        for (int64_t j = 0; j < c; ++j) inv_std[j] = 1.0f / std::sqrt(var[j] + 1e-3f);
        batch_norm_backward(x.data(), dy.data(), mean.data(), inv_std.data(), gamma.data(), dx,
                            dg.data(), db.data(), outer, c, 1);
        bias_backward(dy.data(), dbias.data(), outer, c);
        activation_bias_backward(ActivationKind::kElu, nullptr, y_elu.data(), dy.data(), dz,
                                 dbias2.data(), outer, c);
        if (threads == 2) {  // the references, once
          std::vector<float> dx_r(n), dg_r(c, 0.0f), db_r(c, 0.0f), dz_r(n), dbias2_r(c, 0.0f);
          batch_norm_backward_ref(x.data(), dy.data(), mean.data(), inv_std.data(), gamma.data(),
                                  dx_r.data(), dg_r.data(), db_r.data(), outer, c, 1);
          activation_bias_backward_ref(ActivationKind::kElu, nullptr, y_elu.data(), dy.data(),
                                       dz_r.data(), dbias2_r.data(), outer, c);
          expect_close(std::vector<float>(dx, dx + n), dx_r, 2e-5, "dx");
          expect_close(dg, dg_r, 1e-5, "dgamma");
          expect_close(db, db_r, 1e-5, "dbeta");
          ASSERT_EQ(std::vector<float>(dz, dz + n), dz_r);
          expect_close(dbias2, dbias2_r, 1e-5, "dbias (elu)");
        }
        // Without dx / without dbias: the same gradients and dz (the other branches of the paths).
        std::vector<float> dg_only(c, 0.0f), db_only(c, 0.0f);
        batch_norm_backward(x.data(), dy.data(), mean.data(), inv_std.data(), gamma.data(), nullptr,
                            dg_only.data(), db_only.data(), outer, c, 1);
        EXPECT_EQ(dg_only, dg);
        EXPECT_EQ(db_only, db);
        std::vector<float> dz_only(n);
        activation_bias_backward(ActivationKind::kElu, nullptr, y_elu.data(), dy.data(),
                                 dz_only.data(), nullptr, outer, c);
        ASSERT_EQ(dz_only, std::vector<float>(dz, dz + n));
        std::vector<float> all = mean;
        for (const auto* v : {&var, &dg, &db, &dbias, &dbias2}) all.insert(all.end(), v->begin(), v->end());
        all.insert(all.end(), dx, dx + 2 * n);
        if (threads == 2) per_alignment.push_back(all);
        results.push_back(std::move(all));
      }
      set_num_threads(saved);
      EXPECT_EQ(results[0], results[1]) << c << " channels, misalign " << misalign;
      EXPECT_EQ(results[0], results[2]) << c << " channels, misalign " << misalign;
    }
    // At 784 channels the aligned output is written by column blocks and the misaligned one by
    // rows: both paths must give the same bits.
    EXPECT_EQ(per_alignment[0], per_alignment[1]) << c << " channels";
  }
}

TEST(KernelsBias, FastMatchesReference) {
  for (int64_t rows : {1, 3, 7, 8, 9, 15, 16, 17, 64, 65, 300}) {
    for (int64_t cols : {1, 3, 7, 8, 9, 15, 16, 17, 64, 65, 130}) {
      const auto dy = random_vec(rows * cols, rows * 1000 + cols);
      std::vector<float> db(cols, 0.5f), db_r(cols, 0.5f);
      bias_backward(dy.data(), db.data(), rows, cols);
      bias_backward_ref(dy.data(), db_r.data(), rows, cols);
      expect_close(db, db_r, 1e-6, "dbias");
      const auto bias = random_vec(cols, 9);
      for (ActivationKind kind : {ActivationKind::kLinear, ActivationKind::kElu, ActivationKind::kSoftmax}) {
        auto z = random_vec(rows * cols, 17), z_r = z;
        std::vector<float> y(rows * cols), y_r(rows * cols);
        bias_activation_forward(z.data(), bias.data(), y.data(), rows, cols, kind);
        bias_activation_forward_ref(z_r.data(), bias.data(), y_r.data(), rows, cols, kind);
        expect_close(z, z_r, 0, "z");
        expect_close(y, y_r, 1e-6, "y");
      }
    }
  }
}


// Up to 64 channels (a CNN's NHWC activations) the statistics and the backward go by fixed chunks
// of rows, each chunk's partial sums added in chunk order: the same bits at every thread count, at
// a row count that is no multiple of the chunk, with whole and partial vectors of channels, a mean
// far from 0 (the two-pass variance must not cancel), and dx or not.
TEST(KernelsBatchNorm, FewChannelsByRowChunksMatchReferenceAtEveryThreadCount) {
  const int saved = num_threads();
  const int64_t outer = 64 * 14 * 14 + 3;
  for (int64_t c : {1, 20, 32, 64}) {
    const int64_t n = outer * c;
    const auto x = random_vec(n, 11, 1e3, 2.0), dy = random_vec(n, 12);
    const auto gamma = random_vec(c, 13, 1.0, 0.3);
    std::vector<float> mean_r(c), var_r(c), dx_r(n), dg_r(c, 0.5f), db_r(c, 0.5f);
    batch_norm_stats_ref(x.data(), mean_r.data(), var_r.data(), outer, c, 1);
    std::vector<float> inv_std(c);
    for (int64_t j = 0; j < c; ++j) inv_std[j] = 1.0f / std::sqrt(var_r[j] + 1e-3f);
    batch_norm_backward_ref(x.data(), dy.data(), mean_r.data(), inv_std.data(), gamma.data(),
                            dx_r.data(), dg_r.data(), db_r.data(), outer, c, 1);
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      std::vector<float> mean(c), var(c), dx(n), dg(c, 0.5f), db(c, 0.5f), dg2(c, 0.5f), db2(c, 0.5f);
      batch_norm_stats(x.data(), mean.data(), var.data(), outer, c, 1);
      batch_norm_backward(x.data(), dy.data(), mean_r.data(), inv_std.data(), gamma.data(),
                          dx.data(), dg.data(), db.data(), outer, c, 1);
      batch_norm_backward(x.data(), dy.data(), mean_r.data(), inv_std.data(), gamma.data(), nullptr,
                          dg2.data(), db2.data(), outer, c, 1);
      expect_close(mean, mean_r, 1e-6, "mean");
      expect_close(var, var_r, 1e-5, "var");
      expect_close(dx, dx_r, 1e-4, "dx");
      expect_close(dg, dg_r, 1e-4, "dgamma");
      expect_close(db, db_r, 1e-5, "dbeta");
      EXPECT_EQ(dg2, dg);
      EXPECT_EQ(db2, db);
      std::vector<float> all = mean;
      for (const auto* v : {&var, &dx, &dg, &db}) all.insert(all.end(), v->begin(), v->end());
      results.push_back(std::move(all));
    }
    set_num_threads(saved);
    EXPECT_EQ(results[0], results[1]) << c << " channels";
    EXPECT_EQ(results[0], results[2]) << c << " channels";
  }
}

}  // namespace
}  // namespace keel
