"""keras.Model (functional), keras.Sequential, load_model, model_from_json."""
import functools
import json
import math
import os
import threading

import numpy as np

from .. import _keel
from . import callbacks as callbacks_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from . import utils
from .layers import InputLayer, KerasTensor, Layer, assign_all


def _as_array(value, what):
    """float32 and uint8 C-contiguous arrays pass as they are (keel reads them in place); other
    dtypes are converted to float32, as Keras casts its inputs."""
    if value is None:
        raise ValueError(f"{what}: expected an array, got None")
    if isinstance(value, dict):
        raise ValueError(f"{what}: a dict of arrays (by input or output name) is not supported by keel; pass a "
                         "list in the model's input / output order")
    array = np.asarray(value)
    if array.dtype == np.float32 or array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected numeric data, got an array of dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.float32)


def _as_arrays(value, what, inputs=None):
    """One array per model input. A list for a one-input model is that input's data given as a
    Python list (tf.keras converts it), not a list of arrays."""
    if isinstance(value, (list, tuple)) and not (inputs == 1 and not any(isinstance(v, np.ndarray) for v in value)):
        return [_as_array(v, what) for v in value]
    return [_as_array(value, what)]


def _integer(value, what):
    """Keras's epochs / initial_epoch: an int (a float is a TypeError there, not truncated)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    if not 0 <= value < 2**62:
        raise ValueError(f"{what} must be in [0, 2**62), got {value!r}")
    return int(value)


def _shape_text(dims):
    dims = ["None" if d is None else str(int(d)) for d in dims]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _check_input_shapes(model, native, arrays, what):
    """Keras checks each input array against the model's input shape: an array whose samples hold as
    many values in another layout (channels first, flattened, transposed) is an error, not data read
    in the wrong order. (N,) fits a (None, 1) input, as Keras expands 1-D data."""
    expected = native.input_sample_dims
    if len(arrays) != len(expected):
        return  # the native call says how many arrays it wants
    for i, (array, dims) in enumerate(zip(arrays, expected)):
        found = list(array.shape[1:])
        if found == list(dims) or (not found and list(dims) == [1]):
            continue
        raise ValueError(f"{what}: Input {i} of model '{model.name}' is incompatible with the model: expected "
                         f"shape={_shape_text([None] + list(dims))}, found shape={_shape_text(array.shape)}")


def _batch_size(batch_size, what="batch_size"):
    if batch_size is None:
        return 32
    if not isinstance(batch_size, (int, np.integer)) or not 1 <= batch_size < 2**62:
        raise ValueError(f"{what} must be a positive integer below 2**62, got {batch_size!r}")
    return int(batch_size)


def _verbose(verbose):
    return 1 if verbose == "auto" else int(verbose)


def _unsupported(**arguments):
    for name, (value, default) in arguments.items():
        if value is default:
            continue
        # An array (sample_weight=...) is compared by identity only: `!=` would be element-wise.
        if isinstance(value, np.ndarray) or value != default:
            shown = f"<array of shape {value.shape}>" if isinstance(value, np.ndarray) else repr(value)
            raise ValueError(f"{name}={shown} is not supported by keel; leave it at {default!r}")


def _one_call_at_a_time(method):
    """fit / evaluate / predict hold the model's lock (see Model._init_common) and count as running
    while they do, so that compile / build / add refuse to change the model under them."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._busy:
            self._running.append(method.__name__)
            try:
                return method(self, *args, **kwargs)
            finally:
                self._running.pop()
    return locked


