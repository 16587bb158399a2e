#!/usr/bin/env bash
# bench/rnn.sh: keel vs PyTorch on seed-lstm, measured in the same run (issue 14).
#
#   bench/rnn.sh [RUNS]        (default 3 runs; each run times keel and PyTorch back to back)
#
# The PyTorch side is the PyPI wheel (the fastest PyTorch a user installs here: MKL, oneDNN),
# in the virtual environment $KEEL_TORCH_VENV (default /work/venvs/torch), created with
# `pip install torch numpy` when missing (several GB). Per run:
#   keel_bench --report-rnn     keel: one epoch of 12,800 images at batch 64 and 32 (Adam lr 0.001,
#                               clipnorm 1), predict of 1 and of 10,000 sequences, and the LSTM
#                               layer's forward against oneDNN's lstm_forward primitive
#   bench/torch_seed_lstm.py    the same with PyTorch, 2 threads
# Prints the table of medians (ratios per run, then their median) and writes it with the versions
# to docs/benchmarks_rnn.md.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
BUILD=${KEEL_BENCH_BUILD:-build-bench}
VENV=${KEEL_TORCH_VENV:-/work/venvs/torch}

if ! "$VENV/bin/python" -c 'import torch, numpy' 2>/dev/null; then
  echo "bench/rnn.sh: installing PyPI torch into $VENV (several GB)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet torch numpy
fi
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DKEEL_BUILD_BENCH=ON -DKEEL_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j2 --target keel_bench >/dev/null

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq 1 "$RUNS"); do
  echo "run $i/$RUNS: keel" >&2
  "$BUILD/keel_bench" --report-rnn >"$OUT/keel_$i.json"
  echo "run $i/$RUNS: pytorch" >&2
  "$VENV/bin/python" bench/torch_seed_lstm.py >"$OUT/torch_$i.json"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

/usr/bin/python3 - "$OUT" "$RUNS" "$load_before" "$load_after" <<'PY'
import datetime, json, statistics, subprocess, sys
out, runs, load_before, load_after = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
K = [json.load(open(f"{out}/keel_{i}.json")) for i in range(1, runs + 1)]
T = [json.load(open(f"{out}/torch_{i}.json")) for i in range(1, runs + 1)]
med = statistics.median
def ratio(f):  # per run, then the median: both sides of a ratio come from the same run
    return med([f(k, t) for k, t in zip(K, T)])
rows = []
for b, target in ((64, 5), (32, None)):
    key = f"train_samples_per_s_b{b}"
    rows.append((f"training, batch {b} (samples/s)", med([k[key] for k in K]), med([t[key] for t in T]),
                 ratio(lambda k, t: k[key] / t[key]), target))
for key, name, target in (("predict_b1_us", "predict, one sequence (µs)", 10),
                          ("predict_b10000_ms", "predict, 10,000 sequences (ms)", None)):
    rows.append((name, med([k[key] for k in K]), med([t[key] for t in T]),
                 ratio(lambda k, t: t[key] / k[key]), target))
lines = ["| measurement | keel | PyTorch | keel vs PyTorch | issue's target |", "|---|---|---|---|---|"]
for name, kv, tv, r, target in rows:
    goal = f"≥ {target}x ({'met' if r >= target else 'NOT met'})" if target else "—"
    lines.append(f"| {name} | {kv:,.1f} | {tv:,.1f} | {r:.2f}x | {goal} |")
lines += ["", "The LSTM(128) layer alone, inference forward of 28 steps (keel's cell vs oneDNN 2.6's "
          "`lstm_forward` primitive, same binary, same run; µs per call, median):", "",
          "| batch | keel cell | oneDNN lstm_forward | keel vs oneDNN |", "|---|---|---|---|"]
for b in (1, 64):
    kk = med([k[f"lstm_forward_b{b}_keel_us"] for k in K])
    dd = med([k[f"lstm_forward_b{b}_onednn_us"] for k in K])
    r = med([k[f"lstm_forward_b{b}_onednn_us"] / k[f"lstm_forward_b{b}_keel_us"] for k in K])
    lines.append(f"| {b} | {kk:,.1f} | {dd:,.1f} | {r:.2f}x |")
t0 = T[0]
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                     capture_output=True, text=True).stdout.strip()
flags = open("/proc/cpuinfo").read().split("flags", 1)[1].split("\n", 1)[0].split()
cpu += " (" + ", ".join(f for f in ("avx2", "fma", "avx512f", "avx512_bf16") if f in flags) + ")"
text = "\n".join([
    "# seed-lstm: keel vs PyTorch (bench/rnn.sh)", "",
    f"Measured {datetime.date.today()} on {cpu}, 2 threads each, {runs} runs, each timing keel then "
    f"PyTorch; ratios per run, then the median (keel's speed over PyTorch's: above 1 keel is faster). "
    f"Load average before {load_before}, after {load_after} (a shared machine).", "",
    f"PyTorch {t0['torch']} from PyPI (BLAS {t0['blas']}, oneDNN {t0['mkldnn']}), "
    f"`torch.set_num_threads({t0['threads']})`; nn.LSTM(28, 128) + Linear, Keras's initialisation, "
    "Adam lr 0.001 with per-variable clipnorm 1, pixels gathered per shuffled batch as keel does. "
    "keel: `keel_bench --report-rnn` (Release), the built-in seed-lstm through fit() / predict().", "",
    *lines, ""])
print(text)
open("docs/benchmarks_rnn.md", "w").write(text)
PY
