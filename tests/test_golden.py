"""Golden pairs: each ``fixtures/rewrite/<case>/Dockerfile`` rewrites (with its folder as the
build context) to ``expected.Dockerfile`` exactly. Regenerate after a reviewed change with
``python -m tests.regen``; review every changed line before committing it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockerslim import parse, rewrite
from dockerslim.image_config import final_config
from dockerslim.parse import parse as parse_df

from .conftest import FIXTURES, dockerfiles, rewritten

CASES = sorted(p for p in (FIXTURES / "rewrite").iterdir() if (p / "Dockerfile").exists())


def _rewrite(case: Path):  # type: ignore[no-untyped-def]
    return rewritten(case / "Dockerfile")


def test_enough_cases() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_golden(case: Path) -> None:
    expected = (case / "expected.Dockerfile").read_bytes().decode("utf-8")
    assert _rewrite(case).text == expected


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_rewrite_is_idempotent(case: Path) -> None:
    once = _rewrite(case).text
    twice = rewrite(once, context_dir=case).text
    assert twice == once


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_final_config_is_kept_except_declared_changes(case: Path) -> None:
    result = _rewrite(case)
    before = final_config(parse(result.original))
    after = final_config(parse_df(result.text))
    declared = {c for change in result.changes for c in change.config}
    for key in declared:
        field, _, name = key.partition(".")
        if not name:  # a whole field changed on purpose (Cmd, Entrypoint)
            before.pop(field, None)
            after.pop(field, None)
            continue
        if field not in before:
            continue  # not an image-config field (Python.uv: a package replaced on purpose)
        before[field].pop(name, None)  # type: ignore[union-attr]
        after[field].pop(name, None)  # type: ignore[union-attr]
    assert after == before


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_every_change_is_explained(case: Path) -> None:
    result = _rewrite(case)
    if result.changed:
        assert result.changes, "a rewrite that changes text must say why"
    for change in result.changes:
        assert change.reason and change.effect and change.risk in ("none", "low", "medium", "high")


def pass_notes(result) -> str:  # type: ignore[no-untyped-def]
    """The notes of a one-pass rewrite, one per line: ``line: level: message``."""
    return "".join(f"{n.line}: {n.level}: {n.message}\n" for n in result.notes)


PASS_CASES = sorted(p for p in (FIXTURES / "passes").glob("*/*") if (p / "Dockerfile").exists())


@pytest.mark.parametrize("case", PASS_CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_pass_golden(case: Path) -> None:
    """One pass alone (``--only``): before/after pairs, including inputs it must leave alone
    (their expected.Dockerfile equals the input)."""
    from dockerslim import Options

    text = (case / "Dockerfile").read_text()
    models = "models" if case.parent.name == "models-out" else None
    result = rewrite(text, context_dir=case, options=Options(only=frozenset({case.parent.name}), models_context=models,
                                                             aggressive=case.parent.name == "prune"))
    assert result.text == (case / "expected.Dockerfile").read_text()
    assert result.passes_run == (case.parent.name,)
    notes = case / "expected.notes"  # what the pass said, declines included (LibCST expected_warnings style)
    if notes.exists():
        assert pass_notes(result) == notes.read_text()
    if case.name.startswith("keeps-") or any(w in case.name for w in (
            "untouched", "already", "with-other", "reported-only", "weights-only", "hf-download", "hygiene",
            "dockerignore")):
        assert result.text == text, "a must-not-change case changed"


@pytest.fixture(scope="module")
def json_entries() -> dict[str, dict[str, Any]]:
    """``rewrite --format json`` over every case at once, in this process (one CLI run, not one
    subprocess per case)."""
    import json

    from .test_cli import invoke

    result = invoke("rewrite", "--format", "json", *(str(case / "Dockerfile") for case in CASES))
    assert result.exit_code == 0, result.stderr
    return {entry["path"]: entry for entry in json.loads(result.stdout)["files"]}


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_layer_counts_in_json(case: Path, json_entries: dict[str, dict[str, Any]]) -> None:
    entry = json_entries[str(case / "Dockerfile")]

    def count(text: str) -> int:
        final = parse(text).stages[-1]
        return sum(1 for n in final.body if n.keyword in ("RUN", "COPY", "ADD"))

    assert entry["layers"] == {"before": count((case / "Dockerfile").read_text()), "after": count(entry["text"])}
    from dockerslim.passes import PIPELINE

    assert entry["passes"] == [p.name for p in PIPELINE]  # every pass ran, in the declared order


ALL_INPUTS = dockerfiles()


@pytest.mark.parametrize("path", ALL_INPUTS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_whole_corpus_rewrite_is_idempotent_and_keeps_config(path: Path) -> None:
    """Property over every fixture Dockerfile (syntax corpus included): rewriting a rewrite
    changes nothing, and the final config is kept except what a change declares."""
    text = path.read_bytes().decode("utf-8")
    result = rewrite(text, path=str(path), context_dir=path.parent)
    assert rewrite(result.text, context_dir=path.parent).text == result.text
    before, after = final_config(parse(text)), final_config(parse_df(result.text))
    for key in {c for change in result.changes for c in change.config}:
        field, _, name = key.partition(".")
        if not name:  # a whole field changed on purpose (Cmd, Entrypoint)
            before.pop(field, None)
            after.pop(field, None)
        elif field in before:
            before[field].pop(name, None)  # type: ignore[union-attr]
            after[field].pop(name, None)  # type: ignore[union-attr]
    assert after == before
