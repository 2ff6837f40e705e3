"""The IR agrees with BuildKit's own parser (PyPI ``dockerfile``) on every fixture and on every
instruction dockerslim renders: command, flags, values, heredoc bodies and line spans."""

from __future__ import annotations

from pathlib import Path

import dockerfile as buildkit
import pytest

from dockerslim import ir, parse
from dockerslim.emit import render_instruction

from .conftest import dockerfiles, fixture_id, rewritten

ALL = dockerfiles()


def _values(node: ir.Instruction) -> tuple[bool, tuple[str, ...]]:
    """(json, values) the way BuildKit's parser reports them."""
    match node:
        case ir.From(image=image, name=name):
            return False, (image, "AS", name) if name else (image,)
        case ir.Run(command=c) | ir.Cmd(command=c) | ir.Entrypoint(command=c):
            return (True, c) if isinstance(c, tuple) else (False, (c,))
        case ir.Copy(paths=paths, json=j) | ir.Volume(paths=paths, json=j):
            return j, paths
        case ir.Env(pairs=pairs) | ir.Label(pairs=pairs):
            return False, tuple(x for pair in pairs for x in pair)
        case ir.Arg(pairs=pairs):
            return False, tuple(k if v is None else f"{k}={v}" for k, v in pairs)
        case ir.Expose(ports=ports):
            return False, ports
        case ir.User(user=v) | ir.Workdir(path=v) | ir.Stopsignal(signal=v) | ir.Maintainer(name=v):
            return False, (v,)
        case ir.Shell(command=c):
            return True, c
        case ir.Healthcheck(command=None):
            return False, ("NONE",)
        case ir.Healthcheck(command=c):
            return (True, ("CMD", *c)) if isinstance(c, tuple) else (False, ("CMD", c))
        case ir.Onbuild(inner=inner):
            return _values(inner)
    raise AssertionError(node)


def _flag(f: ir.Flag) -> str:
    return f"--{f.name}" if f.value is None else f"--{f.name}={f.value}"


def _project(node: ir.Instruction) -> tuple:
    json_form, values = _values(node)
    sub = node.inner.keyword if isinstance(node, ir.Onbuild) else None
    flags = node.flags if not isinstance(node, ir.Onbuild) else node.inner.flags
    heredocs = tuple((h.name, h.body) for h in getattr(node.inner if sub else node, "heredocs", ()))
    if node.keyword == "FROM" and len(values) == 3:
        values = values  # BuildKit keeps the AS keyword as written; compared case-insensitively
    return (node.keyword, sub, json_form, tuple(_flag(f) for f in flags), values, heredocs)


def _oracle(cmd: buildkit.Command) -> tuple:
    values = cmd.value
    if cmd.cmd.upper() == "FROM" and len(values) == 3:
        values = (values[0], values[1].upper(), values[2])
    heredocs = tuple((h.name, h.content) for h in cmd.heredocs)
    sub = cmd.sub_cmd.upper() if cmd.sub_cmd else None
    return (cmd.cmd.upper(), sub, cmd.json, tuple(cmd.flags), tuple(values), heredocs)


def _compare(text: str) -> None:
    ours = list(parse(text).instructions())
    theirs = buildkit.parse_string(text)
    assert [_project(n) for n in ours] == [_oracle(c) for c in theirs]


@pytest.mark.parametrize("path", ALL, ids=fixture_id)
def test_fixture_matches_buildkit(path: Path) -> None:
    text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    _compare(text)
    ours = list(parse(text).instructions())
    spans = [(n.source.line, n.source.end_line) for n in ours]  # type: ignore[union-attr]
    assert spans == [(c.start_line, c.end_line) for c in buildkit.parse_string(text)]


@pytest.mark.parametrize("path", ALL, ids=fixture_id)
def test_rendered_instructions_match_buildkit(path: Path) -> None:
    """Every instruction written in canonical style parses the same in BuildKit."""
    df = parse(path.read_bytes())
    header = f"# escape={df.escape}\n" if df.escape != "\\" else ""
    body = "".join(render_instruction(n, df.escape) for n in df.instructions())
    _compare(header + body)


@pytest.mark.parametrize("path", ALL, ids=fixture_id)
def test_emitted_rewrite_matches_buildkit(path: Path) -> None:
    _compare(rewritten(path).text.removeprefix("\ufeff"))
