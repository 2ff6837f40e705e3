"""Lossless lexing: Dockerfile text → directives, trivia and instruction blocks.

Follows BuildKit's own line rules (moby/buildkit ``frontend/dockerfile/parser``): parser
directives only at the very top, continuation by the escape character at the end of a line,
comment and blank lines skipped inside a continuation, heredocs after RUN/COPY/ADD. Every
block keeps its exact source text so that an untouched instruction can be written back
byte for byte.

dockerfile-parse 2.0.1 cannot serve here: it returns heredoc bodies as instructions, drops a
RUN continued at end of file and splits continuations at blank lines (see ../shared/STYLE.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import DockerfileSyntaxError

DIRECTIVE_RE = re.compile(r"^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$")
KNOWN_DIRECTIVES = ("syntax", "escape", "check")
HEREDOC_WORD_RE = re.compile(r"^(\d*)<<(-?)([^<]*)$")
HEREDOC_NAME_RE = re.compile(r"^[^\s'\"]+$")
# BuildKit splits the keyword off at ASCII blanks only (Go's regexp \s): "FROM\u00a0alpine" is
# one unknown word there, so it must be one here too (Python's \S would split at U+00A0).
KEYWORD_RE = re.compile(r"([^ \t\r\n\f\v]*)[ \t]*(.*)", re.S)
HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})


@dataclass(frozen=True)
class RawDirective:
    name: str  # lower case
    value: str
    text: str  # the whole line as written, newline included
    line: int


@dataclass(frozen=True)
class RawTrivia:
    """A comment or blank line outside any instruction."""

    text: str
    line: int


@dataclass(frozen=True)
class RawHeredoc:
    name: str
    body: str  # every body line followed by "\n" (a CR before it kept), as BuildKit hands it on
    strip_tabs: bool  # <<-
    quoted: bool  # <<"EOF" / <<'EOF': no variable expansion in the body
    fd: int | None


@dataclass(frozen=True)
class RawInstruction:
    keyword: str  # as written
    rest: str  # the logical line after the keyword: continuations joined, inner comments gone
    heredocs: tuple[RawHeredoc, ...]
    text: str  # every byte of the block: continuations, inner comments, heredoc bodies
    line: int
    end_line: int


RawItem = RawDirective | RawTrivia | RawInstruction


def _content(line: str) -> str:
    """A physical line without its line ending (BuildKit drops a CR before LF)."""
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    return line


def _is_trivia(content: str) -> bool:
    stripped = content.lstrip(" \t")
    return stripped == "" or stripped.startswith("#")


def _split_lines(text: str) -> list[str]:
    """Physical lines with their endings; only LF ends a line, as for BuildKit's scanner."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def shell_words(line: str, escape: str = "\\") -> list[str]:
    """Split on unquoted blanks, keeping quotes and escapes in the words (BuildKit RawQuotes)."""
    words: list[str] = []
    cur: list[str] = []
    quote: str | None = None
    in_word = False
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            cur.append(ch)
            if ch == escape and quote == '"' and i + 1 < len(line):
                cur.append(line[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in " \t":
            if in_word:
                words.append("".join(cur))
                cur, in_word = [], False
        else:
            in_word = True
            cur.append(ch)
            if ch == escape and i + 1 < len(line):
                cur.append(line[i + 1])
                i += 1
            elif ch in "'\"":
                quote = ch
        i += 1
    if in_word:
        words.append("".join(cur))
    return words


def unquote_word(word: str, escape: str = "\\") -> str:
    """Remove shell quoting from one word (no variable expansion)."""
    out: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(word):
        ch = word[i]
        if quote == "'":
            if ch == "'":
                quote = None
            else:
                out.append(ch)
        elif ch == escape and i + 1 < len(word):
            out.append(word[i + 1])
            i += 1
        elif ch in "'\"":
            if quote == ch:
                quote = None
            elif quote is None:
                quote = ch
            else:
                out.append(ch)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def heredoc_markers(logical: str) -> list[tuple[str, bool, bool, int | None]]:
    """The heredocs a logical line opens: (name, strip_tabs, quoted, fd), in order."""
    if "<<" not in logical:  # words are runs of the line's own characters: no word can open one
        return []
    found = []
    for word in shell_words(logical):
        m = HEREDOC_WORD_RE.match(word)
        if not m or not m.group(3):
            continue
        rest = m.group(3)
        name = unquote_word(rest)
        if not name or not HEREDOC_NAME_RE.match(name):
            continue
        fd = int(m.group(1)) if m.group(1) else None
        found.append((name, m.group(2) == "-", any(q in rest for q in "'\""), fd))
    return found


def _continued(content: str, escape: str) -> tuple[str, bool]:
    """Strip a trailing escape character (and blanks after it): the line continues."""
    trimmed = content.rstrip(" \t")
    if trimmed.endswith(escape):
        return trimmed[: -len(escape)], True
    return content, False


def lex(text: str) -> list[RawItem]:
    """Cut ``text`` (BOM already removed) into directives, trivia and instruction blocks."""
    lines = _split_lines(text)
    items: list[RawItem] = []
    i = 0
    seen: set[str] = set()
    escape = "\\"
    while i < len(lines):
        m = DIRECTIVE_RE.match(_content(lines[i]))
        if not m or m.group(1).lower() not in KNOWN_DIRECTIVES:
            break
        name, value = m.group(1).lower(), m.group(2)
        if name in seen:
            raise DockerfileSyntaxError(f"only one {name} parser directive can be used", line=i + 1)
        seen.add(name)
        if name == "escape":
            if value not in ("\\", "`"):
                raise DockerfileSyntaxError(f"invalid escape token {value!r}: must be ` or \\", line=i + 1)
            escape = value
        items.append(RawDirective(name, value, lines[i], i + 1))
        i += 1

    while i < len(lines):
        content = _content(lines[i])
        if _is_trivia(content):
            items.append(RawTrivia(lines[i], i + 1))
            i += 1
            continue
        start = i
        body, more = _continued(content.lstrip(" \t"), escape)
        pieces = [body]
        i += 1
        while more and i < len(lines):
            content = _content(lines[i])
            i += 1
            if _is_trivia(content):
                continue
            body, more = _continued(content, escape)
            pieces.append(body)
        logical = "".join(pieces).strip(" \t")
        keyword, rest = KEYWORD_RE.match(logical).groups()  # type: ignore[union-attr]
        heredocs: list[RawHeredoc] = []
        if keyword.upper() in HEREDOC_KEYWORDS or (
            keyword.upper() == "ONBUILD" and rest.split(" ", 1)[0].upper() in HEREDOC_KEYWORDS
        ):
            for name, strip_tabs, quoted, fd in heredoc_markers(logical):
                body_lines: list[str] = []
                terminated = False
                while i < len(lines):
                    content = _content(lines[i])
                    i += 1
                    candidate = content.lstrip("\t") if strip_tabs else content
                    if candidate == name:
                        terminated = True
                        break
                    body_lines.append(lines[i - 1].removesuffix("\n") + "\n")
                if not terminated:
                    raise DockerfileSyntaxError(
                        f"unterminated heredoc <<{name} (no line {name!r} before the end of the file)",
                        line=start + 1,
                    )
                heredocs.append(RawHeredoc(name, "".join(body_lines), strip_tabs, quoted, fd))
        items.append(
            RawInstruction(
                keyword=keyword,
                rest=rest,
                heredocs=tuple(heredocs),
                text="".join(lines[start:i]),
                line=start + 1,
                end_line=i,
            )
        )
    return items


def escape_of(items: list[RawItem]) -> str:
    """The escape character the directives set (default backslash)."""
    for item in items:
        if isinstance(item, RawDirective) and item.name == "escape":
            return item.value
    return "\\"
