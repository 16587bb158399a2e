#!/usr/bin/env bash
# bench/ab_steps.sh BASE_TREE [PAIRS]: the seed model's median training step, this tree (A) against
# another checkout (B, e.g. a `git worktree add /tmp/base <commit>`), measured in one run.
#
# Builds keel_bench (Release) in both trees' build-bench/, then runs `keel_bench --report` in pairs,
# A B, B A, A B, ... (the order alternates: on this machine the first run after the other often
# runs slower), PAIRS times (default 5), and prints, for batch 32 and 256, each side's median of the
# per-run median step and the median of the pairwise ratios A/B (pairing keeps the ratio
# meaningful when the shared machine's speed drifts). Quote the ratio, not the absolute times.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: bench/ab_steps.sh BASE_TREE [PAIRS]}
pairs=${2:-5}
for tree in "$PWD" "$base"; do
  echo "building keel_bench in $tree" >&2
  cmake -S "$tree" -B "$tree/build-bench" -DCMAKE_BUILD_TYPE=Release -DKEEL_BUILD_BENCH=ON \
    -DKEEL_BUILD_TESTS=OFF >/dev/null
  cmake --build "$tree/build-bench" -j2 --target keel_bench >/dev/null
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for i in $(seq 1 "$pairs"); do
  echo "pair $i/$pairs" >&2
  if ((i % 2)); then
    "$PWD/build-bench/keel_bench" --report >"$out/a_$i.json"
    "$base/build-bench/keel_bench" --report >"$out/b_$i.json"
  else
    "$base/build-bench/keel_bench" --report >"$out/b_$i.json"
    "$PWD/build-bench/keel_bench" --report >"$out/a_$i.json"
  fi
done
/usr/bin/python3 - "$out" "$pairs" "$(git rev-parse --short HEAD)" "$(git -C "$base" rev-parse --short HEAD)" <<'PY'
import json, statistics, sys
out, pairs, a_rev, b_rev = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
A = [json.load(open(f"{out}/a_{i}.json")) for i in range(1, pairs + 1)]
B = [json.load(open(f"{out}/b_{i}.json")) for i in range(1, pairs + 1)]
print(f"| batch | A {a_rev} median step (µs) | B {b_rev} median step (µs) | A/B per pair | median A/B |")
print("|---|---|---|---|---|")
for b in (32, 256):
    key = f"median_step_us_b{b}"
    a = [r[key] for r in A]
    bb = [r[key] for r in B]
    ratios = [x / y for x, y in zip(a, bb)]
    print(f"| {b} | {statistics.median(a):.1f} | {statistics.median(bb):.1f} | "
          f"{', '.join(f'{r:.3f}' for r in ratios)} | {statistics.median(ratios):.3f} |")
PY
