"""TensorFlow/Keras baseline for bench/run.sh: the seed model itself, in the Keras keel copies.

Keras 2 as a user installs it today: `pip install tensorflow-cpu tf-keras` (`import tf_keras`;
TF >= 2.16's own tf.keras is Keras 3). The seed's code: Flatten -> BN -> Dense(300, elu,
he_normal) -> BN -> Dense(100, elu, he_normal) -> BN -> Dense(10, softmax), SGD lr 0.01 with
clipnorm=1.0, sparse categorical cross-entropy; intra-op threads 2 (TF's oneDNN kernels are on by
default on x86 Linux).

Training: model.fit over the first 55,000 Fashion-MNIST images (float32 / 255, as the seed feeds
them), batch 32 and 256; samples/s of the SECOND epoch (the first traces and compiles the
tf.function; counting it would be unfair to Keras).
Predict: batch 1 and 10,000 through the fastest route Keras offers for a fixed model: a
tf.function of model(x, training=False) (model.predict adds ~ms of data-adapter overhead per call;
its batch-1 time is reported too). Prints one JSON object on stdout.

Usage: VENV/bin/python bench/tf_seed_mlp.py [--data DIR]
"""
import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from fashion_mnist_idx import find, read_idx  # noqa: E402  (same directory)


def seed_model():
    return keras.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(10, activation="softmax"),
    ])


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def train_samples_per_s(x, y, batch):
    keras.utils.set_random_seed(42)
    model = seed_model()
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.SGD(learning_rate=0.01, clipnorm=1.0),
                  metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(x, y, batch_size=batch, epochs=2, verbose=0, callbacks=[timer])
    return len(x) / timer.seconds, model


def median_seconds(fn, repeats):
    for _ in range(max(3, repeats // 10)):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("KEEL_FASHION_MNIST_DIR") or
                    "/usr/share/datasets/fashion-mnist")
    ap.add_argument("--samples", type=int, default=55000)
    args = ap.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(2)
    x = read_idx(find(args.data, "train-images-idx3-ubyte"))[:args.samples].astype(np.float32) / 255.0
    y = read_idx(find(args.data, "train-labels-idx1-ubyte"))[:args.samples].astype(np.int64)
    out = {"peer": "tf-keras", "version": f"TensorFlow {tf.__version__}, tf-keras {keras.__version__}",
           "blas": "oneDNN (TF_ENABLE_ONEDNN_OPTS default) + Eigen", "threads": 2}
    model = None
    for batch in (32, 256):
        out[f"train_samples_per_s_b{batch}"], model = train_samples_per_s(x, y, batch)
    call = tf.function(lambda t: model(t, training=False), reduce_retracing=True)
    x1, x10k = tf.constant(x[:1]), tf.constant(x[:10000])
    out["predict_b1_us"] = median_seconds(lambda: call(x1).numpy(), 2000) * 1e6
    out["predict_b10000_ms"] = median_seconds(lambda: call(x10k).numpy(), 20) * 1e3
    out["predict_b1_model_predict_us"] = median_seconds(lambda: model.predict(x[:1], verbose=0), 50) * 1e6
    print(json.dumps(out))


if __name__ == "__main__":
    main()
