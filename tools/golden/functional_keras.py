#!/work/venvs/tf/bin/python
"""Golden fixtures for keel's functional API, produced by REAL TensorFlow / tf.keras 2.12.

Unlike the other generators in tools/golden (which re-implement Keras rules), everything written
here is output of tf.keras itself; nothing reads keel's output.

Writes into tests/data/functional/:
  * <model>.summary.txt -- the exact text of model.summary() (print_fn collecting the lines,
    joined with "\\n", plus a final "\\n"); sequential-like graphs get Keras's 65-column layout,
    the others the 98-column "Connected to" layout;
  * <model>.json -- exactly model.to_json() (no pretty-printing, no trailing newline);
    for the models functional_chain, residual_mlp, residual_mlp_bn, two_input_concat,
    shared_layer, merge_zoo and two_outputs (see MODELS below). tf.keras.backend.clear_session()
    runs before each model is built, so the default names start fresh (input_1, dense, ..., model).
  * training_steps.json -- SGD training steps of a small residual functional model with a fan-out
    tensor, a three-way Add, a Multiply, a Concatenate and a shared Dense layer (two call sites):
    initial weights from np.random.default_rng(7) (uniform in [-0.5, 0.5], in model.weights order,
    then x ~ normal (10 x 6) and integer labels in [0, 4) from the same generator), then
      - "residual_shared_momentum": SGD(learning_rate=0.1, momentum=0.9),
        scenario "train_on_batch": 3 x model.train_on_batch(x, y) on the full batch of 10,
        scenario "fit_batch_size_4": model.fit(x, y, batch_size=4, epochs=1, shuffle=False),
        i.e. 3 steps of 4, 4 and 2 samples (fresh model, same initial weights);
      - "residual_shared_clipnorm": SGD(learning_rate=0.1, clipnorm=1.0), 3 x train_on_batch.
      - "residual_shared_clipnorm_0_25": the same with clipnorm=0.25 (1.0 never clips here).
    Per step: the loss and every variable's value (flattened row-major, float32 values written as
    Python floats with full precision); per scenario model.predict(x) after training.
    For train_on_batch steps, "grad_norms" holds each trainable variable's gradient norm before
    clipping (computed separately, at the weights the step starts from; informational).
    For fit, "loss" is the loss of that batch alone and "logged_loss" is what Keras passes to
    on_train_batch_end (the running, sample-weighted mean over the epoch so far).
  * README.md -- where the files come from and how to regenerate them.

Needs tensorflow-cpu==2.12.* (and numpy), e.g. in the venv /work/venvs/tf. Ops run on the CPU,
single-threaded, with tf.config.experimental.enable_op_determinism().

Run (from the repository root):
    /work/venvs/tf/bin/python tools/golden/functional_keras.py
"""

import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "functional"

tf.config.experimental.enable_op_determinism()
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

L = tf.keras.layers


# --------------------------------------------------------------------------------------------
# Models for summary / to_json fixtures.
# --------------------------------------------------------------------------------------------
def functional_chain():
    x = L.Input((28, 28))
    h = L.Flatten()(x)
    h = L.Dense(300, activation="elu", kernel_initializer="he_normal")(h)
    y = L.Dense(10, activation="softmax")(h)
    return tf.keras.Model(x, y)


def residual_mlp():
    x = L.Input((784,))
    h = L.Dense(128)(x)
    for _ in range(2):
        b = L.Dense(128, activation="elu")(h)
        b = L.Dense(128)(b)
        h = L.Add()([h, b])
    y = L.Dense(10, activation="softmax")(h)
    return tf.keras.Model(x, y)


def residual_mlp_bn():
    x = L.Input((784,))
    h = L.Dense(128)(x)
    for _ in range(2):
        b = L.Dense(128)(h)
        b = L.BatchNormalization()(b)
        b = L.Activation("elu")(b)
        b = L.Dense(128)(b)
        b = L.BatchNormalization()(b)
        h = L.Add()([h, b])
    y = L.Dense(10, activation="softmax")(h)
    return tf.keras.Model(x, y)


