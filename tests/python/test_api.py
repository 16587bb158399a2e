"""The keel.keras API surface: layers, variables, errors, compile/fit/evaluate/predict, saving."""
import json

import numpy as np
import pytest


def small_model(keras):
    return keras.Sequential([
        keras.layers.Flatten(input_shape=(4, 2)),
        keras.layers.Dense(16, activation="elu", kernel_initializer="he_normal"),
        # momentum 0.8: the moving statistics settle within the few dozen steps these tests train
        keras.layers.BatchNormalization(momentum=0.8),
        keras.layers.Dense(3, activation="softmax"),
    ])


def blobs(n=256, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = rng.normal(size=(n, 4, 2)).astype(np.float32)
    x[:, 0, 0] += 4.0 * y  # classes 4 standard deviations apart: a model that learns is > 90 % right
    return x, y.astype(np.uint8)


def test_default_names_and_config(keras):
    model = small_model(keras)
    assert [l.name for l in model.layers] == ["flatten", "dense", "batch_normalization", "dense_1"]
    assert model.name == "sequential"
    config = model.layers[1].get_config()
    assert config["units"] == 16 and config["activation"] == "elu"
    assert config["kernel_initializer"]["class_name"] == "HeNormal"
    assert json.loads(model.to_json())["class_name"] == "Sequential"


def test_unknown_keyword_is_type_error_and_bad_value_is_value_error(keras):
    with pytest.raises(TypeError, match="frobnicate"):
        keras.layers.Dense(3, frobnicate=1)
    with pytest.raises(ValueError, match="units"):
        keras.layers.Dense(-3)
    with pytest.raises(ValueError, match="Could not interpret optimizer"):
        keras.optimizers.get("sgdd")


def test_variables_numpy_assign_and_weights(keras):
    model = small_model(keras)
    bn = model.layers[2]
    names = [(v.name, v.shape, v.trainable) for v in bn.variables]
    assert names == [("batch_normalization/gamma:0", (16,), True), ("batch_normalization/beta:0", (16,), True),
                     ("batch_normalization/moving_mean:0", (16,), False),
                     ("batch_normalization/moving_variance:0", (16,), False)]
    kernel = model.layers[1].variables[0]
    value = np.arange(8 * 16, dtype=np.float32).reshape(8, 16)
    kernel.assign(value)
    np.testing.assert_array_equal(kernel.numpy(), value)
    with pytest.raises(ValueError, match=r"shape \(8, 16\)"):
        kernel.assign(np.zeros((16, 8), np.float32))
    # tf.keras 2.12's model.weights for this model (printed by real TensorFlow): layer by layer.
    assert [v.name for v in model.weights] == [
        "dense/kernel:0", "dense/bias:0", "batch_normalization/gamma:0", "batch_normalization/beta:0",
        "batch_normalization/moving_mean:0", "batch_normalization/moving_variance:0",
        "dense_1/kernel:0", "dense_1/bias:0"]
    assert [v.name for v in model.trainable_weights][2:4] == ["batch_normalization/gamma:0",
                                                              "batch_normalization/beta:0"]
    weights = model.get_weights()
    assert len(weights) == 8 and model.count_params() == 8 * 16 + 16 + 4 * 16 + 16 * 3 + 3
    model.set_weights([w + 1 for w in weights])
    np.testing.assert_array_equal(model.get_weights()[0], weights[0] + 1)


def test_fit_evaluate_predict_learn(keras):
    x, y = blobs()
    model = small_model(keras)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=10, validation_split=0.25, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.epoch == list(range(10))
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert accuracy > 0.85  # chance is 1/3
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"loss": loss, "accuracy": accuracy}
    assert model.predict(x, verbose=0).shape == (256, 3)
    assert model.optimizer.iterations == 10 * 6  # 192 training samples at batch 32
    assert history.keel_timing["train_samples"] == 10 * 192 and len(history.keel_timing["step_seconds"]) == 60


def test_float64_and_int_inputs_are_converted_as_keras_does(keras):
    x, y = blobs()
    model = small_model(keras)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    np.testing.assert_array_equal(model.predict(x.astype(np.float64), verbose=0), model.predict(x, verbose=0))
    model.fit(x.astype(np.float64), y.astype(np.int64), epochs=1, verbose=0)


def test_mismatched_sample_counts_name_both_shapes(keras):
    x, y = blobs()
    model = small_model(keras)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"x has 256 samples but y has 10"):
        model.fit(x, y[:10], verbose=0)


def test_fit_before_compile_is_an_error(keras):
    x, y = blobs()
    with pytest.raises(RuntimeError, match="compile"):
        small_model(keras).fit(x, y, verbose=0)


