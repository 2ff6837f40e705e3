"""Real build of the conda-env rewrite: the fixture's original on the miniconda3 stand-in
(tests/standins/conda.Dockerfile: conda's layout, not conda) and its rewrite, whose runtime is
debian:bookworm-slim with /opt/conda copied in, are built, run and compared by ``verify``."""

from __future__ import annotations

import pytest

from dockerslim import rewrite
from dockerslim.builders import Buildah
from dockerslim.verify import verify

from .conftest import FIXTURES

pytestmark = pytest.mark.build
CASE = FIXTURES / "rewrite" / "conda-env"


def test_conda_env_rewrite_builds_runs_and_is_smaller(buildah: Buildah) -> None:
    text = rewrite((CASE / "Dockerfile").read_text(), context_dir=CASE).text
    assert "FROM debian:bookworm-slim" in text and "COPY --from=conda-env /opt/conda /opt/conda" in text
    report = verify(CASE / "Dockerfile", builder=buildah, smoke="python main.py && test ! -e /opt/conda/pkgs/.",
                    compressed=False)
    failed = [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]
    assert report.ok, "\n".join(failed) + "\n" + "\n".join(
        (s.smoke.output[-2000:] if s and s.smoke else "") for s in (report.original, report.rewrite))
    assert report.rewrite is not None and report.original is not None
    assert report.rewrite.smoke is not None and "ok" in report.rewrite.smoke.output
    assert report.rewrite.size < report.original.size
    names = {c.name for c in report.checks}
    assert {"original builds", "rewrite builds", "image config kept", "app files kept", "smoke command runs"} <= names
