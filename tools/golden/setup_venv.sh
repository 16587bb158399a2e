#!/usr/bin/env bash
# Creates (once) the virtual environment the golden generators run in: real tf.keras 2.12 on the
# CPU, numpy, onnx. Idempotent: an environment that already imports TensorFlow 2.12 is kept.
#   tools/golden/setup_venv.sh [DIR]     DIR defaults to $KEEL_TF_VENV or /work/venvs/tf
# Then run a generator with DIR/bin/python, e.g. /work/venvs/tf/bin/python tools/golden/rnn_keras.py
set -euo pipefail
venv=${1:-${KEEL_TF_VENV:-/work/venvs/tf}}
if "$venv/bin/python" -c 'import tensorflow as tf; assert tf.__version__.startswith("2.12")' \
    2>/dev/null; then
  echo "setup_venv: $venv already has TensorFlow 2.12"
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
# tensorflow-cpu 2.12 pins numpy < 1.24 itself; onnx for the export goldens' checker.
"$venv/bin/pip" install --quiet "tensorflow-cpu==2.12.*" onnx
"$venv/bin/python" -c 'import tensorflow as tf; print("setup_venv: TensorFlow", tf.__version__)'
