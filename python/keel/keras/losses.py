"""keras.losses: loss objects and names. keel computes the loss in C++; these name it."""


class Loss:
    _keel_name = None

    def __init__(self, from_logits=False, name=None):
        self.from_logits = from_logits
        self.name = name or self._keel_name

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}


def _loss(class_name, keel_name, with_logits):
    if with_logits:
        def __init__(self, from_logits=False, name=keel_name):
            Loss.__init__(self, from_logits, name)
    else:
        def __init__(self, name=keel_name):
            Loss.__init__(self, False, name)
    return type(class_name, (Loss,), {"__init__": __init__, "_keel_name": keel_name})


MeanSquaredError = _loss("MeanSquaredError", "mean_squared_error", False)
MeanAbsoluteError = _loss("MeanAbsoluteError", "mean_absolute_error", False)
Huber = _loss("Huber", "huber", False)
BinaryCrossentropy = _loss("BinaryCrossentropy", "binary_crossentropy", True)
CategoricalCrossentropy = _loss("CategoricalCrossentropy", "categorical_crossentropy", True)
SparseCategoricalCrossentropy = _loss("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy", True)

mean_squared_error = mse = "mean_squared_error"
mean_absolute_error = mae = "mean_absolute_error"
binary_crossentropy = "binary_crossentropy"
categorical_crossentropy = "categorical_crossentropy"
sparse_categorical_crossentropy = "sparse_categorical_crossentropy"


def resolve(loss):
    """(keel loss name, from_logits) for a name or a Loss object."""
    if isinstance(loss, str):
        return loss, False
    if isinstance(loss, Loss):
        return loss._keel_name, loss.from_logits
    raise TypeError(f"keel supports losses given by name or as keel.keras.losses objects, got {loss!r}")
