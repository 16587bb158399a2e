"""keel: deep neural network training on the CPU, the Keras way.

Keras users switch by one import line::

    from keel import keras          # instead of: from tensorflow import keras

``keel.keras`` mirrors ``tf.keras`` (2.x) for what keel implements; docs/python.md lists it.
"""
from . import keras
from .keras.models import fixup, fold_batch_norm

__version__ = "0.1.0"
__all__ = ["keras", "fixup", "fold_batch_norm", "__version__"]
