"""Shell analysis of RUN commands with a real shell grammar (tree-sitter-bash), not string splitting.

A RUN becomes a list of simple commands (argv after quote removal, leading assignments) with
the working directory each one runs in, tracking ``cd`` (a ``cd`` inside ``( … )`` ends with
the subshell). Anything the analysis cannot follow exactly — control flow (``if``, ``for``,
``while``, ``case``, functions), ``[[ ]]``, parse errors, a word joined across a line
continuation, a carriage return, ``$'\\u…'`` escapes — yields None, and callers treat the RUN
as unknown: safe.

Each script text is parsed once per rewrite (``_analyse`` is memoised for the whole rewrite,
``pass_context.rewrite_scope``, and returns immutable data), however many passes ask about it.
Comments are dropped exactly where the shell drops them: a ``#`` that starts
a word begins a comment to the end of the line; ``a#b`` is a word.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from functools import cached_property

import tree_sitter_bash
from tree_sitter import Language, Node, Parser, Tree

from . import ir
from .pass_context import memo

SHELLS = {"sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/env bash", "dash"}

_PARSER = Parser(Language(tree_sitter_bash.language()))

# Node kinds whose text a shell keeps as written in our argv (expanded only at run time).
_EXPANSIONS = {"simple_expansion", "expansion", "command_substitution", "arithmetic_expansion",
               "process_substitution"}
_REDIRECTS = {"file_redirect", "heredoc_redirect", "herestring_redirect"}
# Node kinds inside which a backslash-newline is text, not a line continuation.
_LITERAL = {"raw_string", "ansi_c_string", "heredoc_body", "comment"}
_OPERATOR_CHARS = set(";&|()<> \t\n")


@dataclass(frozen=True)
class SimpleCommand:
    argv: tuple[str, ...]
    assignments: tuple[str, ...] = ()
    cwd: str | None = None  # None: after a cd dockerslim could not follow
    text: str = ""  # the command as written in the script (redirections included)
    words: tuple[tuple[int, int], ...] = ()  # span of each argv word in the script

    @cached_property
    def program(self) -> str:  # asked for very often: computed once per command
        return self.argv[0].rpartition("/")[2] if self.argv else ""

    def args(self) -> list[str]:
        """Arguments that are not options."""
        return [a for a in self.argv[1:] if not a.startswith("-")]


class _Unsupported(Exception):
    """A construct whose effect the analysis cannot state exactly."""


# A subshell boundary in the recorded command stream: cwd changes inside do not leak out.
_ENTER, _LEAVE = "(", ")"


@dataclass(frozen=True)
class _Analysis:
    """Everything callers ask about one script, computed from one parse."""

    events: tuple[SimpleCommand | str, ...] | None  # commands (cwd unset) and subshell marks
    operators: tuple[str, ...] | None  # None: the script does not parse
    segments: tuple[str, ...] | None  # top-level &&-joined pipelines as written
    comment: bool
    spans: tuple[tuple[int, int], ...] | None = None  # where each segment is in the script (str offsets)


def _tree(script: str) -> Tree:
    return _PARSER.parse(script.encode("utf-8"))


@memo(maxsize=1 << 16)
def _analyse(script: str) -> _Analysis:
    tree = _tree(script)
    src = script.encode("utf-8")
    root = tree.root_node
    text = _Text(script, src)
    comment = "#" in script and _has_comment_node(root)
    # tree-sitter-bash reads CR as a blank (sh keeps it in the word) and drops escaped blanks
    # an escaped blank right before a line continuation joins the next line into the word
    # (``ab\\ \\<newline>cd`` is one word for sh; tree-sitter-bash reads two): unreadable
    if root.has_error or "\r" in script or (b"\\" in src and (
            b"\\ \\\n" in src or b"\\\t\\\n" in src or _dropped_text(root, src))):
        return _Analysis(None, None, None, comment or "#" in script)  # unreadable: assume the worst
    try:
        pipelines, joins = _sequence(root)
    except _Unsupported:
        return _Analysis(None, None, None, comment or "#" in script)
    operators = joins + ["|" for p in pipelines if len(p.units) > 1 or p.negated]
    segments: tuple[str, ...] | None = None
    spans: tuple[tuple[int, int], ...] | None = None
    if not comment and all(op == "&&" for op in joins):
        segments = tuple(src[p.start:p.units[-1].end].decode("utf-8") for p in pipelines)
        spans = tuple((text.index(p.start), text.index(p.units[-1].end)) for p in pipelines)
    try:
        _check_continuations(root, src)
        per_pipeline: list[list[SimpleCommand | str]] = []
        for pipeline in pipelines:
            per_pipeline.append([])
            _commands_of([pipeline], text, per_pipeline[-1])
        found: tuple[SimpleCommand | str, ...] | None = tuple(e for events in per_pipeline for e in events)
    except (_Unsupported, RecursionError):  # RecursionError: subshells nested hundreds deep
        found = None
    if found is not None and segments is not None and spans is not None and len(pipelines) > 1 and b"\\" not in src:
        _seed_segments(pipelines, per_pipeline, segments, spans)
    return _Analysis(found, tuple(operators), segments, comment, spans)


# A segment of plain words, the first not an assignment (``apt-get install -y curl``,
# ``rm -rf /var/lib/apt/lists/*``): parsed alone exactly as inside the script.
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_./:=+,@%*~^-]+(?: [A-Za-z0-9_./:=+,@%*~^-]+)*")


def _seed_segments(pipelines: list[_Pipeline], per_pipeline: list[list[SimpleCommand | str]],
                   segments: tuple[str, ...], spans: tuple[tuple[int, int], ...]) -> None:
    """Each top-level segment's own analysis, read off the script's (commands of one segment
    are asked for by the install consolidation): a segment is a complete pipeline that passed
    every check as part of the script; one of plain words parsed alone finds the same (not so
    for redirections, quotes or escapes, where tree-sitter-bash reads a slice in another way).
    Kept for the current rewrite only (``Memo.seed``)."""
    for pipeline, events, segment, (start, end) in zip(pipelines, per_pipeline, segments, spans, strict=True):
        if not _PLAIN_SEGMENT.fullmatch(segment) or "=" in segment.partition(" ")[0]:
            continue  # only plain words: where tree-sitter-bash cannot read the part alone otherwise
        shifted = tuple(e if isinstance(e, str) else SimpleCommand(
            e.argv, e.assignments, None, e.text, tuple((a - start, b - start) for a, b in e.words)) for e in events)
        pipes = ("|",) if len(pipeline.units) > 1 or pipeline.negated else ()
        _analyse.seed((segment,), _Analysis(shifted, pipes, (segment,), False, ((0, end - start),)))


class _Text:
    """Source text of nodes, with byte offsets (tree-sitter) turned into str offsets."""

    def __init__(self, script: str, src: bytes) -> None:
        self.script = script
        self.src = src
        self._chars: list[int] | None = None
        if not script.isascii():
            chars = [0] * (len(src) + 1)
            pos = 0
            for i, ch in enumerate(script):
                pos += len(ch.encode("utf-8"))
                chars[pos] = i + 1
            self._chars = chars

    def index(self, byte: int) -> int:
        return byte if self._chars is None else self._chars[byte]

    def span(self, node: Node) -> tuple[int, int]:
        if self._chars is None:
            return node.start_byte, node.end_byte
        return self._chars[node.start_byte], self._chars[node.end_byte]

    def of(self, node: Node) -> str:
        return self.src[node.start_byte:node.end_byte].decode("utf-8")


def _has_comment_node(root: Node) -> bool:
    cursor = root.walk()
    while True:
        if cursor.node.type == "comment":  # type: ignore[union-attr]
            return True
        if cursor.goto_first_child() or cursor.goto_next_sibling():
            continue
        while True:
            if not cursor.goto_parent():
                return False
            if cursor.goto_next_sibling():
                break


_BLANKS = re.compile(rb"(?:[ \t\n]|\\\n)*")
_TEXT_NODES = {"string", "raw_string", "ansi_c_string", "translated_string", "heredoc_body", "comment", "word",
               "regex", "extglob_pattern"}


def _dropped_text(root: Node, src: bytes) -> bool:
    """Whether tree-sitter-bash skipped over text the shell reads as a word: it takes an escaped
    blank (``a \\  b``, ``x=\\  y``) for a blank, silently losing the word " ". Between the
    children of every node there may only be blanks and line continuations."""
    todo = [root]
    while todo:
        node = todo.pop()
        if node.type in _TEXT_NODES:
            continue
        end = node.start_byte
        for child in node.children:
            if child.start_byte > end and not _BLANKS.fullmatch(src, end, child.start_byte):
                return True
            end = max(end, child.end_byte)
            todo.append(child)
        if node.children and not _BLANKS.fullmatch(src, end, max(end, node.end_byte)):
            return True
    return False


_STRUCTURE = {"program", "list", "pipeline", "redirected_statement", "negated_command"}
_JOINS = {"&&", "||", ";", "&"}
_PIPES = {"|", "|&"}
_BRACKETS = {"(", ")", "{", "}"}


@dataclass
class _Unit:
    """One command of a pipeline (a simple command, a subshell, a group…) with the
    redirections written after it."""

    node: Node
    end: int  # byte offset just past its last redirection
    redirects: list[Node]


@dataclass
class _Pipeline:
    start: int  # byte offset of its first unit, or of its "!"
    units: list[_Unit]
    negated: bool


def _sequence(container: Node) -> tuple[list[_Pipeline], list[str]]:
    """The pipelines directly inside ``container`` (the script, a subshell, a group) and the
    operators joining them (``\\n`` for a line break), read from the tokens in order.

    tree-sitter-bash attaches a redirection after a list to the whole list (``a && b > f`` as
    ``(a && b) > f``, ``a && b 2>&1 | c`` as ``(a && b) | c``); the shell gives it to the command
    before it and binds ``|`` tighter than ``&&``. So the tree's shape is not used, only its
    tokens: commands, redirections and operators, in the order they are written."""
    items: list[Node] = []
    stack = [c for c in reversed(container.children) if c.type not in _BRACKETS or container.type == "program"]
    while stack:
        node = stack.pop()
        if node.type in _STRUCTURE:
            stack.extend(reversed(node.children))
        elif node.type != "comment":
            items.append(node)
    pipelines: list[_Pipeline] = []
    joins: list[str] = []
    current: _Pipeline | None = None
    after_pipe = False
    bang: int | None = None
    for node in items:
        kind = node.type
        if kind in _REDIRECTS:
            if current is None or after_pipe:
                raise _Unsupported("redirection before its command")
            _check_redirect(node)
            unit = current.units[-1]
            unit.redirects.append(node)
            unit.end = max(unit.end, node.end_byte)
        elif kind in _PIPES:
            if current is None or after_pipe:
                raise _Unsupported(kind)
            after_pipe = True
        elif kind in _JOINS:
            if current is None:
                raise _Unsupported(kind)
            joins.append(kind)
            current = None
        elif kind == "!":
            bang = node.start_byte
        elif node.is_named:
            unit = _Unit(node, node.end_byte, [])
            if current is not None and after_pipe:
                current.units.append(unit)
                after_pipe = False
                continue
            if current is not None:
                joins.append("\n")  # two commands with no operator between them: a line break
            current = _Pipeline(node.start_byte if bang is None else bang, [unit], bang is not None)
            pipelines.append(current)
            bang = None
        else:
            raise _Unsupported(f"token {kind!r}")  # ;; outside case, and anything new
    if after_pipe or bang is not None:
        raise _Unsupported("unfinished pipeline")
    return pipelines, joins


def _check_continuations(root: Node, src: bytes) -> None:
    """tree-sitter-bash reads ``ab\\<newline>cd`` as two words; the shell joins them into one."""
    for match in re.finditer(rb"\\\n", src):
        i = match.start()
        before = src[i - 1:i].decode("latin-1")
        after = src[i + 2:i + 3].decode("latin-1")
        if not before or not after or before in _OPERATOR_CHARS or after in _OPERATOR_CHARS:
            continue
        node: Node | None = root.descendant_for_byte_range(i, i + 2)
        while node is not None and node.type not in _LITERAL and node.type != "string":
            node = node.parent
        if node is None:
            raise _Unsupported("word joined across a line continuation")


def _commands_of(pipelines: list[_Pipeline], text: _Text, out: list[SimpleCommand | str]) -> None:
    for pipeline in pipelines:
        for unit in pipeline.units:
            node, kind = unit.node, unit.node.type
            if kind == "command":
                out.append(_simple(node, text, unit))
            elif kind in ("subshell", "compound_statement"):
                inner, _ = _sequence(node)
                if kind == "subshell":
                    out.append(_ENTER)
                _commands_of(inner, text, out)
                if kind == "subshell":
                    out.append(_LEAVE)
            elif kind in ("variable_assignment", "variable_assignments"):
                assigns = [node] if kind == "variable_assignment" else node.named_children
                pairs = tuple(_assignment(a, text) for a in assigns)
                out.append(SimpleCommand((), pairs, None, _command_text(unit, text)))
            elif kind in ("declaration_command", "unset_command"):
                out.append(_declaration(node, text, unit))
            elif kind == "test_command":
                out.append(_test(node, text, unit))
            else:
                raise _Unsupported(kind)  # if/for/while/case/function, [[ ]], and anything new


def _check_redirect(node: Node) -> None:
    """Redirections that hide words or commands from the analysis: ``> f b`` (tree-sitter-bash
    takes ``b`` as part of the redirection; the shell passes it to the command) and
    ``<<EOF | sh`` (a pipeline inside the here-document redirection)."""
    targets = [c for c in node.named_children if c.type not in ("file_descriptor", "heredoc_start",
                                                                "heredoc_body", "heredoc_end")]
    if node.type == "heredoc_redirect":
        if targets and any(c.type != "file_redirect" for c in targets):
            raise _Unsupported("command inside a here-document redirection")
        for c in targets:
            _check_redirect(c)
    elif len(targets) > 1:
        raise _Unsupported("words after a redirection target")


def _simple(node: Node, text: _Text, unit: _Unit) -> SimpleCommand:
    argv: list[str] = []
    spans: list[tuple[int, int]] = []
    assigns: list[str] = []
    word_end = -1
    for child in node.children:
        kind = child.type
        if kind in _WORDS or kind == "command_name":
            if child.start_byte == word_end:  # ``'q r'\#``: one word to the shell, two here
                raise _Unsupported("adjacent words")
            word_end = child.end_byte
        if kind == "variable_assignment" and not argv:
            assigns.append(_assignment(child, text))
        elif kind == "command_name":
            if len(child.named_children) != 1:
                raise _Unsupported("command name")
            argv.append(_word(child.named_children[0], text))
            spans.append(text.span(child))
        elif kind in _REDIRECTS:
            _check_redirect(child)
        elif kind == "comment":
            continue
        elif child.is_named:
            argv.append(_word(child, text))
            spans.append(text.span(child))
        else:
            raise _Unsupported(f"token {kind!r} in a command")  # $"…" and the like
    return SimpleCommand(tuple(argv), tuple(assigns), None, _command_text(unit, text), tuple(spans))


def _command_text(unit: _Unit, text: _Text) -> str:
    """The command as written with its redirections, line continuations blanked (same length)
    outside quotes."""
    start, end = unit.node.start_byte, unit.end
    raw = text.src[start:end]
    if b"\\\n" not in raw:
        return raw.decode("utf-8")
    keep = [(n.start_byte, n.end_byte) for n in _descendants([unit.node, *unit.redirects]) if n.type in _LITERAL]
    out = bytearray(raw)
    for match in re.finditer(rb"\\\n", raw):
        if not any(a <= start + match.start() < b for a, b in keep):
            out[match.start():match.end()] = b"  "
    return out.decode("utf-8")


def _descendants(nodes: list[Node]) -> list[Node]:
    out: list[Node] = []
    stack = list(nodes)
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.children)
    return out


def _assignment(node: Node, text: _Text) -> str:
    """``NAME=value`` with quotes removed from the value."""
    value = node.child_by_field_name("value")
    if value is None:
        return text.of(node)
    head = text.src[node.start_byte:value.start_byte].decode("utf-8")
    if value.type == "array":
        return head + text.of(value)
    return head + _word(value, text)


def _declaration(node: Node, text: _Text, unit: _Unit) -> SimpleCommand:
    """``export A=1 B``: argv as the shell's builtin sees it."""
    keyword = node.children[0]
    argv = [text.of(keyword)]
    spans = [text.span(keyword)]
    for child in node.children[1:]:
        if child.type == "variable_assignment":
            argv.append(_assignment(child, text))
        elif child.type == "variable_name" or child.is_named:
            argv.append(_word(child, text) if child.type != "variable_name" else text.of(child))
        else:
            raise _Unsupported(f"token {child.type!r} in {argv[0]}")
        spans.append(text.span(child))
    return SimpleCommand(tuple(argv), (), None, _command_text(unit, text), tuple(spans))


