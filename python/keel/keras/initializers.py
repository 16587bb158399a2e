"""keras.initializers: initializer objects that serialise as Keras configs."""
import numpy as np


class Initializer:
    """Base class; get_config() holds the constructor arguments, as Keras's."""

    def __init__(self, **config):
        self._config = config

    def get_config(self):
        return dict(self._config)

    def _keras_config(self):
        return {"class_name": type(self).__name__, "config": self.get_config()}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._config.items())
        return f"{type(self).__name__}({args})"


def _seeded(name, doc):
    def __init__(self, seed=None):
        Initializer.__init__(self, seed=seed)
    return type(name, (Initializer,), {"__init__": __init__, "__doc__": doc})


HeNormal = _seeded("HeNormal", "He normal (truncated normal, stddev sqrt(2 / fan_in)).")
HeUniform = _seeded("HeUniform", "He uniform, limit sqrt(6 / fan_in).")
GlorotNormal = _seeded("GlorotNormal", "Glorot normal (truncated), stddev sqrt(2 / (fan_in + fan_out)).")
GlorotUniform = _seeded("GlorotUniform", "Glorot uniform, limit sqrt(6 / (fan_in + fan_out)).")
LecunNormal = _seeded("LecunNormal", "LeCun normal (truncated), stddev sqrt(1 / fan_in).")
LecunUniform = _seeded("LecunUniform", "LeCun uniform, limit sqrt(3 / fan_in).")


class Zeros(Initializer):
    def __init__(self):
        super().__init__()


class Ones(Initializer):
    def __init__(self):
        super().__init__()


class Constant(Initializer):
    def __init__(self, value=0):
        if not isinstance(value, (int, float)) and np.ndim(value) == 0:
            value = float(value)  # a NumPy scalar
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise TypeError(f"Constant: value={value!r}: keel fills a variable with one number; use "
                            "layer.set_weights([...]) for an array")
        super().__init__(value=value)


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(mean=mean, stddev=stddev, seed=seed)


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(minval=minval, maxval=maxval, seed=seed)


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(mean=mean, stddev=stddev, seed=seed)


class VarianceScaling(Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed)


class Orthogonal(Initializer):
    def __init__(self, gain=1.0, seed=None):
        super().__init__(gain=gain, seed=seed)


# Keras's snake_case aliases.
he_normal, he_uniform = HeNormal, HeUniform
glorot_normal, glorot_uniform = GlorotNormal, GlorotUniform
lecun_normal, lecun_uniform = LecunNormal, LecunUniform
zeros, ones, constant = Zeros, Ones, Constant
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
orthogonal = Orthogonal


def get(identifier):
    """A string or config passes through to keel (which validates it); an object serialises."""
    if isinstance(identifier, Initializer):
        return identifier._keras_config()
    return identifier
