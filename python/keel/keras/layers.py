"""keras.layers: every keel layer with Keras's class name, arguments and defaults.

A layer is created in C++ from its Keras config (the registry keel's config files load through),
so values are validated there and errors carry keel's messages (ValueError); an unknown keyword
argument is a TypeError, as in Keras.
"""
import json
import weakref

import numpy as np

from .. import _keel
from . import initializers, mixed_precision

# C++ layer address -> its Python object, so that model.layers[i] is the object the user made.
_wrappers = weakref.WeakValueDictionary()

# Keyword arguments every Keras layer takes; keel reads them from the config.
_BASE_KWARGS = ("name", "trainable", "input_shape", "batch_input_shape", "input_dim", "batch_size", "dtype")


def _config_value(value):
    if callable(value) and not isinstance(value, (str, initializers.Initializer)):
        raise TypeError(f"{value!r}: keel layers take activations and initializers by Keras name or as "
                        "keel.keras.activations / keel.keras.initializers objects; Python functions cannot "
                        "run inside keel's C++ layers")
    if isinstance(value, initializers.Initializer):
        return value._keras_config()
    if isinstance(value, mixed_precision.Policy):  # dtype=Policy(...): Keras's serialized form
        return {"class_name": "Policy", "config": value.get_config()}
    if isinstance(value, tuple):
        return [_config_value(v) for v in value]
    if isinstance(value, list):
        return [_config_value(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _pair(value):
    """Keras's normalize_tuple for 2-D arguments: 3 -> (3, 3)."""
    return (value, value) if isinstance(value, (int, np.integer)) else value


class Variable:
    """A layer variable: name ("dense/kernel:0"), shape, trainable, numpy(), assign()."""

    def __init__(self, layer, index, name, shape, trainable):
        self._layer, self._index = layer, index
        self.name, self.shape, self.trainable = name, tuple(shape), trainable
        self.dtype = "float32"

    def numpy(self):
        return self._layer._cpp.variable_numpy(self._index)

    def assign(self, value):
        self._layer._cpp.assign_variable(self._index, np.ascontiguousarray(value, dtype=np.float32))
        return self

    def __array__(self, dtype=None, copy=None):
        value = self.numpy()
        return value if dtype is None else value.astype(dtype)

    def __repr__(self):
        return f"<keel.Variable '{self.name}' shape={self.shape} dtype=float32, numpy=\n{self.numpy()!r}>"


def assign_all(owner, variables, values):
    """set_weights of a layer or model: one array per variable, in `variables` order."""
    if len(values) != len(variables):
        raise ValueError(f"{owner} expects {len(variables)} weight array(s), but the weights list has {len(values)}")
    # Every shape is checked before anything is assigned, as Keras does: a wrong array leaves all
    # the weights as they were.
    for variable, value in zip(variables, values):
        if tuple(np.shape(value)) != tuple(variable.shape):
            raise ValueError(f"{owner}: weight shape {tuple(variable.shape)} of '{variable.name}' is not compatible "
                             f"with provided weight shape {tuple(np.shape(value))}")
    for variable, value in zip(variables, values):
        variable.assign(value)


class KerasTensor:
    """A symbolic tensor of the functional API (keras.Input(...) or a layer's output)."""

    def __init__(self, cpp):
        self._cpp = cpp

    @property
    def shape(self):
        return self._cpp.shape

    @property
    def dtype(self):
        return "float32"

    def __repr__(self):
        return (f"<KerasTensor: shape={self.shape} dtype=float32 (created by layer "
                f"'{self._cpp.layer.name}')>")


class Layer:
    """Base class of keel.keras layers (not subclassable with a Python call(): keel runs in C++)."""

    _class_name = None

    def _create(self, config, kwargs, keep_none=()):
        for key in kwargs:
            if key not in _BASE_KWARGS:
                raise TypeError(f"{type(self).__name__}: keyword argument not understood: '{key}'")
        config = dict(config)
        kwargs = dict(kwargs)
        if "input_dim" in kwargs:  # Keras: Dense(10, input_dim=4) is input_shape=(4,)
            config["input_shape"] = (kwargs.pop("input_dim"),)
        config.update(kwargs)
        if "batch_size" in config:
            raise ValueError(f"{type(self).__name__}: batch_size={config['batch_size']!r}: keel takes the "
                             "batch size at fit time; leave it unset")
        text = json.dumps({k: _config_value(v) for k, v in config.items() if v is not None or k in keep_none})
        self._attach(_keel.make_layer(self._class_name or type(self).__name__, text))

    def _attach(self, cpp):
        self._cpp = cpp
        self._models = weakref.WeakSet()
        # keel keeps a layer's variables in the arena of the last model built over it and the layer
        # points into it: holding that native model keeps those pointers valid for as long as the
        # layer object lives (no read of freed memory after `del model`). Only that one: a model
        # built over the layer later takes it (_hold), and the earlier native then lives only as
        # long as its own Python model does (holding every one leaked ~5 MB per model when many
        # models shared a Dense(512)).
        self._bound = None  # the native model whose variables the layer points at now
        self._stranded = None  # values kept from a build that failed (models.py _restore_kept)
        _wrappers[cpp.address] = self

    def _hold(self, native):
        """Called when `native` was built or loaded over this layer: it now points into it."""
        self._bound = native
        self._stranded = None

    def _strand(self, values):
        """A build over this layer failed: it points into a model that must not be used, so every
        model using it rebuilds (nothing is bound) and gets `values` back (_values)."""
        self._bound = None
        self._stranded = values

    def _values(self):
        """Copies of this layer's variables, or None when it has none yet."""
        if self._stranded is not None:
            return self._stranded
        info = self._cpp.variable_info()
        if not info or not all(has_value for *_, has_value in info):
            return None
        return [self._cpp.variable_numpy(i) for i in range(len(info))]

    def _restore(self, values):
        for i, value in enumerate(values):
            self._cpp.assign_variable(i, value)

    @staticmethod
    def _wrap(cpp):
        """The Python object of a C++ layer (made here when C++ created it, e.g. load_model)."""
        existing = _wrappers.get(cpp.address)
        if existing is not None and existing._cpp is cpp:
            return existing
        cls = globals().get(cpp.class_name)
        if not (isinstance(cls, type) and issubclass(cls, Layer)):
            cls = Layer
        layer = cls.__new__(cls)
        layer._attach(cpp)
        return layer

    # ---- Keras attributes ----
    @property
    def name(self):
        return self._cpp.name

    @property
    def trainable(self):
        return self._cpp.trainable

    @trainable.setter
    def trainable(self, value):
        self._cpp.trainable = bool(value)

    @property
    def built(self):
        return self._cpp.built

    @property
    def dtype(self):
        """The variables' dtype (Keras: layer.dtype is the policy's variable_dtype)."""
        return "float32"

    @property
    def dtype_policy(self):
        return mixed_precision.Policy(self._cpp.dtype_policy_name)

    @property
    def compute_dtype(self):
        return self.dtype_policy.compute_dtype

    @property
    def variable_dtype(self):
        return "float32"

    @property
    def output_shape(self):
        shapes = self._cpp.output_shapes()
        if not shapes:
            raise AttributeError(f"The layer '{self.name}' has never been called and thus has no defined "
                                 "output shape.")
        return shapes[0] if len(shapes) == 1 else shapes

    def _all_variables(self):
        if not self._cpp.built:  # a model holding it may know the input shape now
            for model in list(self._models):
                model._build_if_possible()
        return [Variable(self, i, name, shape, trainable)
                for i, (name, shape, trainable, has_value) in enumerate(self._cpp.variable_info()) if has_value]

    @property
    def trainable_weights(self):
        return [v for v in self._all_variables() if v.trainable]

    @property
    def non_trainable_weights(self):
        return [v for v in self._all_variables() if not v.trainable]

    @property
    def weights(self):
        """Keras order: trainable variables, then non-trainable ones."""
        return self.trainable_weights + self.non_trainable_weights

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self):
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        assign_all(f"Layer '{self.name}'", self.weights, weights)

    def count_params(self):
        return int(sum(np.prod(v.shape, dtype=np.int64) for v in self.weights))

    def get_config(self):
        return json.loads(self._cpp.get_config_json())

    def __call__(self, inputs, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: call arguments {sorted(kwargs)} are not supported by keel")
        many = isinstance(inputs, (list, tuple))
        tensors = list(inputs) if many else [inputs]
        if not tensors or not all(isinstance(t, KerasTensor) for t in tensors):
            raise TypeError(f"{type(self).__name__} '{self.name}': keel layers are called on symbolic tensors "
                            "(keras.Input(...) or another layer's output); to compute on arrays, build a Model "
                            "and call predict()")
        outputs = [KerasTensor(t) for t in self._cpp([t._cpp for t in tensors])]
        # A list for a layer with several outputs (an RNN's return_state), as Keras returns.
        return outputs[0] if len(outputs) == 1 else outputs

    def __repr__(self):
        return f"<keel.keras.layers.{type(self).__name__} name={self.name}>"


class InputLayer(Layer):
    """Made by keras.Input; appears in a functional model's layers. `InputLayer(input_shape=...)` as
    the first entry of a Sequential declares its input shape, as in tf.keras."""

    def __init__(self, input_shape=None, batch_size=None, dtype=None, name=None, **kwargs):
        shape = kwargs.pop("shape", None) if input_shape is None else input_shape
        batch_shape = kwargs.pop("batch_input_shape", None)
        if kwargs:
            raise TypeError(f"InputLayer: keyword argument not understood: {sorted(kwargs)}")
        if shape is None and batch_shape is not None:
            shape = tuple(batch_shape)[1:]
        tensor = Input(shape=shape, batch_size=batch_size, name=name, dtype=dtype)
        self._attach(tensor._cpp.layer)
        self._sequential_input = tensor


def Input(shape=None, batch_size=None, name=None, dtype=None, **kwargs):
    """keras.Input(shape=(28, 28)): a symbolic input, the batch dimension left out."""
    if kwargs:
        raise TypeError(f"Input: keyword argument not understood: {sorted(kwargs)}")
    if shape is None:
        raise ValueError("Input: please provide shape= (the sample shape without the batch dimension)")
    if batch_size is not None:
        raise ValueError(f"Input: batch_size={batch_size!r}: keel takes the batch size at fit time")
    if dtype not in (None, "float32", np.float32):
        raise ValueError(f"Input: dtype {dtype!r} is not supported; keel computes in float32")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if any(d is None for d in shape):
        raise ValueError(f"Input: shape={shape!r}: keel needs every dimension of a sample known (no None: "
                         "variable-length inputs are not supported); the batch dimension is left out")
    tensor = _keel.Input([int(d) for d in shape], name or "")
    Layer._wrap(tensor.layer)
    return KerasTensor(tensor)


class Dense(Layer):
    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        self._create(dict(units=units, activation=activation, use_bias=use_bias,
                          kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                          kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                          activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                          bias_constraint=bias_constraint), kwargs)


class _Recurrent(Layer):
    """SimpleRNN / LSTM / GRU with Keras's arguments. With return_state=True a call returns
    [output, *states] (functional models; Sequential refuses a layer with several outputs)."""

    def _create_recurrent(self, units, cell_args, activation, use_bias, kernel_initializer,
                          recurrent_initializer, bias_initializer, dropout, recurrent_dropout,
                          return_sequences, return_state, go_backwards, stateful, unroll, kwargs):
        for key in ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                    "activity_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint"):
            if kwargs.get(key) is not None:
                raise ValueError(f"{type(self).__name__}: {key} is not supported by keel")
            kwargs.pop(key, None)
        config = dict(units=units, activation=activation if activation is not None else "linear",
                      use_bias=use_bias, kernel_initializer=kernel_initializer,
                      recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                      dropout=dropout, recurrent_dropout=recurrent_dropout,
                      return_sequences=return_sequences, return_state=return_state,
                      go_backwards=go_backwards, stateful=stateful, unroll=unroll)
        config.update(cell_args)
        if "implementation" in kwargs:  # LSTM / GRU: Keras takes it through **kwargs
            if isinstance(self, SimpleRNN):
                raise TypeError("SimpleRNN: unexpected keyword argument 'implementation'")
            config["implementation"] = kwargs.pop("implementation")
        self._create(config, kwargs)


class SimpleRNN(_Recurrent):
    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, **kwargs):
        self._create_recurrent(units, {}, activation, use_bias, kernel_initializer, recurrent_initializer,
                               bias_initializer, dropout, recurrent_dropout, return_sequences,
                               return_state, go_backwards, stateful, unroll, kwargs)


