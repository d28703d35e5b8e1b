"""A kind of network as the registry knows it: its config keys and its builder.

Every kind has ``widths`` (the hidden-layer widths the memory check reads); its other keys are its
own. The ``model`` config section of each kind is made from the spec's ``fields``
(``pdesolve.config``), so each default is written once.
"""

import abc
from collections.abc import Mapping
from typing import Any, ClassVar

from jaxtyping import PRNGKeyArray

from ..errors import ConfigError, preview
from ..fields import Field
from ..problem import Subspace
from ._ansatz import Network

# Bounds that keep a network buildable and within memory.
MAX_WIDTH = 65_536  # units per hidden layer
MAX_LAYERS = 64


def check_widths(field: str, value: list) -> None:
    """Refuses hidden-layer widths that are not a short, non-empty list of integers from 1 to ``MAX_WIDTH``."""
    if not 1 <= len(value) <= MAX_LAYERS or not all(
        isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= MAX_WIDTH for w in value
    ):
        raise ConfigError(
            field,
            f"expected a list of 1 to {MAX_LAYERS} hidden-layer widths, each an integer "
            f"from 1 to {MAX_WIDTH}, e.g. [64, 64]; got {preview(value)}",
        )


def widths_field(default: list[int]) -> Field:
    """The ``widths`` key of a kind, with its default."""
    return Field((list,), default, check=check_widths)


#: ``model.inputs``: what the first layer reads. ``coordinates``: x (and t); ``subspace``: the
#: problem's symmetry features (``problem._symmetry``), refused where the problem has no such
#: symmetry; ``auto``: the features wherever the problem has the symmetry and the search is within
#: its budget (``run._network``): at every d they learned the held-out problems better, at a step
#: cost no higher (benchmarks/results/symmetry_features/).
INPUTS = ("auto", "coordinates", "subspace")
INPUTS_FIELD = Field((str,), "auto", choices=INPUTS)


class AbstractModelSpec(abc.ABC):
    """The kind selected by ``model.type``; ``register_model(spec)`` makes it available.

    ``fields`` are its config keys (``type`` aside, ``widths`` among them), validated at the
    boundary; ``build`` reads them as attributes of the validated section (``settings``).
    """

    type_name: ClassVar[str]
    fields: ClassVar[Mapping[str, Field]]

    @abc.abstractmethod
    def build(
        self, settings: Any, in_size: int, *, key: PRNGKeyArray, dtype: Any, subspace: Subspace | None = None
    ) -> Network:
        """The network ``(n, in_size) -> (n,)`` (its ``n_params``: the trained parameter count); with
        a ``subspace`` its first layer reads the problem's symmetry features (``ProjectedInput``)."""
