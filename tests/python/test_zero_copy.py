"""float32 (and uint8) arrays are read in place; other dtypes are converted (copied) once.

Each measurement runs in a fresh interpreter, so the peak resident size it reads is its own.
"""
from conftest import run_python

PROBE = """
import resource
import numpy as np
from keel import keras

def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

# 150,000 x 1,024 values, every page touched before measuring; a float32 copy of it is 586 MiB.
x = np.full((150_000, 1024), 0.5, dtype=np.{dtype})
model = keras.Sequential([keras.layers.Dense(1, input_shape=(1024,))])
model.predict(x[:4096], batch_size=4096, verbose=0)  # buffers for this batch size exist now
before = peak_mib()
model.predict(x, batch_size=4096, verbose=0)
print(peak_mib() - before)
"""


def test_float32_input_is_not_copied():
    growth = float(run_python(PROBE.format(dtype="float32")))
    assert growth < 64, f"peak RSS grew by {growth:.0f} MiB: the float32 input was copied"


def test_uint8_input_is_not_copied():
    growth = float(run_python(PROBE.format(dtype="uint8")))
    assert growth < 64, f"peak RSS grew by {growth:.0f} MiB: the uint8 input was copied"


def test_float64_input_is_converted_and_the_probe_sees_it():
    # The same probe detects a copy: float64 input becomes a float32 array first (Keras casts its
    # inputs to float32), which raises the peak by about 586 MiB.
    growth = float(run_python(PROBE.format(dtype="float64")))
    assert growth > 400, f"peak RSS grew by only {growth:.0f} MiB"