class LSTM(_Recurrent):
    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 time_major=False, unroll=False, **kwargs):
        self._create_recurrent(units, dict(recurrent_activation=recurrent_activation,
                                           unit_forget_bias=unit_forget_bias, time_major=time_major),
                               activation, use_bias, kernel_initializer, recurrent_initializer,
                               bias_initializer, dropout, recurrent_dropout, return_sequences,
                               return_state, go_backwards, stateful, unroll, kwargs)


class GRU(_Recurrent):
    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False, time_major=False,
                 reset_after=True, **kwargs):
        self._create_recurrent(units, dict(recurrent_activation=recurrent_activation,
                                           reset_after=reset_after, time_major=time_major),
                               activation, use_bias, kernel_initializer, recurrent_initializer,
                               bias_initializer, dropout, recurrent_dropout, return_sequences,
                               return_state, go_backwards, stateful, unroll, kwargs)


class Bidirectional(Layer):
    """Bidirectional(layer, merge_mode="concat"): the wrapped SimpleRNN / LSTM / GRU runs forward and
    backward over the sequence; merge_mode "concat", "sum", "mul", "ave" or None (both outputs)."""

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, _Recurrent):
            raise ValueError(f"Bidirectional: `layer` must be a keel.keras.layers SimpleRNN, LSTM or GRU "
                             f"instance; received {layer!r}")
        if weights is not None:
            raise ValueError("Bidirectional: `weights` is not supported by keel; set them after build with "
                             "set_weights()")
        if backward_layer is not None:
            raise ValueError("Bidirectional: `backward_layer` is not supported by keel; the backward "
                             "direction is the wrapped layer with go_backwards flipped")
        inner = {"class_name": type(layer).__name__, "config": layer.get_config()}
        self._create(dict(layer=inner, merge_mode=merge_mode), kwargs, keep_none=("merge_mode",))


