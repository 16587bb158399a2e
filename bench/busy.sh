#!/usr/bin/env bash
# bench/busy.sh: keel's default training speed on an idle machine and with one core busy (issue 18).
#
#   bench/busy.sh [RUNS]        (default 3 runs)
#
# Each run trains the seed model one epoch at batch 32 (`keel train --epochs 1`, samples/s from
# --report) four ways, back to back:
#   idle, default            keel's default: the ThreadGovernor adapts the thread count
#   idle, fixed 2 threads    OMP_NUM_THREADS=2: the count fixed, as every keel before the governor
#   busy, default            the same while another process spins on one core (`yes > /dev/null`)
#   busy, fixed 2 threads
# and prints busy/idle per way (target for the default: >= 60 %) and default/fixed idle (the
# governor must cost nothing on an idle machine: A/B in the same run).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
BUILD=${KEEL_BENCH_BUILD:-build-bench}
# KEEL_BENCH_BUILD may name an existing Release build (e.g. build/): only the bench is switched on there.
configure=(-DKEEL_BUILD_BENCH=ON)
[[ -f $BUILD/CMakeCache.txt ]] || configure+=(-DCMAKE_BUILD_TYPE=Release -DKEEL_BUILD_TESTS=OFF)
cmake -S . -B "$BUILD" "${configure[@]}" >/dev/null
cmake --build "$BUILD" -j2 --target keel >/dev/null

OUT=$(mktemp -d)
spinner=
cleanup() {
  [[ -n $spinner ]] && kill "$spinner" 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT
train() {  # train NAME RUN [ENV...]: one epoch; the report goes to $OUT/NAME_RUN.json
  local name=$1 run=$2
  shift 2
  env "$@" "$BUILD/keel" train --epochs 1 --batch-size 32 --verbose 0 --report "$OUT/${name}_$run.json" >/dev/null
}
for i in $(seq 1 "$RUNS"); do
  echo "run $i/$RUNS: idle" >&2
  train idle_default "$i"
  train idle_fixed "$i" OMP_NUM_THREADS=2
  echo "run $i/$RUNS: one core busy" >&2
  yes >/dev/null &
  spinner=$!
  sleep 1
  train busy_default "$i"
  train busy_fixed "$i" OMP_NUM_THREADS=2
  kill "$spinner"
  wait "$spinner" 2>/dev/null || true
  spinner=
done

/usr/bin/python3 - "$OUT" "$RUNS" <<'EOF'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
def get(name, i, key="train_samples_per_second"):
    return json.load(open(f"{out}/{name}_{i}.json"))[key]
med = statistics.median
R = range(1, runs + 1)
print("| way | idle (samples/s) | one core busy (samples/s) | busy / idle | lowest threads while busy |")
print("|---|---|---|---|---|")
for way in ("default", "fixed"):
    idle = [get(f"idle_{way}", i) for i in R]
    busy = [get(f"busy_{way}", i) for i in R]
    ratio = med([b / a for a, b in zip(idle, busy)])
    goal = f" (target ≥ 60 %: {'met' if ratio >= 0.6 else 'NOT met'})" if way == "default" else ""
    lowest = sorted({get(f"busy_{way}", i, "lowest_threads_per_rank") for i in R})
    label = "default (adaptive)" if way == "default" else "OMP_NUM_THREADS=2 (fixed)"
    print(f"| {label} | {med(idle):,.0f} | {med(busy):,.0f} | {100 * ratio:.0f} %{goal} | {lowest} |")
ab = med([get("idle_default", i) / get("idle_fixed", i) for i in R])
print(f"\nIdle, default / fixed 2 threads (same run): {ab:.3f}")
EOF