def _test(node: Node, text: _Text, unit: _Unit) -> SimpleCommand:
    """``[ -f x ]`` is the command ``[`` with its words; ``[[ ]]`` is bash syntax we leave alone."""
    if not node.children or node.children[0].type != "[":
        raise _Unsupported("[[ ]]")
    argv: list[str] = []
    spans: list[tuple[int, int]] = []

    def tokens(n: Node) -> None:
        if n.type in _WORDS:
            argv.append(_word(n, text))
            spans.append(text.span(n))
        elif n.child_count == 0:
            argv.append(text.of(n))
            spans.append(text.span(n))
        elif n.type in ("unary_expression", "binary_expression", "parenthesized_expression"):
            for c in n.children:
                tokens(c)
        else:
            raise _Unsupported(n.type)

    for child in node.children:
        tokens(child)
    return SimpleCommand(tuple(argv), (), None, _command_text(unit, text), tuple(spans))


_WORDS = {"word", "number", "string", "raw_string", "ansi_c_string", "concatenation", "test_operator",
          "variable_name"} | _EXPANSIONS


def _word(node: Node, text: _Text) -> str:
    """A word after quote removal; expansions (``$VAR``, ``$(…)``) stay as written."""
    kind = node.type
    raw = text.of(node)
    if kind in ("word", "number", "test_operator", "variable_name"):
        return _unescape(raw)
    if kind == "raw_string":
        if "'" in raw[1:-1]:
            raise _Unsupported("quote inside '…'")  # never a raw string to the shell
        return raw[1:-1]
    if kind == "string":
        return _double_quoted(node, text)
    if kind == "ansi_c_string":
        return _ansi_c(raw[2:-1])
    if kind in _EXPANSIONS:
        return raw
    if kind == "concatenation":
        parts = []
        end = node.start_byte
        for child in node.children:
            if child.start_byte != end or not child.is_named:
                raise _Unsupported("concatenation")
            parts.append(_word(child, text))
            end = child.end_byte
        return "".join(parts)
    raise _Unsupported(kind)


