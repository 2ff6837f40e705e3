"""Shared test helpers: the fixture corpus, and running the CLI as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def dockerfiles(under: Path = FIXTURES) -> list[Path]:
    """Every input Dockerfile below ``under`` (expected outputs excluded)."""
    out = []
    for p in sorted(under.rglob("*")):
        if not p.is_file() or p.name.startswith("expected"):
            continue
        if p.name == "Dockerfile" or p.name.endswith(".Dockerfile") or p.name.startswith("Dockerfile."):
            out.append(p)
    return out


def fixture_id(p: Path) -> str:
    return str(p.relative_to(FIXTURES))


def run_cli(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m dockerslim`` in a subprocess: real exit codes, real streams."""
    env = dict(os.environ, NO_COLOR="1")
    env.pop("DOCKERSLIM_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "dockerslim", *args],
        input=stdin, capture_output=True, cwd=cwd, env=env, timeout=120,
    )


@pytest.fixture
def corpus() -> list[Path]:
    return dockerfiles()
