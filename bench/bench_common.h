// Shared between the bench/*.cpp files of keel_bench.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "keel/model/callback.h"
#include "keel/model/data_view.h"
#include "keel/model/model.h"
#include "keel/optimizers/optimizer.h"

namespace keel::bench {

using Clock = std::chrono::steady_clock;
inline double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median wall time of `reps` calls of f(), after `warmup` untimed calls.
template <typename F>
double median_call_seconds(int warmup, int reps, const F& f) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    const auto t = Clock::now();
    f();
    times.push_back(since(t));
  }
  return median(times);
}

// Wall time of every batch of a fit: from on_train_batch_begin to on_train_batch_end, i.e.
// gather, forward, loss, metrics, backward, clip and update.
class StepTimer final : public Callback {
 public:
  std::vector<double> seconds;
  void on_train_batch_begin(int64_t, const Logs&) override { start_ = Clock::now(); }
  void on_train_batch_end(int64_t, const Logs&) override { seconds.push_back(since(start_)); }

 private:
  Clock::time_point start_;
};

struct TrainResult {
  // step_seconds: the epoch's training time / steps (includes the first step, which builds the
  // oneDNN primitives); median_step_seconds: the median step, the steady state the bare-primitive
  // bound (also timed after warm-up) compares with.
  double samples_per_second, step_seconds, median_step_seconds;
};

// One epoch of fit over `data` (sparse categorical cross-entropy, accuracy), timed per step.
// `optimizer` nullptr: SGD(learning_rate=0.01, clipnorm=1.0), the MLP report's recipe.
TrainResult train_one_epoch(const DataView& data, int64_t batch, Model& model,
                            std::shared_ptr<Optimizer> optimizer = nullptr);

// keel_bench --report [--dtype-policy NAME]: end-to-end numbers as JSON (bench/keel_report.cpp),
// the seed model built under that Keras dtype policy (default float32).
int run_report(const char* dtype_policy);
// keel_bench --report-cnn: seed-cnn training at batch 64, its step against the bare convolution
// and matmul kernels of the step, predict at batch 1 / 1,000, as JSON (bench/keel_cnn_report.cpp).
int run_cnn_report();
// keel_bench --report-rnn: seed-lstm training and predict as JSON (bench/keel_rnn_report.cpp).
int run_rnn_report();
// keel_bench --phases [BATCH]: per-phase time of one training step (bench/keel_phases.cpp).
int run_phases(long long batch);

}  // namespace keel::bench
