#!/usr/bin/python3
"""Multi-step golden trajectories for keel's optimizers (tests/optimizers/optimizer_golden_test.cpp).

Two variables (sizes 5 and 3), 6 steps of fixed pseudo-random gradients (some steps scaled x40 so
clipping engages). Each case records the weights after every step.

References, all in float64 (keel computes in float32, the test tolerates that):
  * PyTorch torch.optim where it implements the Keras update exactly or equivalently:
      - SGD momentum / nesterov: PyTorch's buf = mu*buf + g; w -= lr*buf is Keras's
        m = mu*m - lr*g; w += m with m = -lr*buf, equivalent for a constant learning rate
        (keras-semantics.md section 6);
      - Keras's decoupled weight decay w -= w*wd*lr before the update is applied by hand
        (p.mul_(1 - lr*wd)) because torch SGD's weight_decay is a coupled L2 term; torch AdamW's
        own decay is the same decoupled rule;
      - Adam / AdamW / RMSprop / Adagrad: Keras puts epsilon elsewhere than PyTorch (Adam: Keras
        alpha*m/(sqrt(v)+eps) with the bias correction folded into alpha; RMSprop / Adagrad: Keras
        sqrt(v + eps), PyTorch sqrt(v) + eps). They coincide exactly for eps = 0, so the PyTorch
        cases use epsilon = 0;
      - Nadam: torch NAdam with momentum_decay = 1 uses Keras's u_t = b1*(1 - 0.5*0.96^t).
        Only its foreach=True path: torch 1.13's single-tensor path computes
        mu_product_next = mu_product * mu * mu_next (mu counted twice), a PyTorch bug that made
        the first keel comparison fail; the foreach path has Keras's mu_product * mu_next;
  * NumPy re-derivations of the Keras formulas (keras/optimizers/*.py, tf.keras >= 2.11) for the
    cases PyTorch cannot express: default epsilons, and gradient clipping (Keras clipnorm has no
    epsilon, PyTorch's clip_grad_norm_ adds 1e-6), which is applied in NumPy before handing the
    gradient to the PyTorch optimizer.

Run:  /usr/bin/python3 tools/golden/optim_trajectories.py  (writes tests/data/optim/optim_golden.json)
"""
import json
import os

import numpy as np
import torch

from keras_optim import keras_clip, keras_sgd

SIZES = (5, 3)
STEPS = 6
rng = np.random.default_rng(1127)
INIT = [rng.normal(0, 1, size=n).astype(np.float32).astype(np.float64) for n in SIZES]
GRADS = []
for step in range(STEPS):
    scale = 40.0 if step in (1, 4) else 1.0
    GRADS.append([(rng.normal(0, 1, size=n) * scale).astype(np.float32).astype(np.float64)
                  for n in SIZES])


# ---- PyTorch runner ----------------------------------------------------------------------------

def run_torch(make_opt, cfg, decoupled_wd=None):
    params = [torch.tensor(w.copy(), dtype=torch.float64) for w in INIT]
    opt = make_opt(params)
    out = []
    for grads in GRADS:
        clipped = keras_clip([g.copy() for g in grads], cfg)
        with torch.no_grad():
            if decoupled_wd:
                lr, wd = decoupled_wd
                for p in params:
                    p.mul_(1 - lr * wd)
        for p, g in zip(params, clipped):
            p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        out.append([p.detach().numpy().copy() for p in params])
    return out


# ---- NumPy re-derivations of the Keras update steps --------------------------------------------

def run_numpy(update, cfg, slots_init):
    w = [x.copy() for x in INIT]
    slots = [slots_init(x) for x in w]
    lr = cfg.get("learning_rate")
    wd = cfg.get("weight_decay")
    out = []
    for t, grads in enumerate(GRADS, start=1):
        clipped = keras_clip([g.copy() for g in grads], cfg)
        for i in range(len(w)):
            if wd:
                w[i] = w[i] - w[i] * wd * lr
            update(w[i], clipped[i], slots[i], t, cfg)
        out.append([x.copy() for x in w])
    return out


