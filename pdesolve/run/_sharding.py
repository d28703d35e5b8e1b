"""How the training points are split over devices (one host, or several after
``jax.distributed.initialize``)."""

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..config import TrainConfig
from ..errors import ConfigError


def point_sharding(train: TrainConfig) -> tuple[NamedSharding, NamedSharding] | None:
    """Shardings over a 1-d mesh of devices: (points split, replicated), or None for one device.

    One host: the first ``train.devices`` local devices (default all). Several hosts (after
    ``jax.distributed.initialize``): every device of every process.
    """
    if jax.process_count() > 1:
        available = jax.devices()
        if train.devices not in (None, len(available)):
            raise ConfigError(
                "train.devices", f"with several hosts all {len(available)} devices are used; leave train.devices unset"
            )
    else:
        available = jax.local_devices()
    count = train.devices or len(available)
    if count < 1 or count > len(available):
        raise ConfigError("train.devices", f"{count} requested but {len(available)} local devices exist")
    if count == 1:
        return None
    for key in ("batch_size", "boundary_batch_size"):
        if getattr(train, key) % count:
            raise ConfigError(
                f"train.{key}", f"{getattr(train, key)} does not split over {count} devices; use a multiple of {count}"
            )
    mesh = Mesh(np.array(available[:count]), ("points",))
    return NamedSharding(mesh, PartitionSpec("points")), NamedSharding(mesh, PartitionSpec())