def _changes_structure(method):
    """compile / build / add / fixup replace the native model's buffers or variables. From another
    thread they wait for a running fit / evaluate / predict (the lock); from inside one (a callback)
    they would free what it is using, so they raise instead of crashing."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._busy:
            if self._running:
                raise RuntimeError(f"{method.__name__}() called on model '{self.name}' while its "
                                   f"{self._running[0]}() is running (from a callback?); call it after "
                                   f"{self._running[0]}() returns")
            return method(self, *args, **kwargs)
    return locked


def _layers_below(outputs):
    """The Python layer objects of every layer the symbolic outputs depend on."""
    seen, stack, found = set(), list(outputs), []
    while stack:
        tensor = stack.pop()
        layer = tensor.layer
        if layer.address not in seen:
            seen.add(layer.address)
            found.append(Layer._wrap(layer))
        stack.extend(tensor.inputs)
    return found


class _IncompatibleLayer(ValueError):
    """A layer that already holds weights was built into a model that gives it other shapes."""


def _restore_kept(kept, model_name):
    """Gives layers that held weights before a build their values back. A layer whose variables now
    have other shapes (a built Dense(4) on 3 inputs reused after a 7-wide layer) raises, as Keras
    does, and every layer of the failed build keeps its earlier values for the models that had
    them (Layer._stranded) instead of the new model's fresh initial values."""
    for layer, values in kept:
        if values is None:
            continue
        shapes = [tuple(shape) for _, shape, _, _ in layer._cpp.variable_info()]
        if shapes != [tuple(v.shape) for v in values]:
            for other, other_values in kept:
                if other_values is not None:
                    other._strand(other_values)
            raise _IncompatibleLayer(
                f"model '{model_name}': layer '{layer.name}' already holds weights of shape "
                f"{', '.join(str(tuple(v.shape)) for v in values)}, but its inputs here need "
                f"{', '.join(str(sh) for sh in shapes)}; a layer is built for one input size (use a new layer)")
    for layer, values in kept:
        if values is not None:
            layer._restore(values)


