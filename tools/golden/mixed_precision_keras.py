#!/work/venvs/tf/bin/python
"""Golden fixtures for keel's mixed_bfloat16 policy, from real tf.keras 2.12 (tools/golden/setup_venv.sh).

Writes tests/data/mixed_precision/:
  rounding.json            float32 bit patterns and what tf.cast(..., tf.bfloat16) makes of them
                           (ties, subnormals, overflow, NaN, infinities, signed zeros, random values)
  seed_mlp_mixed.json      model.to_json() of the seed MLP built under
                           keras.mixed_precision.set_global_policy("mixed_bfloat16")
  seed_mlp_mixed.txt       that model's model.summary()
  seed_mlp_per_layer.json  the same model with the first Dense given dtype="float32" (a per-layer
                           policy under the mixed global policy)

The seed MLP is tests/data/configs/seed_mlp.json (itself checked against the seed's summary) with
the per-layer "dtype" keys removed, so that the global policy decides, as when the seed's code runs
after set_global_policy.

Run: /work/venvs/tf/bin/python tools/golden/mixed_precision_keras.py   (from the repository root)
"""

import io
import json
import struct
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from keras_env import ROOT, np, tf  # noqa: E402

OUT = ROOT / "tests" / "data" / "mixed_precision"
keras = tf.keras


def f32_bits(values):
    return [struct.unpack("<I", struct.pack("<f", v))[0] for v in np.asarray(values, dtype=np.float32)]


def rounding_cases():
    rng = np.random.default_rng(7)
    one = 0x3F800000
    bits = [
        one, one + 0x7FFF, one + 0x8000, one + 0x8001, one + 0x18000,  # below, at (even), above a tie; odd tie
        0x3F808000, 0x3F818000, 0xBF808000,  # ties around 1.0 with odd/even last kept bits, negative
        0x00000001, 0x00008000, 0x00018000, 0x007FFFFF, 0x80000001,  # subnormals (ties too)
        0x7F7FFFFF, 0x7F7F8000, 0x7F7F7FFF, 0xFF7FFFFF,  # the largest finite floats: round to inf or not
        0x7F800000, 0xFF800000, 0x00000000, 0x80000000,  # infinities and zeros
        0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FBFFFFF, 0xFF800001,  # quiet and signalling NaNs
    ]
    bits += f32_bits(rng.standard_normal(200) * 10.0 ** rng.integers(-30, 30, 200))
    bits += [int(b) for b in rng.integers(0, 2**32, 200, dtype=np.uint64)]
    x = np.array(bits, dtype=np.uint32).view(np.float32)
    y = tf.bitcast(tf.cast(tf.constant(x), tf.bfloat16), tf.uint16).numpy()
    return [[int(b), int(h)] for b, h in zip(bits, y)]


def seed_mlp_under_policy(first_dense_dtype=None):
    config = json.loads((ROOT / "tests" / "data" / "configs" / "seed_mlp.json").read_text())
    first_dense = True
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "InputLayer":
            continue
        layer["config"].pop("dtype", None)
        if layer["class_name"] == "Dense" and first_dense:
            first_dense = False
            if first_dense_dtype is not None:
                layer["config"]["dtype"] = first_dense_dtype
    keras.backend.clear_session()
    return keras.models.model_from_json(json.dumps(config))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "rounding.json").write_text(json.dumps({"source": "tf.cast(float32 -> bfloat16), TF " + tf.__version__,
                                                   "cases": rounding_cases()}) + "\n")
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = seed_mlp_under_policy()
    assert all(l.dtype_policy.name == "mixed_bfloat16" for l in model.layers), [l.dtype_policy for l in model.layers]
    (OUT / "seed_mlp_mixed.json").write_text(model.to_json() + "\n")
    text = io.StringIO()
    model.summary(print_fn=lambda line: text.write(line + "\n"))
    (OUT / "seed_mlp_mixed.txt").write_text(text.getvalue())
    per_layer = seed_mlp_under_policy("float32")
    names = [l.dtype_policy.name for l in per_layer.layers]
    assert names.count("float32") == 1, names
    (OUT / "seed_mlp_per_layer.json").write_text(per_layer.to_json() + "\n")
    keras.mixed_precision.set_global_policy("float32")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
