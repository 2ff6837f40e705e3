"""Shell analysis of RUN commands with a real shell parser (bashlex), not string splitting.

A RUN becomes a list of simple commands (argv after quote removal, leading assignments) with
the working directory each one runs in, tracking ``cd``. Anything bashlex cannot parse
(arithmetic, ``[[ ]]``, ``case``) yields None, and callers treat the RUN as unknown: safe.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

import bashlex

from . import ir

SHELLS = {"sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/env bash", "dash"}


@dataclass(frozen=True)
class SimpleCommand:
    argv: tuple[str, ...]
    assignments: tuple[str, ...] = ()
    cwd: str | None = None  # None: after a cd dockerslim could not follow
    text: str = ""  # the command as written in the script
    words: tuple[tuple[int, int], ...] = ()  # span of each argv word in the script

    @property
    def program(self) -> str:
        return posixpath.basename(self.argv[0]) if self.argv else ""

    def args(self) -> list[str]:
        """Arguments that are not options."""
        return [a for a in self.argv[1:] if not a.startswith("-")]


def run_script(run: ir.Run) -> str | None:
    """The shell script a RUN executes, or None (exec form with another program, python <<EOF…)."""
    if isinstance(run.command, tuple):
        return None
    if run.heredocs:
        words = run.command.split()
        if len(words) == 1 and words[0].lstrip("0123456789").startswith("<<") and len(run.heredocs) == 1:
            return run.heredocs[0].body  # RUN <<EOF: the body is the script
        if len(words) == 2 and words[1] in SHELLS and len(run.heredocs) == 1:
            return run.heredocs[0].body  # RUN <<EOF bash
        return None
    return run.command.replace("\n", " ")  # "\n" in a shell-form command is only a line-break hint


def run_commands(run: ir.Run, cwd: str | None = "/") -> list[SimpleCommand] | None:
    """The simple commands of a RUN (exec form: its one argv), or None when unreadable."""
    if isinstance(run.command, tuple):
        return [SimpleCommand(run.command, (), cwd, " ".join(run.command))]
    script = run_script(run)
    return commands(script, cwd) if script is not None else None


def _walk(node: bashlex.ast.node, script: str, out: list[tuple[bashlex.ast.node, str]]) -> None:
    kind = node.kind
    if kind == "command":
        out.append((node, script[node.pos[0]:node.pos[1]]))
        return
    if kind in ("list", "pipeline", "compound"):
        for child in getattr(node, "parts", None) or getattr(node, "list", []):
            _walk(child, script, out)
        return
    if kind in ("if", "for", "while", "until", "function"):
        raise ValueError(kind)  # control flow: effects depend on run-time values


def commands(script: str, cwd: str | None = "/") -> list[SimpleCommand] | None:
    """The simple commands of ``script`` in order, or None when it cannot be analysed."""
    text = script.replace("\\\n", "  ")  # same length: word spans index the script
    try:
        trees = bashlex.parse(text)
        found: list[tuple[bashlex.ast.node, str]] = []
        for tree in trees:
            _walk(tree, text, found)
    except Exception:  # bashlex raises many types for what it does not support
        return None
    result: list[SimpleCommand] = []
    for node, raw in found:
        argv: list[str] = []
        assigns: list[str] = []
        spans: list[tuple[int, int]] = []
        for part in node.parts:
            if part.kind == "word":
                argv.append(part.word)
                spans.append((part.pos[0], part.pos[1]))
            elif part.kind == "assignment" and not argv:
                assigns.append(part.word)
            elif part.kind == "reservedword":
                continue
        if argv and argv[0] == "cd":
            target = argv[1] if len(argv) > 1 else None
            cwd = posixpath.normpath(posixpath.join(cwd, target)) if (cwd and target and "$" not in target) else None
        result.append(SimpleCommand(tuple(argv), tuple(assigns), cwd, raw, tuple(spans)))
    return result


def top_level_operators(script: str) -> list[str] | None:
    """The operators (``&&``, ``;``, ``||``, ``|``) joining the script's top-level commands."""
    try:
        trees = bashlex.parse(script.replace("\\\n", "  ").replace("\n", " "))
    except Exception:
        return None
    ops: list[str] = []
    for i, tree in enumerate(trees):
        if i:
            ops.append("\n")
        if tree.kind == "list":
            ops += [p.op for p in tree.parts if p.kind == "operator"]
        elif tree.kind == "pipeline":
            ops.append("|")
    return ops


def chain(parts: list[str]) -> str:
    """Commands joined with ``&&``; long chains get one command per line (emit turns "\n"
    into an escaped line break)."""
    one_line = " && ".join(parts)
    if len(one_line) <= 80 or len(parts) == 1:
        return one_line
    return "\n&& ".join(parts)


def and_segments(script: str) -> list[str] | None:
    """Top-level ``&&``-joined commands as written, or None when other operators join them."""
    ops = top_level_operators(script)
    if ops is None or any(op != "&&" for op in ops):
        return None
    try:
        tree = bashlex.parse(script)[0]
    except Exception:
        return None
    if tree.kind != "list":
        return [script.strip()]
    return [script[p.pos[0]:p.pos[1]].strip() for p in tree.parts if p.kind != "operator"]


def remove_words(script: str, spans: list[tuple[int, int]]) -> str:
    """``script`` without the words at ``spans`` (from SimpleCommand.words), blanks tidied."""
    for start, end in sorted(spans, reverse=True):
        script = script[:start].rstrip(" ") + " " + script[end:].lstrip(" ")
    return script.strip()
