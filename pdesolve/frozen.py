"""Constant arrays held as static data of equinox modules (compared by content)."""

import hashlib

import numpy as np


class Frozen:
    """A constant array held as static data of a module: compared and hashed by its contents, so
    it is neither a trained parameter nor a cause of recompilation."""

    def __init__(self, array: np.ndarray):
        self.array = np.asarray(array)
        self.array.setflags(write=False)
        self._key = (self.array.shape, str(self.array.dtype), hashlib.sha256(self.array.tobytes()).hexdigest())

    def __eq__(self, other) -> bool:
        return isinstance(other, Frozen) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)
