"""Test-suite settings: float64 everywhere, so numerical checks can be tight."""

import jax

jax.config.update("jax_enable_x64", True)
