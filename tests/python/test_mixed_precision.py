"""keras.mixed_precision in keel.keras: Keras's policy API, layer dtype attributes, configs as
tf.keras 2.12 writes them (tests/data/mixed_precision, from tools/golden/mixed_precision_keras.py)."""
import json

import numpy as np
import pytest

from conftest import DATA, run_python


def test_policy_api_as_keras(keras):
    mp = keras.mixed_precision
    policy = mp.Policy("mixed_bfloat16")
    assert (policy.name, policy.compute_dtype, policy.variable_dtype) == ("mixed_bfloat16", "bfloat16", "float32")
    assert repr(policy) == '<Policy "mixed_bfloat16">'
    assert mp.global_policy() == mp.Policy("float32")
    with pytest.raises(ValueError, match="Cannot convert value bogus to a mixed precision Policy"):
        mp.Policy("bogus")
    with pytest.raises(ValueError, match="keel does not implement"):
        mp.Policy("mixed_float16")
    try:
        mp.set_global_policy("mixed_bfloat16")
        assert mp.global_policy().name == "mixed_bfloat16"
        mixed = keras.layers.Dense(3)
        own = keras.layers.Dense(3, dtype="float32")
    finally:
        mp.set_global_policy(None)
    plain = keras.layers.Dense(3, dtype=mp.Policy("mixed_bfloat16"))
    assert mp.global_policy().name == "float32"
    assert (mixed.dtype_policy.name, mixed.compute_dtype, mixed.dtype) == ("mixed_bfloat16", "bfloat16", "float32")
    assert own.dtype_policy.name == "float32"
    assert plain.dtype_policy.name == "mixed_bfloat16"
    assert mixed.get_config()["dtype"] == {"class_name": "Policy", "config": {"name": "mixed_bfloat16"}}
    assert own.get_config()["dtype"] == "float32"


def test_seed_model_config_as_tf_keras():
    # A fresh interpreter: the global policy and default names start as in tf.keras's run.
    out = run_python(f"""
import json
from keel import keras
keras.mixed_precision.set_global_policy("mixed_bfloat16")
# The seed MLP's config without per-layer dtypes, so the global policy decides (as the generator).
config = json.load(open({str(DATA / "configs" / "seed_mlp.json")!r}))
for layer in config["config"]["layers"][1:]:
    layer["config"].pop("dtype")
model = keras.models.model_from_json(json.dumps(config))
theirs = json.load(open({str(DATA / "mixed_precision" / "seed_mlp_mixed.json")!r}))
ours = json.loads(model.to_json())
assert ours["config"]["layers"] == theirs["config"]["layers"], (ours["config"]["layers"], theirs["config"]["layers"])
lines = []
model.summary(print_fn=lines.append)
assert "\\n".join(lines) + "\\n" == open({str(DATA / "mixed_precision" / "seed_mlp_mixed.txt")!r}).read()
loaded = keras.models.model_from_json(json.dumps(theirs))
print(sorted({{l.dtype_policy.name for l in loaded.layers}}))
""")
    assert out.strip() == "['mixed_bfloat16']"


def test_trains_and_saves_under_the_policy(keras, tmp_path):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = keras.Sequential([keras.layers.Dense(8, activation="relu", input_shape=(4,)),
                                  keras.layers.Dense(3, activation="softmax")])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype("float32")
    y = rng.integers(0, 3, 64)
    history = model.fit(x, y, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert all(w.dtype == "float32" for w in model.weights)
    model.save(tmp_path / "m")
    again = keras.models.load_model(tmp_path / "m")
    assert [l.dtype_policy.name for l in again.layers] == ["mixed_bfloat16", "mixed_bfloat16"]
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
