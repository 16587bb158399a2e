// Shared between the bench/*.cpp files of keel_bench.
#pragma once

namespace keel::bench {

// keel_bench --report: end-to-end numbers as JSON (bench/keel_report.cpp).
int run_report();

}  // namespace keel::bench
