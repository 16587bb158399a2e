#!/work/venvs/tf/bin/python
"""Golden fixtures for keel's convolutional layers, produced by REAL TensorFlow / tf.keras 2.12.

Everything written here is output of tf.keras itself; nothing reads keel's output.

Writes into tests/data/cnn/:
  * layers.json -- per case: the layer's get_config() (after build), the input shape, the input x,
    the variables (Keras order, flattened row-major), the upstream gradient dy, and the output y
    (training=True call), dx and every variable's gradient of L = sum(y * dy) (tf.GradientTape).
    Cases cover Conv2D (strides 2, dilation, even kernels, 'same' on odd and even sizes, groups,
    activations), DepthwiseConv2D, Max/AveragePooling2D ('same' and 'valid', strides 1 and 2,
    Keras's docstring example), GlobalAverage/MaxPooling2D, ZeroPadding2D, Reshape and Dense on a
    rank-4 input.
  * bn.json -- BatchNormalization on 4-D inputs with axis -1, 1, 2, 3, [1, 3], [3, 1], [2, 3],
    fused=False, epsilon=1e-5 (fused clamp) and momentum 0.9: two training steps (y, dx, dgamma,
    dbeta, moving statistics after the step) then an inference call.
  * seed_cnn.summary.txt -- model.summary() of the seed-cnn model of issue 13, exactly as printed.
  * seed_cnn.json -- model.to_json() of it.
  * training_20steps.json -- 20 x model.train_on_batch of a small CNN with BN (fused, 4-D and
    2-D), MaxPooling2D, a strided 'same' conv on an even size, ELU, under
    SGD(learning_rate=0.05, momentum=0.9, clipnorm=1.0): initial weights (uniform, or gamma in
    [0.5, 1.5]), every batch, and after every step the loss and every variable (moving statistics
    included), then model.predict on the last batch.
Ops run single-threaded on the CPU with op determinism.

Run (from the repository root):   /work/venvs/tf/bin/python tools/golden/cnn_keras.py
"""
import json
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.experimental.enable_op_determinism()

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "cnn"
L = tf.keras.layers


def flat(a):
    # The shortest text that reads back as the same float32 (numpy's repr of a float32 scalar).
    return [float(repr(v)) for v in np.asarray(a, dtype=np.float32).reshape(-1)]


def run_case(name, make_layer, shape, seed, x_override=None, bias_scale=0.5):
    tf.keras.backend.clear_session()
    rng = np.random.default_rng(seed)
    layer = make_layer()
    x = rng.uniform(-1, 1, shape).astype(np.float32) if x_override is None else x_override
    layer.build(shape)
    for v in layer.weights:
        v.assign(rng.uniform(-bias_scale, bias_scale, v.shape).astype(np.float32))
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt, training=True)
        dy = rng.uniform(-1, 1, y.shape).astype(np.float32)
        loss = tf.reduce_sum(y * dy)
    grads = tape.gradient(loss, [xt] + layer.trainable_weights)
    return {
        "name": name,
        "class_name": layer.__class__.__name__,
        "config": layer.get_config(),
        "input_shape": list(shape),
        "output_shape": list(y.shape),
        "x": flat(x),
        "weights": {v.name.split("/")[-1].split(":")[0]: {"shape": list(v.shape), "value": flat(v.numpy())}
                    for v in layer.weights},
        "dy": flat(dy),
        "y": flat(y),
        "dx": flat(grads[0]),
        "grads": {v.name.split("/")[-1].split(":")[0]: flat(g) for v, g in zip(layer.trainable_weights, grads[1:])},
    }


