"""Test-suite settings: float64 everywhere, so numerical checks can be tight, and strict rank promotion,
so no code relies on implicit broadcasting between arrays of different ranks."""

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
