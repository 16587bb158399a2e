"""PyTorch baseline for bench/run.sh: the seed model with Keras conventions, timed like keel.

Model: Flatten -> BN(784) -> Dense(300, elu) -> BN(300) -> Dense(100, elu) -> BN(100)
       -> Dense(10, softmax), BN with Keras momentum 0.99 / eps 1e-3 (PyTorch momentum 0.01),
       he-normal kernels, zero biases.
Training: SGD lr 0.01 with per-variable clipnorm=1.0 (Keras clipnorm: each gradient tensor
          rescaled to L2 norm <= 1), sparse categorical cross-entropy from the logits, one epoch
          over the first 55,000 Fashion-MNIST training images (pixels / 255, uint8 kept in memory,
          shuffled gather per batch, as keel does).
Inference: eval mode, torch.no_grad(); batch 1 (median of many calls) and batch 10,000; batch 1
           also for the same model with each BN folded into the Linear after it (fold_bn_forward).
Prints one JSON object on stdout.

Usage: PYTHON bench/torch_seed_mlp.py [--data DIR] [--samples N] [--peer LABEL]
(PYTHON: the PyPI wheel's venv, or /usr/bin/python3 for Debian's python3-torch)
"""
import argparse
import json
import os
import statistics
import time

import numpy as np
import torch
import torch.nn as nn

from fashion_mnist_idx import find, read_idx  # same directory


def seed_model():
    def dense(fan_in, units, he):
        layer = nn.Linear(fan_in, units)
        if he:
            # Keras he_normal: truncated normal, stddev sqrt(2 / fan_in) / .87962566
            nn.init.trunc_normal_(layer.weight, std=(2.0 / fan_in) ** 0.5 / 0.87962566103423978,
                                  a=-2 * (2.0 / fan_in) ** 0.5 / 0.87962566103423978,
                                  b=2 * (2.0 / fan_in) ** 0.5 / 0.87962566103423978)
        else:
            nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    def bn(c):
        return nn.BatchNorm1d(c, eps=1e-3, momentum=0.01)

    # Softmax is folded into the loss (CrossEntropyLoss takes logits), as Keras does.
    return nn.Sequential(nn.Flatten(), bn(784), dense(784, 300, True), nn.ELU(), bn(300),
                         dense(300, 100, True), nn.ELU(), bn(100), dense(100, 10, False))


def train_epoch(model, x_u8, y, batch, samples, seed=42):
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(samples, generator=g)
    params = list(model.parameters())
    start = time.perf_counter()
    for first in range(0, samples, batch):
        idx = order[first:first + batch]
        xb = x_u8[idx].float().mul_(1.0 / 255.0)
        yb = y[idx]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        for p in params:  # Keras clipnorm=1.0: per variable
            torch.nn.utils.clip_grad_norm_([p], 1.0)
        opt.step()
    return samples / (time.perf_counter() - start)


def eval_latency(model, x, repeats):
    model.eval()
    times = []
    with torch.no_grad():
        for _ in range(max(3, repeats // 10)):
            model(x)
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fold_bn_forward(model):
    """Eval-mode copy of the seed model with each BatchNorm1d folded into the Linear after it.

    BN before a Linear is x -> s*x + t (s = gamma / sqrt(var + eps), t = beta - mean*s), so
    W' = W diag(s), b' = b + W t. (torch.nn.utils.fusion only fuses Linear -> BN.)"""
    layers, pending = [], None
    for m in model:
        if isinstance(m, nn.BatchNorm1d):
            s = m.weight.detach().double() / torch.sqrt(m.running_var.double() + m.eps)
            pending = (s, m.bias.detach().double() - m.running_mean.double() * s)
        elif isinstance(m, nn.Linear) and pending is not None:
            s, t = pending
            w = m.weight.detach().double()
            fused = nn.Linear(m.in_features, m.out_features)
            with torch.no_grad():
                fused.weight.copy_((w * s[None, :]).float())
                fused.bias.copy_((m.bias.detach().double() + w @ t).float())
            layers.append(fused)
            pending = None
        else:
            assert pending is None, "BatchNorm1d not followed by a Linear"
            layers.append(m)
    return nn.Sequential(*layers).eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("KEEL_FASHION_MNIST_DIR") or
                    "/usr/share/datasets/fashion-mnist")
    ap.add_argument("--samples", type=int, default=55000)
    ap.add_argument("--peer", default="torch", help="the label of this PyTorch in the table")
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    x = torch.from_numpy(read_idx(find(args.data, "train-images-idx3-ubyte")).copy())
    y = torch.from_numpy(read_idx(find(args.data, "train-labels-idx1-ubyte")).astype(np.int64))
    config = torch.__config__.show()
    blas = next((f.split("=", 1)[1] for f in config.replace(",", "\n").split() if f.startswith("BLAS_INFO=")), "?")
    isa = next((l.split(":", 1)[1].strip() for l in config.splitlines() if "CPU capability usage" in l), "?")
    out = {"peer": args.peer, "version": f"PyTorch {torch.__version__}", "torch_version": torch.__version__,
           "blas": f"{blas}{', oneDNN' if torch.backends.mkldnn.is_available() else ''}, ISA {isa}",
           "threads": torch.get_num_threads()}
    for batch in (32, 256):
        out[f"train_samples_per_s_b{batch}"] = train_epoch(seed_model(), x, y, batch, args.samples)
    model = seed_model()
    train_epoch(model, x, y, 256, 2560)  # non-trivial BN statistics
    x1 = x[:1].float() / 255.0
    x10k = x[:10000].float() / 255.0
    out["predict_b1_us"] = eval_latency(model, x1, 2000) * 1e6
    out["predict_b10000_ms"] = eval_latency(model, x10k, 20) * 1e3
    fused = fold_bn_forward(model)
    with torch.no_grad():
        out["fold_max_abs_diff"] = (fused(x1) - model.eval()(x1)).abs().max().item()
    out["predict_b1_folded_us"] = eval_latency(fused, x1, 2000) * 1e6
    # The BLAS actually loaded (Debian's torch says BLAS_INFO=generic at build time and calls
    # whatever libblas.so.3 the alternatives system points to).
    with open("/proc/self/maps") as maps:
        loaded = sorted({os.path.realpath(l.split()[-1]) for l in maps if "blas" in l.lower() and "/" in l})
    out["blas"] += "; loaded: " + (", ".join(loaded) if loaded else "no separate BLAS library")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
