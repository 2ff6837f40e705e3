"""The installed, non-editable wheel finds its templates and runs: build it, install it into a
fresh venv, run ``dockerslim`` from there, outside the source tree. The wheel carries what a
user needs besides the code: templates, data, ``py.typed``, the licence and its metadata.
Slow (a build and a venv with every dependency): marked ``slow``, run by CI."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from .conftest import FIXTURES, ROOT

# one group: the module's fixtures build the wheel once, on one xdist worker
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
                          capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stdout.decode()[-3000:] + proc.stderr.decode()[-3000:]
    wheels = list(dist.glob("dockerslim-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(env_dir)
    subprocess.run([str(env_dir / "bin" / "pip"), "install", "-q", str(wheel)],
                   check=True, capture_output=True, timeout=600)
    return env_dir


def test_wheel_ships_data_templates_types_and_licence(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    data = {f"dockerslim/data/{p.name}" for p in (ROOT / "dockerslim" / "data").glob("*.toml")}
    templates = {f"dockerslim/templates/{p.name}" for p in (ROOT / "templates").glob("*.j2")}
    assert data and templates
    assert data <= names, sorted(data - names)
    assert templates <= names, sorted(templates - names)
    assert "dockerslim/py.typed" in names
    dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
    assert f"{dist_info}/licenses/LICENSE" in names
    assert not any(n.startswith(("tests/", "fixtures/", "benchmarks/")) for n in names)


def test_wheel_metadata_declares_the_licence_and_project(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(zf.read(meta_name).decode())
    assert meta["License-Expression"] == "MIT"  # PEP 639
    assert meta.get_all("License-File") == ["LICENSE"]
    assert "Typing :: Typed" in meta.get_all("Classifier")
    assert not any(c.startswith("License ::") for c in meta.get_all("Classifier"))  # PEP 639: expression only
    assert meta["Keywords"]


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
    proc = subprocess.run([str(installed / "bin" / "python"), "-c", code],
                          capture_output=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode() == "RUN a \\\n    && b\n"
