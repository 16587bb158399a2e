"""keras.callbacks: subclass Callback in Python (called from the C++ training loop), or use keel's
built-in ones (TensorBoard, EarlyStopping, ModelCheckpoint, CSVLogger, ReduceLROnPlateau,
TerminateOnNaN), which run in C++.
"""
from .. import _keel

_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
          "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end")
_LOGS_ONLY = ("on_train_begin", "on_train_end", "on_test_begin", "on_test_end")


class Callback:
    """keras.callbacks.Callback: override the on_* hooks; self.model is the model being trained."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    # As in Keras, the training batch hooks call the older on_batch_* names by default.
    def on_train_batch_begin(self, batch, logs=None): self.on_batch_begin(batch, logs=logs)
    def on_train_batch_end(self, batch, logs=None): self.on_batch_end(batch, logs=logs)
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass

    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass


def _overridden(callback, hook):
    method = getattr(type(callback), hook, None)
    if method is not None and method is not getattr(Callback, hook):
        return True
    return hook in getattr(callback, "__dict__", {})


class LambdaCallback(Callback):
    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_begin=None, on_batch_end=None,
                 on_train_begin=None, on_train_end=None, **kwargs):
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_batch_begin=on_batch_begin, on_train_batch_end=on_batch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end, **kwargs)
        for hook, function in hooks.items():
            if hook not in _HOOKS:
                raise TypeError(f"LambdaCallback: keyword argument not understood: '{hook}'")
            if function is not None:
                setattr(self, hook, function)


class History(Callback):
    """What fit() returns: .history (dict of per-epoch lists), .epoch, .params, .model, and keel's
    .keel_timing: train_seconds and train_samples (training steps only, no validation) and
    step_seconds (every step's wall time), as `keel train --report` reports them."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []
        self.keel_timing = {}


class _Dispatcher:
    """Calls the Python callbacks' hooks for the C++ loop (only the hooks some callback overrides)."""

    _LEGACY = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}

    def __init__(self, callbacks):
        self.callbacks = callbacks
        self.hooks = [hook for hook in _HOOKS
                      if any(_overridden(c, hook) or (hook in self._LEGACY and _overridden(c, self._LEGACY[hook]))
                             for c in callbacks)]

    def __call__(self, hook, index, logs):
        for callback in self.callbacks:
            method = getattr(callback, hook)
            if hook in _LOGS_ONLY:
                method(logs)
            else:
                method(index, logs)


class _Native(Callback):
    """A callback that runs in C++ (made when fit starts: some need fit's seed and batch size)."""

    def _native(self, fit_args):
        raise NotImplementedError


class EarlyStopping(_Native):
    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if start_from_epoch != 0:
            raise ValueError("EarlyStopping: start_from_epoch is not supported by keel; leave it at 0")
        self._args = (monitor, float(min_delta), int(patience), int(verbose), mode, baseline,
                      bool(restore_best_weights))
        self._cpp = _keel.EarlyStopping(*self._args)

    def _native(self, fit_args):
        return self._cpp


class CSVLogger(_Native):
    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self._cpp = _keel.CSVLogger(str(filename), separator, bool(append))

    def _native(self, fit_args):
        return self._cpp


class TensorBoard(_Native):
    """Scalars per epoch, keel's gradient norms every `grad_norm_every` steps, and histograms.

    Keras's other arguments (histogram_freq, write_graph, ...) are accepted at their defaults.
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None, grad_norm_every=100):
        super().__init__()
        if histogram_freq not in (0, 1):
            raise ValueError(f"TensorBoard: histogram_freq={histogram_freq!r}: keel writes histograms every epoch (1) "
                             "or never (0)")
        for name, value, default in (("write_images", write_images, False),
                                     ("write_steps_per_second", write_steps_per_second, False),
                                     ("update_freq", update_freq, "epoch"), ("profile_batch", profile_batch, 0),
                                     ("embeddings_freq", embeddings_freq, 0),
                                     ("embeddings_metadata", embeddings_metadata, None)):
            if value != default:
                raise ValueError(f"TensorBoard: {name}={value!r} is not supported by keel; leave it at {default!r}")
        # write_graph: keel writes no graph (its default True is accepted and does nothing).
        self._cpp = _keel.TensorBoard(str(log_dir), int(grad_norm_every), histogram_freq == 1)

    def _native(self, fit_args):
        return self._cpp


class ModelCheckpoint(_Native):
    """keel's ModelCheckpoint writes a keel checkpoint (weights, optimizer and loop state) to
    `filepath` at the end of each epoch; keel train --resume continues from it."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, mode="auto"):
        super().__init__()
        if "{" in str(filepath):
            raise ValueError(f"ModelCheckpoint: filepath '{filepath}': keel writes one checkpoint file and does not "
                             "format {epoch} / {val_loss} into its name")
        self._args = (str(filepath), monitor, bool(save_best_only), mode, int(verbose))

    def _native(self, fit_args):
        filepath, monitor, save_best_only, mode, verbose = self._args
        return _keel.ModelCheckpoint(filepath, monitor, save_best_only, mode, verbose, fit_args.seed,
                                     fit_args.batch_size)


class ReduceLROnPlateau(_Native):
    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0):
        super().__init__()
        self._cpp = _keel.ReduceLROnPlateau(monitor, float(factor), int(patience), int(verbose), mode,
                                            float(min_delta), int(cooldown), float(min_lr))

    def _native(self, fit_args):
        return self._cpp


class TerminateOnNaN(_Native):
    def __init__(self):
        super().__init__()
        self._cpp = _keel.TerminateOnNaN()

    def _native(self, fit_args):
        return self._cpp
