"""The run folder: made new (never overwriting), removed again when a run fails before training,
and the error to show when it cannot be written."""

import datetime
import errno
import os
from pathlib import Path

from ..config import RunConfig
from ..errors import ConfigError
from ..problem import Problem
from ..results import new_run_folder


def prepare_folder(problem: Problem, config: RunConfig, out, root: Path) -> Path | None:
    """The run folder for ``out``: None (no folder), ``auto`` (a new one under ``root``) or a path
    (made, or an empty folder)."""
    if out is None:
        return None
    folder = Path(out)
    try:
        if out == "auto":
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            label = f"{config.operators.kind}-{config.solver.name}-{config.model.kind}"
            folder = root
            return new_run_folder(root, problem.name, label, stamp)
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise ConfigError(
                "--out", f"{folder} already exists and is not empty; choose a new folder (runs are never overwritten)"
            )
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "permission denied", str(folder))
    except OSError as err:
        option = "--output-root" if out == "auto" else "--out"
        raise ConfigError(
            option, f"cannot create a run folder in {folder}: {err.strerror or err}; choose a folder you can write to"
        ) from None
    return folder


def discard_unstarted(where: dict) -> None:
    """After an error, removes a new run folder that holds nothing but ``config.yaml`` (and
    temporary files), so that the same ``--out`` can be used again."""
    folder = where.get("folder")
    if folder is None or not folder.is_dir():
        return
    names = os.listdir(folder)
    if not all(n == "config.yaml" or (n.startswith(".") and n.endswith(".tmp")) for n in names):
        return  # training had started: keep what it wrote
    for name in names:
        (folder / name).unlink(missing_ok=True)
    if where.get("created"):
        folder.rmdir()


WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.EIO)


def write_error(err: OSError, folder: Path) -> ConfigError:
    """A failure to write the run folder (read-only, disk full), as an error with the fix."""
    reason = err.strerror or str(err)
    if (folder / "model.eqx").is_file():
        fix = f"make room, then finish the evaluation with --resume {folder} (the trained model is saved)"
    elif (folder / "checkpoint.json").is_file():  # run._checkpoint.RECORD
        fix = f"make room, then continue the run with --resume {folder} (from its last checkpoint)"
    else:
        fix = "make room or choose a writable --out / --output-root"
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = "the disk is full"
    return ConfigError("--out", f"cannot write the run folder {folder}: {reason}; {fix}")
