#!/usr/bin/env python3
"""PyTorch baseline for bench/rnn.sh (issue 14): seed-lstm with Keras conventions, timed like keel.

Model: LSTM(128) over the 28 rows of 28 pixels (batch_first), last hidden state, Linear(128, 10);
       Keras's initialisation (glorot-uniform input kernel, orthogonal recurrent kernel, zero
       biases but the forget gate's at 1: PyTorch has two biases, b_ih carries it, b_hh is zero).
Training: Adam lr 0.001 with per-variable clipnorm=1.0 (Keras clipnorm: every gradient tensor
          rescaled to L2 norm <= 1), cross-entropy from the logits; pixels / 255 gathered per
          shuffled batch from uint8, as keel does.
  timing mode (default): one epoch of the first 12,800 training images at batch 64 and 32 after a
          640-sample warm-up, then eval-mode predict of one sequence (median of 5,000 calls) and
          of 10,000; prints one JSON object.
  --accuracy EPOCHS: the issue's recipe, batch 32 over the first 55,000 images (keel holds out the
          last 5,000), EPOCHS epochs, then the test accuracy on the 10,000 test images.

Run with the PyPI wheel (bench/rnn.sh makes /work/venvs/torch or $KEEL_TORCH_VENV), 2 threads.
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn as nn

from torch_seed_mlp import read_idx  # the IDX reader of the seed-model baseline (same directory)


def load(dirname, stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(dirname, name)
        if os.path.exists(p):
            return torch.from_numpy(read_idx(p).copy())
    raise FileNotFoundError(os.path.join(dirname, stem))


class SeedLstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 128, batch_first=True)
        self.dense = nn.Linear(128, 10)
        u = 128
        # PyTorch's gate blocks are [i f g o], Keras's [i f c o]: the same order.
        nn.init.xavier_uniform_(self.lstm.weight_ih_l0)
        nn.init.orthogonal_(self.lstm.weight_hh_l0)
        nn.init.zeros_(self.lstm.bias_ih_l0)
        nn.init.zeros_(self.lstm.bias_hh_l0)
        with torch.no_grad():
            self.lstm.bias_ih_l0[u:2 * u] = 1.0  # unit_forget_bias
        nn.init.xavier_uniform_(self.dense.weight)
        nn.init.zeros_(self.dense.bias)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.dense(h[0])  # logits; the softmax is in the loss, as Keras computes it


def train_epoch(model, opt, x_u8, y, batch, samples, generator):
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    order = torch.randperm(samples, generator=generator)
    params = list(model.parameters())
    start = time.perf_counter()
    for first in range(0, samples, batch):
        idx = order[first:first + batch]
        xb = x_u8[idx].float().mul_(1.0 / 255.0)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), y[idx])
        loss.backward()
        for p in params:  # Keras clipnorm: per variable
            torch.nn.utils.clip_grad_norm_([p], 1.0)
        opt.step()
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--accuracy", type=int, default=0, metavar="EPOCHS")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    x = load(args.data, "train-images-idx3-ubyte")
    y = load(args.data, "train-labels-idx1-ubyte").long()
    g = torch.Generator().manual_seed(42)
    info = {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "blas": "mkl" if torch.backends.mkl.is_available() else "other",
            "mkldnn": torch.backends.mkldnn.is_available()}
    if args.accuracy:
        model = SeedLstm()
        opt = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)  # Keras's epsilon
        seconds = sum(train_epoch(model, opt, x, y, 32, 55000, g) for _ in range(args.accuracy))
        xt = load(args.data, "t10k-images-idx3-ubyte").float() / 255.0
        yt = load(args.data, "t10k-labels-idx1-ubyte").long()
        model.eval()
        with torch.inference_mode():
            acc = (model(xt).argmax(1) == yt).float().mean().item()
        info.update(epochs=args.accuracy, test_accuracy=acc, train_seconds=seconds)
        print(json.dumps(info))
        return
    for batch in (64, 32):
        model = SeedLstm()
        opt = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
        train_epoch(model, opt, x, y, batch, 640, g)
        seconds = train_epoch(model, opt, x, y, batch, 12800, g)
        info[f"train_samples_per_s_b{batch}"] = 12800 / seconds
    model = SeedLstm().eval()
    xt = load(args.data, "t10k-images-idx3-ubyte").float() / 255.0
    x1 = xt[:1].contiguous()
    times = []
    with torch.inference_mode():
        for _ in range(500):
            model(x1)
        for _ in range(5000):
            t = time.perf_counter()
            model(x1)
            times.append(time.perf_counter() - t)
        model(xt)
        t10k = []
        for _ in range(3):
            t = time.perf_counter()
            model(xt)
            t10k.append(time.perf_counter() - t)
    info["predict_b1_us"] = 1e6 * statistics.median(times)
    info["predict_b10000_ms"] = 1e3 * statistics.median(t10k)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
