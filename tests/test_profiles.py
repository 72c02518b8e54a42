"""Hypothesis profiles (tests/conftest.py): CI=true selects "ci", which is derandomized."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOW = (
    "import tests.conftest\n"
    "from hypothesis import settings\n"
    "print(settings.default.derandomize, settings.default.database is None)\n"
)


@pytest.mark.parametrize(("ci", "expected"), [("true", "True True"), ("", "False False")])
def test_ci_selects_the_derandomized_profile(ci, expected):
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "HYPOTHESIS_PROFILE"}}
    env["CI"] = ci
    done = subprocess.run(
        [sys.executable, "-c", SHOW], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected.split()
