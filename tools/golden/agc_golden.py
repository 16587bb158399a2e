#!/usr/bin/python3
"""Golden trajectories for keel's adaptive gradient clipping (tests/optimizers/agc_test.cpp).

The AGC formulas are DeepMind's, copied literally with jnp -> np:
google-deepmind/deepmind-research nfnets/optim.py (compute_norm, unitwise_norm, and the clipping
block of SGD_AGC.update_param; agc_optax.py has the same rule as an optax transform). AGC acts on
the raw gradient; then come Keras's rule (clipnorm / global_clipnorm / clipvalue,
keras/optimizers/optimizer.py _clip_gradients), Keras's decoupled weight decay and Keras's update
(keel's order, docs/clipping.md). The updates are the Keras formulas keel implements
(keras/optimizers/sgd.py, adam.py): SGD momentum m = -g*lr + m*mu; w += m (nesterov:
w += -g*lr + m*mu), which for a constant learning rate is DeepMind's / PyTorch's buf = mu*buf + g;
w -= lr*buf with m = -lr*buf.

Variables (Keras layouts): a Dense kernel (4, 3) and its zero-initialised bias (3,) (whole-tensor
norm; at step 1 the 1e-3 floor sets its limit), a Conv2D kernel (2, 2, 2, 3) (one norm per output
filter over axes 0, 1, 2) and a final Dense kernel (3, 2) flagged exclude_from_agc (the paper does
not clip the classifier's weight). Five steps of fixed gradients, some units above the limit and
some below at every step. Everything in float64; keel computes in float32 (the test allows 1e-6
relative). The script checks that no unit's gradient norm lies within 1e-4 of its limit, so float32
rounding cannot flip a decision.

Run:  /usr/bin/python3 tools/golden/agc_golden.py  (writes tests/data/optim/agc_golden.json)
"""
import json
import os

import numpy as np

from keras_optim import keras_clip, keras_sgd

NAMES = ["dense/kernel:0", "dense/bias:0", "conv2d/kernel:0", "dense_1/kernel:0"]
SHAPES = [(4, 3), (3,), (2, 2, 2, 3), (3, 2)]
EXCLUDE = [False, False, False, True]
STEPS = 5

rng = np.random.default_rng(20210211)


def f32(x):
    return np.asarray(x, dtype=np.float32).astype(np.float64)


INIT = [f32(rng.normal(0, 0.5, size=s)) for s in SHAPES]
INIT[1] = np.zeros(SHAPES[1])  # Keras's bias initialiser: the 1e-3 floor engages at step 1
# Per output unit a different gradient scale, so some units trigger and some do not.
UNIT_SCALE = [np.array([0.02, 0.3, 0.05]), 0.01, np.array([0.01, 0.2, 0.06]), np.array([1.0, 0.1])]
GRADS = []
for step in range(STEPS):
    boost = 3.0 if step == 2 else 1.0
    GRADS.append([f32(rng.normal(0, 1, size=s) * sc * boost) for s, sc in zip(SHAPES, UNIT_SCALE)])


# ---- DeepMind nfnets/optim.py, jnp -> np -------------------------------------------------------

def compute_norm(x, axis, keepdims):
    """Returns norm over arbitrary axis."""
    norm = np.sum(x ** 2, axis=axis, keepdims=keepdims) ** 0.5
    return norm


def unitwise_norm(x):
    """Computes norms of each output unit separately, assuming (HW)IO weights."""
    if len(np.squeeze(x).shape) <= 1:  # Scalars and vectors
        axis = None
        keepdims = False
    elif len(x.shape) in [2, 3]:  # Linear layers of shape IO
        axis = 0
        keepdims = True
    elif len(x.shape) == 4:  # Conv kernels of shape HWIO
        axis = (0, 1, 2,)
        keepdims = True
    else:
        raise ValueError(f'Got a parameter with shape not in [1, 2, 3, 4]! {x}')
    return compute_norm(x, axis, keepdims)


MARGINS = []


def sgd_agc_clip(param, grad, clipping, eps=1e-3):
    """The clipping block of SGD_AGC.update_param; also returns the number of triggered units."""
    param_norm = np.maximum(unitwise_norm(param), eps)
    grad_norm = unitwise_norm(grad)
    max_norm = param_norm * clipping
    # If grad norm > clipping * param_norm, rescale
    trigger = grad_norm > max_norm
    # Note the max(||G||, 1e-6) is technically unnecessary here, as
    # the clipping shouldn't trigger if the grad norm is zero,
    # but we include it in practice as a "just-in-case".
    clipped_grad = grad * (max_norm / np.maximum(grad_norm, 1e-6))
    grad = np.where(trigger, clipped_grad, grad)
    MARGINS.extend(np.abs(np.ravel(grad_norm / max_norm) - 1.0).tolist())
    return grad, int(np.sum(trigger))


