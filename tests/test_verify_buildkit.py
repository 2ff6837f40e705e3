"""The BuildKit backend, for real: a private dockerd (Debian's docker.io) builds with its
built-in BuildKit, and ``verify`` passes or fails exactly as with buildah. Marked ``build``;
skipped with the reason where dockerd cannot be started."""

from __future__ import annotations

import pytest

from dockerslim import rewrite
from dockerslim.builders import Buildx
from dockerslim.verify import verify

from .conftest import FIXTURES
from .standins import Dockerd

pytestmark = pytest.mark.build
REWRITE = FIXTURES / "rewrite"
NEEDED = ["docker.io/library/python:3.12", "docker.io/library/python:3.12-slim",
          "docker.io/library/golang:1.22", "gcr.io/distroless/static-debian12"]


@pytest.fixture(scope="module")
def buildkit(dockerd: Dockerd) -> Buildx:
    dockerd.load(*NEEDED)
    return dockerd.buildx()


@pytest.mark.parametrize("case", ["python-psycopg2", "go-static"])
def test_verify_passes_with_buildkit(case: str, buildkit: Buildx) -> None:
    smoke = (REWRITE / case / "smoke.txt").read_text().strip()
    report = verify(REWRITE / case / "Dockerfile", builder=buildkit, smoke=smoke, compressed=True)
    assert report.ok, [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]
    assert report.builder == "buildx"
    assert report.rewrite.size < report.original.size  # type: ignore[union-attr]
    assert report.rewrite.compressed < report.original.compressed  # type: ignore[union-attr,operator]


def test_buildkit_verify_fails_on_a_broken_rewrite(buildkit: Buildx) -> None:
    case = REWRITE / "python-psycopg2"
    good = rewrite((case / "Dockerfile").read_text(), context_dir=case).text
    report = verify(case / "Dockerfile", builder=buildkit, rewritten=good.replace(" libpq5", " ca-certificates"),
                    smoke="python -c 'import psycopg2'", compressed=False)
    assert not report.ok
    assert "libpq.so.5" in report.rewrite.smoke.output  # type: ignore[union-attr]
