"""Issue 11 (already-multistage): a ``COPY --from=<image>`` that only the next RUN reads, with
commands that only read files there, becomes a bind mount of that RUN (DS208 bind-mounts): the
copied files are never stored in a layer. Anything that may write there, or read it later, keeps
the COPY; so does a COPY from a stage, which buildah 1.28 cannot mount once the stage is cached."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockerslim.builders import Buildah
from dockerslim.rewrite import RewriteResult, rewrite
from dockerslim.verify import verify

STAGES = """FROM python:3.12 AS build
RUN pip wheel requests -w /wheels

FROM python:3.12-slim
WORKDIR /app
{copy}
RUN {run}
CMD {cmd}
"""


COPY = "COPY --from=ghcr.io/acme/wheels:1 /wheels /wheels"


def _rewrite(tmp_path: Path, run: str, copy: str = COPY,
             cmd: str = '["python", "-m", "http.server"]', files: dict[str, str] | None = None) -> RewriteResult:
    for name, body in (files or {"app.py": "print('hi')\n"}).items():
        (tmp_path / name).write_text(body)
    return rewrite(STAGES.format(copy=copy, run=run, cmd=cmd), context_dir=tmp_path)


def _mounted(result: RewriteResult) -> bool:
    return "--mount=type=bind," in result.text


def _notes(result: RewriteResult) -> str:
    return "\n".join(n.message for n in result.notes if n.rule == "DS208")


@pytest.mark.parametrize("run", [
    "pip install --no-index /wheels/*",
    "python -m pip install --no-index --find-links /wheels requests",
    "pip install --no-deps /wheels/requests-2.32.3-py3-none-any.whl",
])
def test_wheels_read_by_pip_are_mounted(tmp_path: Path, run: str) -> None:
    result = _rewrite(tmp_path, run)
    assert _mounted(result) and "COPY --from" not in result.text
    assert "RUN --mount=type=bind,from=ghcr.io/acme/wheels:1,source=/wheels,target=/wheels " in result.text
    change = next(c for c in result.changes if c.rule == "DS208")
    assert change.config == ("Files./wheels",)  # verify is told /wheels leaves on purpose


def test_relative_destination_mounts_at_the_workdir_path(tmp_path: Path) -> None:
    result = _rewrite(tmp_path, "pip install --no-index wheels/*", copy=COPY.replace(" /wheels /", " /wheels "))
    assert "source=/wheels,target=/app/wheels" in result.text


@pytest.mark.parametrize(("run", "why"), [
    ("pip install --no-index /wheels/* && rm -rf /wheels", "`rm -rf /wheels` names /wheels"),
    ("pip install --target /wheels/site requests", "/wheels/site is not a file pip-install only reads"),
    ("pip install -e /wheels/src", "is not a file pip-install only reads"),
    ("python /wheels/setup.py install", "not a command known to only read it"),
    ("pip install requests", "the RUN after it does not name it"),
])
def test_writers_and_unknown_commands_keep_the_copy(tmp_path: Path, run: str, why: str) -> None:
    result = _rewrite(tmp_path, run)
    assert not _mounted(result) and "COPY --from=ghcr.io/acme/wheels:1 /wheels /wheels" in result.text
    assert why in _notes(result)


def test_path_named_later_or_in_the_context_keeps_the_copy(tmp_path: Path) -> None:
    later = _rewrite(tmp_path, "pip install --no-index /wheels/*", cmd='["ls", "/wheels"]')
    assert not _mounted(later) and "later names it" in _notes(later)
    (tmp_path / "s").mkdir()
    script = _rewrite(tmp_path / "s", "pip install --no-index /wheels/*",
                      files={"start.sh": "pip install /wheels/extra.whl\n"})
    assert not _mounted(script) and "start.sh names it" in _notes(script)


def test_copy_with_other_flags_or_from_context_is_left_alone(tmp_path: Path) -> None:
    for copy in ("COPY --from=ghcr.io/acme/wheels:1 --chown=1000 /wheels /wheels", "COPY wheels /wheels",
                 "COPY --from=ghcr.io/acme/wheels:1 /wheels /wheels/"):
        assert not _mounted(_rewrite(tmp_path, "pip install --no-index /wheels/*", copy=copy)), copy


def test_tar_and_dpkg_read_only(tmp_path: Path) -> None:
    tar = _rewrite(tmp_path, "tar -xzf /wheels/app.tgz -C /opt", copy=COPY)
    assert _mounted(tar)
    into = _rewrite(tmp_path, "tar -xzf /wheels/app.tgz -C /wheels/out", copy=COPY)
    assert not _mounted(into)
    dpkg = _rewrite(tmp_path, "dpkg -i /wheels/*.deb")
    assert _mounted(dpkg)


def test_copy_from_a_stage_is_kept_for_buildah(tmp_path: Path) -> None:
    result = _rewrite(tmp_path, "pip install --no-index /wheels/*", copy="COPY --from=build /wheels /wheels")
    assert not _mounted(result) and "COPY --from=build /wheels /wheels" in result.text
    assert "it copies from a stage, and buildah 1.28 cannot mount a stage" in _notes(result)
    assert "containers/buildah#4375" in _notes(result)


def test_builder_stages_are_left_alone(tmp_path: Path) -> None:
    text = """FROM python:3.12 AS build
