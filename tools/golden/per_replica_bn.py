#!/usr/bin/python3
"""NumPy reference for data-parallel BatchNormalization statistics (issue 15), for
tests/dist/data_parallel_test.cpp: one training step of global batch 64 (not shuffled) through
BatchNormalization(momentum=0.9) on 8 features, split over K ranks as keel and Keras split a global
batch (rank k takes rows [64k/K, 64(k+1)/K)).

  per-replica (synchronized=False): each rank normalises with its own rows' mean and biased
    variance and moves its own moving statistics; Keras reads the mean of the replicas' copies.
  synchronized=True: every rank uses the global batch's statistics.

Run: /usr/bin/python3 tools/golden/per_replica_bn.py   (writes tests/data/dist/bn_statistics.json)
"""
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "dist", "bn_statistics.json")
rng = np.random.default_rng(20261201)
n, features, momentum = 64, 8, 0.9
x = (2.0 + rng.standard_normal((n, features))).astype(np.float32)
labels = rng.integers(0, 4, n)


def moving(mean, var):  # Keras: moving -= (moving - stat) * (1 - momentum), from 0 and 1
    return 0.0 + (mean - 0.0) * (1 - momentum), 1.0 + (var - 1.0) * (1 - momentum)


doc = {"x": x.tolist(), "labels": labels.tolist(), "momentum": momentum, "ranks": {}}
xd = x.astype(np.float64)
for ranks in (1, 2, 3):
    means, variances = [], []
    for k in range(ranks):
        rows = xd[n * k // ranks: n * (k + 1) // ranks]
        mm, mv = moving(rows.mean(axis=0), rows.var(axis=0))  # biased variance (ddof=0)
        means.append(mm)
        variances.append(mv)
    gm, gv = moving(xd.mean(axis=0), xd.var(axis=0))
    doc["ranks"][str(ranks)] = {
        "per_replica": {"moving_mean": np.mean(means, axis=0).tolist(),
                        "moving_variance": np.mean(variances, axis=0).tolist()},
        "synchronized": {"moving_mean": gm.tolist(), "moving_variance": gv.tolist()},
    }
with open(OUT, "w") as f:
    json.dump(doc, f, indent=1)
print("wrote", os.path.normpath(OUT))