def keras_adam(w, g, s, t, c):
    b1, b2, eps, lr = c.get("beta_1", 0.9), c.get("beta_2", 0.999), c.get("epsilon", 1e-7), c["learning_rate"]
    s["m"] += (g - s["m"]) * (1 - b1)
    s["v"] += (g * g - s["v"]) * (1 - b2)
    v = s["v"]
    if c.get("amsgrad"):
        s["vhat"] = np.maximum(s["vhat"], s["v"])
        v = s["vhat"]
    alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    w -= (s["m"] * alpha) / (np.sqrt(v) + eps)


def keras_rmsprop(w, g, s, t, c):
    rho, mu, eps, lr = c.get("rho", 0.9), c.get("momentum", 0.0), c.get("epsilon", 1e-7), c["learning_rate"]
    s["velocity"] = rho * s["velocity"] + (1 - rho) * g * g
    if c.get("centered"):
        s["avg"] = rho * s["avg"] + (1 - rho) * g
        denom = s["velocity"] - s["avg"] ** 2 + eps
    else:
        denom = s["velocity"] + eps
    inc = lr * g / np.sqrt(denom)
    if mu > 0:
        s["mom"] = mu * s["mom"] + inc
        w -= s["mom"]
    else:
        w -= inc


def keras_adagrad(w, g, s, t, c):
    eps, lr = c.get("epsilon", 1e-7), c["learning_rate"]
    s["acc"] += g * g
    w -= lr * g / np.sqrt(s["acc"] + eps)


def zeros_slots(*names, init=0.0):
    return lambda x: {n: np.full_like(x, init) for n in names}


