#!/usr/bin/python3
"""Golden values for keel's BatchNormalization, from PyTorch (an independent implementation).

Run with Debian's python (it has torch):  /usr/bin/python3 tools/golden/layers_bn.py
Writes tests/data/layers_bn/bn_golden.json.

Keras conventions converted (keras-semantics.md 1.4-1.5, 3.2-3.3):
  * torch momentum = 1 - keras momentum; eps = keras epsilon.
  * torch's running_var is the UNBIASED batch variance; Keras updates moving_variance with the
    BIASED one. So the expected moving statistics are computed here from torch.var(unbiased=False),
    with Keras's update order v -= (v - stat) * (1 - momentum), in float32; torch's running_mean is
    checked against ours as a cross-check of the conversion.
  * Inference output uses those Keras moving statistics (not torch's running_var).
Per training step: input x, upstream gradient dy, output y, dx, dgamma, dbeta (fresh, not
accumulated), and the moving statistics after the step.
"""
import json
import os

import numpy as np
import torch

KERAS_MOMENTUM = 0.99
EPS = 1e-3


def case(name, shape, steps, seed, offset=0.0, spread=1.0, dtype=torch.float32):
    """shape = (N, C) or (N, C, L); statistics per C over N (and L), as keel axis=1.

    dtype=torch.float64 computes the reference in double (then rounds to float32): used for the
    large-mean case, where a float32 reference would itself be the inaccurate side.
    """
    g = torch.Generator().manual_seed(seed)
    c = shape[1]
    bn = torch.nn.BatchNorm1d(c, eps=EPS, momentum=1.0 - KERAS_MOMENTUM).to(dtype)
    with torch.no_grad():
        bn.weight.copy_(torch.rand(c, generator=g) + 0.5)
        bn.bias.copy_(torch.randn(c, generator=g) * 0.5)
    gamma0 = bn.weight.detach().numpy().astype(np.float32).tolist()
    beta0 = bn.bias.detach().numpy().astype(np.float32).tolist()
    reduce_dims = [0] if len(shape) == 2 else [0, 2]
    moving_mean = np.zeros(c, dtype=np.float32)
    moving_var = np.ones(c, dtype=np.float32)
    decay = np.float32(1.0 - KERAS_MOMENTUM)
    out_steps = []
    bn.train()
    for _ in range(steps):
        x = (torch.randn(*shape, generator=g, dtype=torch.float64) * spread + offset).float().to(dtype)
        x.requires_grad_(True)
        dy = torch.randn(*shape, generator=g).to(dtype)
        bn.weight.grad = None
        bn.bias.grad = None
        y = bn(x)
        y.backward(dy)
        with torch.no_grad():
            mean = x.double().mean(dim=reduce_dims).numpy().astype(np.float32)
            var_biased = x.double().var(dim=reduce_dims, unbiased=False).numpy().astype(np.float32)
        moving_mean = (moving_mean - (moving_mean - mean) * decay).astype(np.float32)
        moving_var = (moving_var - (moving_var - var_biased) * decay).astype(np.float32)
        assert np.allclose(bn.running_mean.numpy(), moving_mean, rtol=1e-5, atol=1e-6)
        f32 = lambda t: t.detach().float().numpy().ravel().tolist()
        out_steps.append({
            "x": f32(x), "dy": f32(dy), "y": f32(y), "dx": f32(x.grad),
            "dgamma": f32(bn.weight.grad), "dbeta": f32(bn.bias.grad),
            "moving_mean": moving_mean.tolist(),
            "moving_variance": moving_var.tolist(),
        })
    # Inference with the Keras moving statistics.
    x = (torch.randn(*shape, generator=g, dtype=torch.float64) * spread + offset).float()
    view = (1, c) if len(shape) == 2 else (1, c, 1)
    mm = torch.from_numpy(moving_mean).view(view).double()
    mv = torch.from_numpy(moving_var).view(view).double()
    w = bn.weight.detach().view(view).double()
    b = bn.bias.detach().view(view).double()
    y_inf = (w * (x.double() - mm) / torch.sqrt(mv + EPS) + b).float()
    # A frozen layer (trainable=False): Keras runs it in inference mode even inside fit. PyTorch's
    # eval mode with the Keras moving statistics is the same function; autograd gives dx.
    frozen_x = (torch.randn(*shape, generator=g, dtype=torch.float64) * spread + offset).float()
    frozen_dy = torch.randn(*shape, generator=g).float()
    fx = frozen_x.double().requires_grad_(True)
    fy = (w * (fx - mm) / torch.sqrt(mv + EPS) + b)
    fy.backward(frozen_dy.double())
    # With mean 1e4 any float32 implementation (tf.keras's included) stores the batch mean with an
    # error of up to ulp(1e4)/2 = 4.9e-4, and x*inv + (beta - mean*inv) cancels at that magnitude,
    # so outputs/gradients can only be compared to the double reference at ~1e-3; the statistics
    # (the numerically delicate part) are still compared at the usual tolerance.
    value_tolerance = 2e-3 if offset >= 1e3 else 0.0
    return {
        "value_tolerance": value_tolerance,
        "frozen": {"x": frozen_x.numpy().ravel().tolist(), "dy": frozen_dy.numpy().ravel().tolist(),
                   "y": fy.detach().float().numpy().ravel().tolist(),
                   "dx": fx.grad.float().numpy().ravel().tolist()},
        "name": name, "shape": list(shape), "momentum": KERAS_MOMENTUM, "epsilon": EPS,
        "gamma": gamma0, "beta": beta0, "steps": out_steps,
        "inference": {"x": x.numpy().ravel().tolist(), "y": y_inf.numpy().ravel().tolist()},
    }


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out_dir = os.path.join(root, "tests", "data", "layers_bn")
    os.makedirs(out_dir, exist_ok=True)
    cases = [
        case("dense_2d", (8, 5), steps=3, seed=1),
        case("odd_batch", (7, 3), steps=2, seed=2, offset=3.0, spread=2.0),
        case("channels_first_3d", (4, 3, 5), steps=2, seed=3),
        # Features with mean ~1e4 and spread 1: a one-pass E[x^2]-E[x]^2 in float loses them.
        case("large_mean", (16, 4), steps=2, seed=4, offset=1e4, spread=1.0, dtype=torch.float64),
    ]
    with open(os.path.join(out_dir, "bn_golden.json"), "w") as f:
        json.dump({"generator": "tools/golden/layers_bn.py", "torch": torch.__version__,
                   "cases": cases}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
