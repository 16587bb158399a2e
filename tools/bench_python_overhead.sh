#!/usr/bin/env bash
# tools/bench_python_overhead.sh [PAIRS] [BATCH]: training speed of the seed model from Python
# (keel.keras fit) against the CLI (keel train), in one run, alternating A B / B A (default 5 pairs,
# batch 32). Needs build/keel and the virtual environment scripts/python_tests.sh leaves in
# build/python/venv. One epoch on the 55,000 training images, no validation pass, verbose 0.
#   CLI:    train_samples / train_seconds of `keel train --report` (training steps only)
#   Python: 55,000 / the wall time of the whole fit() call (steps, callbacks bridge, set-up),
#           and the same steps-only figure from history.keel_timing
# Prints each pair's samples/s and the median ratios Python / CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-5}; batch=${2:-32}
python=build/python/venv/bin/python
[[ -x $python && -x build/keel ]] || { echo "run scripts/python_tests.sh first (needs build/keel and $python)" >&2; exit 1; }
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
cat >"$out/fit.py" <<PY
import json, sys, time
import numpy as np
from keel import keras
(x, y), _ = keras.datasets.fashion_mnist.load_data()
x = x[:55000].astype(np.float32) * np.float32(1 / 255)
y = y[:55000]
model = keras.models.Sequential([
    keras.layers.Flatten(input_shape=[28, 28]), keras.layers.BatchNormalization(),
    keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"), keras.layers.BatchNormalization(),
    keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"), keras.layers.BatchNormalization(),
    keras.layers.Dense(10, activation="softmax")])
model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(), metrics=["accuracy"])
start = time.perf_counter()
history = model.fit(x, y, batch_size=$batch, epochs=1, verbose=0)
wall = time.perf_counter() - start
t = history.keel_timing
json.dump({"wall": 55000 / wall, "steps": t["train_samples"] / t["train_seconds"]}, sys.stdout)
PY
cli() { build/keel train seed-mlp --epochs 1 --verbose 0 --batch-size "$batch" --report "$out/cli.json" >/dev/null
        /usr/bin/python3 -c "import json; print(json.load(open('$out/cli.json'))['train_samples_per_second'])"; }
py() { "$python" "$out/fit.py"; }
echo "| pair | CLI samples/s | Python samples/s (whole fit) | Python (steps only) | ratio whole/CLI | ratio steps/CLI |"
echo "|---|---|---|---|---|---|"
ratios=()
for i in $(seq 1 "$pairs"); do
  if ((i % 2)); then c=$(cli); p=$(py); else p=$(py); c=$(cli); fi
  row=$(/usr/bin/python3 -c "import json; p=json.loads('$p'); c=$c; print(f\"| $i | {c:,.0f} | {p['wall']:,.0f} | {p['steps']:,.0f} | {p['wall']/c:.3f} | {p['steps']/c:.3f} |\")")
  echo "$row"
  ratios+=("$(/usr/bin/python3 -c "import json; p=json.loads('$p'); print(p['wall']/$c, p['steps']/$c)")")
done
printf '%s\n' "${ratios[@]}" | /usr/bin/python3 -c "
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
print(f'median ratio Python/CLI: whole fit {statistics.median(r[0] for r in rows):.3f}, steps only {statistics.median(r[1] for r in rows):.3f} (batch $batch)')"
