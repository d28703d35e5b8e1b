"""Several hosts through ``jax.distributed.initialize``: two CPU processes on this machine (gloo
collectives over loopback) train like one process with two devices."""

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

POISSON = str(Path(__file__).parent / "data" / "poisson2d_ad.yaml")
CONFIG = {"train": {"steps": 20, "log_every": 10, "progress": False, "checkpoint_every": 0}, "solver": {"name": "rge"}}

PROCESS = textwrap.dedent("""
    import sys, json
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=sys.argv[1], num_processes=2, process_id=int(sys.argv[2]))
    import numpy as np, pdesolve
    run = pdesolve.solve(sys.argv[3], json.loads(sys.argv[4]), out=sys.argv[5])
    np.save(sys.argv[6], run.solution.u_pred.values)
""")

SINGLE = textwrap.dedent("""
    import os, sys, json
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    import numpy as np, pdesolve
    run = pdesolve.solve(sys.argv[1], json.loads(sys.argv[2]))
    np.save(sys.argv[3], run.solution.u_pred.values)
""")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # two processes, each compiling the run: ~50 s of the default suite's 15-minute budget
def test_two_processes_match_one_process_with_two_devices(tmp_path):
    import json

    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    address = f"127.0.0.1:{_free_port()}"
    config = json.dumps(CONFIG)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                PROCESS,
                address,
                str(i),
                POISSON,
                config,
                str(tmp_path / "run"),
                str(tmp_path / f"u{i}.npy"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            pytest.fail("the two-process run hung")
        assert proc.returncode == 0, err[-2000:]
    single = subprocess.run(
        [sys.executable, "-c", SINGLE, POISSON, config, str(tmp_path / "single.npy")],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert single.returncode == 0, single.stderr[-2000:]
    u0, u1, reference = (np.load(tmp_path / name) for name in ("u0.npy", "u1.npy", "single.npy"))
    np.testing.assert_array_equal(u0, u1)  # both processes hold the same replicated result
    assert np.max(np.abs(u0 - reference)) <= 1e-5 * np.max(np.abs(reference))
    assert (tmp_path / "run" / "report.json").is_file()  # written once, by process 0