def two_input_concat():
    a = L.Input((784,))
    b = L.Input((32,))
    ha = L.Dense(64, activation="relu")(a)
    hb = L.Dense(16, activation="relu")(b)
    c = L.Concatenate()([ha, hb])
    y = L.Dense(10, activation="softmax")(c)
    return tf.keras.Model([a, b], y)


def shared_layer():
    x1 = L.Input((32,))
    x2 = L.Input((32,))
    shared = L.Dense(16, activation="tanh")
    h = L.Concatenate()([shared(x1), shared(x2)])
    y = L.Dense(1)(h)
    return tf.keras.Model([x1, x2], y)


def merge_zoo():
    a = L.Input((8,))
    b = L.Input((8,))
    d1 = L.Dense(8)(a)
    d2 = L.Dense(8)(b)
    s = L.Subtract()([d1, d2])
    m = L.Multiply()([d1, d2])
    av = L.Average()([d1, d2])
    mx = L.Maximum()([d1, d2])
    mn = L.Minimum()([d1, d2])
    c = L.Concatenate()([s, m, av, mx, mn])
    y = L.Dense(3)(c)
    return tf.keras.Model([a, b], [y, s])


def two_outputs():
    x = L.Input((20,))
    h = L.Dense(16, activation="relu")(x)
    y1 = L.Dense(3, activation="softmax", name="cls")(h)
    y2 = L.Dense(1, name="reg")(h)
    return tf.keras.Model(x, [y1, y2])


MODELS = {
    "functional_chain": functional_chain,
    "residual_mlp": residual_mlp,
    "residual_mlp_bn": residual_mlp_bn,
    "two_input_concat": two_input_concat,
    "shared_layer": shared_layer,
    "merge_zoo": merge_zoo,
    "two_outputs": two_outputs,
}


def summary_text(model):
    lines = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    return "\n".join(lines) + "\n"


def write_model_fixtures():
    for stem, build in MODELS.items():
        tf.keras.backend.clear_session()
        model = build()
        text = summary_text(model)
        (OUT / f"{stem}.summary.txt").write_text(text)
        (OUT / f"{stem}.json").write_text(model.to_json())
        print(f"wrote {stem}: {len(text.splitlines())} summary lines, width "
              f"{max(len(line) for line in text.splitlines())}, "
              f"{model.count_params():,} params")


# --------------------------------------------------------------------------------------------
# Training steps.
# --------------------------------------------------------------------------------------------
def residual_shared():
    x = L.Input((6,))
    h = L.Dense(5, activation="elu")(x)
    shared = L.Dense(5, activation="tanh")
    b1 = shared(h)
    b2 = shared(L.Dense(5)(h))
    s = L.Add()([h, b1, b2])
    c = L.Concatenate()([s, L.Multiply()([b1, b2])])
    y = L.Dense(4, activation="softmax")(c)
    return tf.keras.Model(x, y)


def floats(array):
    """A float32 array as a (nested, row-major) list of Python floats holding the exact values."""
    return np.asarray(array, dtype=np.float32).astype(np.float64).tolist()


def flat(array):
    return floats(np.asarray(array).reshape(-1))


def weight_values(model):
    return {v.name: flat(v.numpy()) for v in model.weights}


def fresh_model(optimizer_kwargs):
    """clear_session, build, set weights and draw the data from default_rng(7), compile."""
    tf.keras.backend.clear_session()
    model = residual_shared()
    rng = np.random.default_rng(7)
    for v in model.weights:
        v.assign(rng.uniform(-0.5, 0.5, size=tuple(v.shape)).astype(np.float32))
    x = rng.normal(size=(10, 6)).astype(np.float32)
    y = rng.integers(0, 4, size=10).astype(np.int64)
    model.compile(optimizer=tf.keras.optimizers.SGD(**optimizer_kwargs),
                  loss="sparse_categorical_crossentropy")
    return model, x, y


