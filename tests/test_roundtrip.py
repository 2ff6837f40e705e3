"""parse → emit is the identity, byte for byte, for every fixture (CRLF, BOM, heredocs, …)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockerslim import emit, parse
from dockerslim.emit import render_instruction

from .conftest import dockerfiles, fixture_id

ALL = dockerfiles()


def test_corpus_is_large_enough() -> None:
    assert len(ALL) >= 30


@pytest.mark.parametrize("path", ALL, ids=fixture_id)
def test_identity_round_trip(path: Path) -> None:
    data = path.read_bytes()
    text = data.decode("utf-8")
    assert emit(parse(text)) == text
    assert emit(parse(data)).encode("utf-8") == data


@pytest.mark.parametrize("path", ALL, ids=fixture_id)
def test_canonical_rendering_reparses_to_the_same_node(path: Path) -> None:
    """A node rendered in canonical style (as a pass would write it) means the same thing."""
    df = parse(path.read_bytes())
    for node in df.instructions():
        rendered = render_instruction(node, df.escape)
        prefix = f"# escape={df.escape}\n" if df.escape != "\\" else ""
        if node.keyword != "FROM":
            prefix += "FROM scratch\n"
        again = list(parse(prefix + rendered).instructions())[-1]
        assert again == node, rendered


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_changed_instruction_uses_the_files_newline_style(newline: str) -> None:
    from dataclasses import replace

    text = f"FROM python:3.12{newline}RUN echo a{newline}CMD [\"x\"]{newline}"
    df = parse(text)
    run = df.stages[0].body[0]
    df2 = replace(df, stages=(replace(df.stages[0], body=(replace(run, command="echo b"), df.stages[0].body[1])),))
    assert emit(df2) == text.replace("echo a", "echo b")


def test_text_after_a_file_without_final_newline_starts_on_its_own_line() -> None:
    from dataclasses import replace

    from dockerslim import ir

    df = parse("FROM alpine\nCMD [\"a\"]")
    stage = df.stages[0]
    df2 = replace(df, stages=(replace(stage, body=(*stage.body, ir.User(user="app"))),))
    assert emit(df2) == 'FROM alpine\nCMD ["a"]\nUSER app\n'


def test_input_is_never_evaluated_as_a_template() -> None:
    text = "FROM alpine\nRUN echo '{{ 7 * 7 }}' {% raw %}\n"
    df = parse(text)
    assert emit(df) == text
    assert "{{ 7 * 7 }}" in render_instruction(df.stages[0].body[0])
