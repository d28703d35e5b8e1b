"""Test-suite settings: float64 everywhere, so numerical checks can be tight, and strict rank promotion,
so no code relies on implicit broadcasting between arrays of different ranks."""

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

#: Node ids (or id prefixes, relative to tests/) of long cases that only ``pytest -m slow`` runs.
SLOW = tuple(
    line.strip()
    for line in (Path(__file__).parent / "slow_tests.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
)


def pytest_collection_modifyitems(items):
    """Marks the cases listed in slow_tests.txt as slow (the default run deselects them)."""
    for item in items:
        if item.nodeid.removeprefix("tests/").startswith(SLOW):
            item.add_marker(pytest.mark.slow)