def jsonable(value):
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def grad_norms_fn(model):
    """Per-variable gradient norms (before any clipping) of the batch loss, as a tf.function."""
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy()

    @tf.function
    def norms(xb, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        return [tf.norm(g) for g in tape.gradient(loss, model.trainable_weights)]
    return norms


def run_train_on_batch(model, x, y, steps=3):
    out = []
    norms = grad_norms_fn(model)
    for _ in range(steps):
        grad_norms = {v.name: float(n) for v, n in
                      zip(model.trainable_weights, norms(tf.constant(x), tf.constant(y)))}
        loss = model.train_on_batch(x, y)
        out.append({"loss": float(loss), "grad_norms": grad_norms,
                    "weights": weight_values(model)})
    return out


class StepRecorder(tf.keras.callbacks.Callback):
    def __init__(self, x, y, batch_size):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.steps = []
        self.loss_fn = tf.keras.losses.SparseCategoricalCrossentropy()
        self._batch_loss = None
        self._loss_of = None

    def on_train_begin(self, logs=None):
        # A tf.function like Keras's train_step, so the softmax output keeps its _keras_logits
        # and the loss is computed from the logits exactly as during training.
        model, loss_fn = self.model, self.loss_fn
        self._loss_of = tf.function(lambda xb, yb: loss_fn(yb, model(xb, training=True)))

    def on_train_batch_begin(self, batch, logs=None):
        lo = batch * self.batch_size
        xb, yb = self.x[lo:lo + self.batch_size], self.y[lo:lo + self.batch_size]
        self._batch_loss = float(self._loss_of(tf.constant(xb), tf.constant(yb)))
        self._batch_size_now = len(xb)

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append({"batch_size": self._batch_size_now, "loss": self._batch_loss,
                           "logged_loss": float(logs["loss"]),
                           "weights": weight_values(self.model)})


def training_case(optimizer_kwargs, scenarios):
    model, x, y = fresh_model(optimizer_kwargs)
    case = {
        "to_json": model.to_json(),
        "optimizer": jsonable(model.optimizer.get_config()),
        "loss": "sparse_categorical_crossentropy",
        "variables": [{"name": v.name, "shape": list(v.shape), "trainable": v.trainable}
                      for v in model.weights],
        "initial_weights": weight_values(model),
        "x": floats(x),
        "y": y.tolist(),
        "scenarios": {},
    }
    for i, scenario in enumerate(scenarios):
        if i:
            model, x2, y2 = fresh_model(optimizer_kwargs)
            assert np.array_equal(x, x2) and np.array_equal(y, y2)
            assert weight_values(model) == case["initial_weights"]
        if scenario == "train_on_batch":
            record = {"description": "3 x model.train_on_batch(x, y) on the full batch of 10",
                      "steps": run_train_on_batch(model, x, y)}
        elif scenario == "fit_batch_size_4":
            recorder = StepRecorder(x, y, 4)
            history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0,
                                callbacks=[recorder])
            assert len(recorder.steps) == 3, len(recorder.steps)
            record = {"description": "model.fit(x, y, batch_size=4, epochs=1, shuffle=False): "
                                     "batches of 4, 4, 2; 'loss' is the batch's own loss, "
                                     "'logged_loss' the running epoch mean Keras logs",
                      "steps": recorder.steps,
                      "history_loss": [float(v) for v in history.history["loss"]]}
        else:
            raise ValueError(scenario)
        record["predict"] = floats(model.predict(x, verbose=0))
        case["scenarios"][scenario] = record
    return case


