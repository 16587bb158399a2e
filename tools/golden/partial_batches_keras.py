#!/work/venvs/tf/bin/python
"""Golden fit / evaluate logs on data whose last batch is partial, and TerminateOnNaN, by REAL
TensorFlow / tf.keras 2.12.

Writes tests/data/training/partial_batches_keras.json with three cases. Every model is built
after clear_session, so the variable names are Keras defaults; initial weights come from
np.random.default_rng(seed), uniform in [-0.5, 0.5] for every trainable variable in model.weights
order (BN moving statistics keep their initial 0 / 1).

  * "classifier": Input(6) -> Dense(8, relu) -> BatchNormalization -> Dense(3, softmax),
    sparse_categorical_crossentropy, metrics ["accuracy"], SGD(0.1, momentum=0.9).
    fit(x (10, 6), batch_size=4, epochs=2, shuffle=False, validation_data=(7 samples)): batches of
    4, 4, 2 (validation: 4, 3). Then evaluate(7 other samples, batch_size=3): batches 3, 3, 1.
  * "regressor": Input(5) -> Dense(4, tanh) -> Dense(2), mse, metrics ["mae"], SGD(0.05).
    fit(x (11, 5), batch_size=4, epochs=2, shuffle=False): 4, 4, 3; evaluate(7, batch_size=5): 5, 2.
  * "terminate_on_nan": Input(3) -> Dense(3, tanh) -> Dense(1), mse, SGD(0.01),
    fit(x (12, 3), batch_size=4, epochs=3, shuffle=False, callbacks=[TerminateOnNaN()]) where
    target 9 is 1e20: batch 2's squared error overflows float32 to inf, while its gradient
    (2 * error / 4 = 5e19) and the update stay finite.

For each fit: the History, the running logs Keras passes to on_train_batch_end (and, for
evaluate, on_test_batch_end) after every batch, and the weights at the end. Each fit / evaluate
case also records "unweighted": the plain mean of the per-batch values recovered from the running
logs, and the generator checks it differs from the logged value by more than 1e-3 relative, so
a loop that averages batches without their sizes cannot pass the C++ test by accident.

For TerminateOnNaN it records how many batches ran, the History and the weights before batch 2
(on_train_batch_begin) and at the end, and checks that they differ: Keras's train_step applies
the update of the batch whose loss is inf before TerminateOnNaN.on_batch_end sets
model.stop_training; fit() then breaks out of the batch loop, still calls on_epoch_end (History
gets that epoch), and stops.

Run (from the repository root): /work/venvs/tf/bin/python tools/golden/partial_batches_keras.py
"""

import json

from keras_env import ROOT, flat, np, tf

OUT = ROOT / "tests" / "data" / "training" / "partial_batches_keras.json"
L = tf.keras.layers


def init_weights(model, rng):
    initial = {}
    for v in model.weights:
        if v.trainable:
            v.assign(rng.uniform(-0.5, 0.5, size=tuple(v.shape)).astype(np.float32))
        initial[v.name] = flat(v.numpy())
    return initial


class BatchLogs(tf.keras.callbacks.Callback):
    """The running logs Keras hands to every batch end, and the weights before a chosen batch."""

    def __init__(self, snapshot_batch=None):
        super().__init__()
        self.train, self.test, self.batches_run = [], [], 0
        self.snapshot_batch, self.snapshot = snapshot_batch, None

    def on_train_batch_begin(self, batch, logs=None):
        if batch == self.snapshot_batch:
            self.snapshot = {v.name: flat(v.numpy()) for v in self.model.weights}

    def on_train_batch_end(self, batch, logs=None):
        self.batches_run += 1
        self.train.append({k: float(v) for k, v in logs.items()})

    def on_test_batch_end(self, batch, logs=None):
        self.test.append({k: float(v) for k, v in logs.items()})


def batch_sizes(n, bs):
    return [min(bs, n - i) for i in range(0, n, bs)]


def unweighted(running, sizes, key):
    """Plain mean of the per-batch values behind running (sample-weighted) means."""
    values, seen, prev = [], 0, 0.0
    for r, s in zip(running, sizes):
        values.append((r[key] * (seen + s) - prev * seen) / s)
        seen += s
        prev = r[key]
    return float(np.mean(values))


def check_sensitive(name, running, sizes, logged):
    out = {}
    for key, value in logged.items():
        u = unweighted(running, sizes, key)
        out[key] = u
        assert abs(u - value) > 1e-3 * max(1.0, abs(value)), (
            f"{name} {key}: the unweighted mean of batch values {u} is too close to {value}; "
            "change the seed")
    return out


