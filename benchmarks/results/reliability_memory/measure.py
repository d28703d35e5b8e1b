import contextlib
import io
import resource
import sys
import tempfile

from pdesolve import cli

problem, d, n = sys.argv[1], sys.argv[2], sys.argv[3]
extra = sys.argv[4:]
out = tempfile.mkdtemp(dir="/tmp/h40/mem") + "/run"
args = ["solve", problem, "--quiet", "--out", out, "--param", f"dimension={d}", *extra]

with contextlib.redirect_stdout(io.StringIO()):
    code = cli.main([*args, "--set", "train.check_memory=false"])
print(d, n, extra, "exit", code, "peak MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, flush=True)
