#!/usr/bin/python3
"""Writes the seed corpora under fuzz/corpus/<target>/: small valid files from an independent
writer (NumPy, the struct module, gzip) plus a few classic malformed ones. Run from anywhere;
fuzz.sh adds whatever the fuzzer finds interesting to its own (uncommitted) work corpus;
minimised merges of those are committed next to the seeds.

The idx and csv fuzzers read one leading mode byte before the file (see their sources)."""
import gzip
import io
import os
import shutil
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def idx_bytes(code, dims, payload):
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def idx_seeds():
    imgs = idx_bytes(0x08, [2, 3, 3], bytes(range(18)))
    labels = idx_bytes(0x08, [4], bytes([0, 9, 3, 1]))
    f32 = idx_bytes(0x0D, [2, 2], np.array([1, -2, 0.5, 3], ">f4").tobytes())
    f64 = idx_bytes(0x0E, [3], np.array([1, 2, 3], ">f8").tobytes())
    i16 = idx_bytes(0x0B, [2], np.array([-1, 300], ">i2").tobytes())
    i32 = idx_bytes(0x0C, [1, 2], np.array([7, -7], ">i4").tobytes())
    nan = idx_bytes(0x0D, [1], np.array([np.nan], ">f4").tobytes())
    # mode byte 0: the file as is; 1: the harness gzips the rest.
    for mode in (0, 1):
        for name, data in [("uint8_images", imgs), ("uint8_labels", labels), ("float32", f32),
                           ("float64", f64), ("int16", i16), ("int32", i32), ("nan", nan)]:
            put("idx", f"{name}_m{mode}", bytes([mode]) + data)
    # Already-gzip'd files given raw (multi-member too) exercise the reader's own detection.
    put("idx", "gz_raw", b"\0" + gzip.compress(imgs))
    put("idx", "gz_two_members", b"\0" + gzip.compress(imgs[:10]) + gzip.compress(imgs[10:]))
    put("idx", "bad_truncated", b"\0" + imgs[:-3])
    put("idx", "bad_huge_claim", b"\0" + idx_bytes(0x08, [0x80000000, 28, 28], bytes(16)))
    put("idx", "bad_type", b"\0" + bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 5]))
    put("idx", "bad_gz_trailing", b"\0" + gzip.compress(labels) + b"junk")


def npy_bytes(arr, version=(1, 0), header=None):
    buf = io.BytesIO()
    if header is None:
        np.lib.format.write_array(buf, arr, version=version)
        return buf.getvalue()
    head = header.encode()
    pad = (64 - (10 + len(head) + 1) % 64) % 64
    head = head + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head + arr.tobytes()


def npy_seeds():
    put("npy", "f4", npy_bytes(np.arange(6, dtype="<f4").reshape(2, 3)))
    put("npy", "f8_be", npy_bytes(np.array([1.5, -2], ">f8")))
    put("npy", "u1", npy_bytes(np.arange(12, dtype="u1").reshape(3, 2, 2)))
    put("npy", "i8_v2", npy_bytes(np.array([1, -1], "<i8"), version=(2, 0)))
    put("npy", "i2_v3", npy_bytes(np.array([[1], [2]], "<i2"), version=(3, 0)))
    put("npy", "scalar", npy_bytes(np.array(3.0, "<f4")))
    put("npy", "empty", npy_bytes(np.zeros((0, 4), "<f4")))
    put("npy", "bad_fortran", npy_bytes(np.asfortranarray(np.ones((2, 2), "<f4"))))
    put("npy", "bad_huge", npy_bytes(np.zeros(1, "<f4"),
                                     header="{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"))
    put("npy", "bad_structured", npy_bytes(np.zeros(1, [("a", "<f4"), ("b", "<i4")])))
    put("npy", "bad_truncated", npy_bytes(np.arange(6, dtype="<f4"))[:-5])


def csv_seeds():
    # mode byte: bits 0-1 header (0 auto, 1 present, 2 absent), bits 2-3 label column
    # (0 none, 1 last, 2 index from bits 4-6, 3 named 'label'), bit 6 ';', bit 7 allow nan.
    put("csv", "header_label", bytes([0 | (3 << 2)]) + b"a,b,label\n1,2,0\n3.5,-4e2,1\n")
    put("csv", "plain", bytes([2]) + b"1,2,3\n4,5,6\n\n7,8,9\n")
    put("csv", "last_col", bytes([0 | (1 << 2)]) + b'"x", "y"\r\n1, 2\r\n+3, 4\r\n')
    put("csv", "semicolon_nan", bytes([0x40 | 0x80 | 2]) + b"1;nan\ninf;2\n")
    put("csv", "bad_ragged", bytes([2]) + b"1,2\n3\n")
    put("csv", "bad_text", bytes([2]) + b"1,zz\n")
    put("csv", "bad_mixed_header", bytes([0]) + b"a,1\n2,3\n")


