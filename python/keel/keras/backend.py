"""keras.backend: the part of it that concerns layer names."""
from .. import _keel


def clear_session():
    """Resets default layer names ("dense", "dense_1", ...) as keras.backend.clear_session() does."""
    _keel.reset_default_names()
