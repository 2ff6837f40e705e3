"""The installed, non-editable wheel finds its templates and runs: build it, install it into a
fresh venv, run ``dockerslim`` from there, outside the source tree."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from .conftest import FIXTURES, ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    wheels = list((work / "dist").glob("dockerslim-*.whl"))
    assert len(wheels) == 1
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    subprocess.run([str(env_dir / "bin" / "pip"), "install", "-q", str(wheels[0])],
                   check=True, capture_output=True, timeout=600)
    return env_dir


def test_wheel_contains_templates(installed: Path) -> None:
    found = list(installed.glob("lib/python*/site-packages/dockerslim/templates/*.j2"))
    assert {p.name for p in found} >= {"dockerfile.j2", "instruction.j2"}


def test_installed_cli_rewrites_a_fixture_outside_the_tree(installed: Path, tmp_path: Path) -> None:
    fixture = FIXTURES / "syntax" / "pytorch-devel" / "Dockerfile"
    proc = subprocess.run([str(installed / "bin" / "dockerslim"), "rewrite", str(fixture), "--format", "json"],
                          capture_output=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b'"files"' in proc.stdout


def test_installed_package_renders_through_its_own_templates(installed: Path, tmp_path: Path) -> None:
    code = (
        "import dockerslim, dockerslim.templating as t; from dockerslim import ir;"
        "from dockerslim.emit import render_instruction;"
        "assert 'site-packages' in str(t._template_dir()), t._template_dir();"
        "print(render_instruction(ir.Run(command='a\\n&& b')), end='')"
    )
    proc = subprocess.run([str(installed / "bin" / "python"), "-c", code], capture_output=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode() == "RUN a \\\n    && b\n"
