"""Every file of a run folder is written here: to a temporary file beside it, flushed to the disk
(fsync), then renamed into place, so that a full disk or a killed process leaves the old file or
none, never a partial one, and a full disk is an ``OSError`` naming the file."""

import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

#: Room kept free besides a file's own size (see :func:`check_free_space`).
FREE_SPACE_MARGIN = 1 << 20


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Calls ``write(tmp)`` on a temporary path beside ``path``, flushes it to the disk and renames it
    into place. A failure leaves no temporary file, and its ``OSError`` names ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        _write_synced(Path(tmp), write)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files: give the run's files the usual mode
        os.replace(tmp, path)
        _sync_folder(path.parent)
    except OSError as err:
        err.filename = str(path)  # the file being written, not its temporary name
        raise
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def _write_synced(tmp: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)``, then the file's bytes flushed to the disk: a file system that reports a full
    disk only when the data is flushed (delayed allocation, network file systems) reports it here,
    before the rename."""
    write(tmp)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_folder(folder: Path) -> None:
    """Flushes ``folder``'s entries (the rename) to the disk; a file system that cannot sync a folder
    (EINVAL) is left as it is."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


def _umask() -> int:
    """The process's umask (read by setting it and putting it back: there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def atomic_write_bytes(path: Path, data: bytes | memoryview) -> None:
    """``data`` at ``path``, refused by :func:`check_free_space` before a byte is written."""
    check_free_space(path.parent, len(data), path)
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def check_free_space(folder: Path, size: float, what: Path | None = None) -> None:
    """Raises ``OSError(ENOSPC)`` naming ``what`` (default ``folder``) when the file system of
    ``folder`` has less than ``size`` bytes and ``FREE_SPACE_MARGIN`` free: refused before a write
    starts, not half way through it."""
    free, needed = shutil.disk_usage(folder).free, int(size) + FREE_SPACE_MARGIN
    if free < needed:
        raise OSError(errno.ENOSPC, f"{free} bytes free, {needed} needed", str(what or folder))


def is_disk_full(err: OSError) -> bool:
    """Whether ``err`` says the disk (or the user's quota on it) is full."""
    return err.errno in (errno.ENOSPC, errno.EDQUOT)


def disk_full_text(err: OSError) -> str:
    """The words for a full disk, with the bytes free and needed when :func:`check_free_space` refused."""
    standard = os.strerror(err.errno) if err.errno is not None else None
    detail = err.strerror if err.strerror and err.strerror != standard else ""
    return f"the disk is full ({detail})" if detail else "the disk is full"
