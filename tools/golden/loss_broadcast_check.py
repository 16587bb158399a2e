#!/usr/bin/env python3
"""Checks the *_broadcast_true cases of tests/data/losses/losses_golden.json (PyTorch) against
real tf.keras: y_true of shape (N,) with y_pred (N, K) for mse / mae / huber, as the seed's
`model.compile(loss="mse")` on class ids does. Exits non-zero on a mismatch.

Run:  /work/venvs/tf/bin/python tools/golden/loss_broadcast_check.py   (tensorflow-cpu 2.12)
"""
import json
import os
import sys

import numpy as np
import tensorflow as tf

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "losses", "losses_golden.json")
LOSSES = {"mse": "mse", "mae": "mae", "huber": tf.keras.losses.Huber()}


def main():
    cases = [c for c in json.load(open(FIXTURE))["cases"] if c["name"].endswith("_broadcast_true")]
    assert len(cases) == 3, cases
    worst = 0.0
    for c in cases:
        y_pred = tf.Variable(np.array(c["y_pred"], np.float32).reshape(c["batch"], c["width"]))
        y_true = tf.constant(np.array(c["y_true"], np.float32))  # (N,), as fit receives class ids
        # The loss as fit computes it: the compiled loss container (compile_utils), which expands a
        # rank-1 y_true to (N, 1) before the loss function broadcasts it over the K outputs.
        model = tf.keras.Sequential([tf.keras.layers.Activation("linear", input_shape=(c["width"],))])
        model.compile(loss=LOSSES[c["loss"]])
        with tf.GradientTape() as tape:
            mean = model.compute_loss(y=y_true, y_pred=y_pred)
        grad = tape.gradient(mean, y_pred).numpy().ravel()
        sum_error = abs(float(mean) * c["batch"] - c["expected_sum"]) / max(1.0, abs(c["expected_sum"]))
        grad_error = float(np.max(np.abs(grad - np.array(c["expected_grad"]))))
        worst = max(worst, sum_error, grad_error)
        print(f"{c['name']}: tf.keras sum {float(mean) * c['batch']:.6f} vs fixture {c['expected_sum']:.6f}, "
              f"max gradient difference {grad_error:.2e}")
    print(f"tensorflow {tf.__version__}: worst difference {worst:.2e}")
    sys.exit(0 if worst < 1e-5 else 1)


if __name__ == "__main__":
    main()