_PLAIN_ESCAPE = re.compile(r"\\(\n|.)", re.S)
_DQ_ESCAPE = re.compile(r'\\([$`"\\\n])')


def _unescape(raw: str) -> str:
    """Unquoted text: a backslash quotes the next character; backslash-newline disappears."""
    if "\\" not in raw:  # most words: nothing to remove
        return raw
    return _PLAIN_ESCAPE.sub(lambda m: "" if m.group(1) == "\n" else m.group(1), raw)


def _double_quoted(node: Node, text: _Text) -> str:
    """Inside "…": expansions as written, backslash quotes only ``$ ` " \\`` and newline."""
    out = []
    pos = node.start_byte + 1
    end = node.end_byte - 1
    for child in node.named_children:
        if child.type in _EXPANSIONS:
            out.append(_DQ_ESCAPE.sub(_dq_sub, text.src[pos:child.start_byte].decode("utf-8")))
            out.append(text.of(child))
            pos = child.end_byte
        elif child.type != "string_content":
            raise _Unsupported(f"{child.type} in a double-quoted string")
    out.append(_DQ_ESCAPE.sub(_dq_sub, text.src[pos:end].decode("utf-8")))
    return "".join(out)


def _dq_sub(match: re.Match[str]) -> str:
    return "" if match.group(1) == "\n" else match.group(1)


