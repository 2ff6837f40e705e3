"""The semantic guard (``guard.py``): after every pass the RUNs execute the same commands, in
an order the pass declared safe — checked on every fixture, and shown to catch a pass that
breaks it (a merge whose joined line turns the next RUN's commands into a comment)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dockerslim import ir, rewrite
from dockerslim.changes import Change, CommandEdit, PassResult
from dockerslim.guard import Facts, Policy, violation
from dockerslim.parse import parse
from dockerslim.pass_context import PassContext
from dockerslim.passes import Pass
from dockerslim.rewrite import run_passes

from .conftest import dockerfiles, fixture_id, rewritten

COMMENTED = "FROM debian:bookworm\nRUN echo one # note\nRUN apt-get update && apt-get install -y curl\n"


def _commands(text: str) -> list[tuple[str, ...]]:
    return [c for stage in Facts().stages(parse(text)) for c in stage]


@pytest.mark.parametrize("path", dockerfiles(), ids=fixture_id)
def test_no_pass_is_rolled_back_on_any_fixture(path: Path) -> None:
    """Every pass's output on every fixture passes the guard (a rollback note would say not)."""
    assert not [n.message for n in rewritten(path).notes if "rolled back" in n.message]


def test_a_comment_never_swallows_the_next_run() -> None:
    text = rewrite(COMMENTED).text
    assert ("apt-get", "install", "--no-install-recommends", "-y", "curl") in _commands(text)
    assert "# note" in text


def test_hygiene_keeps_a_trailing_comment_and_appends_nothing_after_it() -> None:
    text = rewrite("FROM debian:bookworm\nRUN apt-get update && apt-get install -y curl # health check\n").text
    assert text.rstrip("\n").endswith("# health check")
    assert ("rm", "-rf", "/var/lib/apt/lists/*") not in _commands(text)  # it would have been comment text


def _swallowing_merge(df: ir.Dockerfile, context: PassContext) -> PassResult:
    """A deliberately broken merge: joins consecutive RUNs with ``&&`` without looking for comments."""
    stage = df.stages[-1]
    runs = [n for n in stage.body if isinstance(n, ir.Run)]
    merged = replace(runs[0], command=" && ".join(str(r.command) for r in runs))
    body = tuple(n for n in stage.body if n not in runs[1:])
    body = tuple(merged if n is runs[0] else n for n in body)
    change = Change(rule="DS299", pass_name="broken-merge", message="merged", reason="test", effect="test")
    return PassResult(dockerfile=replace(df, stages=(replace(stage, body=body),)), changes=[change])


BROKEN = Pass("DS299", "broken-merge", "merges RUNs, swallowing commands after a comment", _swallowing_merge,
              Policy.SAME)


def test_guard_rolls_back_a_merge_that_swallows_a_command() -> None:
    df = parse(COMMENTED)
    out, changes, notes, ran = run_passes(df, PassContext(), (BROKEN,))
    assert out is df and changes == [] and ran == []
    assert len(notes) == 1 and notes[0].pass_name == "broken-merge" and notes[0].level == "warning"
    assert "rolled back" in notes[0].message and "apt-get update" in notes[0].message


def test_the_same_merge_without_a_comment_is_kept() -> None:
    df = parse(COMMENTED.replace(" # note", ""))
    out, _, notes, ran = run_passes(df, PassContext(), (BROKEN,))
    assert ran == ["broken-merge"] and not notes
    assert _commands(COMMENTED.replace(" # note", "")) == [c for s in Facts().stages(out) for c in s]


def _edit(df: ir.Dockerfile, command: str) -> ir.Dockerfile:
    stage = df.stages[0]
    body = tuple(replace(n, command=command) if isinstance(n, ir.Run) else n for n in stage.body)
    return replace(df, stages=(replace(stage, body=body),))


def test_declared_edits_are_the_only_allowed_differences() -> None:
    before = parse("FROM debian\nRUN pip install flask\n")
    after = _edit(before, "pip install --no-cache-dir flask && rm -rf /tmp/x")
    edit = CommandEdit(("pip", "install", "flask"), ("pip", "install", "--no-cache-dir", "flask"))
    add = CommandEdit(None, ("rm", "-rf", "/tmp/x"))
    change = Change(rule="DS202", pass_name="package-hygiene", message="m", reason="r", effect="e",
                    commands=(edit, add))
    assert violation(Policy.DECLARED, before, after, [change]) is None
    assert violation(Policy.SAME, before, after, [change]) is not None  # SAME allows no edit at all
    undeclared = replace(change, commands=(edit,))
    assert "rm -rf /tmp/x" in (violation(Policy.DECLARED, before, after, [undeclared]) or "")
    lie = replace(change, commands=(edit, add, CommandEdit(None, ("apt-get", "update"))))
    assert "apt-get update" in (violation(Policy.DECLARED, before, after, [lie]) or "")


def test_order_matters() -> None:
    before = parse("FROM debian\nRUN a && b\n")
    assert violation(Policy.SAME, before, _edit(before, "b && a"), []) is not None
    assert violation(Policy.SAME, before, _edit(before, "a   &&   b # same commands"), []) is None


def test_restaged_keeps_order_within_each_stage_and_loses_nothing() -> None:
    before = parse("FROM debian\nRUN a && b && c\n")
    split = parse("FROM debian AS builder\nRUN a && b && c\nFROM debian\nRUN a && c\n")
    assert violation(Policy.RESTAGED, before, split, []) is None
    reordered = parse("FROM debian AS builder\nRUN a && b && c\nFROM debian\nRUN c && a\n")
    assert violation(Policy.RESTAGED, before, reordered, []) is not None
    lost = parse("FROM debian AS builder\nRUN a && c\nFROM debian\nRUN a\n")
    assert "`b`" in (violation(Policy.RESTAGED, before, lost, []) or "")


def _clashing_name(df: ir.Dockerfile, context: PassContext) -> PassResult:
    """A deliberately broken pass: names the last stage like the first (only the whole file shows it)."""
    last = df.stages[-1]
    stages = (*df.stages[:-1], replace(last, from_=replace(last.from_, name=df.stages[0].name)))
    return PassResult(dockerfile=replace(df, stages=stages))


def test_a_clash_only_the_whole_file_shows_is_still_rolled_back(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Each pass re-parses only what it changed; the final text is parsed whole, and when that
    fails the pipeline runs again checking whole files, to roll back the pass responsible."""
    import sys

    rw = sys.modules["dockerslim.rewrite"]
    clash = Pass("DS298", "clash", "renames a stage", _clashing_name, Policy.SAME)
    monkeypatch.setattr(rw, "PIPELINE", (clash,))
    text = "FROM debian AS base\nRUN echo a\nFROM base AS app\nRUN echo b\n"
    result = rw.rewrite(text)
    assert result.text == text
    assert [n.pass_name for n in result.notes if "rolled back" in n.message] == ["clash"]
