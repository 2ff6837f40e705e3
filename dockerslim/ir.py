"""The Dockerfile IR: typed, immutable nodes for every instruction of the Dockerfile reference.

Nodes are data only: ``parse.py`` builds them, passes return changed copies
(``dataclasses.replace``), ``emit.py`` writes them. Each parsed node keeps its exact source text
together with a fingerprint of its fields; the emitter writes that text back as long as the
fields still match, so an untouched instruction comes out byte for byte as written.

Values are kept as written (quotes included, variables unexpanded), the same way BuildKit's
parser hands them to its dispatcher; ``variables.py`` holds the helpers that interpret them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from functools import cache
from typing import ClassVar, TypeVar

Command = str | tuple[str, ...]  # shell form (str) or exec/JSON form (tuple)
Fingerprint = tuple[tuple[str, object], ...]  # (field name, value) for each compared field


@dataclass(frozen=True)
class Source:
    """Where a node came from, and the fingerprint that says whether it is still untouched."""

    text: str
    line: int
    end_line: int
    key: Fingerprint


@dataclass(frozen=True, kw_only=True)
class Flag:
    name: str  # without the leading "--"
    value: str | None = None  # None for a bare boolean flag (--link)
    raw: str | None = field(default=None, compare=False)  # as written, quotes included


@dataclass(frozen=True, kw_only=True)
class Heredoc:
    name: str
    body: str  # LF-terminated lines, tabs kept even for <<- (stripped at build time)
    strip_tabs: bool = False
    quoted: bool = False  # <<"EOF": the body is not expanded
    fd: int | None = None


@dataclass(frozen=True, kw_only=True)
class Directive:
    name: str  # syntax, escape, check
    value: str
    text: str | None = field(default=None, compare=False)


N = TypeVar("N", bound="Instruction")


@dataclass(frozen=True, kw_only=True)
class Instruction:
    """Base of all instructions. ``leading`` holds the comment/blank lines just above it."""

    keyword: ClassVar[str] = ""
    flags: tuple[Flag, ...] = ()
    leading: tuple[str, ...] = field(default=(), compare=False)
    source: Source | None = field(default=None, compare=False)

    def flag(self, name: str) -> str | None:
        """The value of the last ``--name`` flag ("" for a bare boolean flag), or None."""
        found = None
        for f in self.flags:
            if f.name == name:
                found = "" if f.value is None else f.value
        return found

    def flag_values(self, name: str) -> list[str]:
        """Every value of a repeatable flag (``--mount``, ``--exclude``)."""
        return [f.value or "" for f in self.flags if f.name == name]

    def with_flag(self: N, name: str, value: str | None) -> N:
        """A copy with ``--name`` set (replacing earlier values), or removed when value is None."""
        kept = tuple(f for f in self.flags if f.name != name)
        if value is not None:
            kept += (Flag(name=name, value=value),)
        return replace(self, flags=kept)

    @property
    def line(self) -> int | None:
        return self.source.line if self.source else None

    @property
    def untouched(self) -> bool:
        """True while the node still equals what was parsed (so its source text is valid)."""
        return self.source is not None and self.source.key == fingerprint(self)


def fingerprint(node: object) -> Fingerprint:
    """The compared fields of a dataclass node, as a hashable tuple."""
    cls: type = type(node)  # as plain ``type``: mypy reads ``type[object]`` as not Hashable
    return tuple((name, getattr(node, name)) for name in _compared(cls))


@cache
def _compared(cls: type) -> tuple[str, ...]:
    """Names of a node class's compared fields (asked for every ``untouched`` check)."""
    return tuple(f.name for f in fields(cls) if f.compare)


@dataclass(frozen=True, kw_only=True)
class From(Instruction):
    keyword: ClassVar[str] = "FROM"
    image: str  # as written: may hold ${VARS}
    name: str | None = None  # stage name after AS


