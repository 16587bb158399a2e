"""What a Keras user may do wrong, or differently from keel's first guess: each gets Keras's answer or
a clear exception, never a crash, a silent wrong answer or lost weights (the findings of an
adversarial review, 2026-12-03)."""
import gc
import threading

import numpy as np
import pytest

from test_api import blobs, small_model


def compiled(keras):
    model = small_model(keras)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("change", ["compile", "build", "add"])
def test_changing_the_model_from_its_own_fit_callback_raises_instead_of_crashing(keras, change):
    x, y = blobs(64)
    model = compiled(keras)
    calls = []

    class Change(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            calls.append(epoch)
            if change == "compile":
                self.model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
            elif change == "build":
                self.model.build((None, 4, 2))
            else:
                self.model.add(keras.layers.Dense(3))

    with pytest.raises(RuntimeError, match=rf"{change}\(\) called on model 'sequential' while its fit\(\) is running"):
        model.fit(x, y, epochs=3, verbose=0, callbacks=[Change()])
    assert calls == [0]
    # After fit returned, the same change is allowed and the model trains on.
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert len(model.fit(x, y, epochs=1, verbose=0).history["loss"]) == 1


def test_compile_from_another_thread_waits_for_the_running_fit(keras):
    x, y = blobs(256)
    model = compiled(keras)
    started, done = threading.Event(), []

    class Signal(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            started.set()

    def compile_meanwhile():
        started.wait(30)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        done.append(model.optimizer.__class__.__name__)

    thread = threading.Thread(target=compile_meanwhile)
    thread.start()
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[Signal()])
    thread.join(30)
    assert len(history.history["loss"]) == 3 and np.isfinite(history.history["loss"]).all()
    assert done == ["Adam"]


def test_input_arrays_must_have_the_model_input_shape_not_just_as_many_values(keras):
    model = keras.Sequential([keras.layers.Conv2D(2, 3, input_shape=(8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    good = np.zeros((4, 8, 8, 1), np.float32)
    assert model.predict(good, verbose=0).shape == (4, 3)
    labels = np.zeros(4, np.uint8)
    for wrong in (np.zeros((4, 1, 8, 8), np.float32), np.zeros((4, 64), np.float32)):
        expected = r"expected shape=\(None, 8, 8, 1\), found shape=\(4, " + ", ".join(map(str, wrong.shape[1:]))
        with pytest.raises(ValueError, match=expected):
            model.predict(wrong, verbose=0)
        with pytest.raises(ValueError, match=expected):
            model.fit(wrong, labels, verbose=0)
        with pytest.raises(ValueError, match=expected):
            model.evaluate(wrong, labels, verbose=0)
        with pytest.raises(ValueError, match="validation_data: Input 0"):
            model.fit(good, labels, validation_data=(wrong, labels), verbose=0)
    # (N,) data fits a (None, 1) input, as Keras expands 1-D arrays.
    line = keras.Sequential([keras.layers.Dense(1, input_shape=(1,))])
    assert line.predict(np.arange(5, dtype=np.float32), verbose=0).shape == (5, 1)


def test_model_trainable_false_freezes_every_layer(keras):
    x, y = blobs(64)
    base = keras.Sequential([keras.layers.Flatten(input_shape=(4, 2)), keras.layers.Dense(8, activation="relu")])
    model = keras.Sequential([base.layers[0], base.layers[1], keras.layers.Dense(3, activation="softmax")])
    base.trainable = False
    assert base.trainable is False and [l.trainable for l in base.layers] == [False, False]
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    frozen = [w.copy() for w in base.get_weights()]
    head = [w.copy() for w in model.layers[2].get_weights()]
    model.fit(x, y, epochs=2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(frozen, base.get_weights()))
    assert not np.array_equal(head[0], model.layers[2].get_weights()[0])
    base.trainable = True
    assert [l.trainable for l in base.layers] == [True, True]


def test_a_second_model_sharing_a_layer_cannot_take_it_during_the_first_models_fit(keras):
    x, y = blobs(64)
    shared = keras.layers.Dense(8, activation="relu")
    inputs = keras.Input((4, 2))
    features = shared(keras.layers.Flatten()(inputs))
    a = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(features))
    b = keras.Model(inputs, keras.layers.Dense(2)(features))
    a.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    seen = []

    class PredictWithB(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            try:
                b.predict(x[:2], verbose=0)
            except RuntimeError as error:
                seen.append(str(error))

    losses = a.fit(x, y, epochs=2, verbose=0, callbacks=[PredictWithB()]).history["loss"]
    assert len(seen) == 2 and f"shares layer '{shared.name}' with model '{a.name}', whose fit() is running" in seen[0]
    assert losses[1] < losses[0]
    assert b.predict(x[:2], verbose=0).shape == (2, 2)  # after fit: b takes the layer, with a's training


def test_a_built_layer_reused_on_another_input_size_raises_and_keeps_its_weights(keras):
    shared = keras.layers.Dense(4)
    c = keras.Sequential([keras.layers.Dense(3, input_shape=(5,)), shared])
    trained = c.predict(np.ones((1, 5), np.float32), verbose=0)
    kernel = shared.get_weights()[0].copy()
    d = keras.Sequential([keras.layers.Dense(7, input_shape=(5,)), shared])
    with pytest.raises(ValueError, match=r"already holds weights of shape \(3, 4\), \(4,\), but its inputs here need "
                                         r"\(7, 4\), \(4,\)"):
        d.predict(np.ones((1, 5), np.float32), verbose=0)
    with pytest.raises(ValueError, match="already holds weights"):
        d.predict(np.ones((1, 5), np.float32), verbose=0)
    np.testing.assert_array_equal(c.predict(np.ones((1, 5), np.float32), verbose=0), trained)
    np.testing.assert_array_equal(shared.get_weights()[0], kernel)


def test_models_built_over_a_shared_layer_are_freed_with_their_python_objects(keras):
    import weakref
    shared = keras.layers.Dense(512, input_shape=(64,))
    natives = []
    for _ in range(5):
        model = keras.Sequential([shared, keras.layers.Dense(2)])
        model.predict(np.ones((1, 64), np.float32), verbose=0)
        natives.append(weakref.ref(model._native()))
        del model
    gc.collect()
    # The layer holds only the native model it points into now (the last one); the others went with
    # their Python models (holding every one leaked ~5 MB per model over a shared Dense(512)).
    assert [n() is None for n in natives] == [True, True, True, True, False]


def test_set_weights_checks_every_shape_before_assigning_any(keras):
    model = small_model(keras)
    model.build((None, 4, 2))
    before = model.get_weights()
    wrong = [w + 1.0 for w in before]
    wrong[-1] = np.zeros(5, np.float32)
    with pytest.raises(ValueError, match=r"weight shape \(3,\) of 'dense_1/bias:0' is not compatible with provided weight shape \(5,\)"):
        model.set_weights(wrong)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_keras_argument_forms_and_type_errors(keras):
    x, y = blobs(32)
    model = compiled(keras)
    with pytest.raises(TypeError, match="epochs must be an integer, got 2.7"):
        model.fit(x, y, epochs=2.7, verbose=0)
    with pytest.raises(TypeError, match="initial_epoch must be an integer"):
        model.fit(x, y, epochs=2, initial_epoch=1.9, verbose=0)
    with pytest.raises(ValueError, match=r"sample_weight=<array of shape \(32,\)> is not supported"):
        model.fit(x, y, sample_weight=np.ones(32), verbose=0)
    with pytest.raises(ValueError, match="predict: keel needs an array x"):
        model.predict(None)
    # One callback on its own, one metric as a string, and a Python list for a one-input model: as tf.keras.
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics="accuracy")
    assert "accuracy" in model.fit(x, y, epochs=1, verbose=0, callbacks=stop).history
    np.testing.assert_array_equal(model.predict(x[:3].tolist(), verbose=0), model.predict(x[:3], verbose=0))


def test_a_failed_compile_keeps_the_last_working_one(keras):
    x, y = blobs(32)
    model = compiled(keras)
    with pytest.raises(TypeError, match=r"learning_rate=<function .*keel takes a number here"):
        keras.optimizers.Adam(learning_rate=lambda: 1e-3)
    model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="2 loss_weights given for the 1 outputs"):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", loss_weights=[1.0, 2.0])
    assert model.optimizer.__class__.__name__ == "SGD"
    assert "accuracy" in model.fit(x, y, epochs=1, verbose=0).history


def test_a_monitor_missing_from_the_logs_warns_as_keras(keras, capfd):
    x, y = blobs(32)
    model = compiled(keras)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[keras.callbacks.EarlyStopping(monitor="val_los")])
    err = capfd.readouterr().err
    assert err.count("WARNING: Early stopping conditioned on metric `val_los` which is not available. "
                     "Available metrics are: loss,accuracy") == 2, err


def test_sequential_starting_with_keras_input_or_input_layer(keras):
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2)])
    assert [l.name for l in model.layers] == ["dense"]  # tf.keras: the input is not a layer of a Sequential
    assert model.built and model.count_params() == 10  # built from the declared shape, before any data
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[4].split() == ["dense", "(Dense)", "(None,", "2)", "10"]
    assert model.predict(np.ones((3, 4), np.float32), verbose=0).shape == (3, 2)
    other = keras.Sequential([keras.layers.InputLayer(input_shape=(5,)), keras.layers.Dense(3)])
    assert other.predict(np.ones((2, 5), np.float32), verbose=0).shape == (2, 3)
    with pytest.raises(ValueError, match="must come first"):
        keras.Sequential([keras.layers.Dense(2, input_shape=(3,)), keras.Input(shape=(2,))])
    with pytest.raises(ValueError, match=r"shape=\(None, 3\): keel needs every dimension of a sample known"):
        keras.Input((None, 3))