def fit_evaluate_case(name, build, seed, n, n_eval, bs, eval_bs, classes, loss, metrics, optimizer,
                      n_val=0):
    tf.keras.backend.clear_session()
    model = build()
    rng = np.random.default_rng(seed)
    initial = init_weights(model, rng)
    width = model.input_shape[-1]
    out_width = model.output_shape[-1]

    def data(count):
        x = rng.normal(size=(count, width)).astype(np.float32)
        if classes:
            y = rng.integers(0, classes, size=count).astype(np.float32)
        else:
            y = rng.normal(size=(count, out_width)).astype(np.float32)
        return x, y

    x, y = data(n)
    xv, yv = data(n_val) if n_val else (None, None)
    xe, ye = data(n_eval)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    rec = BatchLogs()
    history = model.fit(x, y, batch_size=bs, epochs=2, shuffle=False, verbose=0,
                        validation_data=(xv, yv) if n_val else None, callbacks=[rec])
    train_batches = rec.train
    rec.test = []
    evaluated = model.evaluate(xe, ye, batch_size=eval_bs, return_dict=True, verbose=0,
                               callbacks=[rec])
    steps = len(batch_sizes(n, bs))
    first_epoch = {k: v for k, v in train_batches[steps - 1].items()}
    case = {
        "name": name,
        "seed": seed,
        "loss": loss,
        "metrics": metrics,
        "batch_size": bs,
        "eval_batch_size": eval_bs,
        "weight_names": [v.name for v in model.weights],
        "initial_weights": initial,
        "x": flat(x), "y": flat(y), "x_eval": flat(xe), "y_eval": flat(ye),
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
        "history_keys": list(history.history.keys()),
        "train_batch_logs": train_batches,
        "weights": {v.name: flat(v.numpy()) for v in model.weights},
        "evaluate": {k: float(v) for k, v in evaluated.items()},
        "evaluate_keys": list(evaluated.keys()),
        "eval_batch_logs": rec.test,
        "unweighted_fit_epoch_0": check_sensitive(name + " fit", train_batches[:steps],
                                                  batch_sizes(n, bs), first_epoch),
        "unweighted_evaluate": check_sensitive(name + " evaluate", rec.test,
                                               batch_sizes(n_eval, eval_bs), evaluated),
    }
    if n_val:
        case["x_val"], case["y_val"] = flat(xv), flat(yv)
    return case


def classifier():
    return tf.keras.Sequential([L.Input((6,)), L.Dense(8, activation="relu"),
                                L.BatchNormalization(), L.Dense(3, activation="softmax")])


def regressor():
    return tf.keras.Sequential([L.Input((5,)), L.Dense(4, activation="tanh"), L.Dense(2)])


def terminate_on_nan_case(seed):
    tf.keras.backend.clear_session()
    model = tf.keras.Sequential([L.Input((3,)), L.Dense(3, activation="tanh"), L.Dense(1)])
    rng = np.random.default_rng(seed)
    initial = init_weights(model, rng)
    x = rng.normal(size=(12, 3)).astype(np.float32)
    y = rng.normal(size=(12, 1)).astype(np.float32)
    y[9, 0] = 1e20  # in batch 2 (samples 8..11)
    model.compile(optimizer=tf.keras.optimizers.SGD(0.01), loss="mse")
    rec = BatchLogs(snapshot_batch=2)
    history = model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0,
                        callbacks=[tf.keras.callbacks.TerminateOnNaN(), rec])
    final = {v.name: flat(v.numpy()) for v in model.weights}
    assert rec.batches_run == 3, rec.batches_run
    assert np.isinf(rec.train[-1]["loss"]), rec.train
    assert all(np.all(np.isfinite(w)) for w in final.values()), "the update is finite by design"
    changed = any(final[k] != rec.snapshot[k] for k in final)
    assert changed, "Keras kept the weights of the batch before the inf loss?"
    return {
        "name": "terminate_on_nan",
        "seed": seed,
        "batch_size": 4,
        "epochs": 3,
        "weight_names": [v.name for v in model.weights],
        "initial_weights": initial,
        "x": flat(x), "y": [float(v) for v in y.reshape(-1)],
        "batches_run": rec.batches_run,
        "train_batch_logs": [{k: (v if np.isfinite(v) else str(v)) for k, v in r.items()}
                             for r in rec.train],
        "history": {k: [v if np.isfinite(v) else str(v) for v in map(float, vals)]
                    for k, vals in history.history.items()},
        "history_epochs": len(history.epoch),
        "weights_before_batch_2": rec.snapshot,
        "weights": final,
    }


def main():
    cases = [
        fit_evaluate_case("classifier", classifier, 5, 10, 7, 4, 3, 3,
                          "sparse_categorical_crossentropy", ["accuracy"],
                          tf.keras.optimizers.SGD(0.1, momentum=0.9), n_val=7),
        fit_evaluate_case("regressor", regressor, 6, 11, 7, 4, 5, 0, "mse", ["mae"],
                          tf.keras.optimizers.SGD(0.05)),
        terminate_on_nan_case(7),
    ]
    doc = {"tensorflow": tf.__version__, "generator": "tools/golden/partial_batches_keras.py",
           "cases": cases}
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {[c['name'] for c in cases]}")


if __name__ == "__main__":
    main()
