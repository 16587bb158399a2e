#!/usr/bin/env python3
"""Prints the global gradient norm (tag grad_norm/preclip) that `keel train --logdir DIR
--grad-norm-every 1` wrote for training step 1, from DIR/train/*.tfevents*.

Reads only the first records (a 128-block run writes tens of MB) with tensorboard_decode.py's
protobuf decoding and skips its bit-by-bit CRC check. Usage: first_step_grad_norm.py LOGDIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tensorboard_decode import summary_records  # noqa: E402


def first_step_norm(logdir, tag="grad_norm/preclip"):
    for step, values in summary_records(logdir):
        if step > 1:
            break
        for value in values:
            if step == 1 and value.get("tag") == tag:
                return value["value"]
    raise SystemExit("first_step_grad_norm: no %s at step 1 under %s" % (tag, logdir))


if __name__ == "__main__":
    print(first_step_norm(sys.argv[1]))