def test_clear_errors_for_values_keras_users_may_pass(keras):
    import copy
    import pickle
    x, y = blobs(32)
    model = compiled(keras)
    with pytest.raises(ValueError, match=r"validation_split=nan must be in \[0, 1\)"):
        model.fit(x, y, validation_split=float("nan"), verbose=0)
    with pytest.raises(ValueError, match="below 2\\*\\*62"):
        model.fit(x, y, batch_size=2**63, verbose=0)
    with pytest.raises(ValueError, match="a dict of arrays"):
        model.predict({"input": x}, verbose=0)
    with pytest.raises(ValueError, match="learning_rate=inf must be finite"):
        keras.optimizers.SGD(learning_rate=float("inf"))
    with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*64\)"):
        keras.utils.set_random_seed(2**70)
    for copier in (pickle.dumps, copy.deepcopy, copy.copy):
        with pytest.raises(TypeError, match="cannot be pickled or copied"):
            copier(model)


def test_two_input_predict_of_no_samples_and_constant_of_an_array(keras):
    a, b = keras.Input((3,)), keras.Input((2,))
    model = keras.Model([a, b], keras.layers.Dense(4)(keras.layers.Concatenate()([a, b])))
    outputs = model.predict([np.zeros((0, 3), np.float32), np.zeros((0, 2), np.float32)], verbose=0)
    assert outputs.shape == (0, 4)
    with pytest.raises(TypeError, match="(?s)Constant: value=.*keel fills a variable with one number"):
        keras.initializers.Constant(np.ones((3, 2)))
    assert keras.initializers.Constant(np.float32(0.5)).get_config() == {"value": 0.5}


def test_evaluate_a_model_with_two_inputs(keras):
    rng = np.random.default_rng(3)
    xa, xb = rng.normal(size=(50, 3)).astype(np.float32), rng.normal(size=(50, 2)).astype(np.float32)
    y = rng.normal(size=(50, 1)).astype(np.float32)
    a, b = keras.Input((3,)), keras.Input((2,))
    model = keras.Model([a, b], keras.layers.Dense(1)(keras.layers.Concatenate()([a, b])))
    model.compile(optimizer="sgd", loss="mse")
    loss = model.evaluate([xa, xb], y, batch_size=16, verbose=0)
    expected = float(np.mean((model.predict([xa, xb], verbose=0) - y) ** 2))
    assert abs(loss - expected) < 1e-6 * max(1.0, expected)
