"""The rule catalogue (``data/rules.toml``) is the one list of ids: the pipeline, the README
table and inline suppression (``# dockerslim: ignore=DS201``) all agree with it."""

from __future__ import annotations

import re

import pytest

from dockerslim import Options, rewrite
from dockerslim.passes import PIPELINE
from dockerslim.rules import catalogue, rule

from .conftest import FIXTURES, ROOT

SCHEME = {"parse": re.compile(r"^DS0\d\d$"), "pass": re.compile(r"^DS[12]\d\d$")}


def test_ids_follow_the_documented_scheme_and_are_unique() -> None:
    rules = catalogue()
    assert len({r.id for r in rules}) == len(rules) and len({r.name for r in rules}) == len(rules)
    for r in rules:
        assert SCHEME[r.kind].match(r.id), r.id
        assert r.summary and len(r.help) > 40


def test_every_pass_is_its_catalogue_entry() -> None:
    passes = [r for r in catalogue() if r.kind == "pass"]
    assert {(r.id, r.name, r.summary) for r in passes} == {(p.id, p.name, p.summary) for p in PIPELINE}
    structure = {p.name for p in PIPELINE if p.id.startswith("DS1")}
    assert structure == {"conda-env", "split-stages", "runtime-base"}  # DS1xx: passes that change FROM lines and stages


def test_readme_pass_table_matches_the_catalogue() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| (DS\d{3}) \| ([a-z-]+) \|", readme, re.M)
    assert rows == [(p.id, p.name) for p in PIPELINE], "README's pass table: one row per pass, in pipeline order"
    for rid, name in rows:
        assert rule(rid).name == name


def test_unknown_rule_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="DS201"):
        rule("DS999")


MERGE = "FROM debian:bookworm\nRUN echo a\n{above}RUN echo b{inline}\nCMD [\"bash\"]\n"


@pytest.mark.parametrize("above,inline", [
    ("# dockerslim: ignore=DS201\n", ""), ("# dockerslim: ignore=merge-runs\n", ""),
    ("", " # dockerslim: ignore=DS201"), ("# dockerslim: ignore=all\n", ""),
])
def test_ignore_on_the_line_keeps_runs_apart(above: str, inline: str) -> None:
    text = MERGE.format(above=above, inline=inline)
    result = rewrite(text)
    assert result.text == text
    assert rewrite(MERGE.format(above="", inline="")).text != MERGE.format(above="", inline="")  # merged without it


def test_ignore_a_rule_for_a_whole_stage() -> None:
    text = ("# dockerslim: ignore=DS202\nFROM debian:bookworm\nRUN apt-get install -y curl\nCOPY a /a\n"
            "RUN pip install flask\n")
    assert rewrite(text, options=Options(only=frozenset({"package-hygiene"}))).text == text
    other = rewrite(text.replace("ignore=DS202", "ignore=DS201"), options=Options(only=frozenset({"package-hygiene"})))
    assert "--no-cache-dir" in other.text


def test_a_pass_that_does_not_look_is_stopped_by_the_pipeline() -> None:
    """split-stages does not read ignore comments itself: the pipeline declines its result."""
    case = FIXTURES / "rewrite" / "python-psycopg2"
    text = (case / "Dockerfile").read_text()
    assert "AS builder" in rewrite(text, context_dir=case).text
    quiet = "# dockerslim: ignore=split-stages\n" + text
    result = rewrite(quiet, context_dir=case)
    assert "AS builder" not in result.text
    assert any(n.pass_name == "split-stages" and "ignore=DS100" in n.message for n in result.notes)


def test_ignored_lines_get_no_findings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "app.py").write_text("print(1)\n")
    text = "FROM python:3.12\n# dockerslim: ignore=DS205\nCOPY . .\n"
    assert not [n for n in rewrite(text, context_dir=tmp_path).notes if n.rule == "DS205"]
    assert [n for n in rewrite(text.replace("DS205", "DS201"), context_dir=tmp_path).notes if n.rule == "DS205"]
