"""keras.utils.set_random_seed: the seed of every model built afterwards.

keel initialises a model's variables from one generator seeded when the model is built (default
42, as `keel train --seed`), so the same seed gives the same weights from Python and the CLI.
"""
_seed = 42


def set_random_seed(seed):
    global _seed
    if not isinstance(seed, int) or not 0 <= seed < 2**64:
        raise ValueError(f"set_random_seed: seed must be an int in [0, 2**64), got {seed!r}")
    _seed = seed


def random_seed():
    return _seed
