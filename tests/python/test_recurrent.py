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
    with pytest.raises(ValueError, match="recurrent_dropout"):
        keras.layers.LSTM(4, recurrent_dropout=0.2)
    with pytest.raises(ValueError, match="return_state"):
        keras.layers.GRU(4, return_state=True)
    with pytest.raises(TypeError, match="frobnicate"):
        keras.layers.SimpleRNN(4, frobnicate=True)
