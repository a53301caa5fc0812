"""The drop-in examples run: examples/python/zp_walk_torch.py --quick trains with NSR and GRPO
and prints its Pass@k table; verl_drop_in.py matches verl's loss and gradient."""
import os
import re
import subprocess
import sys

ROOT = os.environ.get("RLVR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


def run(script, *args):
    p = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "python", script), *args],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def test_zp_walk_example_trains_and_prints_pass_at_k():
    out = run("zp_walk_torch.py", "--quick")
    for name in ("nsr", "grpo"):
        assert re.search(rf"^{name}: training reward [0-9.]+ -> [0-9.]+ over 4 steps$", out, re.M), out
    assert re.search(r"^model\s+Pass@1\s+Pass@4\s+Pass@8", out, re.M), out
    rows = re.findall(r"^(base|nsr|grpo)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)$", out, re.M)
    assert [r[0] for r in rows] == ["base", "nsr", "grpo"], out
    for r in rows:  # Pass@k is a probability, non-decreasing in k
        p = [float(x) for x in r[1:]]
        assert 0.0 <= p[0] <= p[1] <= p[2] <= 1.0, out


def test_verl_drop_in_matches():
    assert "max |grad difference|" in run("verl_drop_in.py")