class Model:
    """keras.Model(inputs, outputs, name): a functional model over keras.Input tensors."""

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"Model: keyword argument not understood: {sorted(kwargs)}")
        if inputs is None or outputs is None:
            raise TypeError("Model: subclassing keras.Model is not supported by keel; build a functional "
                            "model with Model(inputs, outputs) or use Sequential")
        ins = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        for t in ins + outs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model: inputs and outputs must be symbolic tensors (keras.Input(...) and layer "
                                f"outputs), got {t!r}")
        self._init_common()
        # Layers already holding weights (trained in, or loaded into, another model) keep them, as a
        # Keras layer's weights persist: keel initialises every layer when a model is built.
        kept = [(layer, layer._values()) for layer in _layers_below([t._cpp for t in outs])]
        self._cpp = _keel.make_functional([t._cpp for t in ins], [t._cpp for t in outs], name or "",
                                          utils.random_seed())
        _restore_kept(kept, self._cpp.name)
        self._attach_layers()

    def _init_common(self):
        # One call at a time on a model: fit / evaluate / predict share the model's buffers and run
        # without the GIL, so two threads must not enter them together (re-entrant: a callback may
        # call predict on the model it is training).
        self._busy = threading.RLock()
        self._running = []          # the fit / evaluate / predict calls in progress, outermost first
        self._trainable = True
        self._fit_calls = 0
        self.optimizer = None
        self.history = None
        self._compile_args = None   # what compile() was given; applied to the native model on use
        self._compiled_native = None
        self._input_dims = None     # the sample dims the model was built for (None: declared)

    @classmethod
    def _from_native(cls, cpp):
        model = (Sequential if cpp.class_name == "Sequential" else Model).__new__(
            Sequential if cpp.class_name == "Sequential" else Model)
        model._init_common()
        if isinstance(model, Sequential):
            model._name = cpp.name
        model._cpp = cpp
        model._attach_layers()
        return model

    def _attach_layers(self):
        # The model keeps its layers' Python objects (model.layers[i] is model.layers[i]), and
        # each layer keeps the native model its variables live in.
        self._layer_objects = [Layer._wrap(c) for c in self._cpp.layers]
        for layer in self._layer_objects:
            layer._models.add(self)
            layer._hold(self._cpp)

    def _native(self):
        return self._cpp

    def _num_inputs(self):
        return self._native().num_inputs

    def _num_outputs(self):
        return self._native().num_outputs

    def _build(self, input_shape):
        """Builds the native model (input_shape: sample dims, or None for the declared one); layers
        that already hold weights keep them (see Model.__init__)."""
        native = self._native()
        kept = [(layer, layer._values()) for layer in self.layers]
        native.build(input_shape, utils.random_seed())
        _restore_kept(kept, native.name)
        for layer in self.layers:
            layer._hold(native)
        self._input_dims = input_shape
        self._compiled_native = None  # new variables: the optimizer must be set up again
        return native

    def _claim_layers(self):
        """keel stores variables per model, and a layer points at those of the last model built over
        it: a layer this model shares with a model built later computes with, and trains, that
        model's variables. Before computing, this model takes its layers back: it is rebuilt over
        their current values (what the other model trained), then compiled again (the optimizer's
        slots start afresh). The Keras effect: shared layers carry their weights between models."""
        native = self._native()
        if native.built and any(layer._bound is not native for layer in self.layers):
            for layer in self.layers:
                if layer._bound is native or not layer._cpp.variable_info():
                    continue
                for other in list(layer._models):
                    if other is not self and other._running and other._native() is layer._bound:
                        raise RuntimeError(
                            f"model '{self.name}' shares layer '{layer.name}' with model '{other.name}', whose "
                            f"{other._running[0]}() is running; keel keeps a shared layer's weights in the "
                            f"model that last ran it, so '{self.name}' can run once that call returns")
            self._build(self._input_dims)
        return native

    def _build_if_possible(self):
        if not self._native().built:
            try:
                self._build(None)
            except _IncompatibleLayer:
                raise
            except ValueError:
                pass  # no input shape known yet: built on the first data (_build_for)

    def _build_for(self, x):
        """Keras builds a Sequential without an input shape on its first data: so does keel."""
        self._build_if_possible()
        native = self._native()
        if not native.built and not isinstance(x, list):
            self._build([int(d) for d in x.shape[1:]])
        return native

    def _built_native(self):
        native = self._native()
        if not native.built:
            try:
                self._build(None)
            except ValueError as error:
                raise ValueError("This model has not yet been built. Build the model first by calling `build()` "
                                 f"or by giving the first layer an input_shape. ({error})") from None
        return native

    # ---- structure ----
    @property
    def name(self):
        return self._native().name

    @property
    def layers(self):
        return list(self._layer_objects)

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[l.name for l in self.layers]}.")

    @property
    def built(self):
        self._build_if_possible()  # Keras builds a model whose input shape is declared right away
        return self._native().built

    @_changes_structure
    def build(self, input_shape=None):
        """Keras's build(input_shape): the shape includes the batch dimension (None)."""
        self._build(None if input_shape is None else [int(d) for d in list(input_shape)[1:]])

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Keras: setting a model's `trainable` sets it on every layer (freezing a base model for
        transfer learning); as in Keras, compile() again for fit to see the change."""
        self._trainable = bool(value)
        for layer in self.layers:
            layer.trainable = self._trainable

    @property
    def weights(self):
        """tf.keras 2.x order: layer by layer, each layer's trainable variables then the others."""
        self._built_native()
        return [v for layer in self.layers for v in layer.weights]

    variables = weights

    @property
    def trainable_weights(self):
        return [v for v in self.weights if v.trainable]

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self):
        return [v for v in self.weights if not v.trainable]

    non_trainable_variables = non_trainable_weights

    def get_weights(self):
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        assign_all(f"Model '{self.name}'", self.weights, weights)

    def count_params(self):
        return self._built_native().count_params()

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        _unsupported(line_length=(line_length, None), positions=(positions, None),
                     expand_nested=(expand_nested, False), show_trainable=(show_trainable, False),
                     layer_range=(layer_range, None))
        text = self._built_native().summary()
        print_fn = print_fn or print
        for line in text.rstrip("\n").split("\n"):
            print_fn(line)

    def to_json(self, **kwargs):
        """tf.keras's to_json; keyword arguments go to json.dumps, as in Keras."""
        text = self._built_native().to_json()
        return json.dumps(json.loads(text), **kwargs) if kwargs else text

    def get_config(self):
        return json.loads(self.to_json())["config"]

    @property
    def stop_training(self):
        return self._native().stop_training

    @stop_training.setter
    def stop_training(self, value):
        self._native().stop_training = bool(value)

    # ---- training ----
    @_changes_structure
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, weighted_metrics=None,
                run_eagerly=None, steps_per_execution=None, jit_compile=None, **kwargs):
        if kwargs:
            raise TypeError(f"compile: keyword argument not understood: {sorted(kwargs)}")
        _unsupported(weighted_metrics=(weighted_metrics, None), steps_per_execution=(steps_per_execution, None))
        if loss is None:
            raise ValueError("compile: keel needs a loss (a Keras loss name or keel.keras.losses object)")
        # A compile that fails leaves the model as the last one that worked (Keras checks first).
        kept = (self.optimizer, self._compile_args, self._compiled_native)
        try:
            self._compile(optimizer, loss, metrics, loss_weights)
        except BaseException:
            self.optimizer, self._compile_args, self._compiled_native = kept
            raise

    def _compile(self, optimizer, loss, metrics, loss_weights):
        self.optimizer = optimizers_module.get(optimizer)
        if isinstance(loss, dict):
            raise ValueError("compile: a dict of losses is not supported by keel yet; pass a list in output order")
        resolved = [losses_module.resolve(l) for l in (loss if isinstance(loss, (list, tuple)) else [loss])]
        from_logits = {f for _, f in resolved}
        if not resolved:
            raise ValueError("compile: loss is an empty list; give one loss per output")
        if len(from_logits) > 1:
            raise ValueError("compile: keel takes one from_logits setting for all outputs")
        if isinstance(loss_weights, dict):
            raise ValueError("compile: a dict of loss_weights is not supported by keel yet; pass a list")
        if isinstance(metrics, dict):
            raise ValueError("compile: a dict of metrics is not supported by keel yet; pass a list (every output "
                             "gets the same metrics)")
        if isinstance(metrics, (str, metrics_module.Metric)):
            metrics = [metrics]  # tf.keras accepts one metric on its own
        metric_names = [metrics_module.resolve(m) for m in (metrics or [])]
        self._compile_args = ([name for name, _ in resolved], [float(w) for w in (loss_weights or [])],
                              metric_names, from_logits.pop())
        self._compiled_native = None
        self._build_if_possible()
        if self._native().built:  # errors in the losses or metrics show here, as in Keras
            self._compiled_for(None)

    def _compiled_for(self, x):
        """The native model, built (for x's shape if need be) and compiled as compile() said."""
        if self._compile_args is None:
            raise RuntimeError("You must compile your model before training/testing. Use "
                               "`model.compile(optimizer, loss)`.")
        native = self._build_for(x) if x is not None else self._built_native()
        self._claim_layers()
        if self._compiled_native is not native:
            losses, loss_weights, metric_names, from_logits = self._compile_args
            native.compile(self.optimizer._native(), losses, loss_weights, metric_names, from_logits)
            self._compiled_native = native
        return native

    def _callback_setup(self, callbacks, params):
        native_callbacks, python_callbacks = [], []
        if isinstance(callbacks, callbacks_module.Callback):
            callbacks = [callbacks]  # tf.keras flattens a single callback into a list
        for callback in callbacks or []:
            if not isinstance(callback, callbacks_module.Callback):
                raise TypeError(f"callbacks: expected keras.callbacks.Callback objects, got {callback!r}")
            callback.set_model(self)
            callback.set_params(params)
            if isinstance(callback, callbacks_module._Native):
                native_callbacks.append(callback)
            else:
                python_callbacks.append(callback)
        return native_callbacks, callbacks_module._Dispatcher(python_callbacks)

    @_one_call_at_a_time
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1,
            max_queue_size=10, workers=1, use_multiprocessing=False):
        _unsupported(class_weight=(class_weight, None), sample_weight=(sample_weight, None),
                     steps_per_epoch=(steps_per_epoch, None), validation_steps=(validation_steps, None),
                     validation_batch_size=(validation_batch_size, None), validation_freq=(validation_freq, 1))
        if x is None or y is None:
            raise ValueError("fit: keel needs x and y arrays (datasets and generators are not supported)")

        if shuffle not in (True, False):
            raise ValueError(f"fit: shuffle={shuffle!r} is not supported; use True or False")
        epochs, initial_epoch = _integer(epochs, "fit: epochs"), _integer(initial_epoch, "fit: initial_epoch")
        if not 0.0 <= float(validation_split) < 1.0:
            raise ValueError(f"fit: validation_split={validation_split!r} must be in [0, 1)")
        xs, ys = _as_arrays(x, "x", self._num_inputs()), _as_arrays(y, "y", self._num_outputs())
        native_model = self._compiled_for(xs[0] if len(xs) == 1 else xs)
        _check_input_shapes(self, native_model, xs, "fit")
        args = _keel.FitArguments()
        args.batch_size, args.epochs, args.initial_epoch = _batch_size(batch_size), epochs, initial_epoch
        args.verbose, args.validation_split, args.shuffle = _verbose(verbose), float(validation_split), bool(shuffle)
        # Each fit call shuffles differently (Keras draws new orders), the first one as `keel train`.
        args.seed = utils.random_seed() + 1_000_003 * self._fit_calls
        self._fit_calls += 1
        samples = int(math.floor(len(xs[0]) * (1.0 - float(validation_split))))  # Keras's split
        params = {"verbose": args.verbose, "epochs": args.epochs, "steps": math.ceil(samples / args.batch_size)}
        history = callbacks_module.History()
        history.set_model(self)
        history.set_params(params)
        native, dispatcher = self._callback_setup(callbacks, params)
        native_cpp = [c._native(args) for c in native]
        if len(xs) == 1 and len(ys) == 1:
            val_x = val_y = None
            if validation_data is not None:
                if not isinstance(validation_data, (list, tuple)) or len(validation_data) != 2:
                    raise ValueError("fit: validation_data must be a tuple (x_val, y_val)")
                val_x = _as_array(validation_data[0], "validation_data")
                val_y = _as_array(validation_data[1], "validation_data")
                _check_input_shapes(self, native_model, [val_x], "fit: validation_data")
            epochs_run, items, timing = native_model.fit(xs[0], ys[0], val_x, val_y, args, native_cpp,
                                                           dispatcher, dispatcher.hooks)
        else:
            if validation_data is not None:
                raise ValueError("fit: validation_data with several inputs or outputs is not supported by keel "
                                 "yet; use validation_split")
            epochs_run, items, timing = native_model.fit_many(xs, ys, args, native_cpp, dispatcher,
                                                                dispatcher.hooks)
        history.epoch = list(epochs_run)
        history.history = {key: list(values) for key, values in items}
        history.keel_timing = timing
        self.history = history
        return history

    @_one_call_at_a_time
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, max_queue_size=10, workers=1, use_multiprocessing=False, return_dict=False):
        _unsupported(sample_weight=(sample_weight, None), steps=(steps, None))
        if x is None or y is None:
            raise ValueError("evaluate: keel needs x and y arrays (datasets and generators are not supported)")
        xs, ys = _as_arrays(x, "x", self._num_inputs()), _as_arrays(y, "y", self._num_outputs())
        native_model = self._compiled_for(xs[0] if len(xs) == 1 else xs)
        _check_input_shapes(self, native_model, xs, "evaluate")
        params = {"verbose": _verbose(verbose), "epochs": 1, "steps": math.ceil(len(xs[0]) / _batch_size(batch_size))}
        native, dispatcher = self._callback_setup(callbacks, params)
        native_callbacks = [c._native(_keel.FitArguments()) for c in native]
        if len(xs) == 1 and len(ys) == 1:
            logs = native_model.evaluate(xs[0], ys[0], _batch_size(batch_size), _verbose(verbose), native_callbacks,
                                         dispatcher, dispatcher.hooks)
        else:
            logs = native_model.evaluate_many(xs, ys, _batch_size(batch_size), _verbose(verbose), native_callbacks,
                                              dispatcher, dispatcher.hooks)
        if return_dict:
            return dict(logs)
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    @_one_call_at_a_time
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, max_queue_size=10,
                workers=1, use_multiprocessing=False):
        _unsupported(steps=(steps, None), callbacks=(callbacks, None))
        if x is None:
            raise ValueError("predict: keel needs an array x (datasets and generators are not supported)")
        xs = _as_arrays(x, "x", self._num_inputs())
        if len(xs) > 1:
            self._built_native()
            native = self._claim_layers()
            _check_input_shapes(self, native, xs, "predict")
            outputs = native.predict_many(xs, _batch_size(batch_size))
        else:
            array = xs[0]
            self._build_for(array)
            native = self._claim_layers()
            _check_input_shapes(self, native, [array], "predict")
            if native.num_outputs == 1:
                return native.predict(array, _batch_size(batch_size), _verbose(verbose))
            outputs = native.predict_many([array], _batch_size(batch_size))
        return outputs[0] if len(outputs) == 1 else outputs

    def __call__(self, *args, **kwargs):
        raise TypeError("keel models are not callable; use model.predict(x)")

    def __reduce__(self):
        raise TypeError(f"keel models cannot be pickled or copied (model '{self.name}'); save it with "
                        "model.save(path) and read it back with keras.models.load_model(path)")

    # ---- saving ----
    def save(self, filepath, overwrite=True, save_format=None, **kwargs):
        """Saves the model in the TensorFlow.js Layers format (a directory: model.json + weights),
        which tf.keras reads through the tfjs converter and TF.js directly."""
        if save_format is not None or kwargs:
            raise ValueError(f"save: save_format={save_format!r} / {sorted(kwargs)}: keel has one format, the TF.js "
                             "Layers directory; leave these unset")
        path = os.fspath(filepath)
        if path.endswith((".h5", ".keras", ".hdf5")):
            raise ValueError(f"save: '{path}': keel saves a TF.js Layers directory (model.json and weight "
                             "shards), not HDF5 or .keras files; give a directory path")
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"save: '{path}' exists and overwrite=False")
        _keel.save_model(self._built_native(), path)


