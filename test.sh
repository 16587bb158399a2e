#!/usr/bin/env bash
# Installs what is missing, builds keel and runs every test (unit, golden, CLI, examples).
#   ./test.sh               the full suite (Release build)
#   ./test.sh --sanitize    also build and run the suite under ASan + UBSan
set -euo pipefail
cd "$(dirname "$0")"
sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    *) echo "test.sh: unknown option '$arg' (allowed: --sanitize)" >&2; exit 2 ;;
  esac
done
scripts/install-deps.sh --test
scripts/build.sh build Release
(cd build && ctest --output-on-failure -j2 --timeout 600)
if ((sanitize)); then
  scripts/build.sh build-asan Debug -DKEEL_SANITIZE=ON -DKEEL_BUILD_BENCH=OFF
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j2 --timeout 1200)
fi
echo "test.sh: all tests passed"
