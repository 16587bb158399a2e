"""The same seed gives the same weights from Python and from the CLI (`keel train`)."""
import subprocess

import numpy as np


def test_one_epoch_of_the_seed_model_matches_keel_train(keras, keel_cli, tmp_path):
    subprocess.run([keel_cli, "train", "seed-mlp", "--epochs", "1", "--verbose", "0", "--seed", "42",
                    "--save", str(tmp_path / "cli")], check=True, capture_output=True)
    cli = keras.models.load_model(tmp_path / "cli")

    # The CLI's recipe (keel train --help): pixels * (1/255) as float32, the last 5,000 training
    # images held out for validation, SGD(0.01), sparse categorical cross-entropy, batch 32, seed 42.
    (x, y), _ = keras.datasets.fashion_mnist.load_data()
    x = x.astype(np.float32) * np.float32(1.0 / 255.0)
    model = keras.models.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(),
                  metrics=["accuracy"])
    model.fit(x[:55000], y[:55000], batch_size=32, epochs=1, validation_data=(x[55000:], y[55000:]), verbose=0)

    python_weights, cli_weights = model.get_weights(), cli.get_weights()
    assert len(python_weights) == len(cli_weights) == 18
    for ours, theirs in zip(python_weights, cli_weights):
        np.testing.assert_array_equal(ours, theirs)
