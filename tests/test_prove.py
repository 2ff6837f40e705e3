"""The prove-before-emit ladder: rungs narrow the options, the first candidate that verifies
is returned, a failed one never is. Real builds use tests/data/verify/missing-user, whose
rung texts are forced here so the ladder's own logic is what is tested."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dockerslim import prove
from dockerslim.builders import Buildah
from dockerslim.options import Options
from dockerslim.rewrite import RewriteResult, rewrite

CASE = Path(__file__).parent / "data" / "verify" / "missing-user"


def test_ladder_narrows_the_users_options() -> None:
    rungs = prove.ladder(Options(skip=frozenset({"merge-runs"})))
    assert [r.name for r in rungs] == ["full split", "split without assembly", "base swap only", "hygiene only"]
    assert rungs[0].options.assembly and not rungs[1].options.assembly
    assert rungs[2].options.skip == {"merge-runs", "split-stages"}
    assert rungs[3].options.skip == {"merge-runs", "split-stages", "runtime-base"}
    assert all("merge-runs" in r.options.skip for r in rungs)


def _forced(monkeypatch: pytest.MonkeyPatch, texts: dict[str, str]) -> list[str]:
    """Make each rung's rewrite return the given text; returns the rungs asked for, in order."""
    asked: list[str] = []

    def fake(text: str, **kw) -> RewriteResult:  # type: ignore[no-untyped-def]
        opts: Options = kw["options"]
        name = ("hygiene only" if "runtime-base" in opts.skip else "base swap only" if "split-stages" in opts.skip
                else "full split" if opts.assembly else "split without assembly")
        asked.append(name)
        real = rewrite(text, path=kw.get("path"), context_dir=kw.get("context_dir"), options=opts)
        return replace(real, text=texts.get(name, text))

    monkeypatch.setattr(prove, "rewrite", fake)
    return asked


@pytest.mark.build
def test_ladder_falls_back_past_a_broken_candidate(buildah: Buildah, monkeypatch: pytest.MonkeyPatch) -> None:
    original = (CASE / "Dockerfile").read_text()
    broken = (CASE / "candidate.Dockerfile").read_text()  # the split lost the user account
    good = (CASE / "fixed.Dockerfile").read_text()
    asked = _forced(monkeypatch, {"full split": broken, "split without assembly": broken, "hygiene only": good})
    proven = prove.rewrite_verified(original, path=str(CASE / "Dockerfile"), context_dir=CASE, builder=buildah,
                                    smoke="id -un")
    assert asked == ["full split", "split without assembly", "base swap only", "hygiene only"]
    assert proven.rung == "hygiene only" and proven.text == good and proven.changed, proven.summary()
    first, second, third, fourth = proven.attempts
    assert not first.ok and any(r.startswith("USER exists: ") for r in first.reasons)
    assert second.skipped == "same file as rung 'full split'" and not second.ok
    assert third.skipped == "the rewrite leaves the file unchanged"
    assert fourth.ok and fourth.report is not None and fourth.report.ok
    assert proven.failures() == [f"full split: {'; '.join(first.reasons)}"]
    assert proven.summary().splitlines()[:2] == ["verified: hygiene only",
                                                 f"  full split: failed: {'; '.join(first.reasons)}"]
    assert proven.to_dict()["rung"] == "hygiene only" and len(proven.to_dict()["attempts"]) == 4  # type: ignore[arg-type]


@pytest.mark.build
def test_ladder_returns_the_original_when_every_rung_fails(buildah: Buildah, monkeypatch: pytest.MonkeyPatch) -> None:
    original = (CASE / "Dockerfile").read_text()
    broken = (CASE / "candidate.Dockerfile").read_text()
    worse = broken.replace("USER app", "USER app:nogroup-here")
    _forced(monkeypatch, {"full split": broken, "split without assembly": broken, "base swap only": worse,
                          "hygiene only": worse})
    proven = prove.rewrite_verified(original, path=str(CASE / "Dockerfile"), context_dir=CASE, builder=buildah,
                                    smoke="id -un")
    assert proven.text == original and proven.rung is None and not proven.changed and proven.result is None
    assert [a.ok for a in proven.attempts] == [False, False, False, False]
    assert len(proven.failures()) == 2  # two builds: the repeats were not built again
    assert proven.summary().startswith("no rewrite verified: the original is kept unchanged\n")


class _FailingBuilder:
    """Prints one build step, then fails: enough to see where the ladder's build output goes."""

    name = "fake"

    def build(self, text: str, context: Path, tag: str, *, build_args: object = None, build_contexts: object = None,
              on_line: object = None) -> None:
        from dockerslim.builders import BuilderError

        assert callable(on_line), "the ladder's builds are not streamed"
        on_line("STEP 1/2: FROM python:3.12")
        raise BuilderError("base image not found")

    def remove(self, *images: str) -> None:
        pass


def test_ladder_streams_build_output_and_progress(tmp_path: Path) -> None:
    """rewrite --verify -v shows the builds as they run (lines labelled by image), like verify."""
    lines: list[tuple[str, str]] = []
    steps: list[str] = []
    (tmp_path / "app.py").write_text("print(1)\n")
    text = (Path(__file__).parent.parent / "fixtures" / "rewrite" / "python-psycopg2" / "Dockerfile").read_text()
    proof = prove.rewrite_verified(text, path="Dockerfile", context_dir=tmp_path, builder=_FailingBuilder(),  # type: ignore[arg-type]
                                   progress=steps.append, on_line=lambda label, line: lines.append((label, line)))
    assert proof.rung is None and proof.text == text  # nothing verified: the original is kept
    assert lines == [("Dockerfile:original", "STEP 1/2: FROM python:3.12")]
    assert any("building" in s for s in steps)
