"""Shared helpers of the keel.keras tests (run by ./test.sh through scripts/python_tests.sh)."""
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"


def run_python(source, timeout=600):
    """Runs `source` in a fresh interpreter (fresh default layer names, as a new Keras session)."""
    result = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


@pytest.fixture
def keras():
    from keel import keras as k
    k.backend.clear_session()
    k.utils.set_random_seed(42)
    return k


@pytest.fixture
def keel_cli():
    """The keel CLI built next to the library this package was built against."""
    path = os.environ.get("KEEL_BIN")
    assert path and os.access(path, os.X_OK), "KEEL_BIN must name the keel executable (scripts/python_tests.sh sets it)"
    return path