@dataclass(frozen=True, kw_only=True)
class Run(Instruction):
    keyword: ClassVar[str] = "RUN"
    command: Command
    heredocs: tuple[Heredoc, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Copy(Instruction):
    keyword: ClassVar[str] = "COPY"
    paths: tuple[str, ...]  # sources..., destination
    json: bool = False
    heredocs: tuple[Heredoc, ...] = ()

    @property
    def sources(self) -> tuple[str, ...]:
        return self.paths[:-1]

    @property
    def dest(self) -> str:
        return self.paths[-1]


@dataclass(frozen=True, kw_only=True)
class Add(Copy):
    keyword: ClassVar[str] = "ADD"


@dataclass(frozen=True, kw_only=True)
class Env(Instruction):
    keyword: ClassVar[str] = "ENV"
    pairs: tuple[tuple[str, str], ...]  # values as written (quotes kept)
    legacy: bool = False  # ENV KEY value


@dataclass(frozen=True, kw_only=True)
class Arg(Instruction):
    keyword: ClassVar[str] = "ARG"
    pairs: tuple[tuple[str, str | None], ...]  # name, default as written (or None)


@dataclass(frozen=True, kw_only=True)
class Label(Instruction):
    keyword: ClassVar[str] = "LABEL"
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True, kw_only=True)
class Expose(Instruction):
    keyword: ClassVar[str] = "EXPOSE"
    ports: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Volume(Instruction):
    keyword: ClassVar[str] = "VOLUME"
    paths: tuple[str, ...]
    json: bool = False


@dataclass(frozen=True, kw_only=True)
class User(Instruction):
    keyword: ClassVar[str] = "USER"
    user: str


@dataclass(frozen=True, kw_only=True)
class Workdir(Instruction):
    keyword: ClassVar[str] = "WORKDIR"
    path: str


@dataclass(frozen=True, kw_only=True)
class Cmd(Instruction):
    keyword: ClassVar[str] = "CMD"
    command: Command


@dataclass(frozen=True, kw_only=True)
class Entrypoint(Instruction):
    keyword: ClassVar[str] = "ENTRYPOINT"
    command: Command


@dataclass(frozen=True, kw_only=True)
class Shell(Instruction):
    keyword: ClassVar[str] = "SHELL"
    command: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Healthcheck(Instruction):
    keyword: ClassVar[str] = "HEALTHCHECK"
    command: Command | None  # None: HEALTHCHECK NONE


@dataclass(frozen=True, kw_only=True)
class Stopsignal(Instruction):
    keyword: ClassVar[str] = "STOPSIGNAL"
    signal: str


@dataclass(frozen=True, kw_only=True)
class Maintainer(Instruction):
    keyword: ClassVar[str] = "MAINTAINER"
    name: str


@dataclass(frozen=True, kw_only=True)
class Onbuild(Instruction):
    keyword: ClassVar[str] = "ONBUILD"
    inner: Instruction


INSTRUCTION_TYPES: dict[str, type[Instruction]] = {
    cls.keyword: cls
    for cls in (From, Run, Copy, Add, Env, Arg, Label, Expose, Volume, User, Workdir, Cmd,
                Entrypoint, Shell, Healthcheck, Stopsignal, Maintainer, Onbuild)
}

# Instructions that shape the final image's config (what `verify` compares).
CONFIG_TYPES = (Env, Label, Expose, Volume, User, Workdir, Cmd, Entrypoint, Shell, Healthcheck, Stopsignal)


@dataclass(frozen=True, kw_only=True)
class Stage:
    from_: From
    body: tuple[Instruction, ...] = ()

    @property
    def name(self) -> str | None:
        return self.from_.name

    def __iter__(self) -> Iterator[Instruction]:
        yield self.from_
        yield from self.body


@dataclass(frozen=True, kw_only=True)
class Dockerfile:
    directives: tuple[Directive, ...] = ()
    preamble: tuple[Instruction, ...] = ()  # global ARGs before the first FROM
    stages: tuple[Stage, ...] = ()
    trailing: tuple[str, ...] = field(default=(), compare=False)  # trivia after the last instruction
    bom: bool = field(default=False, compare=False)
    newline: str = field(default="\n", compare=False)
    escape: str = "\\"

    def instructions(self) -> Iterator[Instruction]:
        """Every instruction in file order."""
        yield from self.preamble
        for stage in self.stages:
            yield from stage

    def directive(self, name: str) -> str | None:
        for d in self.directives:
            if d.name == name:
                return d.value
        return None

    def shipping_stages(self) -> set[int]:
        """Indexes of the stages whose layers reach the final image: the last stage and the
        stages it is built FROM (builder stages only feed COPY --from and never ship)."""
        out: set[int] = set()
        i: int | None = len(self.stages) - 1
        while i is not None and i not in out:
            out.add(i)
            parent = self.stage_named(self.stages[i].from_.image)
            i = self.stages.index(parent) if parent else None
        return out

    def stage_named(self, name: str) -> Stage | None:
        for stage in self.stages:
            if stage.name and stage.name.lower() == name.lower():
                return stage
        return None