def layer_cases():
    c = []
    conv = [
        ("conv_k3_s1_same_odd", (2, 7, 7, 3), dict(filters=4, kernel_size=3, padding="same")),
        ("conv_k3_s2_same_even", (2, 8, 8, 3), dict(filters=4, kernel_size=3, strides=2, padding="same")),
        ("conv_k3_s2_same_odd", (2, 7, 7, 3), dict(filters=4, kernel_size=3, strides=2, padding="same")),
        ("conv_k2_same_even_kernel", (2, 7, 6, 2), dict(filters=3, kernel_size=2, padding="same")),
        ("conv_k4_same", (2, 8, 8, 2), dict(filters=3, kernel_size=4, padding="same")),
        ("conv_k5_s3_same", (2, 9, 9, 2), dict(filters=3, kernel_size=5, strides=3, padding="same")),
        ("conv_k3_d2_same", (2, 8, 8, 3), dict(filters=4, kernel_size=3, dilation_rate=2, padding="same")),
        ("conv_k3_s2_valid_leftover", (2, 9, 7, 3), dict(filters=4, kernel_size=3, strides=2)),
        ("conv_groups2_valid", (2, 6, 6, 4), dict(filters=6, kernel_size=3, groups=2)),
        ("conv_k2x3_s1x2_same_relu", (2, 5, 5, 3), dict(filters=4, kernel_size=(2, 3), strides=(1, 2),
                                                        padding="same", activation="relu")),
        ("conv_d2x1_valid_elu_nobias", (1, 7, 7, 2), dict(filters=3, kernel_size=3, dilation_rate=(2, 1),
                                                          activation="elu", use_bias=False)),
        ("conv_k1_s2_valid", (2, 5, 5, 3), dict(filters=2, kernel_size=1, strides=2)),
    ]
    for i, (name, shape, kw) in enumerate(conv):
        c.append(run_case(name, lambda kw=kw: L.Conv2D(**kw), shape, 100 + i))
    dw = [
        ("depthwise_k3_s2_same_dm2", (2, 7, 7, 3), dict(kernel_size=3, strides=2, padding="same", depth_multiplier=2)),
        ("depthwise_k3_d2_valid", (2, 8, 8, 2), dict(kernel_size=3, dilation_rate=2)),
        ("depthwise_k2_same_relu", (2, 5, 6, 3), dict(kernel_size=2, padding="same", activation="relu")),
    ]
    for i, (name, shape, kw) in enumerate(dw):
        c.append(run_case(name, lambda kw=kw: L.DepthwiseConv2D(**kw), shape, 200 + i))
    pools = [
        ("pool2_default", (2, 8, 8, 3), dict()),
        ("pool2_same_odd", (2, 7, 7, 3), dict(padding="same")),
        ("pool3_s2_same_even", (2, 8, 8, 2), dict(pool_size=3, strides=2, padding="same")),
        ("pool2_s1_same", (2, 5, 6, 2), dict(pool_size=2, strides=1, padding="same")),
        ("pool3_s2_valid_leftover", (2, 9, 8, 2), dict(pool_size=3, strides=2)),
        ("pool3x2_s1x2_same", (1, 7, 7, 2), dict(pool_size=(3, 2), strides=(1, 2), padding="same")),
    ]
    for cls in ("MaxPooling2D", "AveragePooling2D"):
        for i, (name, shape, kw) in enumerate(pools):
            c.append(run_case(f"{cls}_{name}", lambda kw=kw, cls=cls: getattr(L, cls)(**kw), shape, 300 + i))
        example = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
        c.append(run_case(f"{cls}_docstring_example", lambda cls=cls: getattr(L, cls)(pool_size=2, strides=1, padding="same"),
                          (1, 3, 3, 1), 399, x_override=example))
    c.append(run_case("global_avg", lambda: L.GlobalAveragePooling2D(), (2, 5, 4, 3), 400))
    c.append(run_case("global_avg_keepdims", lambda: L.GlobalAveragePooling2D(keepdims=True), (2, 3, 4, 3), 401))
    c.append(run_case("global_max", lambda: L.GlobalMaxPooling2D(), (2, 5, 4, 3), 402))
    c.append(run_case("zero_padding_asym", lambda: L.ZeroPadding2D(padding=((1, 2), (0, 3))), (2, 3, 4, 2), 500))
    c.append(run_case("zero_padding_default", lambda: L.ZeroPadding2D(), (1, 2, 3, 2), 501))
    c.append(run_case("reshape_infer", lambda: L.Reshape((4, -1)), (2, 3, 4, 2), 600))
    c.append(run_case("dense_rank4", lambda: L.Dense(3, activation="tanh"), (2, 3, 2, 4), 700))
    return c


def bn_cases():
    cases = []
    specs = [
        ("axis_m1", dict(axis=-1, momentum=0.9)),
        ("axis_1", dict(axis=1, momentum=0.9)),
        ("axis_2", dict(axis=2, momentum=0.9)),
        ("axis_3", dict(axis=3, momentum=0.9)),
        ("axis_m3", dict(axis=-3, momentum=0.9)),
        ("axis_list_1_3", dict(axis=[1, 3], momentum=0.9)),
        ("axis_list_3_1", dict(axis=[3, 1], momentum=0.9)),
        ("axis_list_2_3", dict(axis=[2, 3], momentum=0.9)),
        ("axis_m1_not_fused", dict(axis=-1, momentum=0.9, fused=False)),
        ("axis_m1_eps_1e-5", dict(axis=-1, momentum=0.9, epsilon=1e-5)),
        ("axis_m1_default", dict()),
    ]
    shape = (3, 4, 3, 5)
    for i, (name, kw) in enumerate(specs):
        tf.keras.backend.clear_session()
        rng = np.random.default_rng(800 + i)
        layer = L.BatchNormalization(**kw)
        layer.build(shape)
        layer.gamma.assign(rng.uniform(0.5, 1.5, layer.gamma.shape).astype(np.float32))
        layer.beta.assign(rng.uniform(-0.5, 0.5, layer.beta.shape).astype(np.float32))
        case = {"name": name, "config": layer.get_config(), "input_shape": list(shape),
                "param_shape": list(layer.gamma.shape), "fused": bool(layer.fused),
                "gamma": flat(layer.gamma.numpy()), "beta": flat(layer.beta.numpy()), "steps": []}
        for step in range(2):
            x = (rng.normal(size=shape) * 2.0 + 0.5).astype(np.float32)
            xt = tf.constant(x)
            with tf.GradientTape() as tape:
                tape.watch(xt)
                y = layer(xt, training=True)
                dy = rng.uniform(-1, 1, y.shape).astype(np.float32)
                loss = tf.reduce_sum(y * dy)
            dx, dgamma, dbeta = tape.gradient(loss, [xt, layer.gamma, layer.beta])
            case["steps"].append({"x": flat(x), "dy": flat(dy), "y": flat(y), "dx": flat(dx),
                                  "dgamma": flat(dgamma), "dbeta": flat(dbeta),
                                  "moving_mean": flat(layer.moving_mean.numpy()),
                                  "moving_variance": flat(layer.moving_variance.numpy())})
        x = rng.normal(size=shape).astype(np.float32)
        case["inference"] = {"x": flat(x), "y": flat(layer(tf.constant(x), training=False))}
        cases.append(case)
    return cases