class Sequential(Model):
    """keras.Sequential([layers], name)."""

    def __init__(self, layers=None, name=None):
        self._init_common()
        self._name = name or _keel.unique_layer_name("sequential")
        self._layers = []
        self._cpp = None
        self._declared_input = None  # from a keras.Input / InputLayer given as the first entry
        for layer in layers or []:
            self.add(layer)

    @_changes_structure
    def add(self, layer):
        if isinstance(layer, InputLayer):
            layer = layer._sequential_input
        if isinstance(layer, KerasTensor) and layer._cpp.layer.class_name == "InputLayer":
            # tf.keras: Sequential([keras.Input(shape), ...]) declares the input shape; the input is
            # not one of model.layers.
            if self._layers or self._declared_input is not None:
                raise ValueError("Sequential: keras.Input / InputLayer must come first, before any layer")
            self._declared_input = [int(d) for d in layer.shape[1:]]
            self._cpp = None
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"The added layer must be an instance of class Layer. Received: layer={layer!r}")
        self._layers.append(layer)
        self._cpp = None  # a new native model on next use; the layers keep their weights (_build)
        self._compiled_native = None
        layer._models.add(self)

    def _native(self):
        if self._cpp is None:
            native = _keel.make_sequential(self._name)
            for layer in self._layers:
                native.add(layer._cpp)
            self._cpp = native
        return self._cpp

    def _attach_layers(self):
        super()._attach_layers()
        self._layers = list(self._layer_objects)

    @property
    def layers(self):
        return list(self._layers)

    def _num_inputs(self):
        return 1  # also before the native model is built, when it knows no inputs yet

    def _build(self, input_shape):
        return super()._build(self._declared_input if input_shape is None else input_shape)

    def _num_outputs(self):
        return 1


