"""Issue 40: a full disk at any phase of ``pdesolve solve`` is exit 2 with one line that says the disk
is full, names the file and says what to do, and leaves a folder that ``--resume`` finishes, bit for
bit equal on CPU to a run never interrupted.

The fault: ``DiskFull`` stands in for ``pdesolve.safe_write._write_synced``, through which every file
of a run folder is written; from the chosen write on, each write puts half its bytes on the disk and
fails with ENOSPC (a full disk stays full until room is made). The run folder itself (``mkdir``) and
the free-space check before the final files are faulted on their own.
"""

import contextlib
import errno
import io
import json
import os
import shutil
import signal
import types
from pathlib import Path

import pytest
import xarray as xr

import pdesolve
from pdesolve import cli, safe_write

ROOT = Path(__file__).resolve().parent.parent
POISSON = ROOT / "tests/data/poisson2d_ad.yaml"
#: Four steps, each logged, a checkpoint every two: two periodic checkpoints, and room for a Ctrl-C
#: checkpoint at step 3.
SETTINGS = ("train.steps=4", "train.log_every=1", "train.checkpoint_every=2")
ARGS = ["--quiet", "--seed", "3", *(arg for setting in SETTINGS for arg in ("--set", setting))]
CLOCKS = ("wall_time", "train_time", "wall_time_s", "train_time_s")


class DiskFull:
    """From the ``occurrence``-th write of the file ``name`` on (never, with ``name`` None), every
    write puts half its bytes in its temporary file and fails with ENOSPC; ``writes`` lists the
    files written or tried, in order."""

    def __init__(self, name: str | None = None, occurrence: int = 1):
        self.name, self.occurrence, self.full, self.writes = name, occurrence, False, []
        self.real = safe_write._write_synced

    def __call__(self, tmp: Path, write) -> None:
        target = tmp.name[1:].rsplit(".", 2)[0]  # ".<name>.<random>.tmp"
        self.writes.append(target)
        self.full = self.full or (target == self.name and self.writes.count(target) == self.occurrence)
        if not self.full:
            return self.real(tmp, write)
        write(tmp)
        os.truncate(tmp, tmp.stat().st_size // 2)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_failed_write_keeps_the_old_file_and_names_the_new_one(tmp_path, monkeypatch):
    path = tmp_path / "history.nc"
    path.write_bytes(b"old")
    with monkeypatch.context() as patch:  # half the bytes written
        patch.setattr(safe_write, "_write_synced", DiskFull("history.nc"))
        with pytest.raises(OSError) as written:
            safe_write.atomic_write_text(path, "new")
    with monkeypatch.context() as patch:  # the bytes written, the disk full when they are flushed
        patch.setattr(os, "fsync", lambda fd: _no_space())
        with pytest.raises(OSError) as flushed:
            safe_write.atomic_write_text(path, "new")
    for err in (written.value, flushed.value):
        assert err.errno == errno.ENOSPC and err.filename == str(path)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["history.nc"]


def test_the_free_space_check_refuses_before_a_byte_is_written(tmp_path, monkeypatch):
    free = 3 * safe_write.FREE_SPACE_MARGIN
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: types.SimpleNamespace(free=free))
    safe_write.atomic_write_bytes(tmp_path / "fits.nc", bytes(free - safe_write.FREE_SPACE_MARGIN))
    with pytest.raises(OSError) as refused:
        safe_write.atomic_write_bytes(tmp_path / "solution.nc", bytes(free - safe_write.FREE_SPACE_MARGIN + 1))
    assert refused.value.errno == errno.ENOSPC and refused.value.filename == str(tmp_path / "solution.nc")
    assert safe_write.disk_full_text(refused.value) == f"the disk is full ({free} bytes free, {free + 1} needed)"
    assert [p.name for p in tmp_path.iterdir()] == ["fits.nc"]


def _cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def _interrupt_at(step: int, train):
    """``run._solve.train`` that sends this process SIGINT (Ctrl-C) at the logged ``step``."""

    def on_log(row):
        if row["step"] == step:
            signal.raise_signal(signal.SIGINT)

    return lambda pieces, **kwargs: train(pieces, **{**kwargs, "on_log": on_log})


