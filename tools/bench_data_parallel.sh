#!/usr/bin/env bash
# Data-parallel benchmark (issue 15): the seed model on Fashion-MNIST, 2 ranks x 1 thread under
# mpirun against 1 process x 2 threads, alternating A B A B ... so drift on a shared machine hits
# both alike. Prints one line per run and the medians: training samples/s (training steps only),
# the gradient all-reduce's seconds per step (it includes waiting for the slower rank), and the
# A/B samples/s ratio per pair.
#   tools/bench_data_parallel.sh [RUNS=5] [BATCH=32] [TRAIN_IMAGES=10000]
# Needs build/keel (scripts/build.sh) and Open MPI (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
batch=${2:-32}
images=${3:-10000}
keel=build/keel
[[ -x $keel ]] || { echo "bench_data_parallel.sh: $keel not found; run scripts/build.sh first" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "bench_data_parallel.sh: mpirun not found; run scripts/install-deps.sh" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
  OMPI_MCA_btl=self,vader OMPI_MCA_oob_tcp_if_include=lo
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
validation=$((60000 - images))
common=(train --epochs 1 --batch-size "$batch" --validation "$validation" --verbose 0)
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
echo "keel $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(mpirun --version | head -1), $(nproc) cores, batch $batch, $images training images"
printf '%-4s %-22s %12s %18s\n' run config samples/s allreduce_ms/step
for ((i = 1; i <= runs; i++)); do
  mpirun -np 2 "$keel" "${common[@]}" --threads 1 --report "$out/a$i.json" >/dev/null
  "$keel" "${common[@]}" --threads 2 --report "$out/b$i.json" >/dev/null
  for side in a b; do
    f=$out/$side$i.json
    name=$([[ $side == a ]] && echo "2 ranks x 1 thread" || echo "1 process x 2 threads")
    printf '%-4s %-22s %12.0f %18.3f\n' "$i" "$name" "$(field "$f" train_samples_per_second)" \
      "$(python3 -c "print(1000 * $(field "$f" allreduce_seconds_per_step))")"
  done
done
python3 - "$out" "$runs" <<'EOF'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
load = lambda side, i: json.load(open(f"{out}/{side}{i}.json"))
a = [load("a", i) for i in range(1, runs + 1)]
b = [load("b", i) for i in range(1, runs + 1)]
med = lambda xs: statistics.median(xs)
print(f"median samples/s: 2 ranks x 1 thread {med([r['train_samples_per_second'] for r in a]):.0f}, "
      f"1 process x 2 threads {med([r['train_samples_per_second'] for r in b]):.0f}")
print(f"median A/B samples/s ratio per pair: "
      f"{med([x['train_samples_per_second'] / y['train_samples_per_second'] for x, y in zip(a, b)]):.3f}")
print(f"median all-reduce per step (2 ranks): {1000 * med([r['allreduce_seconds_per_step'] for r in a]):.3f} ms; "
      f"median step: 2 ranks {1000 * med([r['median_step_seconds'] for r in a]):.3f} ms, "
      f"1 process {1000 * med([r['median_step_seconds'] for r in b]):.3f} ms")
EOF
