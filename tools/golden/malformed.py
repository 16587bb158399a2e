#!/usr/bin/python3
"""Writes tests/data/malformed/<reader>/...: inputs that once crashed or misbehaved a keel reader
(found by review or by the fuzz targets in fuzz/), each of which must now fail with a keel::Error.
tests/cli/malformed_files_test.cpp reads every file here; add a case by adding a function below
and noting what it used to do. Files are written with the struct module, independent of keel."""
import json
import os
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "malformed")


def put(rel, data):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def sequential(layers, input_shape=(None, 4)):
    return {"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": list(input_shape), "name": "in"}}] + layers}}


def model_configs():
    # Was: std::bad_alloc (4e12 parameters) -> "internal error", exit 1.
    put("model_config/huge_units.json", json.dumps(sequential(
        [{"class_name": "Dense", "config": {"units": 1000000000000, "name": "d"}}])))
    # Was: signed overflow in Dense's kernel size (UB), then a bogus allocation.
    put("model_config/overflow_units.json", json.dumps(sequential(
        [{"class_name": "Dense", "config": {"units": 4611686018427387904, "name": "d"}}])))
    # Fuzz finding (model_config_fuzzer): nlohmann throws out_of_range.406 for a number that
    # overflows double, which model_from_json did not catch -> "internal error", exit 1.
    put("model_config/number_overflow.json", b'{"class_name": "Sequential", "config": {"layers": [11e308]}}')
    # Invalid UTF-8 in a key: nlohmann rejects it while parsing; were it to get through, dump()
    # in an error message would throw type_error.316 (model_from_config now converts those).
    put("model_config/invalid_utf8.json", b'{"class_name": "Sequential", "config": {"name": "s", "layers": '
        b'[{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4]}}, '
        b'{"class_name": "Dense", "config": {"units": 2, "bad\xdd": "\xdd"}}]}}')
    # Was: signed overflow in Flatten's sample size (2^40 * 2^40).
    put("model_config/huge_input.json", json.dumps(sequential(
        [{"class_name": "Flatten", "config": {"name": "f"}},
         {"class_name": "Dense", "config": {"units": 2, "name": "d"}}],
        input_shape=(None, 1 << 40, 1 << 40))))


def saved_models():
    topology = sequential([{"class_name": "Dense", "config": {"units": 2, "name": "dense"}}])
    shard = struct.pack("<10f", *range(10))

    def model(name, weights, shard_bytes=shard):
        doc = {"format": "layers-model", "modelTopology": topology,
               "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": weights}]}
        put(f"saved_model/{name}/model.json", json.dumps(doc))
        put(f"saved_model/{name}/group1-shard1of1.bin", shard_bytes)

    ok = [{"name": "dense/kernel", "shape": [4, 2], "dtype": "float32"},
          {"name": "dense/bias", "shape": [2], "dtype": "float32"}]
    # Was: nlohmann::json::type_error from json::value() -> "internal error", exit 1.
    model("dtype_not_string", [dict(ok[0], dtype=7), ok[1]])
    model("group_not_string", [dict(ok[0], group=["optimizer"]), ok[1]])
    # Was: int64 overflow in the element count of a skipped (optimizer) weight, so the byte
    # offsets of the following weights wrapped around.
    put("saved_model/number_overflow/model.json", b'{"format": "layers-model", "modelTopology": 1e999}')
    model("overflow_shape", [{"name": "opt/x", "shape": [1 << 32, 1 << 32, 16], "group": "optimizer"}] + ok)


def checkpoint_bytes(entries):
    out = b"KEELCKPT" + struct.pack("<II", 1, len(entries))
    for name, code, count, data in entries:
        out += struct.pack("<I", len(name)) + name.encode() + struct.pack("<BQ", code, count) + data
    return out + struct.pack("<I", crc32c(out))


def checkpoints():
    # Entries for the model of malformed_files_test.cpp: in(4) -> Dense(2) 'dense', no optimizer.
    model = [("model/dense/kernel", 1, 8, struct.pack("<8f", *range(8))),
             ("model/dense/bias", 1, 2, struct.pack("<2f", 0, 0))]
    train = [("train/epoch", 3, 1, struct.pack("<q", 1)), ("train/global_step", 3, 1, struct.pack("<q", 5)),
             ("train/batch_size", 3, 1, struct.pack("<q", 32))]
    # Was: std::out_of_range from .at(0) on an empty 'train/seed' -> "internal error", exit 1.
    put("checkpoint/empty_seed.keel", checkpoint_bytes(model + train + [("train/seed", 4, 0, b"")]))
    # Was: memcpy from a null pointer (UBSan) for an empty entry.
    put("checkpoint/empty_kernel.keel", checkpoint_bytes(
        [("model/dense/kernel", 1, 0, b"")] + model[1:] + train + [("train/seed", 4, 1, struct.pack("<Q", 42))]))
    # Was accepted: a negative epoch resumed training "before" epoch 0.
    put("checkpoint/negative_epoch.keel", checkpoint_bytes(
        model + [("train/epoch", 3, 1, struct.pack("<q", -5))] + train[1:] +
        [("train/seed", 4, 1, struct.pack("<Q", 42))]))


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    model_configs()
    saved_models()
    checkpoints()
    print("wrote", OUT)


if __name__ == "__main__":
    main()
