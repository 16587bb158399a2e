// Shared between the bench/*.cpp files of keel_bench.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace keel::bench {

using Clock = std::chrono::steady_clock;
inline double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// keel_bench --report [--dtype-policy NAME]: end-to-end numbers as JSON (bench/keel_report.cpp),
// the seed model built under that Keras dtype policy (default float32).
int run_report(const char* dtype_policy);
// keel_bench --report-rnn: seed-lstm training and predict as JSON (bench/keel_rnn_report.cpp).
int run_rnn_report();
// keel_bench --phases [BATCH]: per-phase time of one training step (bench/keel_phases.cpp).
int run_phases(long long batch);

}  // namespace keel::bench