RUN pip wheel requests -w /wheels

FROM python:3.12 AS install
COPY --from=ghcr.io/acme/wheels:1 /wheels /wheels
RUN pip install --no-index /wheels/*

FROM python:3.12-slim
COPY --from=install /usr/local/lib/python3.12/site-packages /usr/local/lib/python3.12/site-packages
"""
    (tmp_path / "app.py").write_text("")
    assert "--mount=type=bind" not in rewrite(text, context_dir=tmp_path).text


@pytest.mark.build
def test_mount_from_an_image_builds_with_buildah_and_is_smaller(buildah: Buildah, tmp_path: Path) -> None:
    """buildah 1.28 builds ``RUN --mount=type=bind,from=<image>`` without a syntax line, also when
    every step comes from its layer cache (verify builds the rewrite after the original); the
    rewrite verifies (/wheels left out on purpose) and is smaller than the original."""
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.12-slim\nCOPY --from=python:3.12 /usr/share/python-wheels /wheels\n"
        "RUN pip install --no-index --no-deps --target /opt/vendor /wheels/setuptools-*.whl\n"
        'CMD ["python", "-c", "import sys; sys.path.insert(0, \'/opt/vendor\'); import setuptools"]\n')
    text = rewrite((tmp_path / "Dockerfile").read_text(), context_dir=tmp_path).text
    assert "RUN --mount=type=bind,from=python:3.12,source=/usr/share/python-wheels,target=/wheels " in text
    for _ in range(2):  # the second time every layer of both images is cached
        report = verify(tmp_path / "Dockerfile", builder=buildah, smoke="test -f /opt/vendor/setuptools/__init__.py",
                        compressed=False)
        failed = [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]
        assert report.ok, "\n".join(failed)
        assert report.rewrite is not None and report.original is not None
        assert report.rewrite.size < report.original.size


def test_context_search_reads_large_files_whole_and_skips_dockerignored(tmp_path: Path) -> None:
    (tmp_path / "big").mkdir()
    big = {"data.bin": "x" * (3 << 20) + " /wheels/extra.whl\n"}  # past the first chunks
    assert "data.bin names it" in _notes(_rewrite(tmp_path / "big", "pip install --no-index /wheels/*", files=big))
    (tmp_path / "ign").mkdir()
    ignored = {"notes.md": "see /wheels\n", ".dockerignore": "notes.md\n"}
    assert _mounted(_rewrite(tmp_path / "ign", "pip install --no-index /wheels/*", files=ignored))