#: (name, occurrence) of each file write of the run, in order (checked against the baseline run).
WRITES = [
    ("config.yaml", 1),
    ("checkpoint-000000002.eqx", 1),
    ("history.nc", 1),
    ("checkpoint.json", 1),
    ("checkpoint-000000004.eqx", 1),
    ("history.nc", 2),
    ("checkpoint.json", 2),
    ("model.eqx", 1),
    ("trained.json", 1),
    ("config.yaml", 2),
    ("solution.nc", 1),
    ("history.nc", 3),
    ("slices.nc", 1),
    ("lines.nc", 1),
    ("error_vs_step.png", 1),
    ("line.png", 1),
    ("slices.png", 1),
    ("report.md", 1),
    ("report.json", 1),
]
#: Phases beside the file writes: the run folder, a Ctrl-C checkpoint, the free-space check before the final files.
OTHER_PHASES = ["run folder", "ctrl-c checkpoint", "free space before the final files"]
#: The default run keeps the run folder, the first config.yaml and the first checkpoint record (the run
#: starts again from step 0); tests/slow_tests.txt lists the other phases.
PHASES = OTHER_PHASES + [f"{name}#{occurrence}" for name, occurrence in WRITES]


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """The run never interrupted, and the files it wrote, in order."""
    folder = tmp_path_factory.mktemp("full_disk") / "whole"
    disk = DiskFull()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(safe_write, "_write_synced", disk)
        code, _, err = _cli("solve", POISSON, *ARGS, "--out", folder)
    assert code == 0, err
    return folder, disk.writes


def test_the_phases_are_every_write_of_a_run(whole):
    folder, writes = whole
    assert [(name, writes[: i + 1].count(name)) for i, name in enumerate(writes)] == WRITES
    kept = {name for name, _ in WRITES} - {"checkpoint-000000002.eqx"}  # removed once the next one is written
    assert {p.name for p in folder.iterdir()} == kept


@contextlib.contextmanager
def _full_disk(phase: str, folder: Path):
    """The fault of ``phase`` while the block runs."""
    with pytest.MonkeyPatch.context() as patch:
        if phase == "run folder":
            mkdir = Path.mkdir
            patch.setattr(Path, "mkdir", lambda self, *a, **k: _no_space() if self == folder else mkdir(self, *a, **k))
        elif phase == "ctrl-c checkpoint":
            solve_module = pdesolve.run._solve
            patch.setattr(solve_module, "train", _interrupt_at(3, solve_module.train))
            patch.setattr(safe_write, "_write_synced", DiskFull("checkpoint-000000003.eqx"))
        elif phase == "free space before the final files":
            usage = shutil.disk_usage
            patch.setattr(
                shutil,
                "disk_usage",
                lambda path: types.SimpleNamespace(free=1000) if (folder / "trained.json").is_file() else usage(path),
            )
        else:
            name, occurrence = phase.split("#")
            patch.setattr(safe_write, "_write_synced", DiskFull(name, int(occurrence)))
        yield


def _no_space():
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _assert_same_run(a: Path, b: Path):
    """The same numbers in every file of the two run folders (clock readings aside)."""
    assert (a / "model.eqx").read_bytes() == (b / "model.eqx").read_bytes()
    for name in ("solution.nc", "history.nc", "slices.nc", "lines.nc"):
        with xr.open_dataset(a / name, engine="h5netcdf") as da, xr.open_dataset(b / name, engine="h5netcdf") as db:
            xr.testing.assert_identical(da.drop_vars(CLOCKS, errors="ignore"), db.drop_vars(CLOCKS, errors="ignore"))
    ra, rb = (json.loads((f / "report.json").read_text()) for f in (a, b))
    assert json.dumps({k: v for k, v in ra.items() if k not in CLOCKS}, sort_keys=True) == json.dumps(
        {k: v for k, v in rb.items() if k not in CLOCKS}, sort_keys=True
    )


@pytest.mark.parametrize("phase", PHASES)
def test_a_full_disk_is_exit_2_and_the_run_finishes_after_room_is_made(phase, whole, tmp_path):
    folder = tmp_path / "run"
    with _full_disk(phase, folder):
        code, _, err = _cli("solve", POISSON, *ARGS, "--out", folder)
    assert code == 2 and err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert "the disk is full" in err and "make room" in err, err
    left = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    assert not [name for name in left if name.endswith(".tmp")] and "report.json" not in left
    if not left:  # nothing written yet: no folder is left behind, the same command runs again
        assert not folder.exists() and str(folder) in err
        assert phase == "run folder" or "run the same command again" in err, err
        if phase == "run folder":
            return
        code, _, err = _cli("solve", POISSON, *ARGS, "--out", folder)
    else:
        failed = {"ctrl-c checkpoint": "checkpoint-000000003.eqx", "free space before the final files": ""}
        assert f"--resume {folder}" in err and f"cannot write {folder / failed.get(phase, phase.split('#')[0])}:" in err
        code, _, err = _cli("solve", POISSON, *ARGS, "--resume", folder)
    assert code == 0, err
    _assert_same_run(whole[0], folder)
