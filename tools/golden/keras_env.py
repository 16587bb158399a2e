"""The set-up every generator that runs real tf.keras 2.12 (/work/venvs/tf/bin/python) shares:
TensorFlow quiet and on the CPU, deterministic single-threaded ops, the repository root, and
flat() (float32 values, row-major, as full-precision Python floats for the JSON fixtures).

    from keras_env import ROOT, flat, np, tf   # the generator's own directory is on sys.path
"""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]

tf.config.experimental.enable_op_determinism()
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)


def flat(array):
    return np.asarray(array, dtype=np.float32).reshape(-1).astype(np.float64).tolist()
