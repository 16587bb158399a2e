#!/usr/bin/env python3
"""Prints the global gradient norm (tag grad_norm/preclip) that `keel train --logdir DIR
--grad-norm-every 1` wrote for training step 1, from DIR/train/*.tfevents*.

Reads only the first records (a 128-block run writes tens of MB) with tensorboard_decode.py's
protobuf decoding and skips its bit-by-bit CRC check. Usage: first_step_grad_norm.py LOGDIR
"""
import glob
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tensorboard_decode import decode_value, fields  # noqa: E402


def first_step_norm(logdir, tag="grad_norm/preclip"):
    for path in sorted(glob.glob(os.path.join(logdir, "train", "*tfevents*"))):
        with open(path, "rb") as f:
            while True:
                header = f.read(12)
                if len(header) < 12:
                    break
                (length,) = struct.unpack("<Q", header[:8])
                payload = f.read(length)
                f.read(4)
                step, values = 0, []
                for number, wire, v in fields(payload):
                    if number == 2 and wire == 0:
                        step = v
                    elif number == 5 and wire == 2:
                        values += [decode_value(val) for n2, w2, val in fields(v) if n2 == 1 and w2 == 2]
                if step > 1:
                    break
                for value in values:
                    if step == 1 and value.get("tag") == tag:
                        return value["value"]
    raise SystemExit("first_step_grad_norm: no %s at step 1 under %s" % (tag, logdir))


if __name__ == "__main__":
    print(first_step_norm(sys.argv[1]))
