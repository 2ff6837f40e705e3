"""Fleet scale: many Dockerfiles rewritten in parallel processes give exactly the single-file
results, in input order; one bad file never stops the others; progress only on a terminal."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from dockerslim import Options, fleet, rewrite
from dockerslim.errors import DockerslimError

from .conftest import FIXTURES, rewritten

CASES = sorted(p for p in (FIXTURES / "rewrite").glob("*/Dockerfile"))


def test_parallel_outcomes_equal_single_file_rewrites_in_input_order() -> None:
    paths = [str(p) for p in reversed(CASES)] * 3  # an order that is not sorted, with repeats
    serial = fleet.rewrite_many(paths, jobs=1, progress=False)
    parallel = fleet.rewrite_many(paths, jobs=2, progress=False)
    assert [o.path for o in parallel] == paths
    assert parallel == serial
    for outcome in parallel[: len(CASES)]:
        assert outcome.error is None, outcome.error
        assert outcome.text == rewritten(Path(outcome.path)).text
        assert outcome.changed == (outcome.text != Path(outcome.path).read_bytes().decode("utf-8"))
    assert any(o.changed for o in parallel) and any(o.layers_after != o.layers_before for o in parallel)


def test_a_bad_file_is_an_error_outcome_and_the_rest_still_run(tmp_path: Path) -> None:
    good = tmp_path / "ok" / "Dockerfile"
    good.parent.mkdir()
    good.write_text("FROM python:3.12\nRUN pip install flask\n")
    binary = tmp_path / "bin.Dockerfile"
    binary.write_bytes(b"FROM x\x00\n")
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM python:3.12\nFROBNICATE now\n")
    missing = str(tmp_path / "missing" / "Dockerfile")
    for jobs in (1, 2):
        out = fleet.rewrite_many([str(binary), str(good), missing, str(bad)], jobs=jobs, progress=False)
        assert [o.path for o in out] == [str(binary), str(good), missing, str(bad)]
        assert out[1].error is None and out[1].text is not None
        for o in (out[0], out[2], out[3]):
            assert o.error and o.path in o.error and not o.changed and o.text is None
        assert ":2:" in out[3].error  # the line of the unknown instruction


def test_a_bug_in_a_pass_becomes_that_files_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.12\n")

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyError("oops")

    monkeypatch.setattr(fleet, "rewrite", boom)
    [out] = fleet.rewrite_many([str(tmp_path / "Dockerfile")], jobs=1, progress=False)
    assert out.error is not None and "internal error: KeyError" in out.error


def test_options_for_is_asked_per_file_and_its_errors_name_the_file() -> None:
    paths = [str(p) for p in CASES]
    keep = Options(keep_base=True, assembly=False)
    asked: list[str] = []

    def options_for(path: str) -> Options:
        asked.append(path)
        if path == paths[2]:
            raise DockerslimError("bad setting keep_base = 3")
        return keep

    out = fleet.rewrite_many(paths, jobs=2, options_for=options_for, progress=False)
    assert asked == paths
    assert out[2].error == f"{paths[2]}: bad setting keep_base = 3"
    for o in out[3:]:
        path = Path(o.path)
        assert o.text == rewrite(path.read_bytes().decode("utf-8"), path=o.path, context_dir=path.parent,
                                 options=keep).text
    default = fleet.rewrite_many(paths, jobs=2, progress=False)
    assert any(a.text != b.text for a, b in zip(out[3:], default[3:], strict=False))  # the options made a difference


def test_chunks_cover_every_file_once_in_order() -> None:
    items = [(f"f{i}", Options()) for i in range(5000)]
    chunks = fleet._chunks(items, 2)  # type: ignore[arg-type]
    assert [job for _, chunk in chunks for job in chunk] == items
    assert all(start == sum(len(c) for _, c in chunks[:k]) for k, (start, _) in enumerate(chunks))
    assert max(len(c) for _, c in chunks) <= fleet.MAX_CHUNK
    assert len(chunks) >= 2 * fleet.CHUNKS_PER_WORKER  # enough to balance two workers
    assert len(fleet._chunks(items[:3], 2)) == 3  # tiny input: one file per chunk


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=terminal, width=100), buffer


def test_progress_bar_only_on_a_terminal() -> None:
    paths = [str(p) for p in CASES[:4]]
    console, buffer = _console(terminal=True)
    fleet.rewrite_many(paths, jobs=1, console=console)
    assert "rewriting" in buffer.getvalue() and "4/4" in buffer.getvalue()
    console, buffer = _console(terminal=False)
    fleet.rewrite_many(paths, jobs=1, console=console)
    assert buffer.getvalue() == ""


def test_summary_line() -> None:
    changed = fleet.FileOutcome(path="a", changed=True)
    same = fleet.FileOutcome(path="b")
    error = fleet.FileOutcome(path="c", error="c: no such file")
    assert fleet.summary_line([changed] * 3 + [same] * 37) == "3 of 40 files would be rewritten"
    assert fleet.summary_line([changed], written=True) == "1 of 1 file were rewritten"
    assert (fleet.summary_line([same, error])
            == "0 of 2 files would be rewritten, 1 could not be rewritten (errors above)")


def test_summary_table_lists_changed_files_and_totals() -> None:
    outcomes = [
        fleet.FileOutcome(path="svc-a/Dockerfile", changed=True, lines_before=10, lines_after=25,
                          layers_before=4, layers_after=2),
        fleet.FileOutcome(path="svc-b/Dockerfile", lines_before=8, lines_after=8, layers_before=1, layers_after=1),
        fleet.FileOutcome(path="svc-c/Dockerfile", changed=True, lines_before=5, lines_after=12,
                          layers_before=3, layers_after=1),
        fleet.FileOutcome(path="svc-d/Dockerfile", error="svc-d/Dockerfile:2: unknown instruction"),
    ]
    console, buffer = _console(terminal=False)
    console.print(fleet.summary_table(outcomes))
    text = buffer.getvalue()
    assert "svc-a/Dockerfile" in text and "10 → 25" in text and "4 → 2" in text
    assert "svc-b/Dockerfile" not in text  # unchanged files are only counted
    assert "unknown instruction" in text
    assert "total: 2 of 4 changed" in text and "15 → 37" in text and "7 → 3" in text


def test_results_are_kept_whole_for_write_back_and_reports() -> None:
    """The CLI writes, diffs and reports from the kept RewriteResult (changes, notes, diff)."""
    paths = [str(p) for p in CASES[:5]]
    out = fleet.rewrite_many(paths, jobs=2, progress=False)
    for o in out:
        path = Path(o.path)
        expected = rewritten(path)
        assert o.result == expected and o.result.diff == expected.diff  # type: ignore[union-attr]
    dropped = fleet.rewrite_many(paths, jobs=2, progress=False, keep=False)
    assert all(o.result is None and o.text is None for o in dropped)
    assert [(o.changed, o.layers_after) for o in dropped] == [(o.changed, o.layers_after) for o in out]


def test_stdin_is_not_a_fleet_input() -> None:
    with pytest.raises(ValueError):
        fleet.rewrite_many(["-"], jobs=1, progress=False)
