"""Runs one pytest file of tests/python; exits 77 (ctest: skipped) with the reason where the
interpreter lacks what the tests need."""
import sys

missing = []
for mod in ("pytest", "numpy", "torch"):
    try:
        __import__(mod)
    except ImportError:
        missing.append(mod)
if missing:
    print(f"skipped: {sys.executable} has no {', '.join(missing)} (Debian: python3-pytest python3-numpy "
          "python3-torch, installed by scripts/install-deps.sh)")
    sys.exit(77)

import pytest  # noqa: E402

sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[1:]]))
