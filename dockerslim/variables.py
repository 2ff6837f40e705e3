"""Interpreting argument text the way the builder will: variable expansion and quote removal.

Docker substitutes ``$VAR``, ``${VAR}``, ``${VAR:-word}`` and ``${VAR:+word}`` (``\\$`` is a
literal dollar) in FROM, WORKDIR, COPY, ADD, ENV, USER, … from the ARG and ENV values in scope.
:func:`substitute` does exactly that and says when a value is not known; quote removal comes from
dockerfile-parse's ``WordSplitter`` (the lossless parsing itself is ours, see lexer.py).
"""

from __future__ import annotations

import re

from dockerfile_parse.util import WordSplitter

from . import ir

# the word of ``${X:-word}`` may itself hold references (``${BASE:-python:${PY}}``), one level deep
VARIABLE = re.compile(r"\\\$|\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
                      r"(?:(?P<op>:?[-+])(?P<word>(?:[^}$]|\$\{[^}]*\}|\$(?!\{))*))?\}"
                      r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*")  # a plain one, no operator


class Unresolved(ValueError):
    """A variable whose value the Dockerfile does not give (a build arg without default…)."""


def substitute(text: str, values: dict[str, str], strict: bool = True, open_env: bool = False) -> str:
    """``text`` with variables replaced as the builder does; quotes are kept. Raises Unresolved
    (strict) for a variable with no known value and no default, else uses "" as Docker does.
    ``open_env``: names not in ``values`` may still be set (by the base image's ENV, which the
    builder also substitutes from), so even ``${X:-default}`` of such a name is Unresolved."""

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "\\$":
            return "\\$"
        name = m.group("braced") or m.group("plain")
        op, word = m.group("op"), m.group("word") or ""
        value = values.get(name)
        if value is None and open_env and strict:
            raise Unresolved(name)
        if op in (":-", "-"):
            if value is None or (op == ":-" and value == ""):
                return substitute(word, values, strict, open_env)
            return value
        if op in (":+", "+"):
            if value is not None and (op == "+" or value != ""):
                return substitute(word, values, strict, open_env)
            return ""
        if value is None:
            if strict:
                raise Unresolved(name)
            return ""
        return value

    return VARIABLE.sub(one, text)


def expand(text: str, args: dict[str, str]) -> str:
    """``text`` with ``$VAR``/``${VAR}``/``${VAR:-default}`` replaced from ``args`` (unknown: left
    as written) and quotes removed."""
    try:
        return expand_strict(text, args)
    except Unresolved:
        return WordSplitter(text, args=args).dequote() if "${" not in text else text


def global_args(df: ir.Dockerfile) -> dict[str, str]:
    """Defaults of the ARGs declared before the first FROM (the only ones FROM can use)."""
    out: dict[str, str] = {}
    for node in df.preamble:
        if isinstance(node, ir.Arg):
            for name, default in node.pairs:
                if default is not None:
                    out[name] = expand(default, out)
    return out


def resolved_image(df: ir.Dockerfile, stage: ir.Stage) -> str:
    """A stage's base image with global ARG defaults substituted (unchanged when none apply)."""
    image = stage.from_.image
    return expand(image, global_args(df)) if "$" in image else image


class StageValues:
    """The ARG and ENV values in scope while walking a stage, as the builder resolves them:
    global ARGs are seen only where the stage declares them again (``ARG NAME``), a stage ARG
    without default takes the global one, an ENV always wins over an ARG of the same name, the
    pairs of one ENV or ARG all see the values from before it, and a name the Dockerfile never
    set may come from the base image's ENV (so it is not known, even with ``${X:-default}``)."""

    def __init__(self, df: ir.Dockerfile) -> None:
        self.globals = global_args(df)
        self.values: dict[str, str] = {}
        self.env: set[str] = set()  # names set by ENV: a later ARG of the same name does not change them

    def visit(self, node: ir.Instruction) -> None:
        if not isinstance(node, (ir.Arg, ir.Env)):
            return
        # a copy only when a later pair could see an earlier one's value (copying at every
        # instruction made a stage's walk quadratic in its ENVs)
        before = dict(self.values) if len(node.pairs) > 1 else self.values
        if isinstance(node, ir.Arg):
            for name, default in node.pairs:
                if name in self.env:
                    continue
                if default is not None:
                    self._set(name, default, before)
                elif name in self.globals:
                    self.values[name] = self.globals[name]
                else:
                    self.values.pop(name, None)  # only a --build-arg gives it a value
        elif isinstance(node, ir.Env):
            for name, value in node.pairs:
                self._set(name, value, before)
                self.env.add(name)

    def _set(self, name: str, raw: str, before: dict[str, str]) -> None:
        try:
            self.values[name] = expand_strict(raw, before, open_env=True)
        except Unresolved:
            self.values.pop(name, None)

    def resolve(self, text: str) -> str | None:
        """``text`` resolved and unquoted, or None when it names a value not known here."""
        if "$" not in text:
            return text
        try:
            return expand_strict(text, self.values, open_env=True)
        except Unresolved:
            return None


def expand_strict(text: str, values: dict[str, str], open_env: bool = False) -> str:
    """``text`` resolved (Unresolved for a value not known) and unquoted."""
    substituted = substitute(text, values, open_env=open_env)
    unquoted: str = WordSplitter(substituted.replace("$", "\\$").replace("\\\\$", "\\$"), args={}).dequote()
    return unquoted


def references(text: str, name: str) -> list[re.Match[str]]:
    """The places ``text`` names the variable ``name`` (``$NAME``, ``${NAME}``, ``${NAME:-x}``…)."""
    return [m for m in VARIABLE.finditer(text) if name in (m.group("braced"), m.group("plain"))]


def with_default(text: str, name: str, default: str) -> str:
    """``text`` with every plain ``$NAME``/``${NAME}`` written ``${NAME:-default}``: the value it
    had from ``ARG NAME=default`` once that ARG declares no default (a reference with an operator
    of its own is left as is; callers refuse such text)."""
    return VARIABLE.sub(lambda m: "${" + name + ":-" + default + "}"
                        if name in (m.group("braced"), m.group("plain")) and not m.group("op") else m.group(0), text)
