// keel_bench: Google Benchmark micro-benchmarks (default) or, with --report, the end-to-end JSON
// report bench/run.sh consumes.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>

#include "bench_common.h"

int main(int argc, char** argv) {
  const char* dtype_policy = "float32";
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--dtype-policy") == 0) dtype_policy = argv[i + 1];
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--report") == 0) return keel::bench::run_report(dtype_policy);
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--report-cnn") == 0) return keel::bench::run_cnn_report();
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--report-rnn") == 0) return keel::bench::run_rnn_report();
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--phases") == 0)
      return keel::bench::run_phases(i + 1 < argc ? std::atoll(argv[i + 1]) : 32);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
