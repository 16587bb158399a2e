"""keras.mixed_precision: dtype policies ("float32", "mixed_bfloat16"), as tf.keras 2.x has them.

    from keel import keras
    keras.mixed_precision.set_global_policy("mixed_bfloat16")   # layers constructed afterwards
    keras.layers.Dense(10, dtype="float32")                      # or one layer's own policy

Under mixed_bfloat16 keel keeps variables, optimizer state and layer outputs in float32 and gives
Dense's matmuls bfloat16 inputs with float32 sums (oneDNN's bf16 kernels on a CPU with avx512_bf16;
elsewhere float32 after one warning, or bf16 rounding on float32 kernels with KEEL_BF16=emulate).
docs/mixed_precision.md has the details.
"""
from .. import _keel

__all__ = ["Policy", "set_global_policy", "global_policy"]


class Policy:
    """keras.mixed_precision.Policy(name): "float32" or "mixed_bfloat16" (others raise ValueError)."""

    def __init__(self, name):
        if isinstance(name, Policy):
            name = name.name
        if not isinstance(name, str):
            raise TypeError(f"'name' must be a string, not a {type(name).__name__}")
        _keel.check_policy_name(name)
        self._name = name

    @property
    def name(self):
        return self._name

    @property
    def compute_dtype(self):
        return "bfloat16" if self._name == "mixed_bfloat16" else "float32"

    @property
    def variable_dtype(self):
        return "float32"

    def get_config(self):
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, Policy) and other.name == self.name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<Policy "{self._name}">'


def set_global_policy(policy):
    """Sets the policy of layers constructed afterwards; None restores "float32" (as Keras)."""
    _keel.set_global_policy("float32" if policy is None else Policy(policy).name)


def global_policy():
    return Policy(_keel.global_policy_name())
