#!/work/venvs/tf/bin/python
"""Golden training of a model with two inputs and two outputs, by REAL TensorFlow / tf.keras 2.12.

Writes tests/data/functional/multi_io_training.json. The model (built after clear_session, so the
names are Keras defaults except the outputs "cls" and "reg"):

    a = Input((6,)); b = Input((4,))
    ha = Dense(5, activation="tanh")(a); hb = Dense(5, activation="relu")(b)
    cls = Dense(3, activation="softmax", name="cls")(Concatenate()([ha, hb]))
    reg = Dense(2, name="reg")(Add()([ha, hb]))
    Model([a, b], [cls, reg])

Initial weights: np.random.default_rng(11), uniform in [-0.5, 0.5], in model.weights order; then
from the same generator xa ~ normal (10, 6), xb ~ normal (10, 4), integer class labels in [0, 3)
and regression targets ~ normal (10, 2).
compile(SGD(learning_rate=0.1, momentum=0.9), loss=["sparse_categorical_crossentropy", "mse"],
loss_weights=[1.0, 0.5], metrics=["accuracy"]); then
  * "fit": model.fit([xa, xb], [y_cls, y_reg], batch_size=4, epochs=2, shuffle=False) -- the
    History (every key Keras logs, per epoch) and the weights after training;
  * "evaluate": model.evaluate([xa, xb], [y_cls, y_reg], batch_size=4, return_dict=True) after it;
  * "predict": model.predict([xa, xb]) -> both outputs.
Values are float32 written as Python floats with full precision.

Run (from the repository root): /work/venvs/tf/bin/python tools/golden/multi_io_keras.py
"""

import json

from keras_env import ROOT, flat, np, tf

OUT = ROOT / "tests" / "data" / "functional" / "multi_io_training.json"
L = tf.keras.layers


def build():
    tf.keras.backend.clear_session()
    a = L.Input((6,))
    b = L.Input((4,))
    ha = L.Dense(5, activation="tanh")(a)
    hb = L.Dense(5, activation="relu")(b)
    cls = L.Dense(3, activation="softmax", name="cls")(L.Concatenate()([ha, hb]))
    reg = L.Dense(2, name="reg")(L.Add()([ha, hb]))
    return tf.keras.Model([a, b], [cls, reg])


def main():
    model = build()
    rng = np.random.default_rng(11)
    initial = {}
    for v in model.weights:
        value = rng.uniform(-0.5, 0.5, size=tuple(v.shape)).astype(np.float32)
        v.assign(value)
        initial[v.name] = flat(value)
    xa = rng.normal(size=(10, 6)).astype(np.float32)
    xb = rng.normal(size=(10, 4)).astype(np.float32)
    y_cls = rng.integers(0, 3, size=10).astype(np.int64)
    y_reg = rng.normal(size=(10, 2)).astype(np.float32)
    model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                  loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5],
                  metrics=["accuracy"])
    history = model.fit([xa, xb], [y_cls, y_reg], batch_size=4, epochs=2, shuffle=False, verbose=0)
    evaluated = model.evaluate([xa, xb], [y_cls, y_reg], batch_size=4, return_dict=True, verbose=0)
    predicted = model.predict([xa, xb], verbose=0)
    doc = {
        "tensorflow": tf.__version__,
        "weight_names": [v.name for v in model.weights],
        "initial_weights": initial,
        "xa": flat(xa), "xb": flat(xb),
        "y_cls": [float(v) for v in y_cls], "y_reg": flat(y_reg),
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
        "history_keys": list(history.history.keys()),
        "weights": {v.name: flat(v.numpy()) for v in model.weights},
        "evaluate": {k: float(v) for k, v in evaluated.items()},
        "evaluate_keys": list(evaluated.keys()),
        "predict": [flat(p) for p in predicted],
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: history keys {doc['history_keys']}")


if __name__ == "__main__":
    main()
