"""keras.optimizers (tf.keras >= 2.11 signatures): clipvalue, clipnorm, global_clipnorm, and keel's
agc (adaptive gradient clipping) and on_nonfinite as extra keyword arguments.

The C++ optimizer is made at the first compile() that uses the object and then kept, so its state
(slots, iterations) carries over as a Keras optimizer object's does.
"""
import json
import math

from .. import _keel

# Keras's optimizer arguments that keel accepts at their defaults only (use_ema, jit_compile, ...);
# keel validates them.
_COMMON = ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema", "ema_momentum",
           "ema_overwrite_frequency", "jit_compile", "agc", "on_nonfinite")


class Optimizer:
    _keel_name = None

    def __init__(self, name, **config):
        unknown = [k for k in config if k not in _COMMON and k not in self._own_args]
        if unknown:
            raise TypeError(f"{type(self).__name__}: keyword argument not understood: {unknown}")
        for key, value in config.items():
            # Numbers only: a LearningRateSchedule, a callable or a tensor has no keel counterpart
            # (keras.callbacks.LearningRateScheduler changes the rate between epochs instead).
            if value is not None and key != "on_nonfinite" and not isinstance(value, (bool, int, float)):
                try:
                    config[key] = float(value)
                except (TypeError, ValueError):
                    raise TypeError(f"{type(self).__name__}: {key}={value!r}: keel takes a number here "
                                    "(learning-rate schedules: keras.callbacks.LearningRateScheduler)") from None
            if isinstance(config[key], float) and not math.isfinite(config[key]):
                raise ValueError(f"{type(self).__name__}: {key}={config[key]!r} must be finite")
        config["name"] = name
        self._config = {k: v for k, v in config.items() if v is not None}
        self._cpp = None

    def _native(self):
        if self._cpp is None:  # unknown keywords were refused in __init__; keel checks the values
            self._cpp = _keel.make_optimizer(self._keel_name, json.dumps(self._config))
        return self._cpp

    @property
    def learning_rate(self):
        return self._cpp.learning_rate if self._cpp is not None else self._config["learning_rate"]

    @learning_rate.setter
    def learning_rate(self, value):
        if self._cpp is not None:
            self._cpp.learning_rate = float(value)
        else:
            self._config["learning_rate"] = float(value)

    lr = learning_rate

    @property
    def iterations(self):
        return self._cpp.iterations if self._cpp is not None else 0

    def __getattr__(self, key):
        # clipnorm, clipvalue, global_clipnorm, momentum, ... as attributes, like Keras.
        config = self.__dict__.get("_config", {})
        if key in _COMMON or key in type(self)._own_args:
            return config.get(key)
        raise AttributeError(key)

    def get_config(self):
        if self._cpp is not None:
            return json.loads(self._cpp.get_config_json())
        return json.loads(self._native().get_config_json())


class SGD(Optimizer):
    _keel_name, _own_args = "sgd", ("learning_rate", "momentum", "nesterov")

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        super().__init__(name, learning_rate=learning_rate, momentum=momentum, nesterov=nesterov, **kwargs)


class Adam(Optimizer):
    _keel_name, _own_args = "adam", ("learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07, amsgrad=False,
                 name="Adam", **kwargs):
        super().__init__(name, learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, **kwargs)


class AdamW(Optimizer):
    _keel_name, _own_args = "adamw", ("learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-07,
                 amsgrad=False, name="AdamW", **kwargs):
        super().__init__(name, learning_rate=learning_rate, weight_decay=weight_decay, beta_1=beta_1,
                         beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad, **kwargs)


class Nadam(Optimizer):
    _keel_name, _own_args = "nadam", ("learning_rate", "beta_1", "beta_2", "epsilon")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07, name="Nadam", **kwargs):
        super().__init__(name, learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         **kwargs)


class RMSprop(Optimizer):
    _keel_name, _own_args = "rmsprop", ("learning_rate", "rho", "momentum", "epsilon", "centered")

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-07, centered=False,
                 name="RMSprop", **kwargs):
        super().__init__(name, learning_rate=learning_rate, rho=rho, momentum=momentum, epsilon=epsilon,
                         centered=centered, **kwargs)


class Adagrad(Optimizer):
    _keel_name, _own_args = "adagrad", ("learning_rate", "initial_accumulator_value", "epsilon")

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-07, name="Adagrad",
                 **kwargs):
        super().__init__(name, learning_rate=learning_rate, initial_accumulator_value=initial_accumulator_value,
                         epsilon=epsilon, **kwargs)


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "nadam": Nadam, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier):
    """An optimizer object, or one made with defaults from its Keras name ("sgd", "adam", ...)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}; keel has "
                     f"{', '.join(sorted(_BY_NAME))}")
