"""Real Keras (tf_keras, Keras 2) trains issue 13's seed-cnn with `keel train seed-cnn`'s recipe,
to say what the reference implementation reaches where keel's accuracy target is checked.

The model is the issue's, written in Keras itself: Reshape((28, 28, 1)), twice [Conv2D(32, 3,
padding="same", use_bias=False, kernel_initializer="he_normal"), BatchNormalization(),
Activation("relu")], MaxPooling2D(), the same twice with 64 filters, MaxPooling2D(), Flatten(),
Dense(128, use_bias=False, kernel_initializer="he_normal"), BatchNormalization(),
Activation("relu"), Dropout(0.3), Dense(10, activation="softmax").
Recipe (keel's CLI defaults): Keras's SGD() (learning rate 0.01, no momentum), batch 32,
sparse categorical cross-entropy, the first 55,000 training images for training and the last
5,000 for validation (pixels / 255), shuffled every epoch; test accuracy after every epoch.

Usage: VENV/bin/python tools/reference_accuracy/keras_seed_cnn.py [--epochs 10] [--seed 42]
       (VENV with tensorflow-cpu and tf-keras: bench/run.sh creates /work/venvs/tf-bench)
Prints one JSON object on stdout.
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from fashion_mnist_idx import find, read_idx  # noqa: E402


def seed_cnn():
    def block(filters):
        return [keras.layers.Conv2D(filters, 3, padding="same", use_bias=False,
                                    kernel_initializer="he_normal"),
                keras.layers.BatchNormalization(), keras.layers.Activation("relu")]

    return keras.Sequential(
        [keras.layers.Reshape((28, 28, 1), input_shape=[28, 28])] + block(32) + block(32) +
        [keras.layers.MaxPooling2D()] + block(64) + block(64) +
        [keras.layers.MaxPooling2D(), keras.layers.Flatten(),
         keras.layers.Dense(128, use_bias=False, kernel_initializer="he_normal"),
         keras.layers.BatchNormalization(), keras.layers.Activation("relu"),
         keras.layers.Dropout(0.3), keras.layers.Dense(10, activation="softmax")])


class TestAccuracy(keras.callbacks.Callback):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y, self.history = x, y, []

    def on_epoch_end(self, epoch, logs=None):
        _, acc = self.model.evaluate(self.x, self.y, batch_size=32, verbose=0)
        self.history.append({"epoch": epoch + 1, "test_accuracy": acc,
                             "val_accuracy": logs.get("val_accuracy"), "loss": logs.get("loss")})
        print(json.dumps(self.history[-1]), file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("KEEL_FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    x = read_idx(find(args.data, "train-images-idx3-ubyte")).astype(np.float32) / 255.0
    y = read_idx(find(args.data, "train-labels-idx1-ubyte")).astype(np.int64)
    xt = read_idx(find(args.data, "t10k-images-idx3-ubyte")).astype(np.float32) / 255.0
    yt = read_idx(find(args.data, "t10k-labels-idx1-ubyte")).astype(np.int64)

    keras.utils.set_random_seed(args.seed)
    model = seed_cnn()
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(),
                  metrics=["accuracy"])
    test = TestAccuracy(xt, yt)
    start = time.perf_counter()
    model.fit(x[:55000], y[:55000], batch_size=32, epochs=args.epochs, verbose=0,
              validation_data=(x[55000:], y[55000:]), callbacks=[test])
    print(json.dumps({"peer": "tf-keras", "tensorflow": tf.__version__, "tf_keras": keras.__version__,
                      "seed": args.seed, "epochs": args.epochs,
                      "recipe": "SGD() lr 0.01, batch 32, 55,000 training images, 5,000 validation",
                      "wall_seconds": round(time.perf_counter() - start, 1),
                      "test_accuracy": test.history[-1]["test_accuracy"], "per_epoch": test.history}))


if __name__ == "__main__":
    main()