def test_save_and_load_round_trip(keras, tmp_path):
    x, _ = blobs()
    model = small_model(keras)
    model.save(tmp_path / "m")
    loaded = keras.models.load_model(tmp_path / "m")
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="TF.js Layers directory"):
        model.save(tmp_path / "m.h5")


def test_fold_batch_norm_predicts_the_same(keras):
    import keel
    x, y = blobs()
    model = keras.Sequential([
        keras.layers.Flatten(input_shape=(4, 2)),
        keras.layers.Dense(16, use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.Activation("elu"),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    folded = keel.fold_batch_norm(model)
    assert "batch_normalization" not in [l.name for l in folded.layers]
    assert "batch_normalization" in folded.fold_report
    np.testing.assert_allclose(folded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_summary_print_fn_and_progress_go_through_python(keras, capsys):
    x, y = blobs()
    model = small_model(keras)
    model.summary()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert 'Model: "sequential"' in out
    assert "Epoch 2/2\n8/8 - " in out and "loss:" in out
    model.predict(x)  # Keras's default verbose: the progress bar, 256 samples in 8 batches
    assert "8/8 [==============================] - " in capsys.readouterr().out


def test_a_sequential_without_input_shape_builds_on_its_first_data(keras):
    # As in Keras: compile before the input shape is known; fit builds for x's sample shape.
    x, y = blobs()
    model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(3, activation=keras.activations.softmax)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert not model.built
    model.fit(x, y, epochs=1, verbose=0)
    assert model.built and model.layers[1].weights[0].shape == (8, 3)


def test_python_functions_as_activations_are_refused_with_an_explanation(keras):
    with pytest.raises(TypeError, match="Python functions cannot run inside keel"):
        keras.layers.Dense(3, activation=lambda t: t)


def test_a_layer_keeps_its_weights_after_its_model_is_gone(keras):
    import gc
    dense = keras.layers.Dense(3, input_shape=(4,))
    model = keras.Sequential([dense])
    model.build()
    before = dense.get_weights()
    del model
    gc.collect()
    after = dense.get_weights()  # the variables' storage is still alive: no read of freed memory
    np.testing.assert_array_equal(after[0], before[0])
    dense.set_weights([w + 1 for w in after])
    np.testing.assert_array_equal(dense.get_weights()[0], before[0] + 1)


def test_adding_a_layer_or_reusing_layers_keeps_trained_weights(keras):
    x, y = blobs()
    model = small_model(keras)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    trained = model.layers[1].get_weights()
    model.add(keras.layers.Dense(2))  # Keras keeps the built layers' weights
    model.predict(x, verbose=0)       # builds the grown model
    np.testing.assert_array_equal(model.layers[1].get_weights()[0], trained[0])
    head = keras.Sequential(model.layers[:2] + [keras.layers.Dense(5)])  # transfer learning
    head.build()
    np.testing.assert_array_equal(head.layers[1].get_weights()[0], trained[0])
    inputs = keras.Input((4, 2))
    functional = keras.Model(inputs, model.layers[1](model.layers[0](inputs)))
    np.testing.assert_array_equal(functional.get_layer(model.layers[1].name).get_weights()[0], trained[0])


def test_set_random_seed_decides_the_initial_weights(keras):
    def kernel(seed):
        keras.utils.set_random_seed(seed)
        inputs = keras.Input((4,))
        return keras.Model(inputs, keras.layers.Dense(3)(inputs)).get_weights()[0]

    np.testing.assert_array_equal(kernel(7), kernel(7))
    assert not np.array_equal(kernel(7), kernel(8))


def test_two_threads_can_predict_with_one_model(keras):
    import threading
    x, _ = blobs(2000)
    model = small_model(keras)
    expected = model.predict(x, verbose=0)
    results = [None] * 4

    def run(i):
        results[i] = model.predict(x, batch_size=7 + i, verbose=0)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_allclose(r, expected, rtol=1e-6, atol=1e-7)


def test_a_model_trains_its_layers_again_after_another_model_reused_them(keras):
    x, y = blobs()
    base = small_model(keras)
    base.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    base.fit(x, y, epochs=1, verbose=0)
    head = keras.Sequential(base.layers[:2] + [keras.layers.Dense(3, activation="softmax")])
    head.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    head.fit(x, y, epochs=1, verbose=0)  # trains the two shared layers
    after_head = base.layers[1].get_weights()[0]
    # base computes with what head trained (the shared layer carries its weights) ...
    base.predict(x[:4], verbose=0)
    np.testing.assert_array_equal(base.layers[1].get_weights()[0], after_head)
    # ... and training base again moves the shared Dense layer (it is base's to train again).
    base.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(base.layers[1].get_weights()[0], after_head)