_ANSI = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
         "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}
_ANSI_BODY = re.compile(r"(?:[^'\\]|\\.)*", re.S)
_ANSI_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|.)", re.S)


def _ansi_c(body: str) -> str:
    """``$'…'`` decoded as bash does; escapes we do not model (``\\u``, ``\\c``) are unsupported."""

    if not _ANSI_BODY.fullmatch(body):  # tree-sitter-bash ends $'\\'' one quote late
        raise _Unsupported("$'…' boundaries")

    def sub(match: re.Match[str]) -> str:
        esc = match.group(1)
        if esc in _ANSI:
            return _ANSI[esc]
        if esc[0] == "x" and len(esc) > 1:
            return chr(int(esc[1:], 16))
        if esc[0] in "01234567":
            return chr(int(esc, 8) & 0xFF)
        raise _Unsupported(f"$'\\{esc}'")

    return _ANSI_ESCAPE.sub(sub, body)


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
        argv = run.command
        if len(argv) == 3 and argv[0].rpartition("/")[2] in SHELLS and argv[1] == "-c":
            return commands(argv[2], cwd)  # RUN ["/bin/bash", "-c", "…"]: the script it runs
        return [SimpleCommand(run.command, (), cwd, " ".join(run.command))]
    script = run_script(run)
    return commands(script, cwd) if script is not None else None


