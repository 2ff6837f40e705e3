"""IR → text. Untouched instructions are written from their source text byte for byte; changed
and new ones are rendered in one canonical style through ``templates/instruction.j2``.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from . import ir, quoting
from .source import BOM
from .templating import render

_SAFE_WORD = re.compile(r"^[^\s\"'\\]*$")


def _flag(flag: ir.Flag) -> str:
    if flag.raw is not None:
        return flag.raw
    if flag.value is None:
        return f"--{flag.name}"
    value = flag.value if _SAFE_WORD.match(flag.value) else json.dumps(flag.value)
    return f"--{flag.name}={value}"


def _command(command: ir.Command) -> list[str]:
    """Shell form: a "\\n" in the command marks a preferred line break; exec form: JSON."""
    if isinstance(command, tuple):
        return [json.dumps(list(command))]
    return command.split("\n")


def _paths(paths: tuple[str, ...], as_json: bool) -> list[str]:
    """JSON form when asked, and whenever a path holds a blank: shell form would split it into
    several paths (a value is data, never syntax; see ``quoting.py``)."""
    if as_json or any(quoting.BLANK.search(p) for p in paths):
        return [json.dumps(list(paths), ensure_ascii=False)]
    return [" ".join(paths)]


def _pairs(pairs: tuple[tuple[str, str | None], ...]) -> list[str]:
    return [k if v is None else f"{k}={v}" for k, v in pairs]


def argument_lines(node: ir.Instruction) -> list[str]:
    """The argument text of a node in canonical style, one entry per output line."""
    match node:
        case ir.From(image=image, name=name):
            return [f"{image} AS {name}" if name else image]
        case ir.Run(command=command) | ir.Cmd(command=command) | ir.Entrypoint(command=command):
            return _command(command)
        case ir.Copy(paths=paths, json=as_json):
            return _paths(paths, as_json)
        case ir.Env(pairs=pairs, legacy=True):
            return [f"{pairs[0][0]} {pairs[0][1]}"]
        case ir.Env(pairs=pairs) | ir.Label(pairs=pairs):
            return _pairs(pairs) if len(pairs) > 2 else [" ".join(_pairs(pairs))]
        case ir.Arg(pairs=pairs):
            return [" ".join(_pairs(pairs))]
        case ir.Expose(ports=ports):
            return [" ".join(ports)]
        case ir.Volume(paths=paths, json=as_json):
            return _paths(paths, as_json)
        case ir.User(user=value) | ir.Workdir(path=value) | ir.Stopsignal(signal=value) | ir.Maintainer(name=value):
            return [value]
        case ir.Shell(command=command):
            return [json.dumps(list(command))]
        case ir.Healthcheck(command=None):
            return ["NONE"]
        case ir.Healthcheck(command=command):
            lines = _command(command)  # type: ignore[arg-type]
            return ["CMD " + lines[0], *lines[1:]]
        case ir.Onbuild(inner=inner):
            text = render_instruction(inner, "\\").rstrip("\n")
            return text.split("\n")
    raise TypeError(f"cannot render {type(node).__name__}")


def render_instruction(node: ir.Instruction, escape: str = "\\") -> str:
    """A node in canonical style, LF newlines, ending in a newline. The rendering depends on the
    node's compared fields and its flags as written (``Flag.raw`` is not compared), never its
    comments or source, so it is kept per node: a rewrite renders each changed instruction for
    the pass check and again for the output."""
    try:
        return _rendered(node, escape, _raw_flags(node))
    except TypeError:  # a field that cannot be hashed: render it each time
        return _render(node, escape)


# each flag as written, then the same for ONBUILD's inner instruction (or ())
_RawFlags = tuple[tuple[str | None, ...], tuple[object, ...]]


def _raw_flags(node: ir.Instruction) -> _RawFlags:
    inner = _raw_flags(node.inner) if isinstance(node, ir.Onbuild) else ()
    return (tuple(f.raw for f in node.flags), inner)


@lru_cache(maxsize=8192)
def _rendered(node: ir.Instruction, escape: str, raw_flags: _RawFlags) -> str:
    return _render(node, escape)


def _render(node: ir.Instruction, escape: str) -> str:
    heredocs = getattr(node, "heredocs", ())
    head = " ".join([node.keyword, *(_flag(f) for f in node.flags)])
    lines = argument_lines(node)
    rows = [f"{head} {lines[0]}" if lines and lines[0] else head] + [f"    {line}" for line in lines[1:]]
    width = max((len(r) for r in rows[:-1]), default=0)
    return render("instruction.j2", rows=rows, width=width, heredocs=heredocs, escape=escape)


def instruction_text(node: ir.Instruction, escape: str = "\\", newline: str = "\n") -> str:
    """The text one instruction contributes: its source if untouched, its lines as written
    behind new flags if only its flags changed (a RUN given ``--mount``), else the rendering."""
    if node.untouched:
        assert node.source is not None
        return node.source.text
    text = _with_new_flags(node, escape) or render_instruction(node, escape)
    return text.replace("\r\n", "\n").replace("\n", newline) if newline != "\n" else text


def emit(dockerfile: ir.Dockerfile) -> str:
    """The whole Dockerfile as text (with the BOM and newline style of the parsed input)."""
    nl = dockerfile.newline
    chunks: list[str] = []

    def add(text: str) -> None:
        if chunks and not chunks[-1].endswith("\n"):
            chunks.append(nl)  # a file that ended without a newline gets more after it
        chunks.append(text)

    for d in dockerfile.directives:
        add(d.text if d.text is not None else f"# {d.name}={d.value}{nl}")
    for node in dockerfile.instructions():
        for line in node.leading:
            add(_in_style(line, nl))
        add(instruction_text(node, dockerfile.escape, nl))
    for line in dockerfile.trailing:
        add(line)
    text = render("dockerfile.j2", chunks=chunks)
    return (BOM if dockerfile.bom else "") + text


def _with_new_flags(node: ir.Instruction, escape: str) -> str | None:
    """A RUN whose script a pass left as parsed (it only set a flag such as ``--mount``), or
    changed by one insertion (a package added to an install), keeps its argument lines as
    written: continuations, indentation and comment lines, which a rendering from the joined
    script would flatten into one line with runs of blanks."""
    if not isinstance(node, ir.Run) or node.source is None or node.heredocs or not isinstance(node.command, str):
        return None
    was = dict(node.source.key)
    old = was.get("command")
    if not isinstance(old, str) or was.get("heredocs"):
        return None
    gap = rf"(?:[ \t]|{re.escape(escape)}\r?\n)+"  # blanks, or a line continuation
    old_flags = was.get("flags")
    flags = len(old_flags) if isinstance(old_flags, tuple) else 0
    match = re.match(rf"[ \t]*run(?:{gap}--[^ \t\r\n]+){{{flags}}}{gap}", node.source.text, re.IGNORECASE)
    if match is None:
        return None
    rest: str | None = node.source.text[match.end():]
    if node.command != old and rest is not None:
        rest = _insert(rest, old, node.command, escape)
    if rest is None:
        return None
    head = " ".join([node.keyword, *(_flag(f) for f in node.flags)])
    return f"{head} {rest}" if rest.endswith("\n") else f"{head} {rest}\n"


def _insert(raw: str, old: str, new: str, escape: str) -> str | None:
    """``raw`` (argument lines as written, which join into ``old``) with the one insertion
    that turns ``old`` into ``new``; None when the change is not a single plain insertion or
    the raw lines do not join into ``old`` exactly (inner comment lines, say)."""
    cut = 0
    while cut < min(len(old), len(new)) and old[cut] == new[cut]:
        cut += 1
    added = len(new) - len(old)
    if added <= 0 or new[cut + added:] != old[cut:] or "\n" in new[cut:cut + added]:
        return None
    continuation = re.compile(rf"{re.escape(escape)}\r?\n")
    joined: list[str] = []
    at, length, mapped = 0, 0, None  # raw offset of logical offset ``cut``; length: of joined
    for m in continuation.finditer(raw):
        piece = raw[at:m.start()]
        if mapped is None and length + len(piece) >= cut:
            mapped = at + cut - length
        joined.append(piece)
        length += len(piece)
        at = m.end()
    tail = raw[at:]
    if mapped is None:
        mapped = at + cut - length
    if "".join([*joined, tail]).rstrip("\r\n").strip(" \t") != old:
        return None
    if mapped > len(raw.rstrip("\r\n")):
        return None
    return raw[:mapped] + new[cut:cut + added] + raw[mapped:]


def _in_style(line: str, newline: str) -> str:
    """A comment or blank line in the file's newline style: lines a pass adds end in "\n",
    which inside a CRLF file would mix line endings (parsed lines keep their own)."""
    if newline == "\n" or line.endswith("\r\n") or not line.endswith("\n"):
        return line
    return line[:-1] + newline
