"""A run's floating-point precision (``precision: float32 | float64``), held for the run only."""

import contextlib

import jax
import jax.numpy as jnp

from ..config import RunConfig


def run_dtype(config: RunConfig):
    """The dtype of the run's points and parameters."""
    return jnp.float64 if config.precision == "float64" else jnp.float32


def precision(config: RunConfig) -> contextlib.AbstractContextManager:
    """A context in which the run's precision holds (float64 switched on for this block and this
    thread only, never for the rest of the process)."""
    return jax.enable_x64(True) if config.precision == "float64" else contextlib.nullcontext()