def seed_cnn():
    tf.keras.backend.clear_session()
    conv = dict(padding="same", use_bias=False, kernel_initializer="he_normal")
    model = tf.keras.Sequential([
        L.Reshape((28, 28, 1), input_shape=(28, 28)),
        L.Conv2D(32, 3, **conv), L.BatchNormalization(), L.Activation("relu"),
        L.Conv2D(32, 3, **conv), L.BatchNormalization(), L.Activation("relu"),
        L.MaxPooling2D(),
        L.Conv2D(64, 3, **conv), L.BatchNormalization(), L.Activation("relu"),
        L.Conv2D(64, 3, **conv), L.BatchNormalization(), L.Activation("relu"),
        L.MaxPooling2D(),
        L.Flatten(),
        L.Dense(128, use_bias=False, kernel_initializer="he_normal"),
        L.BatchNormalization(), L.Activation("relu"), L.Dropout(0.3),
        L.Dense(10, activation="softmax"),
    ])
    lines = []
    model.summary(print_fn=lines.append)
    (OUT / "seed_cnn.summary.txt").write_text("\n".join(lines) + "\n")
    (OUT / "seed_cnn.json").write_text(model.to_json())


def training():
    tf.keras.backend.clear_session()
    rng = np.random.default_rng(900)
    model = tf.keras.Sequential([
        L.Reshape((8, 8, 1), input_shape=(8, 8)),
        L.Conv2D(4, 3, padding="same", use_bias=False),
        L.BatchNormalization(),
        L.Activation("elu"),
        L.MaxPooling2D(),
        L.Conv2D(6, 3, strides=2, padding="same"),
        L.BatchNormalization(momentum=0.9),
        L.Activation("elu"),
        L.Flatten(),
        L.Dense(8, use_bias=False),
        L.BatchNormalization(),
        L.Activation("elu"),
        L.Dense(5, activation="softmax"),
    ])
    initial = {}
    for v in model.weights:
        short = v.name.split(":")[0].split("/")[-1]
        if short == "gamma":
            value = rng.uniform(0.5, 1.5, v.shape)
        elif short in ("moving_mean", "moving_variance"):
            value = v.numpy()
        else:
            value = rng.uniform(-0.5, 0.5, v.shape)
        v.assign(value.astype(np.float32))
        initial[v.name] = flat(v.numpy())
    model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, clipnorm=1.0),
                  loss="sparse_categorical_crossentropy")
    steps = []
    for _ in range(20):
        x = rng.uniform(0, 1, (6, 8, 8)).astype(np.float32)
        y = rng.integers(0, 5, (6, 1)).astype(np.float32)
        loss = model.train_on_batch(x, y)
        steps.append({"x": flat(x), "y": flat(y), "loss": float(loss),
                      "weights": {v.name: flat(v.numpy()) for v in model.weights}})
    probs = model.predict(x, verbose=0)
    with open(OUT / "training_20steps.json", "w") as f:
        json.dump({"tensorflow": tf.__version__, "batch": 6, "initial": initial, "steps": steps,
                   "predict": flat(probs)}, f)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    np.set_printoptions(precision=9)
    with open(OUT / "layers.json", "w") as f:
        json.dump({"tensorflow": tf.__version__, "cases": layer_cases()}, f)
    with open(OUT / "bn.json", "w") as f:
        json.dump({"tensorflow": tf.__version__, "cases": bn_cases()}, f)
    seed_cnn()
    training()
    print("wrote", OUT)


if __name__ == "__main__":
    main()
