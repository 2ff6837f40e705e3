"""Real builds of what the JIT guard keeps (issue 11): numba's CPU JIT runs on the slim runtime
(LLVM comes in the llvmlite wheel), and the entrypoint that runs gcc at every start compiles and
loads its helper on python:3.12-slim with the gcc libc6-dev the rewrite installs. Both rewrites
pass verify and are smaller than the original. Slow; marked ``build``; buildah on the stand-ins."""

from __future__ import annotations

import pytest

from dockerslim import rewrite
from dockerslim.builders import Buildah
from dockerslim.verify import Session, declared_by

from .conftest import FIXTURES

pytestmark = pytest.mark.build


@pytest.mark.parametrize("case,smoke,prints", [
    ("numba-jit", "python kernels.py", "45"),
    ("entrypoint-compiles", None, "native helper ok"),
])
def test_runtime_compilation_works_on_the_slim_runtime(buildah: Buildah, case: str, smoke: str | None,
                                                       prints: str) -> None:
    path = FIXTURES / "rewrite" / case
    text = (path / "Dockerfile").read_text()
    smoke = smoke or (path / "smoke.txt").read_text().strip()
    result = rewrite(text, path=str(path / "Dockerfile"), context_dir=path)
    assert "\nFROM python:3.12-slim\n" in result.text
    with Session(text, path=str(path / "Dockerfile"), context=path, builder=buildah, smoke=smoke,
                 compressed=False) as session:
        declared, replaced, moved_out = declared_by(result)
        report = session.verify(result.text, declared=declared, replaced=replaced, moved_out=moved_out)
        failed = "\n".join(f"{c.name}: {c.detail}" for c in report.checks if not c.ok)
        assert report.ok, failed
        assert report.rewrite is not None and report.original is not None and report.rewrite.smoke is not None
        assert prints in report.rewrite.smoke.output
        print(f"\n{case}: original {report.original.size / 1e6:.1f} MB, rewrite {report.rewrite.size / 1e6:.1f} MB")
        assert report.rewrite.size < report.original.size
