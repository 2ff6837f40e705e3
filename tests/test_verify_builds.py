"""Real builds: ``verify`` proves rewrites of the fixtures with buildah on offline stand-in base
images (tests/standins), and fails on a deliberately broken rewrite. Slow; marked ``build``.
Skipped, with the reason, where buildah/debootstrap or root are missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockerslim import rewrite
from dockerslim.builders import Buildah
from dockerslim.verify import verify

from . import standins
from .conftest import FIXTURES, run_cli

pytestmark = pytest.mark.build
REWRITE = FIXTURES / "rewrite"

# fixture -> smoke command proving the app runs (``smoke.txt`` beside the Dockerfile; a JSON
# array runs without a shell, for images that have none)
CASES = {p.parent.name: p.read_text().strip() for p in sorted(REWRITE.glob("*/smoke.txt"))}


def _torch_available() -> bool:
    return any(standins.WHEELS.glob("torch-*cp311*.whl"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_verify_passes(case: str, buildah: Buildah) -> None:
    if case.startswith("pytorch") and not _torch_available():
        pytest.skip("no CPU torch wheel in $PIP_FIND_LINKS for the pytorch stand-in")
    report = verify(REWRITE / case / "Dockerfile", builder=buildah, smoke=CASES[case], compressed=False)
    failed = [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]
    assert report.ok, "\n".join(failed) + "\n" + "\n".join(
        (s.smoke.output[-2000:] if s and s.smoke else "") for s in (report.original, report.rewrite))
    assert report.rewrite.size < report.original.size  # type: ignore[union-attr]
    names = {c.name for c in report.checks}
    assert {"original builds", "rewrite builds", "image config kept", "app files kept", "smoke command runs"} <= names


def test_torch_compile_keeps_a_compiler(buildah: Buildah) -> None:
    """The JIT guard keeps the devel base, so the compiled function runs in the rewrite."""
    if not _torch_available():
        pytest.skip("no CPU torch wheel in $PIP_FIND_LINKS for the pytorch stand-in")
    case = REWRITE / "pytorch-torch-compile"
    result = rewrite((case / "Dockerfile").read_text(), context_dir=case)
    assert "FROM pytorch/pytorch:2.7.1-cuda11.8-cudnn9-devel" in result.text and "-runtime" not in result.text
    assert any("torch.compile" in n.message for n in result.notes)
    report = verify(case / "Dockerfile", builder=buildah, smoke="python serve.py && which gcc", compressed=False)
    assert report.ok, [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]


def test_verify_fails_on_a_broken_rewrite(buildah: Buildah) -> None:
    """Drop the runtime library psycopg2 links against: the check itself must catch it."""
    case = REWRITE / "python-psycopg2"
    good = rewrite((case / "Dockerfile").read_text(), context_dir=case).text
    broken = good.replace(" libpq5", " ca-certificates")
    assert broken != good
    report = verify(case / "Dockerfile", builder=buildah, rewritten=broken, compressed=False,
                    smoke="python -c 'import psycopg2'")
    smoke = next(c for c in report.checks if c.name == "smoke command runs")
    assert not smoke.ok and not report.ok
    assert "libpq.so.5" in report.rewrite.smoke.output  # type: ignore[union-attr]


def test_verify_fails_when_app_files_change(buildah: Buildah) -> None:
    case = REWRITE / "python-psycopg2"
    good = rewrite((case / "Dockerfile").read_text(), context_dir=case).text
    broken = good.replace("COPY --from=builder /app /app\n", "")
    report = verify(case / "Dockerfile", builder=buildah, rewritten=broken, compressed=False, smoke="true")
    check = next(c for c in report.checks if c.name == "app files kept")
    assert not check.ok and "missing /app/app.py" in check.detail


def test_cli_verify_json(buildah: Buildah, tmp_path: Path) -> None:
    import os

    env_keys = ("CONTAINERS_STORAGE_CONF", "CONTAINERS_REGISTRIES_CONF", "CONTAINERS_CONF")
    saved = {k: os.environ.get(k) for k in env_keys}
    os.environ.update({k: buildah.env[k] for k in env_keys})
    try:
        proc = run_cli("verify", str(REWRITE / "go-static" / "Dockerfile"), "--builder", "buildah", "--pull", "never",
                       "--smoke", '["/out/server", "-version"]', "--format", "json", timeout=900)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert proc.returncode == 0, proc.stdout.decode()[-3000:] + proc.stderr.decode()
    doc = json.loads(proc.stdout)
    assert doc["ok"] is True and doc["rewrite"]["size"] < doc["original"]["size"]
    assert doc["rewrite"]["compressed"] < doc["original"]["compressed"]


def test_old_buildah_says_it_cannot_build_heredocs(buildah: Buildah) -> None:
    """Bookworm's buildah (1.28) mis-reads heredocs; verify must say so instead of a confusing failure."""
    from dockerslim.builders import HEREDOC_BUILDAH

    if buildah.version() >= HEREDOC_BUILDAH:
        pytest.skip("this buildah understands heredocs")
    report = verify(REWRITE / "heredoc-install" / "Dockerfile", builder=buildah, smoke="true", compressed=False)
    first = report.checks[0]
    assert not first.ok and "does not understand heredocs" in first.detail and "--builder buildx" in first.detail
