#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and fuzzes each reader for a while.
#   scripts/fuzz.sh                      every target, 20 s each (what CI runs)
#   scripts/fuzz.sh --seconds 600        longer runs
#   scripts/fuzz.sh --jobs 2             run two targets at a time
#   scripts/fuzz.sh idx_fuzzer ...       only these targets
# Limits: an input may not take more than 10 s, allocate more than 256 MB in one malloc, or grow
# the process beyond 512 MB; any of these, a crash, a leak, UB or an exception other than
# keel::Error is a finding. Findings go to BUILD/fuzz-artifacts/<target>/ and fail the script;
# new interesting inputs collect in BUILD/fuzz-work/<target>/ (BUILD = build-fuzz, not committed;
# fuzz/corpus/ is the committed seed set: fuzz/make_seeds.py, plus minimized finds worth keeping).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=20
jobs=1
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --*) echo "fuzz.sh: unknown option '$1' (allowed: --seconds N, --jobs N, TARGET...)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
build=${KEEL_FUZZ_BUILD_DIR:-build-fuzz}

configure=(-DKEEL_FUZZ=ON -DKEEL_BUILD_BENCH=OFF)
# A build directory made by `test.sh --sanitize --fuzz` also holds the instrumented test suite and
# its flags: reuse it as it is. A new one gets the fuzzers only.
[[ -f $build/CMakeCache.txt ]] || configure+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEEL_BUILD_TESTS=OFF)
CC=clang CXX=clang++ cmake -S . -B "$build" "${configure[@]}" >/dev/null
if ((${#targets[@]} == 0)); then
  for source in fuzz/*_fuzzer.cpp; do targets+=("$(basename "$source" .cpp)"); done
fi
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
run_one() {
  local target=$1 name=${1%_fuzzer}
  local work="$build/fuzz-work/$name" artifacts="$build/fuzz-artifacts/$name"
  mkdir -p "$work" "$artifacts"
  local dict=()
  [[ -f fuzz/$name.dict ]] && dict=(-dict="fuzz/$name.dict")
  local log="$artifacts/last-run.log"
  if "$build/$target" "$work" "fuzz/corpus/$name" "${dict[@]}" \
       -max_total_time="$seconds" -timeout=10 -rss_limit_mb=512 -malloc_limit_mb=256 \
       -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1; then
    echo "fuzz.sh: $target: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') executions in ${seconds}s, no finding" >&2
  else
    echo "fuzz.sh: $target: FINDING (see $log and $artifacts/)" >&2
    tail -n 40 "$log" >&2
    return 1
  fi
}

status=0
pids=()
for target in "${targets[@]}"; do
  run_one "$target" &
  pids+=($!)
  if ((${#pids[@]} >= jobs)); then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
