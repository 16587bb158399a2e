#!/usr/bin/env bash
# Installs what is missing, builds keel and runs every test (unit, golden, CLI, examples).
#   ./test.sh               the full suite (Release build): ~12 min on 2 cores from a clean clone
#   ./test.sh --sanitize    also build (clang) and run the suite under ASan + UBSan
#   ./test.sh --fuzz        also a 20 s smoke run of every libFuzzer target (same clang build)
# (Measured 2026-12-02: the clang build ~9 min and the suite under the sanitizers ~8 min on 2 cores.)
# CI (.ci/run) runs all three; locally the plain suite stays fast and the rest is opt-in.
# docs/errors.md explains the sanitizer options and suppressions below.
set -euo pipefail
cd "$(dirname "$0")"
sanitize=0
fuzz=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    --fuzz) fuzz=1 ;;
    *) echo "test.sh: unknown option '$arg' (allowed: --sanitize, --fuzz)" >&2; exit 2 ;;
  esac
done
deps=(--test)
((sanitize || fuzz)) && deps+=(--fuzz)  # clang and libFuzzer
scripts/install-deps.sh "${deps[@]}"
scripts/check_layering.sh
scripts/build.sh build Release
(cd build && ctest --output-on-failure -j2 --timeout 600)
# The Python package (issue 16): pip-installed into a fresh virtual environment, then pytest.
scripts/python_tests.sh build
if ((sanitize || fuzz)); then
  # One clang build serves both: the library and tests instrumented with ASan + UBSan and
  # libFuzzer's coverage hooks, the fuzz targets linked from the same objects (two separate
  # instrumented builds cost CI ~12 more minutes). RelWithDebInfo: -O2 keeps the GEMM-heavy golden
  # tests fast enough under ASan; -g1 (line tables only) keeps file:line in the reports at a
  # fraction of full -g's compile and link time.
  tests=OFF
  ((sanitize)) && tests=ON
  CC=clang CXX=clang++ scripts/build.sh build-fuzz RelWithDebInfo -DKEEL_FUZZ=ON -DKEEL_BUILD_BENCH=OFF \
    -DKEEL_BUILD_TESTS=$tests "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"
fi
if ((sanitize)); then
  (cd build-fuzz &&
   ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
   LSAN_OPTIONS=suppressions=$PWD/../.ci/lsan.supp:print_suppressions=0 \
   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest --output-on-failure -j2 --timeout 1200)
fi
if ((fuzz)); then
  scripts/fuzz.sh --seconds 20 --jobs 2
fi
echo "test.sh: all tests passed"
