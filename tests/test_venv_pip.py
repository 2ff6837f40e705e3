"""The split's virtualenv carries only what the app installs: where the catalogue says the runtime
base has the same Python with the same site-packages (official python images), it is made
``--without-pip --system-site-packages`` and its ``pip``/``pip3`` run the base's pip; elsewhere
(distribution Python, unknown bases, a given runtime base) it keeps a pip of its own, with a note."""

from __future__ import annotations

from pathlib import Path

from dockerslim import Options, rewrite
from dockerslim.catalog import lookup_base
from dockerslim.image import ImageRef

from .conftest import FIXTURES

REWRITE = FIXTURES / "rewrite"


def _builder(text: str) -> str:
    return text.split("# dockerslim: everything")[0]


def _own_pip_notes(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in result.notes if "keeps a pip of its own" in n.message]


def _fixture(name: str, options: Options | None = None):  # type: ignore[no-untyped-def]
    case = REWRITE / name
    return rewrite((case / "Dockerfile").read_text(), path=str(case / "Dockerfile"), context_dir=case,
                   options=options or Options())


def test_catalogue_says_which_bases_share_site_packages_with_their_runtime() -> None:
    for tag in ("python:3.12", "python:3.11-bookworm", "python:3.12-slim", "python:3.12-alpine", "python:latest"):
        info = lookup_base(ImageRef.parse(tag))
        assert info is not None and info.site_packages_in_runtime, tag
    for tag in ("nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04", "pytorch/pytorch:2.7.1-cuda11.8-cudnn9-devel",
                "debian:bookworm"):
        info = lookup_base(ImageRef.parse(tag))
        assert info is not None and not info.site_packages_in_runtime, tag


def test_python_image_venv_has_no_pip_of_its_own() -> None:
    result = _fixture("arg-in-run")
    builder = _builder(result.text)
    assert "python3 -m venv --without-pip --system-site-packages /opt/venv" in builder
    assert "runpy.run_module(\"pip\", run_name=\"__main__\")" in builder and "> /opt/venv/bin/pip" in builder
    assert "ln -s pip /opt/venv/bin/pip3" in builder
    assert not _own_pip_notes(result)
    assert any("no pip of its own" in c.message for c in result.changes)


def test_every_pip_name_the_stage_runs_gets_the_virtualenv(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("six\n")
    text = ("FROM python:3.12\nRUN apt-get update && apt-get install -y gcc\nCOPY requirements.txt .\n"
            'RUN pip3.12 install -r requirements.txt\nCMD ["python"]\n')
    builder = _builder(rewrite(text, context_dir=tmp_path).text)
    links = [line.split("&&")[-1].strip(" \\") for line in builder.splitlines() if "ln -s pip " in line]
    assert links == ["ln -s pip /opt/venv/bin/pip3", "ln -s pip /opt/venv/bin/pip3.12"]


def test_distribution_python_keeps_a_pip_of_its_own_and_says_why() -> None:
    result = _fixture("cuda-distro-python")
    builder = _builder(result.text)
    assert "RUN python3 -m venv /opt/venv\n" in builder and "--without-pip" not in builder
    notes = _own_pip_notes(result)
    assert notes and "without the pip they bring" in notes[0]


def test_base_not_in_catalogue_keeps_its_chained_virtualenv_with_pip() -> None:
    result = _fixture("venv-python-base")
    builder = _builder(result.text)
    assert "python3 -m venv --system-site-packages /opt/venv" in builder and "_base_python.pth" in builder
    assert "--without-pip" not in builder
    assert _own_pip_notes(result)


def test_catalogued_base_without_the_fact_keeps_pip(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("tqdm\n")
    text = (
        "FROM pytorch/pytorch:2.7.1-cuda11.8-cudnn9-devel\nRUN apt-get update && apt-get install -y libpq-dev "
        '&& rm -rf /var/lib/apt/lists/*\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCMD ["python"]\n'
    )
    result = rewrite(text, context_dir=tmp_path)
    assert "python3 -m venv --system-site-packages /opt/venv\n" in result.text
    assert any("does not say that the runtime variant" in n for n in _own_pip_notes(result))


def test_given_runtime_base_keeps_pip() -> None:
    result = _fixture("python-psycopg2", Options(runtime_base="python:3.12-slim-bookworm"))
    assert "--without-pip" not in result.text and "AS builder" in result.text
    assert any("--runtime-base" in n for n in _own_pip_notes(result))
