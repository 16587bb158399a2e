#!/usr/bin/env bash
# bench/run.sh: keel against the fastest peer a user would install, on the seed model, in one run
# (issues 4 and 18).
#
#   bench/run.sh [RUNS]        (default 3 runs; each run times keel and every peer back to back)
#
# Peers (each made here when missing; versions, BLAS and ISA are recorded in the output):
#   torch-pypi     the PyPI torch wheel (MKL, oneDNN), venv $KEEL_TORCH_VENV (default /work/venvs/torch)
#   tf-keras       tensorflow-cpu + tf-keras from PyPI, venv $KEEL_TF_VENV (default /work/venvs/tf-bench)
#   torch-debian   Debian's python3-torch with libopenblas0-pthread (its libblas.so.3 then is
#                  OpenBLAS; without it Debian's torch runs on the reference BLAS, which made the
#                  ratios before 2026-12-02 several times too flattering)
#   libtorch       the C++ API of the PyPI wheel's libtorch (bench/libtorch/seed_mlp.cpp)
# Per run: keel_bench --report, and again with --dtype-policy mixed_bfloat16 (keel: training 1 epoch at batch 32 / 256, SGD lr 0.01, clipnorm 1;
# the bare oneDNN matmuls of one step; predict at batch 1 / 10,000), then each peer's script with
# the same recipe and 2 threads; every process's peak RSS (/usr/bin/time). Prints the table of
# medians (each ratio taken within a run against that run's fastest peer, then the median) and
# writes it with the machine description to docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
BUILD=${KEEL_BENCH_BUILD:-build-bench}
TORCH_VENV=${KEEL_TORCH_VENV:-/work/venvs/torch}
TF_VENV=${KEEL_TF_VENV:-/work/venvs/tf-bench}
PY=/usr/bin/python3

if ! "$TORCH_VENV/bin/python" -c 'import torch, numpy' 2>/dev/null; then
  echo "bench/run.sh: installing PyPI torch into $TORCH_VENV (several GB)" >&2
  python3 -m venv "$TORCH_VENV"
  "$TORCH_VENV/bin/pip" install --quiet torch numpy
fi
if ! "$TF_VENV/bin/python" -c 'import tensorflow, tf_keras' 2>/dev/null; then
  echo "bench/run.sh: installing tensorflow-cpu + tf-keras into $TF_VENV" >&2
  python3 -m venv "$TF_VENV"
  "$TF_VENV/bin/pip" install --quiet tensorflow-cpu tf-keras
fi
missing=()
for pkg in python3-torch libopenblas0-pthread time; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "bench/run.sh: apt-get install ${missing[*]}" >&2
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
debian_blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)
case "$debian_blas" in
  *openblas*) ;;
  *) echo "bench/run.sh: Debian's libblas.so.3 is $debian_blas, not OpenBLAS; refusing to time Debian's torch on it" >&2; exit 1 ;;
esac

