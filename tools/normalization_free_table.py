#!/usr/bin/env python3
"""Markdown table of the runs tools/normalization_free_study.sh made in OUT_DIR: test accuracy,
gradient norm at the first step, median step time. Usage: normalization_free_table.py OUT_DIR"""
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from first_step_grad_norm import first_step_norm  # noqa: E402


def main(out):
    rows = []
    for path in glob.glob(os.path.join(out, "*.json")):
        name = os.path.basename(path)[:-5]
        r = json.load(open(path))
        variant, blocks = name.rsplit("-", 1)
        try:
            norm = "%.4g" % first_step_norm(os.path.join(out, name + ".logs"))
        except SystemExit:
            norm = "n/a"
        hist = r["history"]
        rows.append((int(blocks), variant, r["epochs"], r["test_accuracy"], hist["loss"][-1], norm,
                     1e3 * r["median_step_seconds"]))
    order = {"plain": 0, "bn": 1, "fixup": 2, "fixup-agc": 3}
    rows.sort(key=lambda x: (x[0], order.get(x[1], 9)))
    print("| blocks | model | epochs | test accuracy | final train loss | grad norm, step 1 | median step (ms) |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    def num(x, fmt):  # NaN is written to the report as null
        return "NaN" if x is None else fmt % x
    for b, v, e, acc, loss, norm, ms in rows:
        print("| %d | %s | %d | %s | %s | %s | %.1f |" % (b, v, e, num(acc, "%.4f"), num(loss, "%.4g"), norm, ms))


if __name__ == "__main__":
    main(sys.argv[1])
