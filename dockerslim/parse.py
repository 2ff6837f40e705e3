"""Text → IR. Lexing (lines, continuations, heredocs) lives in ``lexer.py``; this module turns
each instruction block into its typed node and groups the nodes into stages.

Argument rules follow BuildKit's parser (``line_parsers.go``): JSON form when the text is a
valid JSON array of strings, else shell form; ENV/LABEL ``k=v`` words are quote-aware; COPY/ADD
paths are split on blanks; leading ``--flags`` are taken off every instruction and checked
against the flags that instruction accepts.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

from . import ir
from .changes import Note
from .errors import DockerfileSyntaxError
from .image import ImageRef, has_variables
from .lexer import RawDirective, RawHeredoc, RawInstruction, RawTrivia, escape_of, lex, shell_words, unquote_word
from .pass_context import memo
from .source import SourceText, decode, split_bom

# Flags each instruction accepts; True marks the repeatable ones.
ALLOWED_FLAGS: dict[str, dict[str, bool]] = {
    "FROM": {"platform": False},
    "RUN": {"mount": True, "network": False, "security": False, "device": True},
    "COPY": {"from": False, "chown": False, "chmod": False, "link": False, "parents": False, "exclude": True},
    "ADD": {"chown": False, "chmod": False, "link": False, "checksum": False, "keep-git-dir": False,
            "exclude": True, "unpack": False},
    "HEALTHCHECK": {"interval": False, "timeout": False, "start-period": False, "start-interval": False,
                    "retries": False},
}
NOT_IN_ONBUILD = {"ONBUILD", "FROM", "MAINTAINER"}
# What BuildKit checks beyond its parser (instructions/parse.go, dockerfile2llb), probed against
# dockerd's built-in BuildKit: values it rejects are rejected here with the line.
BLANKS_RE = re.compile(r"[ \t\v\f\r\n]+")  # BuildKit's word separators: ASCII blanks only
STAGE_NAME_RE = re.compile(r"^[a-z][a-z0-9-_.]*$")
DURATION_RE = re.compile(r"^[-+]?(?:0|(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)$")
DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3,
                  "s": 1.0, "m": 60.0, "h": 3600.0}
DURATION_FLAGS = ("interval", "timeout", "start-period", "start-interval")
PORT_PROTOCOLS = {"tcp", "udp", "sctp"}
LOOKS_JSON = ("RUN", "CMD", "ENTRYPOINT", "HEALTHCHECK", "COPY", "ADD", "VOLUME")
# An attempt at JSON form: `["` or `['` (a shell `[` test needs a blank after it), or a first
# quoted element followed by a comma. `[ "$x" = y ]` and `[ -f x ]` are shell tests, not attempts.
JSON_ATTEMPT_RE = re.compile(r"""^\[(?:["']|\s*(["'])[^"']*\1\s*,)""")


class _ArgError(ValueError):
    """An instruction's arguments are malformed; parse() adds file and line."""


def _split_flags(rest: str) -> tuple[list[ir.Flag], str]:
    """Take the leading ``--name[=value]`` words off an instruction's arguments. The line is
    split once (words keep their quotes, so each is a slice of it): linear in its length."""
    flags: list[ir.Flag] = []
    if not rest.startswith("--"):
        return flags, rest
    pos = 0
    for word in shell_words(rest):
        if not rest.startswith("--", pos) or word == "--":
            break
        name, eq, value = word[2:].partition("=")
        flags.append(ir.Flag(name=name, value=unquote_word(value) if eq else None, raw=word))
        pos += len(word)
        while pos < len(rest) and rest[pos] in " \t":
            pos += 1
    return flags, rest[pos:]


def _check_flags(keyword: str, flags: list[ir.Flag]) -> None:
    allowed = ALLOWED_FLAGS.get(keyword, {})
    seen: set[str] = set()
    for f in flags:
        if f.name not in allowed:
            hint = f" ({keyword} accepts: {', '.join('--' + n for n in allowed)})" if allowed else ""
            raise _ArgError(f"unknown flag --{f.name} for {keyword}{hint}")
        if f.name in seen and not allowed[f.name]:
            raise _ArgError(f"duplicate flag --{f.name} for {keyword}")
        seen.add(f.name)
        if f.name == "mount" and f.value is not None:
            _check_mount(f.value)


MOUNT_TYPES = {"bind", "cache", "tmpfs", "secret", "ssh"}


def parse_mount(value: str) -> dict[str, str]:
    """``type=cache,target=/x,sharing=locked`` → dict (type defaults to bind)."""
    out: dict[str, str] = {}
    for part in value.split(","):
        if not part:
            continue
        key, eq, val = part.partition("=")
        out[key.strip().lower()] = val if eq else "true"
    out.setdefault("type", "bind")
    return out


def _check_mount(value: str) -> None:
    kind = parse_mount(value)["type"]
    if kind not in MOUNT_TYPES:
        raise _ArgError(f"unsupported mount type {kind!r} (one of: {', '.join(sorted(MOUNT_TYPES))})")


def _maybe_json(rest: str) -> tuple[str, ...] | None:
    """The JSON exec form, when ``rest`` is a JSON array of strings (else shell form)."""
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _words(text: str) -> list[str]:
    """Words split at ASCII blanks, as BuildKit splits them (a U+00A0 stays inside its word)."""
    return [w for w in BLANKS_RE.split(text) if w]


def _first_word(text: str) -> tuple[str, str]:
    """The first word and the rest, split at the first ASCII blank (a tab counts, as in BuildKit)."""
    parts = BLANKS_RE.split(text, maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else ""


def _seconds(value: str) -> float:
    """A Go duration (``1h2m3.5s``) in seconds; DURATION_RE has checked the syntax."""
    sign = -1.0 if value.startswith("-") else 1.0
    total = 0.0
    for number, unit in re.findall(r"(\d*\.?\d*)([a-z\u00b5\u03bc]+)", value.lstrip("+-")):
        total += float(number) * DURATION_UNITS[unit]
    return sign * total


def _check_healthcheck(flags: list[ir.Flag]) -> None:
    """BuildKit: durations in Go syntax, 0 or at least 1ms; retries an integer, not negative.
    (BuildKit does not expand variables in these flags; values with ``$`` are left alone.)"""
    for f in flags:
        value = f.value or ""
        if not value or "$" in value:
            continue
        if f.name in DURATION_FLAGS:
            if not DURATION_RE.match(value):
                raise _ArgError(f"HEALTHCHECK --{f.name}={value}: not a duration (use a unit: 30s, 1m30s, 500ms)")
            seconds = _seconds(value)
            if seconds != 0 and seconds < 1e-3:
                raise _ArgError(f"HEALTHCHECK --{f.name}={value}: cannot be less than 1ms")
        elif f.name == "retries":
            if not re.fullmatch(r"[-+]?\d+", value):
                raise _ArgError(f"HEALTHCHECK --retries={value}: not an integer")
            if int(value) < 0:
                raise _ArgError(f"HEALTHCHECK --retries={value}: cannot be negative")


def _check_port(spec: str) -> None:
    """One EXPOSE value as Docker's nat.ParsePortSpec reads it: [ip:[hostport]:]port[-port][/proto]."""
    if "$" in spec:
        return  # expanded from ARG/ENV at build time
    port, _, proto = spec.rpartition("/") if "/" in spec else (spec, "", "")
    if "/" in spec and proto.lower() not in PORT_PROTOCOLS:
        raise _ArgError(f"EXPOSE {spec}: invalid protocol {proto!r} (one of: tcp, udp, sctp)")
    container = port.rsplit(":", 1)[-1]
    first, dash, last = container.partition("-")
    numbers = [first, last] if dash else [first]
    if not all(n.isascii() and n.isdigit() and int(n) <= 65535 for n in numbers) or (dash and int(first) > int(last)):
        raise _ArgError(f"EXPOSE {spec}: invalid port {container!r} (a number 0-65535 or a range like 8000-8010)")


def _command(rest: str) -> ir.Command:
    as_json = _maybe_json(rest)
    return as_json if as_json is not None else rest


def _pairs(keyword: str, rest: str) -> tuple[tuple[tuple[str, str], ...], bool]:
    """ENV/LABEL arguments: ``k=v k2="v 2"`` or the legacy ``KEY value with blanks``."""
    words = shell_words(rest)
    if not words:
        raise _ArgError(f"{keyword} requires at least one argument")
    if "=" not in words[0]:
        key, value = _first_word(rest)
        value = value.strip(" \t")
        if not value:
            raise _ArgError(f"{keyword} {key} needs a value (use {key}=value)")
        return ((key, value),), True
    pairs = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq:
            raise _ArgError(f"syntax error: can't find = in {word!r}; must be of the form name=value")
        if not key:
            raise _ArgError(f"{keyword} names can not be blank")
        pairs.append((key, value))
    return tuple(pairs), False


def _need(keyword: str, rest: str) -> str:
    if not rest:
        raise _ArgError(f"{keyword} requires at least one argument")
    return rest


def _heredocs(raw: tuple[RawHeredoc, ...]) -> tuple[ir.Heredoc, ...]:
    return tuple(
        ir.Heredoc(name=h.name, body=h.body, strip_tabs=h.strip_tabs, quoted=h.quoted, fd=h.fd)
        for h in raw
    )


def _build(keyword: str, flags: list[ir.Flag], rest: str, raw: tuple[RawHeredoc, ...]) -> ir.Instruction:
    """One instruction's typed node from its keyword, flags and argument text."""
    f = tuple(flags)
    if keyword == "FROM":
        words = _words(_need(keyword, rest))
        if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
            raise _ArgError("FROM takes an image and optionally 'AS name'")
        if len(words) == 3 and not STAGE_NAME_RE.match(words[2].lower()):
            raise _ArgError(f"invalid name for build stage: {words[2]!r}, "
                            "name can't start with a number or contain symbols")
        if not has_variables(words[0]):
            try:
                ImageRef.parse(words[0])
            except ValueError as exc:
                raise _ArgError(f"invalid image reference: {exc}") from None
        return ir.From(flags=f, image=words[0], name=words[2] if len(words) == 3 else None)
    if keyword == "RUN":
        return ir.Run(flags=f, command=_command(_need(keyword, rest)), heredocs=_heredocs(raw))
    if keyword in ("COPY", "ADD"):
        as_json = _maybe_json(rest)
        paths = as_json if as_json is not None else tuple(_words(rest))
        if len(paths) < 2:
            raise _ArgError(f"{keyword} requires at least two arguments: a source and a destination")
        cls = ir.Copy if keyword == "COPY" else ir.Add
        return cls(flags=f, paths=paths, json=as_json is not None, heredocs=_heredocs(raw))
    if keyword in ("ENV", "LABEL"):
        pairs, legacy = _pairs(keyword, rest)
        if keyword == "LABEL":
            if legacy:
                raise _ArgError("LABEL must be of the form key=value")
            return ir.Label(flags=f, pairs=pairs)
        return ir.Env(flags=f, pairs=pairs, legacy=legacy)
    if keyword == "ARG":
        words = shell_words(_need(keyword, rest))
        out = []
        for word in words:
            name, eq, default = word.partition("=")
            if not name:
                raise _ArgError("ARG names can not be blank")
            out.append((name, default if eq else None))
        return ir.Arg(flags=f, pairs=tuple(out))
    if keyword == "EXPOSE":
        ports = tuple(_words(_need(keyword, rest)))
        for spec in ports:
            _check_port(spec)
        return ir.Expose(flags=f, ports=ports)
    if keyword == "VOLUME":
        as_json = _maybe_json(_need(keyword, rest))
        return ir.Volume(flags=f, paths=as_json if as_json is not None else tuple(_words(rest)),
                         json=as_json is not None)
    if keyword in ("USER", "WORKDIR", "STOPSIGNAL", "MAINTAINER"):
        value = _need(keyword, rest)
        if keyword == "USER":
            return ir.User(flags=f, user=value)
        if keyword == "WORKDIR":
            return ir.Workdir(flags=f, path=value)
        if keyword == "STOPSIGNAL":
            return ir.Stopsignal(flags=f, signal=value)
        return ir.Maintainer(flags=f, name=value)
    if keyword in ("CMD", "ENTRYPOINT"):
        cls2 = ir.Cmd if keyword == "CMD" else ir.Entrypoint
        return cls2(flags=f, command=_command(_need(keyword, rest)))
    if keyword == "SHELL":
        as_json = _maybe_json(_need(keyword, rest))
        if as_json is None:
            raise _ArgError('SHELL requires the arguments to be in JSON form, e.g. SHELL ["/bin/bash", "-c"]')
        return ir.Shell(flags=f, command=as_json)
    if keyword == "HEALTHCHECK":
        head, tail = _first_word(_need(keyword, rest))
        if head.upper() == "NONE":
            if tail.strip() or flags:
                raise _ArgError("HEALTHCHECK NONE takes no other arguments")
            return ir.Healthcheck(flags=f, command=None)
        if head.upper() != "CMD" or not tail.strip():
            raise _ArgError("HEALTHCHECK takes NONE or CMD followed by a command")
        _check_healthcheck(flags)
        return ir.Healthcheck(flags=f, command=_command(tail.strip(" \t")))
    if keyword == "ONBUILD":
        inner_kw, inner_rest = _first_word(_need(keyword, rest))
        inner_kw = inner_kw.upper()
        if inner_kw in NOT_IN_ONBUILD:
            raise _ArgError(f"{inner_kw} isn't allowed as an ONBUILD trigger")
        return ir.Onbuild(flags=f, inner=_instruction(inner_kw, inner_rest.strip(" \t"), raw))
    raise _ArgError(f"unknown instruction: {keyword}")


def _instruction(keyword: str, rest: str, raw: tuple[RawHeredoc, ...]) -> ir.Instruction:
    if keyword not in ir.INSTRUCTION_TYPES:
        if keyword and any(c.isspace() for c in keyword):
            blank = next(c for c in keyword if c.isspace())
            raise _ArgError(f"unknown instruction: {keyword!r} (U+{ord(blank):04X} is not a blank to BuildKit; "
                            "separate the instruction from its arguments with a space or a tab)")
        raise _ArgError(f"unknown instruction: {keyword}" if keyword else "missing instruction")
    flags, rest = _split_flags(rest)
    _check_flags(keyword, flags)
    return _build(keyword, flags, rest, raw)


@memo(maxsize=32_768)
def _typed(keyword: str, rest: str, heredocs: tuple[RawHeredoc, ...]) -> tuple[ir.Instruction, ir.Fingerprint]:
    """The node (without leading comments and source) and its fingerprint for one instruction
    block. A rewrite parses the same instructions several times (its input, each pass's changes,
    its output), and nodes are frozen: each distinct block is built once per process."""
    node = _instruction(keyword, rest, heredocs)
    return node, ir.fingerprint(node)


def parse(text: str | bytes | SourceText, path: str | None = None) -> ir.Dockerfile:
    """Parse Dockerfile text (or bytes) into the IR; raises DockerfileSyntaxError."""
    if isinstance(text, bytes):
        src = decode(text, path)
    elif isinstance(text, str):
        src = split_bom(text)
    else:
        src = text
    try:
        return _parse(src)
    except DockerfileSyntaxError as exc:
        raise exc.with_path(path) from None


def parse_file(path: str | Path) -> ir.Dockerfile:
    """Read and parse a file: a missing, unreadable or non-regular file raises InputError, text
    that is not a Dockerfile DockerfileSyntaxError."""
    from .files import read_bytes

    return parse(read_bytes(str(path)), str(path))


def _parse(src: SourceText) -> ir.Dockerfile:
    items = lex(src.text)
    escape = escape_of(items)
    directives: list[ir.Directive] = []
    preamble: list[ir.Instruction] = []
    stages: list[ir.Stage] = []
    current: tuple[ir.From, list[ir.Instruction]] | None = None
    pending: list[str] = []
    stage_lines: dict[str, int] = {}  # stage name (lower case, as BuildKit compares) -> line
    for item in items:
        if isinstance(item, RawDirective):
            directives.append(ir.Directive(name=item.name, value=item.value, text=item.text))
            continue
        if isinstance(item, RawTrivia):
            pending.append(item.text)
            continue
        assert isinstance(item, RawInstruction)
        try:
            node, key = _typed(item.keyword.upper(), item.rest, item.heredocs)
        except _ArgError as exc:
            raise DockerfileSyntaxError(str(exc), line=item.line) from None
        node = _with_source(node, item, tuple(pending), key)
        pending = []
        if isinstance(node, ir.From):
            if node.name:
                first = stage_lines.setdefault(node.name.lower(), item.line)
                if first != item.line:
                    raise DockerfileSyntaxError(
                        f"duplicate stage name {node.name!r} (first at line {first}): a later FROM or COPY --from "
                        "could mean either stage; give each stage its own name", line=item.line)
            if current:
                stages.append(ir.Stage(from_=current[0], body=tuple(current[1])))
            current = (node, [])
        elif current:
            current[1].append(node)
        elif isinstance(node, ir.Arg):
            preamble.append(node)
        else:
            raise DockerfileSyntaxError(
                f"{node.keyword} before the first FROM: only ARG may come before FROM", line=item.line)
    if current:
        stages.append(ir.Stage(from_=current[0], body=tuple(current[1])))
    else:
        raise DockerfileSyntaxError("no FROM instruction: a Dockerfile needs at least one build stage", line=1)
    return ir.Dockerfile(
        directives=tuple(directives), preamble=tuple(preamble), stages=tuple(stages),
        trailing=tuple(pending), bom=src.bom, newline=src.newline, escape=escape,
    )


def warnings(dockerfile: ir.Dockerfile) -> list[Note]:
    """What BuildKit accepts but probably is not what the author meant, as warning notes with
    the line: an instruction that looks like JSON (exec) form but is not valid JSON runs as a
    shell command (``CMD ["python", "main.py"`` runs ``/bin/sh -c '["python", "main.py"'``)."""
    out: list[Note] = []
    nodes = [*dockerfile.preamble, *(n for stage in dockerfile.stages for n in (stage.from_, *stage.body))]
    for node in nodes:
        inner = node.inner if isinstance(node, ir.Onbuild) else node
        text = _json_candidate(inner)
        if text is not None and JSON_ATTEMPT_RE.match(text) and _maybe_json(text) is None:
            out.append(Note(rule="DS001", pass_name="parse", level="warning", line=node.line,
                            message=f"{inner.keyword} looks like JSON (exec) form but is not valid JSON, so BuildKit "
                                    f"runs it in shell form: {text.strip()[:60]} (check brackets, commas and "
                                    "double quotes)"))
    return out


def _json_candidate(node: ir.Instruction) -> str | None:
    """The argument text of an instruction that may be written in JSON form."""
    if node.keyword not in LOOKS_JSON:
        return None
    if isinstance(node, (ir.Run, ir.Cmd, ir.Entrypoint, ir.Healthcheck)):
        command = node.command
        return command if isinstance(command, str) else None
    if isinstance(node, (ir.Copy, ir.Add, ir.Volume)):
        return None if node.json else " ".join(node.paths)
    return None


def _with_source(node: ir.Instruction, raw: RawInstruction, leading: tuple[str, ...],
                 key: ir.Fingerprint) -> ir.Instruction:
    source = ir.Source(text=raw.text, line=raw.line, end_line=raw.end_line, key=key)
    return replace(node, leading=leading, source=source)