def config_seeds():
    src = os.path.join(ROOT, "tests", "data", "configs")
    for name in sorted(os.listdir(src)):
        if name.endswith(".json"):
            shutil.copy(os.path.join(src, name), os.path.join(CORPUS, "model_config", name))
    # tf.keras 2.12 to_json() of functional models (not the training goldens in the same folder).
    src = os.path.join(ROOT, "tests", "data", "functional")
    for name in sorted(os.listdir(src)):
        if name.endswith(".json") and "training" not in name:
            shutil.copy(os.path.join(src, name),
                        os.path.join(CORPUS, "model_config", "functional_" + name))
    put("model_config", "bad_not_json", "{\"class_name\": \"Sequential\", ")
    put("model_config", "bad_functional", '{"class_name": "Functional", "config": {"layers": []}}')
    put("model_config", "bad_unknown_layer",
        '{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Conv2D", '
        '"config": {"batch_input_shape": [null, 4]}}]}}')
    put("model_config", "bad_negative_units",
        '{"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", '
        '"config": {"units": -3, "batch_input_shape": [null, 4]}}]}}')


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def tiny_topology(bn=True):
    layers = [{"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "name": "in"}},
              {"class_name": "Dense", "config": {"units": 3, "name": "dense"}}]
    if bn:
        layers.append({"class_name": "BatchNormalization", "config": {"name": "bn"}})
    layers.append({"class_name": "Dense", "config": {"units": 2, "name": "out"}})
    return {"class_name": "Sequential", "config": {"name": "tiny", "layers": layers}}


def saved_model_seeds():
    import json
    rng = np.random.default_rng(0)
    weights = [("dense/kernel", [4, 3]), ("dense/bias", [3]), ("bn/gamma", [3]), ("bn/beta", [3]),
               ("bn/moving_mean", [3]), ("bn/moving_variance", [3]), ("out/kernel", [3, 2]),
               ("out/bias", [2])]
    shard = b"".join(np.abs(rng.standard_normal(int(np.prod(s)))).astype("<f4").tobytes()
                     for _, s in weights)

    def image(doc, shard_bytes):
        text = json.dumps(doc).encode()
        return struct.pack("<H", len(text)) + text + shard_bytes

    manifest = [{"paths": ["group1-shard1of1.bin"],
                 "weights": [{"name": n, "shape": s, "dtype": "float32"} for n, s in weights]}]
    doc = {"format": "layers-model", "generatedBy": "make_seeds.py", "convertedBy": None,
           "modelTopology": tiny_topology(), "weightsManifest": manifest}
    put("saved_model", "tiny_bn", image(doc, shard))
    plain = [w for w in weights if not w[0].startswith("bn/")]
    doc2 = dict(doc, modelTopology=tiny_topology(bn=False),
                weightsManifest=[{"paths": ["group1-shard1of1.bin"],
                                  "weights": [{"name": n + ":0", "shape": s} for n, s in plain]}])
    put("saved_model", "tiny_plain", image(doc2, np.ones(12 + 3 + 6 + 2, "<f4").tobytes()))
    put("saved_model", "bad_short_shard", image(doc, shard[:-4]))
    put("saved_model", "bad_nan", image(doc, np.full(len(shard) // 4, np.nan, "<f4").tobytes()))
    bad = json.loads(json.dumps(doc))
    bad["weightsManifest"][0]["weights"][0]["shape"] = [3, 4]
    put("saved_model", "bad_shape", image(bad, shard))
    bad["weightsManifest"][0]["paths"] = ["../escape.bin"]
    put("saved_model", "bad_path", image(bad, shard))


def checkpoint_bytes(entries, with_crc=True):
    out = b"KEELCKPT" + struct.pack("<II", 1, len(entries))
    for name, code, data in entries:
        size = {1: 4, 2: 8, 3: 8, 4: 8}[code]
        out += struct.pack("<I", len(name)) + name.encode() + struct.pack("<BQ", code, len(data) // size) + data
    return out + struct.pack("<I", crc32c(out)) if with_crc else out


def checkpoint_seeds():
    # The fuzz model of checkpoint_fuzzer.cpp: dense(4->3), bn(3), drop, out(3->2), SGD momentum.
    f32 = lambda n, v=0.5: np.full(n, v, "<f4").tobytes()
    variables = [("dense/kernel", 12), ("dense/bias", 3), ("bn/gamma", 3), ("bn/beta", 3),
                 ("bn/moving_mean", 3), ("bn/moving_variance", 3), ("out/kernel", 6), ("out/bias", 2)]
    entries = [("model/" + n, 1, f32(k)) for n, k in variables]
    trainable = [v for v in variables if "moving" not in v[0]]
    entries += [("optimizer/" + n + "/momentum", 1, f32(k, 0.0)) for n, k in trainable]
    entries += [("optimizer/iterations", 3, struct.pack("<q", 10)),
                ("optimizer/learning_rate", 2, struct.pack("<d", 0.01)),
                ("train/epoch", 3, struct.pack("<q", 1)), ("train/global_step", 3, struct.pack("<q", 10)),
                ("train/seed", 4, struct.pack("<Q", 42)), ("train/batch_size", 3, struct.pack("<q", 32)),
                ("rng/drop", 4, struct.pack("<4Q", 1, 2, 3, 4))]
    full = checkpoint_bytes(entries)
    # mode byte 1: the harness appends the CRC; 0: the file as is.
    put("checkpoint", "full_m0", b"\0" + full)
    put("checkpoint", "full_m1", b"\1" + full[:-4])
    put("checkpoint", "model_only_m1", b"\1" + checkpoint_bytes(entries[:8], with_crc=False))
    put("checkpoint", "bad_crc", b"\0" + full[:-1] + bytes([full[-1] ^ 1]))
    put("checkpoint", "bad_version", b"\1" + b"KEELCKPT" + struct.pack("<II", 9, 0))
    put("checkpoint", "bad_count_m1", b"\1" + b"KEELCKPT" + struct.pack("<II", 1, 1) +
        struct.pack("<I", 1) + b"x" + struct.pack("<BQ", 1, 1 << 60))


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(number, wire, payload):
    key = varint(number << 3 | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def event_seeds():
    version = field(1, 1, struct.pack("<d", 1.5)) + field(3, 2, b"brain.Event:2")
    simple = field(1, 2, b"loss") + field(2, 5, struct.pack("<f", 0.25))
    tf1 = field(1, 1, struct.pack("<d", 2.0)) + field(2, 0, varint(3)) + field(5, 2, field(1, 2, simple))
    # TF2 scalar: Value{tag, metadata{plugin_data{plugin_name "scalars"}}, tensor{dtype DT_FLOAT, float_val}}
    tensor = field(1, 0, varint(1)) + field(5, 2, struct.pack("<f", 0.75))
    meta = field(1, 2, field(1, 2, b"scalars"))
    tf2 = field(1, 1, struct.pack("<d", 3.0)) + field(2, 0, varint(7)) + field(
        5, 2, field(1, 2, field(1, 2, b"epoch_accuracy") + field(9, 2, meta) + field(8, 2, tensor)))

    def framed(payloads):
        out = b""
        for p in payloads:
            head = struct.pack("<Q", len(p))
            mask = lambda c: (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF
            out += head + struct.pack("<I", mask(crc32c(head))) + p + struct.pack("<I", mask(crc32c(p)))
        return out

    def lengths(payloads):
        return b"".join(struct.pack("<H", len(p)) + p for p in payloads)

    put("event_file", "three_m0", b"\0" + framed([version, tf1, tf2]))
    put("event_file", "three_m1", b"\1" + lengths([version, tf1, tf2]))
    put("event_file", "torn_tail_m0", b"\0" + framed([version, tf1])[:-3])
    put("event_file", "bad_crc_m0", b"\0" + framed([version])[:-1] + b"\0")
    put("event_file", "bad_varint_m1", b"\1" + lengths([version, b"\x10" + b"\xff" * 12]))


def main():
    # Overwrites only the named seeds: the corpora also hold inputs merged in from long fuzz runs
    # (`<target> -merge=1 fuzz/corpus/<name> build-fuzz/fuzz-work/<name>`, files named by hash).
    for target in ("idx", "npy", "csv", "model_config", "saved_model", "checkpoint", "event_file"):
        os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    idx_seeds()
    npy_seeds()
    csv_seeds()
    config_seeds()
    saved_model_seeds()
    checkpoint_seeds()
    event_seeds()
    print("seeds written to", CORPUS, file=sys.stderr)


if __name__ == "__main__":
    main()
