"""keras.metrics: metrics are computed in C++ and named as in Keras ("accuracy", "mse", ...)."""


class Metric:
    _keel_name = None

    def __init__(self, name=None):
        self.name = name or self._keel_name


def _metric(class_name, keel_name):
    def __init__(self, name=keel_name):
        Metric.__init__(self, name)
    return type(class_name, (Metric,), {"__init__": __init__, "_keel_name": keel_name})


SparseCategoricalAccuracy = _metric("SparseCategoricalAccuracy", "sparse_categorical_accuracy")
CategoricalAccuracy = _metric("CategoricalAccuracy", "categorical_accuracy")
BinaryAccuracy = _metric("BinaryAccuracy", "binary_accuracy")
MeanSquaredError = _metric("MeanSquaredError", "mean_squared_error")
MeanAbsoluteError = _metric("MeanAbsoluteError", "mean_absolute_error")


def resolve(metric):
    if isinstance(metric, str):
        return metric
    if isinstance(metric, Metric):
        if metric.name != metric._keel_name:
            raise ValueError(f"metric name {metric.name!r}: keel names metrics by their Keras name "
                             f"({metric._keel_name!r}), the key they get in logs and History")
        return metric._keel_name
    raise TypeError(f"keel supports metrics given by name or as keel.keras.metrics objects, got {metric!r}")