def load_model(filepath, custom_objects=None, compile=True):
    """A model saved by model.save() (or tfjs / `keel train --save`)."""
    if custom_objects:
        raise ValueError("load_model: custom_objects are not supported by keel")
    return Model._from_native(_keel.load_model(os.fspath(filepath)))


def model_from_json(json_string, custom_objects=None):
    if custom_objects:
        raise ValueError("model_from_json: custom_objects are not supported by keel")
    return Model._from_native(_keel.model_from_json(json_string, utils.random_seed()))


def fixup(model):
    """Fixup (Zhang et al. 2019) on a residual functional model, before compile(): zero-initialised
    branch ends and classifier, scaled branch layers, scalar FixupBias / FixupScale layers inserted.
    Rewrites the model in place; returns the number of residual branches."""
    if model._running:
        raise RuntimeError(f"fixup() called on model '{model.name}' while its {model._running[0]}() is running")
    native = model._built_native()
    branches = _keel.fixup(native, utils.random_seed())
    model._attach_layers()
    return branches


def fold_batch_norm(model):
    """A new model for inference with BatchNormalization folded into neighbouring Dense / Conv2D
    layers; `.fold_report` says which BN layers folded and why others did not."""
    native, report = _keel.fold_batch_norm(model._built_native())
    folded = Model._from_native(native)
    folded.fold_report = report
    return folded