# ---- Keras's Adam (keras_optim.py has Keras's clipping and SGD) -------------------------------

def keras_adam(w, g, s, t, c):
    b1, b2, eps, lr = 0.9, 0.999, c.get("epsilon", 1e-7), c["learning_rate"]
    s["m"] += (g - s["m"]) * (1 - b1)
    s["v"] += (g * g - s["v"]) * (1 - b2)
    # Keras raises the betas to the power t as float32 variables: float32(0.999) is 0.99900001,
    # which moves 1 - b2**1 by 1.3e-5 relative (keel's Adam::prepare_step does the same).
    b1_t, b2_t = float(np.float32(b1)) ** t, float(np.float32(b2)) ** t
    alpha = lr * np.sqrt(1 - b2_t) / (1 - b1_t)
    w -= (s["m"] * alpha) / (np.sqrt(s["v"]) + eps)


def run(update, cfg):
    w = [x.copy() for x in INIT]
    slots = [{"m": np.zeros_like(x), "v": np.zeros_like(x)} for x in w]
    lr, wd = cfg["learning_rate"], cfg.get("weight_decay")
    weights, units, postclip = [], [], []
    for t, raw in enumerate(GRADS, start=1):
        grads, count = [], 0
        for i, g in enumerate(raw):
            if EXCLUDE[i]:
                grads.append(g.copy())
            else:
                clipped, n = sgd_agc_clip(w[i], g, cfg["agc"])
                grads.append(clipped)
                count += n
        grads = keras_clip(grads, cfg)
        postclip.append(float(np.sqrt(sum(float(np.sum(g * g)) for g in grads))))
        for i in range(len(w)):
            if wd:
                w[i] = w[i] - w[i] * wd * lr
            update(w[i], grads[i], slots[i], t, cfg)
        weights.append([x.ravel().tolist() for x in w])
        units.append(count)
    return weights, units, postclip


def main():
    cases = []

    def add(name, optimizer, update, cfg):
        weights, units, postclip = run(update, cfg)
        cases.append({"name": name, "optimizer": optimizer, "config": cfg, "expected": weights,
                      "agc_clipped_units": units, "postclip_global_norms": postclip})
        print(f"{name}: AGC-clipped units per step {units}")

    add("sgd_momentum_agc", "sgd", keras_sgd,
        {"learning_rate": 0.1, "momentum": 0.9, "nesterov": False, "agc": 0.1})
    # AGC first, then Keras's per-variable clipnorm on the AGC'd gradient.
    add("sgd_momentum_agc_clipnorm", "sgd", keras_sgd,
        {"learning_rate": 0.1, "momentum": 0.9, "agc": 0.1, "clipnorm": 0.2})
    # AGC against the weights before the decoupled decay; global_clipnorm on the AGC'd gradient.
    add("sgd_nesterov_agc_global_clipnorm_weight_decay", "sgd", keras_sgd,
        {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True, "agc": 0.05,
         "global_clipnorm": 0.5, "weight_decay": 0.01})
    # The unfused path (Optimizer::apply_update writes the clipped gradient, then update_step).
    add("adam_agc_clipvalue", "adam", keras_adam,
        {"learning_rate": 0.01, "agc": 0.1, "clipvalue": 0.1})

    closest = min(MARGINS)
    assert closest > 1e-4, f"a unit's gradient norm is within {closest} of its limit"
    print(f"closest |grad_norm / max_norm - 1| = {closest:.3g}")
    out = {
        "generator": "tools/golden/agc_golden.py",
        "names": NAMES,
        "shapes": [list(s) for s in SHAPES],
        "exclude_from_agc": EXCLUDE,
        "init": [x.ravel().tolist() for x in INIT],
        "grads": [[g.ravel().tolist() for g in step] for step in GRADS],
        "preclip_global_norms": [float(np.sqrt(sum(float(np.sum(g * g)) for g in step)))
                                 for step in GRADS],
        "cases": cases,
    }
    out_dir = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "optim")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "agc_golden.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")


if __name__ == "__main__":
    main()