def commands(script: str, cwd: str | None = "/") -> list[SimpleCommand] | None:
    """The simple commands of ``script`` in order, or None when it cannot be analysed."""
    found = _commands_from(script, cwd)
    return None if found is None else list(found)


@memo(maxsize=1 << 16)
def _commands_from(script: str, cwd: str | None) -> tuple[SimpleCommand, ...] | None:
    events = _analyse(script).events
    if events is None:
        return None
    result: list[SimpleCommand] = []
    saved: list[str | None] = []
    for event in events:
        if event == _ENTER:
            saved.append(cwd)
            continue
        if event == _LEAVE:
            cwd = saved.pop()
            continue
        assert isinstance(event, SimpleCommand)
        cwd = _cd(event, cwd)
        result.append(SimpleCommand(event.argv, event.assignments, cwd, event.text, event.words))
    return tuple(result)


def _cd(cmd: SimpleCommand, cwd: str | None) -> str | None:
    """The working directory after ``cmd``; None once it cannot be known."""
    if cmd.argv[:1] in (("pushd",), ("popd",)):
        return None
    if cmd.argv[:1] != ("cd",):
        return cwd
    target = cmd.argv[1] if len(cmd.argv) == 2 else None
    if cwd is None or target is None or "$" in target or "`" in target or target[:1] in ("-", "~"):
        return None
    return posixpath.normpath(posixpath.join(cwd, target))