# KEEL_BENCH_BUILD may name an existing Release build (e.g. build/): only the bench is switched on there.
configure=(-DKEEL_BUILD_BENCH=ON)
[[ -f $BUILD/CMakeCache.txt ]] || configure+=(-DCMAKE_BUILD_TYPE=Release -DKEEL_BUILD_TESTS=OFF)
cmake -S . -B "$BUILD" "${configure[@]}" >/dev/null
cmake --build "$BUILD" -j2 --target keel_bench keel >/dev/null
# libtorch: compiled against the wheel's headers and libraries (its TorchConfig.cmake wants CUDA).
TORCH_DIR=$("$TORCH_VENV/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
TORCH_ABI=$("$TORCH_VENV/bin/python" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
for model in seed_mlp seed_cnn; do
  binary=$BUILD/libtorch_$model
  if [[ ! -x $binary || bench/libtorch/$model.cpp -nt $binary || bench/libtorch/common.h -nt $binary ]]; then
    echo "bench/run.sh: compiling bench/libtorch/$model.cpp (~1 min)" >&2
    g++ -O2 -std=c++20 -D_GLIBCXX_USE_CXX11_ABI="$TORCH_ABI" "bench/libtorch/$model.cpp" \
      -isystem "$TORCH_DIR/include" -isystem "$TORCH_DIR/include/torch/csrc/api/include" \
      -L"$TORCH_DIR/lib" -Wl,-rpath,"$TORCH_DIR/lib" -ltorch -ltorch_cpu -lc10 -lz -o "$binary"
  fi
done
LIBTORCH_BENCH=$BUILD/libtorch_seed_mlp

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# Runs one timed process: its JSON to $OUT/NAME_RUN.json, its peak RSS (kB) to $OUT/NAME_RUN.rss.
timed() {
  local name=$1 run=$2
  shift 2
  echo "run $run/$RUNS: $name" >&2
  /usr/bin/time -f %M -o "$OUT/${name}_$run.rss" "$@" >"$OUT/${name}_$run.json"
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq 1 "$RUNS"); do
  timed keel "$i" "$BUILD/keel_bench" --report
  timed keel-bf16 "$i" "$BUILD/keel_bench" --report --dtype-policy mixed_bfloat16
  timed torch-pypi "$i" "$TORCH_VENV/bin/python" bench/torch_seed_mlp.py --peer torch-pypi
  timed tf-keras "$i" "$TF_VENV/bin/python" bench/tf_seed_mlp.py
  timed torch-debian "$i" $PY bench/torch_seed_mlp.py --peer torch-debian
  timed libtorch "$i" "$LIBTORCH_BENCH"
  # seed-cnn (issue 13): training at batch 64 over 6,400 images, predict at batch 1 / 1,000.
  timed keel-cnn "$i" "$BUILD/keel_bench" --report-cnn
  timed torch-pypi-cnn "$i" "$TORCH_VENV/bin/python" bench/torch_seed_cnn.py --samples 6400
  timed libtorch-cnn "$i" "$BUILD/libtorch_seed_cnn" --samples 6400
done
echo "peak RSS of the default keel train (1 epoch)" >&2
/usr/bin/time -v "$BUILD/keel" train --epochs 1 --verbose 0 2>"$OUT/time.txt" >/dev/null || true
rss_kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$OUT/time.txt")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

$PY - "$OUT" "$RUNS" "$rss_kb" "$load_before" "$load_after" <<'EOF'
import json, statistics, subprocess, sys, datetime
out, runs, rss_kb, load_before, load_after = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
PEERS = ["torch-pypi", "tf-keras", "torch-debian", "libtorch"]
def load(name):
    results = []
    for i in range(1, runs + 1):
        r = json.load(open(f"{out}/{name}_{i}.json"))
        r["peak_rss_mb"] = int(open(f"{out}/{name}_{i}.rss").read().split()[-1]) / 1024
        results.append(r)
    return results
K = load("keel")
P = {name: load(name) for name in PEERS}
T = P["torch-pypi"]  # the folded-predict comparison below is against PyTorch's own fold
med = statistics.median
def ratio(f):  # per run, then the median: both sides of a ratio come from the same run
    return med([f(k, t) for k, t in zip(K, T)])
# (key, label, higher is better, target vs the fastest peer)
MEASURES = [("train_samples_per_s_b32", "training, batch 32 (samples/s)", True, 15),
            ("train_samples_per_s_b256", "training, batch 256 (samples/s)", True, 8),
            ("predict_b1_us", "predict, batch 1 (µs)", False, 15),
            ("predict_b10000_ms", "predict, batch 10,000 (ms)", False, 3),
            ("peak_rss_mb", "peak RSS of the whole benchmark process (MB)", False, None)]
def speedup(keel_value, peer_value, higher_better):
    return keel_value / peer_value if higher_better else peer_value / keel_value
lines = ["| measurement | keel | " + " | ".join(PEERS) + " | fastest peer | keel vs fastest peer | target |",
         "|---|---|" + "---|" * len(PEERS) + "---|---|---|"]
def vs_fastest(results, key, higher, peers=None):
    """Within each run, keel's ratio to the peer it compares worst against (of `peers`, default
    the MLP peers); then the median over runs, and the peer that was fastest most often."""
    peers = P if peers is None else peers
    per_run = []
    for i in range(runs):
        ratios = {name: speedup(results[i][key], peers[name][i][key], higher) for name in peers}
        fastest = min(ratios, key=ratios.get)
        per_run.append((ratios[fastest], fastest))
    return med([x for x, _ in per_run]), max(set(n for _, n in per_run), key=[n for _, n in per_run].count)
for key, label, higher, target in MEASURES:
    r, fastest = vs_fastest(K, key, higher)
    goal = "—" if target is None else f"≥ {target}x ({'met' if r >= target else 'NOT met'})"
    lines.append(f"| {label} | {med([k[key] for k in K]):,.1f} | " +
                 " | ".join(f"{med([p[key] for p in P[name]]):,.1f}" for name in PEERS) +
                 f" | {fastest} | {r:.2f}x {'smaller' if key == 'peak_rss_mb' else 'faster'} | {goal} |")
# keel under mixed_bfloat16 against the same fastest peers; its kernels as the process reported them
# ("off": this CPU has no avx512_bf16, so the layers computed in float32 after keel's warning).
KB = load("keel-bf16")
kernels = sorted(set(k["bf16_kernels"] for k in KB))
lines += ["", f"keel with `--dtype-policy mixed_bfloat16` (bf16 kernels: {', '.join(kernels)}"
          + ("; no avx512_bf16 on this CPU, so float32 after one warning: not a bf16 measurement" if kernels == ["off"] else "")
          + "):", "",
          "| measurement | keel bf16 | keel f32 | bf16 vs f32 | fastest peer | keel bf16 vs fastest peer | target |",
          "|---|---|---|---|---|---|---|"]
for key, label, higher, target in [("train_samples_per_s_b32", "training, batch 32 (samples/s)", True, None),
                                   ("train_samples_per_s_b256", "training, batch 256 (samples/s)", True, 12)]:
    r, fastest = vs_fastest(KB, key, higher)
    own = med([speedup(b[key], k[key], higher) for b, k in zip(KB, K)])
    goal = "—" if target is None else f"≥ {target}x ({'met' if r >= target and kernels != ['off'] else 'NOT met'})"
    lines.append(f"| {label} | {med([b[key] for b in KB]):,.1f} | {med([k[key] for k in K]):,.1f} | {own:.2f}x | "
                 f"{fastest} | {r:.2f}x faster | {goal} |")
# seed-cnn against the PyPI wheel and libtorch (issue 13's targets), same runs.
KC = load("keel-cnn")
PC = {"torch-pypi": load("torch-pypi-cnn"), "libtorch": load("libtorch-cnn")}
lines += ["", "seed-cnn (`keel_bench --report-cnn`, `bench/torch_seed_cnn.py`, `bench/libtorch/seed_cnn.cpp`; "
          "training: 6,400 images at batch 64, SGD lr 0.01):", "",
          "| measurement | keel | torch-pypi | libtorch | fastest peer | keel vs fastest peer | target |",
          "|---|---|---|---|---|---|---|"]
for key, label, higher, target in [("train_samples_per_s_b64", "training, batch 64 (samples/s)", True, 3),
                                   ("predict_b1_us", "predict, batch 1 (µs)", False, 5),
                                   ("predict_b1000_ms", "predict, batch 1,000 (ms)", False, 2)]:
    r, fastest = vs_fastest(KC, key, higher, PC)
    lines.append(f"| {label} | {med([k[key] for k in KC]):,.1f} | " +
                 " | ".join(f"{med([p[key] for p in PC[name]]):,.1f}" for name in PC) +
                 f" | {fastest} | {r:.2f}x faster | ≥ {target}x ({'met' if r >= target else 'NOT met'}) |")
step_ratio = med([k["median_step_us_b64"] / k["bare_step_us_b64"] for k in KC])
lines.append(f"| median training step (epoch) / keel's bare conv + matmul kernels of the step (timed after it) | "
             f"{med([k['median_step_us_b64'] for k in KC]):,.0f} µs / {med([k['bare_step_us_b64'] for k in KC]):,.0f} µs "
             f"| | | | {step_ratio:.2f} | ≤ 1.3 ({'met' if step_ratio <= 1.3 else 'NOT met'}) |")
# The same ratio from steps and bare kernels timed in turn (keel_cnn_report.cpp): both see the
# same moments of this shared machine's load.
alt_ratio = med([k["alternating_step_us_b64"] / k["alternating_bare_us_b64"] for k in KC])
lines.append(f"| the same, step and bare kernels timed in turn (40 pairs per run) | "
             f"{med([k['alternating_step_us_b64'] for k in KC]):,.0f} µs / {med([k['alternating_bare_us_b64'] for k in KC]):,.0f} µs "
             f"| | | | {alt_ratio:.2f} | ≤ 1.3 ({'met' if alt_ratio <= 1.3 else 'NOT met'}) |")
lines += ["", "Peers (as each reported itself):", ""]
for name in PEERS:
    p0 = P[name][0]
    lines.append(f"- **{name}**: {p0.get('version', '?')}; {p0.get('blas', '?')}; {p0.get('threads', '?')} threads")
lines.append(f"- **keel**: this commit, Release, oneDNN 2.6 (Debian) matmul, 2 OpenMP threads")
if "predict_b1_model_predict_us" in P["tf-keras"][0]:
    lines.append(f"- tf-keras's `model.predict` of one sample (not the tf.function call above): "
                 f"{med([p['predict_b1_model_predict_us'] for p in P['tf-keras']]):,.0f} µs")
lines += ["", "| predict, batch 1 (µs) | keel | keel, BN folded | folded vs unfolded keel | PyTorch eval | "
          "folded keel vs PyTorch eval | PyTorch eval, BN folded |", "|---|---|---|---|---|---|---|",
          f"| median of {runs} runs | {med([k['predict_b1_us'] for k in K]):.1f} | "
          f"{med([k['predict_b1_folded_us'] for k in K]):.1f} | "
          f"{ratio(lambda k, t: k['predict_b1_us'] / k['predict_b1_folded_us']):.2f}x faster | "
          f"{med([t['predict_b1_us'] for t in T]):.1f} | "
          f"{ratio(lambda k, t: t['predict_b1_us'] / k['predict_b1_folded_us']):.1f}x faster | "
          f"{med([t['predict_b1_folded_us'] for t in T]):.1f} |", "",
          f"BN layers folded / kept by `fold_batch_norm` on the seed model: {K[0]['bn_folded']} / "
          f"{K[0]['bn_kept']}; largest |folded - unfolded| of the batch-1 softmax output: "
          f"{max(k['fold_max_abs_diff'] for k in K):.2g} (keel), {max(t['fold_max_abs_diff'] for t in T):.2g} (PyTorch)."]
lines += ["", "| step time vs bare oneDNN GEMMs of the step (9 matmuls) | median step (µs) | epoch mean step (µs) | "
          "GEMMs (µs) | median step / GEMMs | mean step / GEMMs | target (median step) |",
          "|---|---|---|---|---|---|---|"]
for b in (32, 256):
    r = med([k[f"median_step_us_b{b}"] / k[f"bare_gemm_step_us_b{b}"] for k in K])
    r_mean = med([k[f"step_us_b{b}"] / k[f"bare_gemm_step_us_b{b}"] for k in K])
    target = "≤ 1.5 (" + ("met" if r <= 1.5 else "NOT met") + ")" if b == 256 else "—"
    lines.append(f"| batch {b} | {med([k[f'median_step_us_b{b}'] for k in K]):,.0f} | "
                 f"{med([k[f'step_us_b{b}'] for k in K]):,.0f} | "
                 f"{med([k[f'bare_gemm_step_us_b{b}'] for k in K]):,.0f} | {r:.2f} | {r_mean:.2f} | {target} |")
lines += ["", "Median step: the median wall time of the epoch's batches (gather, forward, loss, metrics, "
          "backward, clip, update), the steady state the GEMM bound (timed after warm-up) compares with. "
          "Epoch mean step: training time / steps, which also carries the one-time set-up of the first "
          "batch and of the last, partial one (~10-30 ms each: oneDNN primitives built for their shapes) "
          "and the shared machine's stalls."]
rss_mb = int(rss_kb) / 1024 if rss_kb else float("nan")
lines += ["", f"Peak RSS of `keel train --epochs 1 --verbose 0` (default model and batch): {rss_mb:.0f} MB "
          f"(target ≤ 150 MB: {'met' if rss_mb <= 150 else 'NOT met'}).",
          f"keel forward() of one sample without the result Tensor: {med([k['forward_b1_us'] for k in K]):.1f} µs."]
table = "\n".join(lines)
print(table)
lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
info = {l.split(":", 1)[0].strip(): l.split(":", 1)[1].strip() for l in lscpu.splitlines() if ":" in l}
flags = info.get("Flags", "").split()
simd = " ".join(f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "amx_tile") if f in flags)
doc = f"""# Benchmarks

keel against the fastest of four peers a user would install (the PyPI torch wheel, TensorFlow with
tf-keras, Debian's PyTorch with OpenBLAS, libtorch from the wheel) on the seed model (Flatten,
BN(784), Dense(300, elu), BN, Dense(100, elu), BN, Dense(10, softmax)) and Fashion-MNIST, measured
in the same run by `bench/run.sh {runs}`. Numbers are medians of {runs} runs; each ratio is taken
within a run against that run's fastest peer for the measurement, then the median.

- Machine: {info.get('Model name', '?')}, {info.get('CPU(s)', '?')} CPUs ({info.get('Core(s) per socket', '?')} cores per socket, {info.get('Thread(s) per core', '?')} thread per core), {info.get('L2 cache', '?')} L2; SIMD: {simd}
- Load average (1/5/15 min) before: {load_before}; after: {load_after}. The machine is shared with other
  builds and fuzzers, so absolute numbers drift; the same-run ratios are the figures to read.
- Date: {datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC')}
- keel: Release build, oneDNN 2.6 matmul, 2 OpenMP threads. PyTorch (Python and C++):
  `set_num_threads(2)`, BN momentum 0.01 / eps 1e-3, SGD lr 0.01 with per-variable
  clip_grad_norm_(1.0). TF-Keras: the seed's own Keras code, intra-op threads 2.
- Training: one epoch of 55,000 samples, shuffled uint8 gather, through `fit()` (keel) or a plain
  loop (PyTorch, libtorch); TF-Keras: `model.fit` on float32 arrays, the second epoch timed (the
  first traces and compiles).
- Predict: batch 1 is the median of 5,000 (keel) / 2,000 (peers) calls of `predict` / eval-mode
  forward / a `tf.function` of the Keras model.

{table}

The bare-GEMM bound times the 9 oneDNN matmuls of one step with cached primitives: forward (3),
weight gradients (3, written as fit's backward writes them) and input gradients (3 — the first
Dense's input gradient is needed too, because the BatchNormalization(784) below it has trainable
gamma/beta). That is 1.60 MFLOP per sample, not the
1.13 MFLOP of the issue text, which leaves that product out.

Micro-benchmarks of each fused kernel against its naive reference: `build-bench/keel_bench`
(Google Benchmark; `--benchmark_filter=BatchNorm` etc.).
"""
import os
notes = "bench/benchmarks_notes.md"  # run.sh runs from the repository root
if os.path.exists(notes):
    doc += "\n" + open(notes).read()
open("docs/BENCHMARKS.md", "w").write(doc)
EOF
echo "wrote docs/BENCHMARKS.md" >&2
