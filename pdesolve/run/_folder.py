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
from ..safe_write import disk_full_text, is_disk_full
from ._checkpoint import RECORD, TRAINED


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
        fix = "make room or choose another disk" if is_disk_full(err) else "choose a folder you can write to"
        raise ConfigError(option, f"cannot create a run folder in {folder}: {_reason(err)}; {fix}") from None
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

#: What to do about a write error, by errno (others: ``fix the disk``).
WRITE_FIXES: dict[int | None, str] = {  # keyed as OSError.errno, which may be None
    errno.ENOSPC: "make room",
    errno.EDQUOT: "make room (or raise the quota)",
    errno.EROFS: "make it writable",
    errno.EACCES: "make it writable",
    errno.EPERM: "make it writable",
}


def _reason(err: OSError) -> str:
    return disk_full_text(err) if is_disk_full(err) else (err.strerror or str(err))


def write_error(err: OSError, where: dict, new: bool) -> ConfigError:
    """A failure to write the run folder ``where["folder"]`` (disk full, read-only), as an error that
    names the file and says what to do: ``--resume`` where the folder holds the run's config, else
    the same command again. A ``new`` run's folder that holds nothing yet is removed first."""
    folder = where["folder"]
    if (folder / TRAINED).is_file():
        then = f"finish the evaluation with --resume {folder} (the trained model is saved)"
    elif (folder / RECORD).is_file():
        then = f"continue the run with --resume {folder} (from its last checkpoint)"
    elif (folder / "config.yaml").is_file():
        then = f"run it again with --resume {folder} (no checkpoint was written: from step 0, with its config)"
    else:
        if new:
            discard_unstarted(where)
        then = "run the same command again"
    fix = WRITE_FIXES.get(err.errno, "fix the disk")
    return ConfigError("--out", f"cannot write {err.filename or folder}: {_reason(err)}; {fix}, then {then}")