def top_level_operators(script: str) -> list[str] | None:
    """The operators (``&&``, ``;``, ``||``, ``&``, ``\\n``; ``|`` for each pipeline) joining the
    script's top-level commands, or None when it does not parse."""
    ops = _analyse(script).operators
    return None if ops is None else list(ops)


def has_comment(script: str) -> bool:
    """Whether the shell would read part of ``script`` as a comment (True when unparseable and a
    ``#`` occurs: assume the worst)."""
    return _analyse(script).comment


def chain(parts: list[str]) -> str:
    """Commands joined with ``&&``; long chains get one command per line (emit turns "\n"
    into an escaped line break)."""
    one_line = " && ".join(parts)
    if len(one_line) <= 80 or len(parts) == 1:
        return one_line
    return "\n&& ".join(parts)


def and_segments(script: str) -> list[str] | None:
    """Top-level ``&&``-joined commands (or pipelines) as written, or None when other operators join them or
    the script holds a comment (joining anything after it would make that comment text)."""
    segments = _analyse(script).segments
    return None if segments is None else list(segments)


def and_segments_after(script: str, inserts: dict[int, str]) -> list[str] | None:
    """``and_segments`` of ``script`` with ``inserts`` (offset -> text) made, without parsing
    the new text, when the insertions cannot move a segment boundary: option words added
    after a word (``" --no-cache-dir"``), and ``"apt-get update && "`` added at the start of a
    segment (it becomes a segment of its own). None for anything else: parse the new text."""
    spans = _analyse(script).spans
    if spans is None:
        return None
    starts = {start for start, _ in spans}
    for offset, text in inserts.items():
        if "&&" in text:
            if offset not in starts or not text.endswith(" && ") or _analyse(text[:-4]).segments != (text[:-4],):
                return None
        elif not text.startswith(" ") or any(c in text for c in _OPERATOR_CHARS - {" "}) or "#" in text:
            return None
    out: list[str] = []
    used = 0
    for start, end in spans:
        if start in inserts and "&&" in inserts[start]:
            out.append(inserts[start][:-4])
            used += 1
        inside = sorted((o, t) for o, t in inserts.items() if start < o <= end)
        used += len(inside)
        if any(o < end and not script[o:o + 1].isspace() for o, _ in inside):
            return None  # not at the end of a word
        pieces, pos = [], start
        for offset, text in inside:
            pieces += [script[pos:offset], text]
            pos = offset
        out.append("".join(pieces) + script[pos:end])
    return out if used == len(inserts) else None  # one between segments: parse the new text


def remove_words(script: str, spans: list[tuple[int, int]]) -> str:
    """``script`` without the words at ``spans`` (from SimpleCommand.words), blanks tidied."""
    for start, end in sorted(spans, reverse=True):
        script = script[:start].rstrip(" ") + " " + script[end:].lstrip(" ")
    return script.strip()
