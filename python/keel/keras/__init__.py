"""keel.keras: the tf.keras 2.x API over keel's C++ core."""
from . import (activations, backend, callbacks, datasets, initializers, layers, losses, metrics, mixed_precision, models,
               optimizers, utils)
from .layers import Input
from .models import Model, Sequential

__all__ = ["activations", "backend", "callbacks", "datasets", "initializers", "layers", "losses", "metrics", "mixed_precision", "models",
           "optimizers", "utils", "Input", "Model", "Sequential"]
