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
  * SGD with Keras momentum form (equal to PyTorch's for constant lr) and Keras clipnorm
    (per variable g*c/max(||g||, c)) or global_clipnorm, applied by hand before the update.
Run: /usr/bin/python3 tools/golden/training_steps.py
"""
import json
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "training")
torch.set_default_dtype(torch.float32)


def build_case(name, bn_before, clip, momentum, seed):
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
    lr = 0.05

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
    for step, batch in enumerate((16, 16, 9)):  # the last batch is a partial one
        x = rng.uniform(0, 1, (batch,) + in_dims).astype(np.float32)
        y = rng.integers(0, classes, batch)
        batches.append({"x": x.reshape(batch, -1).tolist(), "y": y.astype(float).tolist()})
        _, logits = forward(torch.tensor(x), True)
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y))
        grads = torch.autograd.grad(loss, [t[k] for k in trainable])
        grads = [g.detach().clone() for g in grads]
        global_norm = float(np.sqrt(sum(float((g.double() ** 2).sum()) for g in grads)))
        if clip[0] == "clipnorm":
            c = clip[1]
            grads = [g * c / torch.clamp(torch.linalg.vector_norm(g), min=c) for g in grads]
        elif clip[0] == "global_clipnorm":
            c = clip[1]
            scale = c * min(1.0 / global_norm, 1.0 / c)
            grads = [g * np.float32(scale) for g in grads]
        with torch.no_grad():
            for k, g in zip(trainable, grads):
                velocity[k] = momentum * velocity[k] - lr * g
                t[k] += velocity[k]
        steps.append({"loss": float(loss), "preclip_global_norm": global_norm,
                      "weights": {k: t[k].detach().numpy().ravel().tolist() for k in order}})
    x_eval = rng.uniform(0, 1, (7,) + in_dims).astype(np.float32)
    with torch.no_grad():
        probs, _ = forward(torch.tensor(x_eval), False)
    case = {"name": name, "bn_before": bn_before, "clip": clip[0], "clip_value": clip[1],
            "momentum": momentum, "learning_rate": lr, "order": order, "initial": initial,
            "batches": batches, "steps": steps,
            "eval_x": x_eval.reshape(7, -1).tolist(), "eval_probs": probs.numpy().tolist()}
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(case, f)


os.makedirs(OUT, exist_ok=True)
build_case("seed_mlp_clipnorm", False, ("clipnorm", 0.5), 0.0, 1)
build_case("seed_mlp_bn_before_global_momentum", True, ("global_clipnorm", 1.0), 0.9, 2)
build_case("seed_mlp_noclip_momentum", False, ("none", 0.0), 0.9, 3)
print("wrote", OUT)
