#!/usr/bin/python3
"""Golden values for keel's losses (tests/losses/loss_golden_test.cpp).

Independent implementation: PyTorch autograd in float64 on float32 inputs.
  * logits paths use torch's own fused functions (F.cross_entropy, F.binary_cross_entropy_with_logits);
  * the probability paths re-implement Keras's backend formulas (tf.keras 2.x keras/backend.py):
      categorical:  q = p / sum(p); c = clip(q, eps, 1-eps); -sum t log c
      sparse:       sparse_softmax_cross_entropy_with_logits(log(clip(p, eps, 1-eps)))
      binary:       c = clip(p, eps, 1-eps); -(t log(c+eps) + (1-t) log(1-c+eps))
    torch.clamp's gradient (zero strictly outside the bounds) matches tf.clip_by_value's;
  * mse / mae / huber use F.mse_loss / F.l1_loss / F.huber_loss(delta=1), reduction mean; a
    width-1 y_true is broadcast over the outputs as Keras does (checked against tf.keras by
    tools/golden/loss_broadcast_check.py).
Each case records the SUM of per-sample losses and d(mean loss)/d(input).

Run:  /usr/bin/python3 tools/golden/losses_golden.py  (writes tests/data/losses/losses_golden.json)
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

EPS = float(np.float32(1e-7))                 # keras.backend.epsilon() as a float32 tensor
ONE_MINUS_EPS = float(np.float32(1.0) - np.float32(1e-7))
rng = np.random.default_rng(20261127)


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def case(name, loss, inp, y_true, fn, *, from_logits=False, logits_of=None, y_pred=None):
    """fn(x, t) -> per-sample losses (batch,). x is the tensor the gradient is taken w.r.t."""
    inp = f32(inp)
    y_true = f32(y_true)
    x = torch.tensor(inp, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(y_true, dtype=torch.float64)
    per_sample = fn(x, t)
    per_sample.mean().backward()
    batch, width = inp.shape
    out = {
        "name": name, "loss": loss, "from_logits": from_logits,
        "batch": batch, "width": width, "true_width": y_true.shape[1],
        "y_true": y_true.ravel().tolist(),
        "expected_sum": float(per_sample.sum()),
        "expected_grad": x.grad.numpy().ravel().tolist(),
    }
    if logits_of is None:
        out["y_pred"] = inp.ravel().tolist()
        out["grad_wrt_logits"] = False
    else:
        # The model hands both its output and the pre-activation logits; gradient w.r.t. logits.
        out["logits"] = inp.ravel().tolist()
        out["logits_of"] = logits_of
        out["y_pred"] = f32(y_pred).ravel().tolist()
        out["grad_wrt_logits"] = True
    return out


def keras_sparse_probs(x, t):
    logp = torch.log(torch.clamp(x, EPS, ONE_MINUS_EPS))
    return F.cross_entropy(logp, t[:, 0].long(), reduction="none")


def keras_categorical_probs(x, t):
    q = x / x.sum(dim=1, keepdim=True)
    return -(t * torch.log(torch.clamp(q, EPS, ONE_MINUS_EPS))).sum(dim=1)


def keras_binary_probs(x, t):
    c = torch.clamp(x, EPS, ONE_MINUS_EPS)
    return (-(t * torch.log(c + EPS) + (1 - t) * torch.log(1 - c + EPS))).mean(dim=1)


def main():
    cases = []
    B, W = 5, 4
    z = f32(rng.normal(0, 2, size=(B, W)))
    labels = f32(rng.integers(0, W, size=(B, 1)))
    onehot = np.eye(W)[labels[:, 0].astype(int)]
    sparse_ce = lambda x, t: F.cross_entropy(x, t[:, 0].long(), reduction="none")
    dense_ce = lambda x, t: -(t * F.log_softmax(x, dim=1)).sum(dim=1)

    cases.append(case("sparse_softmax_logits", "sparse_categorical_crossentropy", z, labels,
                      sparse_ce, logits_of="softmax", y_pred=softmax(z)))
    cases.append(case("sparse_from_logits", "sparse_categorical_crossentropy", z, labels,
                      sparse_ce, from_logits=True))
    # Probabilities with exact 0 / 1 entries and a row that does not sum to 1: the clip path.
    p = f32([[1.0, 0.0, 0.0, 0.0],
             [0.2, 0.3, 0.4, 0.1],
             [0.0, 0.5, 0.5, 0.0],
             [1e-9, 0.999999, 1e-9, 1e-6],
             [0.25, 0.25, 0.25, 0.3]])
    plabels = f32([[1], [2], [0], [1], [3]])
    cases.append(case("sparse_probs_clipped", "sparse_categorical_crossentropy", p, plabels,
                      keras_sparse_probs))
    soft = f32(rng.dirichlet(np.ones(W), size=B))  # soft labels exercise sum(t) != one-hot
    cases.append(case("categorical_softmax_logits", "categorical_crossentropy", z, soft,
                      dense_ce, logits_of="softmax", y_pred=softmax(z)))
    cases.append(case("categorical_from_logits", "categorical_crossentropy", z, onehot,
                      dense_ce, from_logits=True))
    cases.append(case("categorical_probs_clipped", "categorical_crossentropy", p,
                      np.eye(W)[plabels[:, 0].astype(int)], keras_categorical_probs))
    cases.append(case("categorical_probs_soft", "categorical_crossentropy", p, soft,
                      keras_categorical_probs))

    bz = f32(rng.normal(0, 3, size=(4, 3)))
    bt = f32(rng.integers(0, 2, size=(4, 3)))
    bce_logits = lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none").mean(dim=1)
    cases.append(case("binary_from_logits", "binary_crossentropy", bz, bt, bce_logits,
                      from_logits=True))
    cases.append(case("binary_sigmoid_logits", "binary_crossentropy", bz, bt, bce_logits,
                      logits_of="sigmoid", y_pred=1 / (1 + np.exp(-bz))))
    bp = f32([[0.0, 1.0, 0.3], [0.9, 1e-9, 0.5], [0.7, 0.2, 1.0], [0.5, 0.99999999, 0.0]])
    cases.append(case("binary_probs_clipped", "binary_crossentropy", bp, bt, keras_binary_probs))

    yp = f32(rng.normal(0, 1.5, size=(6, 3)))
    yt = f32(rng.normal(0, 1.5, size=(6, 3)))
    yt[0, 0] = yp[0, 0]  # an exact zero error: mae gradient sign(0) = 0
    reg = lambda f: (lambda x, t: f(x, t, reduction="none").mean(dim=1))
    cases.append(case("mse", "mse", yp, yt, reg(F.mse_loss)))
    cases.append(case("mae", "mae", yp, yt, reg(F.l1_loss)))
    cases.append(case("huber", "huber", yp, yt,
                      reg(lambda x, t, reduction: F.huber_loss(x, t, reduction=reduction, delta=1.0))))
    # Keras broadcasts a width-1 y_true over every output for these losses (LossFunctionWrapper
    # expands y_true (N,) to (N, 1) before the mean over the last axis): the seed compiles
    # loss="mse" for a 10-way softmax and fits it on class ids.
    yt1 = f32(rng.integers(0, 10, size=(6, 1)))
    bcast = lambda f: (lambda x, t: f(x, t.expand_as(x), reduction="none").mean(dim=1))
    cases.append(case("mse_broadcast_true", "mse", yp, yt1, bcast(F.mse_loss)))
    cases.append(case("mae_broadcast_true", "mae", yp, yt1, bcast(F.l1_loss)))
    cases.append(case("huber_broadcast_true", "huber", yp, yt1,
                      bcast(lambda x, t, reduction: F.huber_loss(x, t, reduction=reduction, delta=1.0))))

    out_dir = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "losses")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "losses_golden.json"), "w") as f:
        json.dump({"generator": "tools/golden/losses_golden.py", "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
