#!/usr/bin/env python3
"""Markdown table of the runs tools/exploding_gradients_study.sh made in OUT_DIR: epochs run,
test mse, the failed fraction of the 10,000 test sequences (Pascanu et al.: squared error > 0.04;
solved at 0), and from the TensorBoard log the pre-clip global gradient norm (median, max, and
whether it was ever non-finite; logged every 10th step) and the fraction of clipped steps (every
step counted). Usage: OUT_DIR"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tensorboard_decode import summary_records  # noqa: E402

import json  # noqa: E402


def scalars(logdir, tags):
    """{tag: [(step, value), ...]} for the scalar tags of LOGDIR/train."""
    out = {t: [] for t in tags}
    for step, values in summary_records(logdir):
        for value in values:
            if value.get("tag") in out:
                out[value["tag"]].append((step, value["value"]))
    return out


def main(out):
    order = ["none", "clipvalue", "clipnorm", "global_clipnorm", "lstm"]
    print("| run | epochs run | test mse | failed test sequences | solved | pre-clip norm: median | max | non-finite steps | clipped steps |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|")
    for name in order:
        path = os.path.join(out, name + ".json")
        if not os.path.exists(path):
            continue
        r = json.load(open(path))
        s = scalars(os.path.join(out, name + ".logs"), ["grad_norm/preclip", "grad_norm/clip_fraction"])
        norms = [v for _, v in s["grad_norm/preclip"]]
        finite = sorted(v for v in norms if math.isfinite(v))
        clipped = [v for _, v in s["grad_norm/clip_fraction"]]
        median = finite[len(finite) // 2] if finite else float("nan")
        loss = r.get("test_loss")
        failed = r.get("test_failed_fraction")
        print("| %s | %d | %s | %s | %s | %.3g | %.3g | %d | %.1f%% |" % (
            name, r["epochs"], "NaN/inf" if loss is None or not math.isfinite(loss) else "%.4f" % loss,
            "n/a" if failed is None else "%.2f%%" % (100 * failed),
            "yes" if failed == 0 else "no", median, finite[-1] if finite else float("nan"),
            len(norms) - len(finite), 100 * sum(clipped) / max(1, len(clipped))))


if __name__ == "__main__":
    main(sys.argv[1])