class LayerNormalization(Layer):
    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, **kwargs):
        self._create(dict(axis=list(axis) if isinstance(axis, (list, tuple)) else axis, epsilon=epsilon,
                          center=center, scale=scale, beta_initializer=beta_initializer,
                          gamma_initializer=gamma_initializer, beta_regularizer=beta_regularizer,
                          gamma_regularizer=gamma_regularizer, beta_constraint=beta_constraint,
                          gamma_constraint=gamma_constraint), kwargs)


class Embedding(Layer):
    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 activity_regularizer=None, embeddings_constraint=None, mask_zero=False, input_length=None,
                 **kwargs):
        if embeddings_initializer == "uniform":  # Keras's alias for RandomUniform(-0.05, 0.05)
            embeddings_initializer = "random_uniform"
        self._create(dict(input_dim=input_dim, output_dim=output_dim,
                          embeddings_initializer=embeddings_initializer,
                          embeddings_regularizer=embeddings_regularizer,
                          activity_regularizer=activity_regularizer,
                          embeddings_constraint=embeddings_constraint, mask_zero=mask_zero,
                          input_length=input_length), kwargs)


class Activation(Layer):
    def __init__(self, activation, **kwargs):
        self._create(dict(activation=activation), kwargs)


class BatchNormalization(Layer):
    def __init__(self, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, synchronized=False, **kwargs):
        config = dict(axis=axis, momentum=momentum, epsilon=epsilon, center=center, scale=scale,
                      beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
                      moving_mean_initializer=moving_mean_initializer,
                      moving_variance_initializer=moving_variance_initializer,
                      beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                      beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        if synchronized:  # tf.keras 2.12's argument; written only when set, as keel's configs do
            config["synchronized"] = True
        self._create(config, kwargs)


class Dropout(Layer):
    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        self._create(dict(rate=rate, noise_shape=noise_shape, seed=seed), kwargs)


class Flatten(Layer):
    def __init__(self, data_format=None, **kwargs):
        self._create(dict(data_format=data_format), kwargs)


class Reshape(Layer):
    def __init__(self, target_shape, **kwargs):
        self._create(dict(target_shape=tuple(target_shape)), kwargs)


class Conv2D(Layer):
    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        self._create(dict(filters=filters, kernel_size=_pair(kernel_size), strides=_pair(strides),
                          padding=padding, data_format=data_format, dilation_rate=_pair(dilation_rate),
                          groups=groups, activation=activation, use_bias=use_bias,
                          kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                          kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                          activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                          bias_constraint=bias_constraint), kwargs)


class DepthwiseConv2D(Layer):
    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        self._create(dict(kernel_size=_pair(kernel_size), strides=_pair(strides), padding=padding,
                          depth_multiplier=depth_multiplier, data_format=data_format,
                          dilation_rate=_pair(dilation_rate), activation=activation, use_bias=use_bias,
                          depthwise_initializer=depthwise_initializer, bias_initializer=bias_initializer,
                          depthwise_regularizer=depthwise_regularizer, bias_regularizer=bias_regularizer,
                          activity_regularizer=activity_regularizer, depthwise_constraint=depthwise_constraint,
                          bias_constraint=bias_constraint), kwargs)


class _Pooling2D(Layer):
    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        self._create(dict(pool_size=_pair(pool_size), strides=_pair(strides) if strides is not None else None,
                          padding=padding, data_format=data_format), kwargs)


class MaxPooling2D(_Pooling2D):
    pass


class AveragePooling2D(_Pooling2D):
    pass


class _GlobalPooling2D(Layer):
    def __init__(self, data_format=None, keepdims=False, **kwargs):
        self._create(dict(data_format=data_format, keepdims=keepdims), kwargs)


class GlobalAveragePooling2D(_GlobalPooling2D):
    pass


class GlobalMaxPooling2D(_GlobalPooling2D):
    pass


class ZeroPadding2D(Layer):
    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        if isinstance(padding, (int, np.integer)):
            padding = ((padding, padding), (padding, padding))
        elif all(isinstance(p, (int, np.integer)) for p in padding):
            padding = ((padding[0], padding[0]), (padding[1], padding[1]))
        self._create(dict(padding=padding, data_format=data_format), kwargs)


class _Merge(Layer):
    def __init__(self, **kwargs):
        self._create({}, kwargs)


class Add(_Merge):
    pass


class Subtract(_Merge):
    pass


class Multiply(_Merge):
    pass


class Average(_Merge):
    pass


class Maximum(_Merge):
    pass


class Minimum(_Merge):
    pass


class Concatenate(Layer):
    def __init__(self, axis=-1, **kwargs):
        self._create(dict(axis=axis), kwargs)


class FixupBias(Layer):
    """keel's scalar bias of Fixup (not in Keras): y = x + b, b a (1,) variable starting at 0.
    keel.fixup(model) inserts these; tf.keras and TF.js do not know the class."""

    def __init__(self, **kwargs):
        self._create({}, kwargs)


class FixupScale(Layer):
    """keel's scalar multiplier of Fixup (not in Keras): y = s * x, s a (1,) variable starting at 1."""

    def __init__(self, **kwargs):
        self._create({}, kwargs)


# Keras's aliases.
MaxPool2D, AvgPool2D = MaxPooling2D, AveragePooling2D
Convolution2D = Conv2D
GlobalAvgPool2D, GlobalMaxPool2D = GlobalAveragePooling2D, GlobalMaxPooling2D