def main():
    cases = []

    def add(name, optimizer, cfg, traj, reference):
        cases.append({
            "name": name, "optimizer": optimizer, "config": cfg, "reference": reference,
            "expected": [[w.tolist() for w in step] for step in traj],
        })

    T = torch.optim
    # SGD family: PyTorch.
    c = {"learning_rate": 0.1}
    add("sgd_plain", "sgd", c, run_torch(lambda p: T.SGD(p, lr=0.1), c), "torch")
    c = {"learning_rate": 0.05, "momentum": 0.9}
    add("sgd_momentum", "sgd", c, run_torch(lambda p: T.SGD(p, lr=0.05, momentum=0.9), c), "torch")
    c = {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}
    add("sgd_nesterov", "sgd", c,
        run_torch(lambda p: T.SGD(p, lr=0.05, momentum=0.9, nesterov=True), c), "torch")
    c = {"learning_rate": 0.05, "momentum": 0.5, "weight_decay": 0.1}
    add("sgd_momentum_weight_decay", "sgd", c,
        run_torch(lambda p: T.SGD(p, lr=0.05, momentum=0.5), c, decoupled_wd=(0.05, 0.1)), "torch")
    for clip in ({"clipnorm": 1.0}, {"global_clipnorm": 1.5}, {"clipvalue": 0.5}):
        c = {"learning_rate": 0.05, "momentum": 0.9, **clip}
        key = list(clip)[0]
        add(f"sgd_momentum_{key}", "sgd", c,
            run_torch(lambda p: T.SGD(p, lr=0.05, momentum=0.9), c), "torch+numpy_clip")
    # Keras priority: clipnorm wins over clipvalue.
    c = {"learning_rate": 0.1, "clipnorm": 1.0, "clipvalue": 0.01}
    add("sgd_clipnorm_beats_clipvalue", "sgd", c,
        run_torch(lambda p: T.SGD(p, lr=0.1), {"clipnorm": 1.0}), "torch+numpy_clip")
    # Same with NumPy's Keras SGD, to check the runner conventions agree.
    c = {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}
    add("sgd_nesterov_numpy", "sgd", c, run_numpy(keras_sgd, c, zeros_slots("m")), "numpy")

    # Adam / AdamW.
    c = {"learning_rate": 0.01, "epsilon": 0.0}
    add("adam_eps0", "adam", c, run_torch(lambda p: T.Adam(p, lr=0.01, eps=0.0), c), "torch")
    c = {"learning_rate": 0.01, "epsilon": 0.0, "amsgrad": True}
    add("adam_amsgrad_eps0", "adam", c,
        run_torch(lambda p: T.Adam(p, lr=0.01, eps=0.0, amsgrad=True), c), "torch")
    c = {"learning_rate": 0.01, "epsilon": 0.1}
    add("adam_eps_keras_placement", "adam", c, run_numpy(keras_adam, c, zeros_slots("m", "v")), "numpy")
    c = {"learning_rate": 0.01, "global_clipnorm": 2.0}
    add("adam_default_eps_global_clipnorm", "adam", c,
        run_numpy(keras_adam, c, zeros_slots("m", "v")), "numpy")
    c = {"learning_rate": 0.01, "epsilon": 0.0, "weight_decay": 0.004}
    add("adamw_eps0", "adamw", c,
        run_torch(lambda p: T.AdamW(p, lr=0.01, eps=0.0, weight_decay=0.004), c), "torch")
    c = {"learning_rate": 0.01, "weight_decay": 0.004, "epsilon": 0.05}
    add("adamw_numpy", "adamw", c, run_numpy(keras_adam, c, zeros_slots("m", "v")), "numpy")

    # Nadam: torch NAdam(momentum_decay=1) is Keras's schedule.
    c = {"learning_rate": 0.01}
    add("nadam", "nadam", c,
        run_torch(lambda p: T.NAdam(p, lr=0.01, eps=1e-7, momentum_decay=1.0, foreach=True), c), "torch")
    c = {"learning_rate": 0.01, "beta_1": 0.8, "clipvalue": 2.0, "epsilon": 0.01}
    add("nadam_clipvalue", "nadam", c,
        run_torch(lambda p: T.NAdam(p, lr=0.01, betas=(0.8, 0.999), eps=0.01, momentum_decay=1.0, foreach=True), c),
        "torch+numpy_clip")

    # RMSprop.
    c = {"learning_rate": 0.01, "epsilon": 0.0}
    add("rmsprop_eps0", "rmsprop", c, run_torch(lambda p: T.RMSprop(p, lr=0.01, alpha=0.9, eps=0.0), c), "torch")
    c = {"learning_rate": 0.01, "epsilon": 0.0, "momentum": 0.8}
    add("rmsprop_momentum_eps0", "rmsprop", c,
        run_torch(lambda p: T.RMSprop(p, lr=0.01, alpha=0.9, eps=0.0, momentum=0.8), c), "torch")
    c = {"learning_rate": 0.01, "epsilon": 0.0, "centered": True, "momentum": 0.5}
    add("rmsprop_centered_momentum_eps0", "rmsprop", c,
        run_torch(lambda p: T.RMSprop(p, lr=0.01, alpha=0.9, eps=0.0, centered=True, momentum=0.5), c),
        "torch")
    c = {"learning_rate": 0.01, "epsilon": 0.5, "centered": True}
    add("rmsprop_centered_eps_inside_sqrt", "rmsprop", c,
        run_numpy(keras_rmsprop, c, zeros_slots("velocity", "avg", "mom")), "numpy")

    # Adagrad.
    c = {"learning_rate": 0.1, "epsilon": 0.0}
    add("adagrad_eps0", "adagrad", c,
        run_torch(lambda p: T.Adagrad(p, lr=0.1, eps=0.0, initial_accumulator_value=0.1), c), "torch")
    c = {"learning_rate": 0.1, "epsilon": 0.05, "initial_accumulator_value": 0.0}
    add("adagrad_eps_inside_sqrt", "adagrad", c,
        run_numpy(keras_adagrad, c, zeros_slots("acc")), "numpy")

    norms = [float(np.sqrt(sum(float(np.sum(g * g)) for g in step))) for step in GRADS]
    out = {
        "generator": "tools/golden/optim_trajectories.py",
        "sizes": list(SIZES),
        "init": [w.tolist() for w in INIT],
        "grads": [[g.tolist() for g in step] for step in GRADS],
        "preclip_global_norms": norms,
        "cases": cases,
    }
    out_dir = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "optim")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "optim_golden.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")


if __name__ == "__main__":
    main()