def dump(value, indent=0):
    """JSON with structure indented but lists of numbers kept on one line."""
    pad = " " * indent
    inner = " " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {dump(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        if all(not isinstance(v, (list, dict)) for v in value):
            return json.dumps(value)
        if all(isinstance(v, list) and all(not isinstance(u, (list, dict)) for u in v)
               for v in value):
            return "[\n" + ",\n".join(inner + json.dumps(v) for v in value) + "\n" + pad + "]"
        return "[\n" + ",\n".join(inner + dump(v, indent + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value)


def write_training_steps():
    document = {
        "generated_by": "tools/golden/functional_keras.py",
        "tensorflow_version": tf.__version__,
        "keras_version": tf.keras.__version__,
        "model": ("x=Input((6,)); h=Dense(5, activation='elu')(x); shared=Dense(5, "
                  "activation='tanh'); b1=shared(h); b2=shared(Dense(5)(h)); "
                  "s=Add()([h, b1, b2]); c=Concatenate()([s, Multiply()([b1, b2])]); "
                  "y=Dense(4, activation='softmax')(c); Model(x, y)"),
        "init": ("rng=np.random.default_rng(7); every variable in model.weights order = "
                 "rng.uniform(-0.5, 0.5, shape) as float32; then x = rng.normal(size=(10, 6)) "
                 "as float32; y = rng.integers(0, 4, size=10)"),
        "models": {
            "residual_shared_momentum": training_case(
                {"learning_rate": 0.1, "momentum": 0.9}, ["train_on_batch", "fit_batch_size_4"]),
            "residual_shared_clipnorm": training_case(
                {"learning_rate": 0.1, "clipnorm": 1.0}, ["train_on_batch"]),
            # With clipnorm=1.0 no variable's gradient norm reaches 1 in these 3 steps (the
            # largest is ~0.79), so that case equals plain SGD; at 0.25 six of the eight
            # variables are clipped at every step and dense_2's two are not.
            "residual_shared_clipnorm_0_25": training_case(
                {"learning_rate": 0.1, "clipnorm": 0.25}, ["train_on_batch"]),
        },
    }
    text = dump(document) + "\n"
    assert json.loads(text) == document
    (OUT / "training_steps.json").write_text(text)
    for name, case in document["models"].items():
        for scenario, record in case["scenarios"].items():
            print(f"wrote training_steps {name}/{scenario}: losses "
                  f"{[round(s['loss'], 6) for s in record['steps']]}")


README = """\
# Functional API golden fixtures

These files were generated by `tools/golden/functional_keras.py` running real TensorFlow
{tf_version} (tf.keras {keras_version}{is_212}; tensorflow-cpu, CPU only, single-threaded, with
`tf.config.experimental.enable_op_determinism()`), not by a re-implementation: for each model,
`<model>.summary.txt` is the exact `model.summary()` text (lines joined with "\\n" plus a final
"\\n") and `<model>.json` is exactly `model.to_json()` (no trailing newline), each model built right
after `tf.keras.backend.clear_session()` so default layer names start fresh; `training_steps.json`
holds the initial weights, data, per-step losses and variable values (flattened row-major, float32
values as full-precision floats) and final `model.predict` outputs of SGD training (momentum with
`train_on_batch` and with `fit(batch_size=4, shuffle=False)`; clipnorm 1.0 and 0.25 with
`train_on_batch`) of a
small residual model with a fan-out tensor and a shared Dense layer. To regenerate, install
`tensorflow-cpu==2.12.*` and numpy (e.g. in `/work/venvs/tf`) and run
`/work/venvs/tf/bin/python tools/golden/functional_keras.py` from the repository root.
"""


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    write_model_fixtures()
    write_training_steps()
    keras_version = tf.keras.__version__
    (OUT / "README.md").write_text(README.format(
        tf_version=tf.__version__, keras_version=keras_version,
        is_212=", i.e. tf.keras 2.12" if keras_version.startswith("2.12") else
        ", NOT tf.keras 2.12"))
    print(f"TensorFlow {tf.__version__}, tf.keras {keras_version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
