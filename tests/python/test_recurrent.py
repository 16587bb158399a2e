"""Recurrent layers through keel.keras (issue 14): Keras's signatures, the seed-lstm summary as
tf.keras 2.12 prints it (tests/data/rnn/seed_lstm.summary.txt, from tools/golden/rnn_keras.py),
Keras's variable names, and training on sequences."""
import pathlib

import numpy as np
import pytest

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "rnn"


def test_seed_lstm_summary_is_tf_keras(keras):
    model = keras.Sequential([
        keras.layers.LSTM(128, input_shape=(28, 28)),
        keras.layers.Dense(10, activation="softmax"),
    ])
    lines = []
    model.summary(print_fn=lines.append)
    assert "\n".join(lines) + "\n" == (DATA / "seed_lstm.summary.txt").read_text()
    assert [w.name for w in model.weights][:3] == [
        "lstm/lstm_cell/kernel:0", "lstm/lstm_cell/recurrent_kernel:0", "lstm/lstm_cell/bias:0"]
    bias = model.weights[2].numpy()
    assert bias.shape == (512,) and (bias[128:256] == 1).all() and (bias[:128] == 0).all()


def test_recurrent_layers_train_on_sequences(keras):
    rng = np.random.default_rng(0)
    n, t = 256, 12
    y = rng.integers(0, 2, size=n)
    x = rng.normal(size=(n, t, 3)).astype(np.float32)
    x[:, 2, 0] += 3.0 * (2 * y - 1)  # the class is visible at step 2 only: memory is needed
    model = keras.Sequential([
        keras.layers.GRU(8, return_sequences=True, input_shape=(t, 3)),
        keras.layers.SimpleRNN(8, go_backwards=True, return_sequences=True),
        keras.layers.LSTM(8, dropout=0.1),
        keras.layers.Dense(2, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01, global_clipnorm=1.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    assert model.predict(x[:5], verbose=0).shape == (5, 2)
    assert model.layers[0].get_config()["reset_after"] is True


def test_recurrent_errors_are_value_errors(keras):
    with pytest.raises(ValueError, match="recurrent_dropout 1.5"):
        keras.layers.LSTM(4, recurrent_dropout=1.5)
    with pytest.raises(ValueError, match="implementation 0"):
        keras.layers.GRU(4, implementation=0)
    with pytest.raises(TypeError, match="frobnicate"):
        keras.layers.SimpleRNN(4, frobnicate=True)
    with pytest.raises(TypeError, match="implementation"):
        keras.layers.SimpleRNN(4, implementation=1)


def test_recurrent_dropout_trains_and_switches_to_implementation_1(keras):
    """As tf.keras: recurrent_dropout makes LSTM / GRU use implementation 1 (a mask per gate);
    dropout is active in fit only, so predict is deterministic."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(64, 8, 3)).astype(np.float32)
    y = rng.normal(size=(64, 1)).astype(np.float32)
    model = keras.Sequential([
        keras.layers.LSTM(6, dropout=0.2, recurrent_dropout=0.3, return_sequences=True, input_shape=(8, 3)),
        keras.layers.GRU(5, recurrent_dropout=0.2, implementation=2),
        keras.layers.Dense(1),
    ])
    assert [layer.get_config().get("implementation") for layer in model.layers[:2]] == [1, 1]
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert np.array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    rnn = keras.Sequential([keras.layers.SimpleRNN(4, dropout=0.5, recurrent_dropout=0.5, input_shape=(8, 3))])
    rnn.compile(optimizer="sgd", loss="mse")
    before = [w.numpy().copy() for w in rnn.weights]
    rnn.fit(x, rng.normal(size=(64, 4)).astype(np.float32), epochs=1, verbose=0)
    assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, rnn.weights))


def test_return_state_gives_every_output(keras):
    x = keras.Input((6, 3))
    seq, h, c = keras.layers.LSTM(4, return_sequences=True, return_state=True)(x)
    assert (seq.shape, h.shape, c.shape) == ((None, 6, 4), (None, 4), (None, 4))
    out, state = keras.layers.GRU(3, return_state=True)(seq)
    model = keras.Model(x, keras.layers.Dense(2)(keras.layers.Concatenate()([h, c, out, state])))
    rng = np.random.default_rng(1)
    xs = rng.normal(size=(8, 6, 3)).astype(np.float32)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(xs, rng.normal(size=(8, 2)).astype(np.float32), epochs=2, verbose=0)
    assert model.predict(xs, verbose=0).shape == (8, 2)
    with pytest.raises(ValueError, match="several outputs"):
        keras.Sequential([keras.layers.LSTM(4, return_state=True, input_shape=(6, 3))]).build()


def test_embedding_and_layer_normalization(keras):
    rng = np.random.default_rng(2)
    ids = rng.integers(0, 20, size=(64, 7)).astype(np.float32)
    y = (ids[:, 3] >= 10).astype(np.uint8)  # the class is the id at step 3
    model = keras.Sequential([
        keras.layers.Embedding(20, 8, input_length=7),
        keras.layers.LSTM(8, return_sequences=True),
        keras.layers.LayerNormalization(),
        keras.layers.GRU(8),
        keras.layers.Dense(2, activation="softmax"),
    ])
    assert [w.name for w in model.weights][0] == "embedding/embeddings:0"
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(ids, y, epochs=30, batch_size=16, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    assert model.layers[2].get_config()["axis"] == [2]
    with pytest.raises(ValueError, match="outside"):
        model.predict(np.full((1, 7), 20, dtype=np.float32), verbose=0)


def test_bidirectional_model_is_tf_keras(keras):
    """The stacked Bidirectional model of tests/data/rnn/bidirectional_model.json (tf.keras 2.12):
    summary, variable names, and three SGD steps from its initial weights."""
    import json
    golden = json.loads((DATA / "bidirectional_model.json").read_text())
    L = keras.layers
    model = keras.Sequential([
        L.Bidirectional(L.LSTM(4, return_sequences=True), input_shape=(6, 3)),
        L.Bidirectional(L.GRU(3), merge_mode="ave"),
        L.Dense(2),
    ])
    lines = []
    model.summary(print_fn=lines.append)
    assert "\n".join(lines) + "\n" == golden["summary"]
    assert [w.name for w in model.weights] == list(golden["initial"])
    for w in model.weights:
        w.assign(np.array(golden["initial"][w.name], np.float32).reshape(w.shape))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    for step in golden["steps"]:
        x = np.array(step["x"], np.float32).reshape(5, 6, 3)
        y = np.array(step["y"], np.float32).reshape(5, 2)
        history = model.fit(x, y, batch_size=5, epochs=1, shuffle=False, verbose=0)
        assert abs(history.history["loss"][0] - step["loss"]) < 1e-6
    for w in model.weights:
        np.testing.assert_allclose(w.numpy().ravel(), golden["steps"][-1]["weights"][w.name], atol=1e-6)


def test_bidirectional_merge_none_and_errors(keras):
    L = keras.layers
    x = keras.Input((5, 2))
    outs = L.Bidirectional(L.LSTM(3, return_state=True), merge_mode=None)(x)
    assert len(outs) == 6  # forward and backward outputs, then h, c of each direction
    model = keras.Model(x, outs)
    ys = model.predict(np.zeros((2, 5, 2), np.float32), verbose=0)
    assert len(ys) == 6 and all(y.shape == (2, 3) for y in ys)
    assert model.layers[1].get_config()["merge_mode"] is None
    with pytest.raises(ValueError, match="merge_mode"):
        L.Bidirectional(L.LSTM(3), merge_mode="max")
    with pytest.raises(ValueError, match="SimpleRNN, LSTM or GRU"):
        L.Bidirectional(L.Dense(3))
