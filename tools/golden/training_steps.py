#!/usr/bin/python3
"""Golden values for whole training steps of seed-style models, computed with PyTorch.

Writes tests/data/training/<case>.json: the initial weights (keel/Keras variable names and
layouts), the batches, and after every step the loss, the pre-clip global gradient norm and all
weights (BN moving statistics included), plus inference outputs at the end.

Keras conventions are applied on top of PyTorch (keras-semantics.md):
  * Linear weight = Keras kernel transposed; BatchNorm1d(eps=1e-3) in training mode normalises with
    the biased batch variance like Keras, but its running_var uses the UNBIASED variance, so the
    moving statistics are updated here by hand: v -= (v - batch_stat) * (1 - 0.99), biased var.
  * Loss: sparse categorical cross-entropy from the softmax logits (torch cross_entropy), mean.
  * The optimizer step is written out by hand with Keras's formulas (keras-semantics.md §2, §6):
    SGD (plain, momentum m = mu*m - lr*g; w += m, nesterov w += mu*m - lr*g) and Adam (tf.keras
    2.11: m += (g-m)(1-b1), v += (g^2-v)(1-b2), w -= lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v)+1e-7)),
    after exactly one clipping rule: clipvalue (clamp), clipnorm (per variable
    g*c/max(||g||, c)) or global_clipnorm (g * c*min(1/global, 1/c)).
Run: /usr/bin/python3 tools/golden/training_steps.py
"""
import json
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "training")
torch.set_default_dtype(torch.float32)


def build_case(name, bn_before, clip, momentum, seed, optimizer="sgd", nesterov=False, num_steps=3,
               lr=0.05):
    rng = np.random.default_rng(seed)
    in_dims, h1, h2, classes = (4, 5), 12, 8, 5
    fan_in = in_dims[0] * in_dims[1]
    # Layer list mirroring keel's Sequential: (kind, params)
    weights = {}  # keel variable name -> np.float32 array (Keras layout)

    def bn(prefix, c):
        weights[f"{prefix}/gamma:0"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        weights[f"{prefix}/beta:0"] = rng.uniform(-0.5, 0.5, c).astype(np.float32)
        weights[f"{prefix}/moving_mean:0"] = np.zeros(c, np.float32)
        weights[f"{prefix}/moving_variance:0"] = np.ones(c, np.float32)

    def dense(prefix, n_in, n_out, bias):
        weights[f"{prefix}/kernel:0"] = (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(np.float32)
        if bias:
            weights[f"{prefix}/bias:0"] = rng.uniform(-0.1, 0.1, n_out).astype(np.float32)

    if not bn_before:
        layers = [("flatten",), ("bn", "batch_normalization"), ("dense", "dense", "elu", True),
                  ("bn", "batch_normalization_1"), ("dense", "dense_1", "elu", True),
                  ("bn", "batch_normalization_2"), ("dense", "dense_2", "softmax", True)]
    else:
        layers = [("flatten",), ("bn", "batch_normalization"), ("dense", "dense", "linear", False),
                  ("bn", "batch_normalization_1"), ("act", "elu"), ("dense", "dense_1", "linear", False),
                  ("bn", "batch_normalization_2"), ("act", "elu"), ("dense", "dense_2", "softmax", True)]
    width = fan_in
    widths = {"dense": h1, "dense_1": h2, "dense_2": classes}
    order = []
    for layer in layers:
        if layer[0] == "bn":
            bn(layer[1], width)
            order += [f"{layer[1]}/{v}:0" for v in ("gamma", "beta", "moving_mean", "moving_variance")]
        elif layer[0] == "dense":
            dense(layer[1], width, widths[layer[1]], layer[3])
            order += [f"{layer[1]}/kernel:0"] + ([f"{layer[1]}/bias:0"] if layer[3] else [])
            width = widths[layer[1]]

    initial = {k: v.tolist() for k, v in weights.items()}
    t = {k: torch.tensor(v, requires_grad=not ("moving" in k)) for k, v in weights.items()}
    trainable = [k for k in order if "moving" not in k]
    velocity = {k: torch.zeros_like(t[k]) for k in trainable}
    adam_v = {k: torch.zeros_like(t[k]) for k in trainable}

    def forward(x, training):
        h = x.reshape(x.shape[0], -1)
        logits = None
        for layer in layers:
            if layer[0] == "bn":
                p = layer[1]
                if training:
                    mean = h.mean(dim=0)
                    var = ((h - mean) ** 2).mean(dim=0)  # biased, as Keras
                    with torch.no_grad():  # Keras moving update: v -= (v - x) * (1 - momentum)
                        for stat, value in (("moving_mean", mean), ("moving_variance", var)):
                            v = t[f"{p}/{stat}:0"]
                            v -= (v - value.detach()) * np.float32(1 - 0.99)
                else:
                    mean, var = t[f"{p}/moving_mean:0"], t[f"{p}/moving_variance:0"]
                inv = torch.rsqrt(var + 1e-3) * t[f"{p}/gamma:0"]
                h = h * inv + (t[f"{p}/beta:0"] - mean * inv)
            elif layer[0] == "dense":
                z = h @ t[f"{layer[1]}/kernel:0"]
                if layer[3]:
                    z = z + t[f"{layer[1]}/bias:0"]
                if layer[2] == "elu":
                    h = torch.nn.functional.elu(z)
                elif layer[2] == "softmax":
                    logits, h = z, torch.softmax(z, dim=1)
                else:
                    h = z
            elif layer[0] == "act":
                h = torch.nn.functional.elu(h)
        return h, logits

    batches = []
    steps = []
    sizes = [16] * (num_steps - 1) + [9]  # the last batch is a partial one
    for step, batch in enumerate(sizes):
        x = rng.uniform(0, 1, (batch,) + in_dims).astype(np.float32)
        y = rng.integers(0, classes, batch)
        batches.append({"x": x.reshape(batch, -1).tolist(), "y": y.astype(float).tolist()})
        _, logits = forward(torch.tensor(x), True)
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y))
        grads = torch.autograd.grad(loss, [t[k] for k in trainable])
        grads = [g.detach().clone() for g in grads]
        global_norm = float(np.sqrt(sum(float((g.double() ** 2).sum()) for g in grads)))
        if clip[0] == "clipvalue":
            grads = [torch.clamp(g, -clip[1], clip[1]) for g in grads]
        elif clip[0] == "clipnorm":
            c = clip[1]
            grads = [g * c / torch.clamp(torch.linalg.vector_norm(g), min=c) for g in grads]
        elif clip[0] == "global_clipnorm":
            c = clip[1]
            scale = c * min(1.0 / global_norm, 1.0 / c)
            grads = [g * np.float32(scale) for g in grads]
        with torch.no_grad():
            for k, g in zip(trainable, grads):
                if optimizer == "adam":
                    b1, b2 = np.float32(0.9), np.float32(0.999)
                    it = step + 1
                    alpha = np.float32(lr * np.sqrt(1.0 - np.float64(b2) ** it) / (1.0 - np.float64(b1) ** it))
                    velocity[k] += (g - velocity[k]) * np.float32(1 - 0.9)
                    adam_v[k] += (g * g - adam_v[k]) * np.float32(1 - 0.999)
                    t[k] -= (velocity[k] * alpha) / (torch.sqrt(adam_v[k]) + np.float32(1e-7))
                else:
                    velocity[k] = momentum * velocity[k] - lr * g
                    t[k] += momentum * velocity[k] - lr * g if nesterov else velocity[k]
        record = {"loss": float(loss), "preclip_global_norm": global_norm}
        # Every weight (moving statistics included) after steps 1, 10 and 20: enough to catch a
        # drift, small enough to commit.
        if num_steps <= 3 or step == 0 or (step + 1) % 10 == 0:
            record["weights"] = {k: t[k].detach().numpy().ravel().tolist() for k in order}
        steps.append(record)
    x_eval = rng.uniform(0, 1, (7,) + in_dims).astype(np.float32)
    with torch.no_grad():
        probs, _ = forward(torch.tensor(x_eval), False)
    case = {"name": name, "bn_before": bn_before, "clip": clip[0], "clip_value": clip[1],
            "optimizer": optimizer, "nesterov": nesterov,
            "tolerance": 1e-5,
            "momentum": momentum, "learning_rate": lr, "order": order, "initial": initial,
            "batches": batches, "steps": steps,
            "eval_x": x_eval.reshape(7, -1).tolist(), "eval_probs": probs.numpy().tolist()}
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(case, f)


