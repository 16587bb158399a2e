// Shared between the bench/*.cpp files of keel_bench.
#pragma once

namespace keel::bench {

// keel_bench --report: end-to-end numbers as JSON (bench/keel_report.cpp).
int run_report();
// keel_bench --report-rnn: seed-lstm training and predict as JSON (bench/keel_rnn_report.cpp).
int run_rnn_report();
// keel_bench --phases [BATCH]: per-phase time of one training step (bench/keel_phases.cpp).
int run_phases(long long batch);

}  // namespace keel::bench
