"""PyTorch twins of keel's built-in residual MLPs (issue 12), trained with `keel train`'s default
recipe, to say what an independent implementation reaches where keel's Fixup accuracy target is
checked.

Models (keel/model/builtin_models.h, docs/normalization_free.md), Keras initialisers:
  stem      Flatten -> Dense(128) (glorot_uniform, zero bias, no activation)
  N blocks  h = h + branch(h)
    plain   Dense(128, elu) -> Dense(128)
    bn      Dense(128) -> BN -> elu -> Dense(128) -> BN   (Keras BN: momentum 0.99, eps 1e-3)
    fixup   bias -> Dense(128, elu) -> bias -> Dense(128) -> *scale -> bias, the first Dense
            he_normal (truncated, Keras's) times N^(-1/2), the second zero; scalar biases 0,
            scale 1 (keel::fixup, the paper's rule with m = 2)
  head      [fixup: bias ->] Dense(10) (glorot_uniform; zero for fixup), softmax in the loss
Recipe: SGD lr 0.01, no momentum, batch 32, the first 55,000 training images (pixels / 255)
reshuffled every epoch; test accuracy on the 10,000 test images at the end.

Usage: PYTHON tools/reference_accuracy/torch_resnet_mlp.py --model fixup [--blocks 32] [--epochs 1] [--seed 42]
Prints one JSON object on stdout.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from fashion_mnist_idx import find, read_idx  # noqa: E402
from torch_seed_cnn import he_normal_  # noqa: E402  (Keras's truncated he_normal)


def glorot_dense(n_in, n_out):
    d = nn.Linear(n_in, n_out)
    nn.init.xavier_uniform_(d.weight)
    nn.init.zeros_(d.bias)
    return d


class Scalar(nn.Module):
    """FixupBias (add, starts at 0) or FixupScale (multiply, starts at 1): one parameter."""

    def __init__(self, value, multiply):
        super().__init__()
        self.value, self.multiply = nn.Parameter(torch.full((1,), float(value))), multiply

    def forward(self, x):
        return x * self.value if self.multiply else x + self.value


class Branch(nn.Module):
    def __init__(self, kind, blocks):
        super().__init__()
        self.kind = kind
        self.d1, self.d2 = glorot_dense(128, 128), glorot_dense(128, 128)
        if kind == "bn":
            self.bn1 = nn.BatchNorm1d(128, eps=1e-3, momentum=0.01)
            self.bn2 = nn.BatchNorm1d(128, eps=1e-3, momentum=0.01)
        if kind == "fixup":
            he_normal_(self.d1.weight, 128)
            with torch.no_grad():
                self.d1.weight.mul_(blocks ** -0.5)
            nn.init.zeros_(self.d2.weight)
            self.b1, self.b2 = Scalar(0, False), Scalar(0, False)
            self.scale, self.b3 = Scalar(1, True), Scalar(0, False)

    def forward(self, h):
        if self.kind == "plain":
            return self.d2(F.elu(self.d1(h)))
        if self.kind == "bn":
            return self.bn2(self.d2(F.elu(self.bn1(self.d1(h)))))
        return self.b3(self.scale(self.d2(self.b2(F.elu(self.d1(self.b1(h)))))))


class ResnetMlp(nn.Module):
    def __init__(self, kind, blocks):
        super().__init__()
        self.stem = glorot_dense(784, 128)
        self.branches = nn.ModuleList(Branch(kind, blocks) for _ in range(blocks))
        self.head_bias = Scalar(0, False) if kind == "fixup" else nn.Identity()
        self.head = glorot_dense(128, 10)
        if kind == "fixup":
            nn.init.zeros_(self.head.weight)

    def forward(self, x):
        h = self.stem(x.flatten(1))
        for branch in self.branches:
            h = h + branch(h)
        return self.head(self.head_bias(h))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("KEEL_FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist")
    ap.add_argument("--model", choices=["plain", "bn", "fixup"], required=True)
    ap.add_argument("--blocks", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    x = torch.from_numpy(read_idx(find(args.data, "train-images-idx3-ubyte"))[:55000].astype(np.float32) / 255.0)
    y = torch.from_numpy(read_idx(find(args.data, "train-labels-idx1-ubyte"))[:55000].astype(np.int64))
    xt = torch.from_numpy(read_idx(find(args.data, "t10k-images-idx3-ubyte")).astype(np.float32) / 255.0)
    yt = torch.from_numpy(read_idx(find(args.data, "t10k-labels-idx1-ubyte")).astype(np.int64))

    model = ResnetMlp(args.model, args.blocks)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    diverged = False
    for _ in range(args.epochs):
        model.train()
        order = torch.randperm(len(x))
        for start in range(0, len(x), 32):
            idx = order[start:start + 32]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            if not math.isfinite(loss.item()):
                diverged = True
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if diverged:
            break
    model.eval()
    with torch.no_grad():
        acc = (model(xt).argmax(1) == yt).float().mean().item()
    print(json.dumps({"peer": "torch", "torch": torch.__version__, "model": "resnet-mlp-" + args.model,
                      "blocks": args.blocks, "epochs": args.epochs, "seed": args.seed,
                      "recipe": "SGD lr 0.01, batch 32, 55,000 images",
                      "diverged": diverged, "test_accuracy": None if diverged else round(acc, 4)}))


if __name__ == "__main__":
    main()