os.makedirs(OUT, exist_ok=True)
build_case("seed_mlp_clipnorm", False, ("clipnorm", 0.5), 0.0, 1)
build_case("seed_mlp_bn_before_global_momentum", True, ("global_clipnorm", 1.0), 0.9, 2)
build_case("seed_mlp_noclip_momentum", False, ("none", 0.0), 0.9, 3)
# Issue 3's matrix: 20 steps of SGD (plain, momentum, nesterov) and Adam, each with every clip rule.
# Thresholds are small enough that each rule actually clips on most steps.
seed = 10
for opt, mom, nest, lr in (("sgd", 0.0, False, 0.05), ("sgd", 0.9, False, 0.02),
                           ("sgd", 0.9, True, 0.02), ("adam", 0.0, False, 0.002)):
    label = opt if opt == "adam" else ("sgd_nesterov" if nest else ("sgd_momentum" if mom else "sgd"))
    for clip in (("clipvalue", 0.05), ("clipnorm", 0.3), ("global_clipnorm", 0.8)):
        seed += 1
        # Adam runs on the BN-after-activation model only: in the BN-before model the input BN's
        # beta gradient is exactly 0 in exact arithmetic (Dense without activation, then BN, which
        # removes any constant shift), so both sides hold rounding noise of random sign there, and
        # Adam scales noise to +-lr per step: no two float32 implementations can agree on it.
        bn_before = seed % 2 == 0 and opt != "adam"
        build_case(f"steps20_{label}_{clip[0]}", bn_before, clip, mom, seed, optimizer=opt,
                   nesterov=nest, num_steps=20, lr=lr)
print("wrote", OUT)
