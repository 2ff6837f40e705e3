"""A RUN a pass only gave a flag, or one inserted word, keeps its lines as written: a rendering
from the joined script would flatten continuation lines into one line with runs of blanks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dockerslim import ir
from dockerslim.emit import emit
from dockerslim.parse import parse


def _run(df: ir.Dockerfile) -> ir.Run:
    return next(n for n in df.instructions() if isinstance(n, ir.Run))


def _swap(df: ir.Dockerfile, old: ir.Run, new: ir.Run) -> ir.Dockerfile:
    stages = tuple(replace(s, body=tuple(new if n is old else n for n in s.body)) for s in df.stages)
    return replace(df, stages=stages)


TEXT = ("FROM python:3.12\n"
        "RUN pip install \\\n"
        "      flask \\\n"
        "    # the server\n"
        "      gunicorn\n")


def test_a_new_flag_keeps_the_lines_and_comments() -> None:
    df = parse(TEXT)
    run = _run(df)
    out = emit(_swap(df, run, run.with_flag("mount", "type=cache,target=/root/.cache/pip")))
    assert out == TEXT.replace("RUN pip", "RUN --mount=type=cache,target=/root/.cache/pip pip")
    assert _run(parse(out)).command == run.command


def test_one_inserted_word_goes_into_its_line() -> None:
    text = ("FROM debian:bookworm\n"
            "RUN apt-get update && apt-get install -y python3 python3-dev \\\n"
            "    && rm -rf /var/lib/apt/lists/*\n")
    df = parse(text)
    run = _run(df)
    assert isinstance(run.command, str)
    new = replace(run, command=run.command.replace("python3-dev ", "python3-dev python3-venv "))
    out = emit(_swap(df, run, new))
    assert out == text.replace("python3-dev \\", "python3-dev python3-venv \\")
    assert _run(parse(out)).command == new.command


def test_other_changes_are_rendered() -> None:
    df = parse(TEXT)
    run = _run(df)
    out = emit(_swap(df, run, replace(run, command="pip install flask")))
    assert out.endswith("RUN pip install flask\n")


def test_a_crlf_file_stays_crlf_everywhere(tmp_path: Path) -> None:
    """Comment and blank lines a pass adds follow the file's newline style (they were LF)."""
    from dockerslim import rewrite

    (tmp_path / "requirements.txt").write_text("requests\n")
    (tmp_path / "app.py").write_text("print(1)\n")
    text = ("FROM python:3.12\r\nRUN apt-get update && apt-get install -y gcc && rm -rf /var/lib/apt/lists/*\r\n"
            "WORKDIR /app\r\nCOPY requirements.txt .\r\nRUN pip install -r requirements.txt\r\nCOPY . .\r\n"
            "CMD [\"python\", \"app.py\"]\r\n")
    out = rewrite(text, path=str(tmp_path / "Dockerfile"), context_dir=tmp_path).text
    assert out != text and "# dockerslim:" in out
    assert out.count("\n") == out.count("\r\n")
