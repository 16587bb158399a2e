"""keel.keras: the tf.keras 2.x API over keel's C++ core."""
from . import backend, callbacks, datasets, initializers, layers, losses, metrics, models, optimizers, utils
from .layers import Input
from .models import Model, Sequential

__all__ = ["backend", "callbacks", "datasets", "initializers", "layers", "losses", "metrics", "models",
           "optimizers", "utils", "Input", "Model", "Sequential"]
