"""Issue 16's acceptance: the seed's Keras code runs with one import line changed."""
import ast

import numpy as np

from conftest import DATA, REPO, run_python


def test_seed_code_runs_with_keel_import():
    source = (REPO / "tests" / "python" / "seed_tensorflow.py").read_text()
    assert source.count("from tensorflow import keras") == 1
    out = run_python(source.replace("from tensorflow import keras", "from keel import keras"))
    expected_summary = (DATA / "summary" / "seed_mlp.txt").read_text()
    assert out.startswith(expected_summary), f"summary differs:\n{out[:len(expected_summary) + 200]}"
    rest = out[len(expected_summary):].splitlines()
    # The seed's printed list (seed-material.md).
    assert ast.literal_eval(rest[0]) == [
        ("batch_normalization/gamma:0", True), ("batch_normalization/beta:0", True),
        ("batch_normalization/moving_mean:0", False), ("batch_normalization/moving_variance:0", False)]
    # fit ran: one epoch of MSE on class ids with a softmax output, as the seed compiles it.
    loss = float(rest[1].split()[1])
    assert np.isfinite(loss) and loss > 0


def _one_step_weights(keras, **clip):
    """A Dense(1) without bias from zero weights, MSE on one sample x = [0.9, 100], y = -0.5: the
    gradient of the kernel is exactly [0.9, 100.0] (2 * (0 - y) * x), the seed's example; one SGD
    step at learning rate 1 leaves -clip(gradient) in the kernel."""
    model = keras.models.Sequential([
        keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros", input_shape=[2])])
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=1.0, **clip))
    model.fit(np.array([[0.9, 100.0]], np.float32), np.array([[-0.5]], np.float32), epochs=1, verbose=0,
              shuffle=False)
    return -model.layers[0].variables[0].numpy().ravel()


def test_clipvalue_gives_the_seeds_clipped_gradient(keras):
    # seed-material.md: clipvalue=1.0 turns [0.9, 100.0] into [0.9, 1.0].
    np.testing.assert_allclose(_one_step_weights(keras, clipvalue=1.0), [0.9, 1.0], rtol=1e-6)


def test_clipnorm_gives_the_seeds_clipped_gradient(keras):
    # seed-material.md: clipnorm=1.0 turns [0.9, 100.0] into [0.00899964, 0.9999595].
    np.testing.assert_allclose(_one_step_weights(keras, clipnorm=1.0), [0.00899964, 0.9999595], rtol=1e-5)


def test_unclipped_step_is_the_raw_gradient(keras):
    # Guards the two tests above: without clipping the same step moves by the whole gradient.
    np.testing.assert_allclose(_one_step_weights(keras), [0.9, 100.0], rtol=1e-6)


def test_readme_python_section_runs():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Python: `from keel import keras`"):]
    start = section.index("```python\n") + len("```python\n")
    code = section[start:section.index("\n```", start)]
    assert "from keel import keras" in code and "model.fit(" in code
    out = run_python(code)
    assert 'Model: "sequential"' in out and "Total params: 271,346" in out
