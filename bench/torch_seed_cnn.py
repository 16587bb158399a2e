"""PyTorch twin of keel's built-in seed-cnn, for the accuracy comparison of issue 13 and the CNN
benchmark.

Model (keel/model/builtin_models.h `seed-cnn`, Keras conventions): twice [Conv2D(32, 3, same, no
bias, he_normal) -> BN -> ReLU], MaxPool(2), twice the same with 64 filters, MaxPool(2), Flatten,
Dense(128, no bias, he_normal) -> BN -> ReLU -> Dropout(0.3) -> Dense(10) (glorot_uniform, zero
bias; softmax in the loss, from the logits as Keras). BN as Keras's: momentum 0.99 (PyTorch
0.01), epsilon 1e-3. NCHW inside PyTorch (its fast layout); the input is the same images.

--epochs N (accuracy): `keel train seed-cnn`'s recipe: Keras's SGD() (lr 0.01, no momentum),
batch 32, the first 55,000 training images (pixels / 255), reshuffled every epoch; prints the test
accuracy after every epoch.
Otherwise (benchmark): one epoch's training throughput at --batch (default 64) over --samples
images, then eval-mode latency of batch 1 and batch 1,000.
Prints one JSON object on stdout.

Usage: PYTHON bench/torch_seed_cnn.py [--epochs N] [--data DIR] [--batch B] [--samples N] [--threads T]
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn

from fashion_mnist_idx import find, read_idx  # same directory
from torch_seed_mlp import eval_latency as latency


def he_normal_(weight, fan_in):
    std = (2.0 / fan_in) ** 0.5 / 0.87962566103423978  # Keras: truncated normal within 2 std
    nn.init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std)


def seed_cnn():
    def conv(cin, cout):
        c = nn.Conv2d(cin, cout, 3, padding=1, bias=False)  # 'same' for a 3x3 kernel, stride 1
        he_normal_(c.weight, 9 * cin)
        return [c, nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01), nn.ReLU()]

    dense = nn.Linear(64 * 7 * 7, 128, bias=False)
    he_normal_(dense.weight, 64 * 7 * 7)
    head = nn.Linear(128, 10)
    nn.init.xavier_uniform_(head.weight)
    nn.init.zeros_(head.bias)
    return nn.Sequential(*conv(1, 32), *conv(32, 32), nn.MaxPool2d(2), *conv(32, 64), *conv(64, 64),
                         nn.MaxPool2d(2), nn.Flatten(), dense, nn.BatchNorm1d(128, eps=1e-3, momentum=0.01),
                         nn.ReLU(), nn.Dropout(0.3), head)


def images(x_u8, idx):
    return x_u8[idx].float().mul_(1.0 / 255.0).unsqueeze(1)  # (batch, 1, 28, 28)


def train_epoch(model, opt, x_u8, y, batch, samples, generator):
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    order = torch.randperm(samples, generator=generator)
    start = time.perf_counter()
    for first in range(0, samples, batch):
        idx = order[first:first + batch]
        opt.zero_grad(set_to_none=True)
        loss_fn(model(images(x_u8, idx)), y[idx]).backward()
        opt.step()
    return samples / (time.perf_counter() - start)


def accuracy(model, x_u8, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for first in range(0, len(y), 1000):
            idx = torch.arange(first, min(first + 1000, len(y)))
            correct += (model(images(x_u8, idx)).argmax(1) == y[idx]).sum().item()
    return correct / len(y)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("KEEL_FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=0, help="train this many epochs and report test accuracy")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--samples", type=int, default=55000)
    ap.add_argument("--peer", default="torch-pypi")
    ap.add_argument("--threads", type=int, default=2, help="2 for the benchmark (keel's count)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    x = torch.from_numpy(read_idx(find(args.data, "train-images-idx3-ubyte")).copy())
    y = torch.from_numpy(read_idx(find(args.data, "train-labels-idx1-ubyte")).astype(np.int64))
    out = {"peer": args.peer, "version": f"PyTorch {torch.__version__}", "threads": torch.get_num_threads(),
           "mkldnn": torch.backends.mkldnn.is_available()}
    model = seed_cnn()
    generator = torch.Generator().manual_seed(42)
    if args.epochs:
        xt = torch.from_numpy(read_idx(find(args.data, "t10k-images-idx3-ubyte")).copy())
        yt = torch.from_numpy(read_idx(find(args.data, "t10k-labels-idx1-ubyte")).astype(np.int64))
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        out["recipe"] = "SGD lr 0.01, batch 32, 55,000 images, reshuffled each epoch"
        out["test_accuracy_per_epoch"] = []
        for _ in range(args.epochs):
            train_epoch(model, opt, x, y, 32, 55000, generator)
            out["test_accuracy_per_epoch"].append(accuracy(model, xt, yt))
            print(json.dumps({"epoch": len(out["test_accuracy_per_epoch"]),
                              "test_accuracy": out["test_accuracy_per_epoch"][-1]}), flush=True)
        out["test_accuracy"] = out["test_accuracy_per_epoch"][-1]
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        out[f"train_samples_per_s_b{args.batch}"] = train_epoch(model, opt, x, y, args.batch, args.samples, generator)
        out["predict_b1_us"] = latency(model, images(x, torch.arange(1)), 1000) * 1e6
        out["predict_b1000_ms"] = latency(model, images(x, torch.arange(1000)), 20) * 1e3
    print(json.dumps(out))


if __name__ == "__main__":
    main()
