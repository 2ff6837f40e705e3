"""Proof with real builds (issue 9 item 6): for each fixture in fixtures/observe/, the static
rewrite declines (or splits the same way), ``--observe`` splits, and the observed rewrite builds,
runs the fixture's smoke.txt and passes ``verify`` against the original. Slow: each case builds
the original (observation), the original again (verify, mostly from buildah's layer cache) and
the rewrite. benchmarks/observed.py measures the same fixtures for benchmarks/RESULTS.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockerslim.builders import Buildah
from dockerslim.observe import observe
from dockerslim.prove import _declared
from dockerslim.rewrite import RewriteResult, rewrite
from dockerslim.verify import Session

pytestmark = pytest.mark.build
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "observe"
# the fixtures static reading cannot split; the others (WORKDIR from ENV, pip with an editable
# install) it already splits, and observation must keep them working
STATIC_DECLINES = {"make-install", "cmake-prefix", "script-opt", "dist-assets", "cpp-lib"}


def _split(result: RewriteResult) -> bool:
    return any(c.rule == "DS100" and c.message.startswith("split into") for c in result.changes)


@pytest.mark.parametrize("case", sorted(p.parent.name for p in FIXTURES.glob("*/Dockerfile")))
def test_observed_rewrite_splits_builds_and_verifies(case: str, buildah: Buildah, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = FIXTURES / case
    dockerfile = folder / "Dockerfile"
    text = dockerfile.read_text()
    static = rewrite(text, path=str(dockerfile), context_dir=folder)
    assert _split(static) == (case not in STATIC_DECLINES), [n.message for n in static.notes]
    record = observe(text, path=str(dockerfile), context_dir=folder, builder=buildah)
    observed = rewrite(text, path=str(dockerfile), context_dir=folder, observation=record)
    assert _split(observed), [n.message for n in observed.notes]
    declared, replaced, moved_out = _declared(observed)
    smoke = (folder / "smoke.txt").read_text().strip()
    with Session(text, path=str(dockerfile), context=folder, builder=buildah, smoke=smoke, compressed=False) as session:
        report = session.verify(observed.text, declared=declared, replaced=replaced, moved_out=moved_out)
    failed = [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]
    assert report.ok, f"{case}: {failed}\n{observed.text}"
    assert report.rewrite is not None and report.original is not None
    assert report.rewrite.size < report.original.size
