"""Package installs that follow each other inside one RUN become one install (``merge-runs``
calls this on every RUN of a shipping stage once it has merged them).

``apt-get update && apt-get install -y a && rm -rf /var/lib/apt/lists/* && apt-get update &&
apt-get install -y b c a && rm -rf …`` becomes one refresh, one install of ``a b c`` (sorted,
deduplicated: one apt transaction does not depend on the order of its packages) and the cleanup
once at the end; the same for apk and dnf/yum/microdnf (``data/hygiene.toml``
``[[consolidate]]``). pip installs that follow each other become one resolver call
(``[pip_consolidate]``), their requirements kept in order.

Deliberately conservative — a window is only ever installs, refreshes and cleanups of one
manager with *nothing else between them*: a command between two installs may use a package the
first one installed, so it always separates them. Installs with other options are never made
one with each other (a run cut where the options change, each part alone). Left alone: options
that take a value (``-o``, ``-t``, ``--virtual``, ``--index-url``, ``-c constraints.txt``…),
package words that are not plain names or versions (``$PKGS``, globs), the same package asked
for in two versions, a refresh after the last install or a cleanup that is not repeated at the
end (the package lists would end in another state than before), an install after the lists
were removed without a refresh (it failed before; it must not start working silently), and a
pip install naming a build helper (``numpy``, ``cython``, ``setuptools``…) followed by another
install: a later sdist build may import it.
"""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from .. import ir
from ..catalog import load
from ..changes import Argv, Change, CommandEdit
from ..classify import as_installer
from ..guard import Facts, Policy, violation
from ..shell import SimpleCommand, and_segments, chain, commands, has_comment, run_commands, run_script

# A package word as apt, apk and dnf take it: a name, maybe an arch, release or version.
_PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._:~=<>/-]*$")
# A pip requirement as written on a command line: a name, extras, a version specifier.
_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-\[\],<>=!~*]*$")


@dataclass(frozen=True)
class _Segment:
    """One top-level ``&&`` part of a RUN: its text as written and, when it is one simple
    command, that command (word spans relative to ``text``)."""

    text: str
    cmd: SimpleCommand | None
    found: tuple[Argv, ...] | None = None  # every command of the segment (None: not analysable)

    def raw(self, index: int) -> str:
        """argv word ``index`` as written (quotes kept)."""
        assert self.cmd is not None
        start, end = self.cmd.words[index]
        return self.text[start:end]

    def through(self, index: int) -> str:
        """The text from the start through argv word ``index`` (assignments included)."""
        assert self.cmd is not None
        return self.text[: self.cmd.words[index][1]].strip()


@dataclass(frozen=True)
class _Install:
    key: tuple[Any, ...]  # what must agree for two installs to become one
    prefix: str  # text through the subcommand, as written
    options: tuple[str, ...]  # option words after the subcommand, as written
    items: tuple[tuple[Argv, str], ...]  # (value, text as written) of each package / requirement


_UNKNOWN: Any = object()


def _segments(run: ir.Run, known: list[str] | None = _UNKNOWN) -> list[_Segment] | None:
    """``known``: the RUN's ``and_segments`` when the caller has them (merge-runs, for the RUN it
    made of several: its text is not parsed again)."""
    if known is _UNKNOWN:
        script = run_script(run)
        if script is None or run.heredocs or has_comment(script):
            return None
        parts = and_segments(script)
    else:
        parts = known
    if parts is None:
        return None
    out = []
    for part in parts:
        found = commands(part)
        cmd = found[0] if found is not None and len(found) == 1 and found[0].argv and found[0].words else None
        argvs = None if found is None else tuple(c.assignments + c.argv for c in found)
        out.append(_Segment(part, cmd if cmd is not None and len(cmd.words) == len(cmd.argv) else None, argvs))
    return out


def _subcommand_index(cmd: SimpleCommand) -> int | None:
    return next((i for i, a in enumerate(cmd.argv[1:], 1) if not a.startswith("-")), None)


def _takes_value(option: str, value_options: list[str]) -> bool:
    return _takes_value_of(option, tuple(value_options))


@lru_cache(maxsize=4096)
def _takes_value_of(option: str, value_options: tuple[str, ...]) -> bool:
    """Asked for every option word of every install: few distinct answers, remembered."""
    return any(
        option == v or option.startswith(v + "=") or (len(v) == 2 and not v.startswith("--") and option.startswith(v))
        for v in value_options
    )


# --- system package managers -------------------------------------------------------------------


def _cleanups(manager: dict[str, Any], key: str = "cleanup") -> frozenset[Argv]:
    return _split_commands(tuple(manager.get(key, ())), tuple(manager["programs"]))


@lru_cache(maxsize=256)
def _split_commands(texts: tuple[str, ...], programs: tuple[str, ...]) -> frozenset[Argv]:
    """Each catalogue command text for each program, as argv; split once per catalogue entry
    (asked for every segment of every RUN)."""
    return frozenset(tuple(shlex.split(text.format(program=p))) for text in texts for p in programs)


def _kind(seg: _Segment, manager: dict[str, Any]) -> str | None:
    """``refresh``, ``install`` or ``cleanup`` when the segment is that step of ``manager``."""
    cmd = seg.cmd
    if cmd is None:
        return None
    if not cmd.assignments and cmd.argv in _cleanups(manager):
        return "cleanup"
    if cmd.program not in manager["programs"]:
        return None
    sub = _subcommand_index(cmd)
    if sub is None:
        return None
    if cmd.argv[sub] == manager["refresh"] and all(a.startswith("-") for a in cmd.argv[sub + 1 :]):
        return "refresh"
    return "install" if cmd.argv[sub] == manager["install"] else None


def _system_install(seg: _Segment, manager: dict[str, Any]) -> _Install | None:
    cmd = seg.cmd
    assert cmd is not None
    sub = _subcommand_index(cmd)
    assert sub is not None
    options: list[str] = []
    items: list[tuple[Argv, str]] = []
    for i, word in enumerate(cmd.argv[sub + 1 :], sub + 1):
        if word.startswith("-"):
            if _takes_value(word, manager["value_options"]):
                return None
            options.append(word)
        elif _PACKAGE.match(word):
            items.append(((word,), seg.raw(i)))
        else:
            return None
    if any(_takes_value(w, manager["value_options"]) for w in cmd.argv[1:sub]):
        return None
    key = (cmd.assignments, cmd.argv[: sub + 1], frozenset(options))
    return _Install(
        key,
        seg.through(sub),
        tuple(seg.raw(i) for i, w in enumerate(cmd.argv) if i > sub and w.startswith("-")),
        tuple(items),
    )


def _package_name(word: str) -> str:
    return re.split(r"[=<>~/]", word, maxsplit=1)[0]


def _system_window(window: list[_Segment], manager: dict[str, Any]) -> list[str] | None:
    """The window (refreshes, installs, cleanups of one manager) as one refresh, one install and
    its cleanups, or None when that would not be the same."""
    kinds = [_kind(s, manager) for s in window]
    spots = [i for i, k in enumerate(kinds) if k == "install"]
    if not spots or (len(spots) < 2 and kinds.count("refresh") < 2):
        return None
    installs = [_system_install(window[i], manager) for i in spots]
    if any(x is None for x in installs) or len({x.key for x in installs if x is not None}) != 1:
        return None
    first, last = spots[0], spots[-1]
    refreshed_first = "refresh" in kinds[:first]
    if "refresh" in kinds[last:] or ("refresh" in kinds[first:] and not refreshed_first):
        return None
    index_gone = _cleanups(manager, "index_cleanup")
    lists = True
    for seg, kind in zip(window, kinds, strict=True):
        assert seg.cmd is not None
        if kind == "cleanup" and seg.cmd.argv in index_gone:
            lists = False
        elif kind == "refresh":
            lists = True
        elif kind == "install" and not lists:
            return None
    tail: list[_Segment] = []
    for seg, kind in zip(window[last:], kinds[last:], strict=True):
        if (
            kind == "cleanup"
            and seg.cmd is not None
            and all(t.cmd is not None and t.cmd.argv != seg.cmd.argv for t in tail)
        ):
            tail.append(seg)
    middle = {s.cmd.argv for s, k in zip(window[:last], kinds[:last], strict=True) if k == "cleanup" and s.cmd}
    if not middle <= {t.cmd.argv for t in tail if t.cmd}:
        return None
    chosen: dict[str, str] = {}
    for install in installs:
        assert install is not None
        for (value,), text in install.items:
            chosen.setdefault(value, text)
    names = [_package_name(v) for v in chosen]
    if len(set(names)) != len(names):  # one package asked for in two versions: keep the user's order
        return None
    head = installs[0]
    assert head is not None
    install_text = " ".join([head.prefix, *head.options, *(chosen[v] for v in sorted(chosen))])
    refresh = [window[kinds.index("refresh")].text.strip()] if refreshed_first else []
    return [*refresh, install_text, *(t.text.strip() for t in tail)]


def _by_options(window: list[_Segment], manager: dict[str, Any]) -> list[list[_Segment]]:
    """The window cut where the installs' options change (``-y`` then ``-qq -y``): each part is
    consolidated alone. A part starts at the refresh before its first install (the cleanups
    after the previous install stay with the previous part), so each keeps its own list state."""
    parts: list[list[_Segment]] = [[]]
    key: Any = None
    for seg in window:
        kind = _kind(seg, manager)
        if kind == "install":
            install = _system_install(seg, manager)
            new_key = install.key if install is not None else object()
            if key is not None and new_key != key:
                current = parts[-1]
                cut = next(
                    (
                        n
                        for n, s in enumerate(current)
                        if n > _last_install(current, manager) and _kind(s, manager) == "refresh"
                    ),
                    len(current),
                )
                parts[-1], tail = current[:cut], current[cut:]
                parts.append(tail)
            key = new_key
        parts[-1].append(seg)
    return [p for p in parts if p]


def _last_install(part: list[_Segment], manager: dict[str, Any]) -> int:
    return max((n for n, s in enumerate(part) if _kind(s, manager) == "install"), default=-1)


# --- pip -----------------------------------------------------------------------------------------


def _pip_install(seg: _Segment) -> _Install | None:
    if seg.cmd is None:
        return None
    cmd = as_installer(seg.cmd)
    skip = len(seg.cmd.argv) - len(cmd.argv)
    sub = _subcommand_index(cmd)
    if cmd.program not in ("pip", "pip3", "uv") or sub is None:
        return None
    if cmd.argv[sub] != "install":
        return None
    rules = load("hygiene")["pip_consolidate"]
    options: list[str] = []
    items: list[tuple[Argv, str]] = []
    words = list(enumerate(cmd.argv))[sub + 1 :]
    k = 0
    while k < len(words):
        i, word = words[k]
        if word in rules["requirement_options"] and k + 1 < len(words):
            j, file = words[k + 1]
            items.append(((word, file), f"{seg.raw(skip + i)} {seg.raw(skip + j)}"))
            k += 2
            continue
        if word.startswith("-"):
            if word not in rules["flags"]:
                return None
            options.append(word)
        elif _REQUIREMENT.match(word):
            items.append(((word,), seg.raw(skip + i)))
        else:
            return None
        k += 1
    if any(w.startswith("-") and w not in rules["flags"] for w in cmd.argv[1:sub]):
        return None
    key = (seg.cmd.assignments, seg.cmd.argv[: skip + sub + 1], frozenset(options))
    option_text = tuple(seg.raw(skip + i) for i, w in words if w in options)
    return _Install(key, seg.through(skip + sub), option_text, tuple(items))


def _helper(install: _Install) -> bool:
    helpers = set(load("hygiene")["pip_consolidate"]["build_helpers"])
    return any(
        len(v) == 1 and re.split(r"[\[<>=!~]", v[0], maxsplit=1)[0].lower().replace("_", "-") in helpers
        for v, _ in install.items
    )


def _pip_group(group: list[_Install]) -> str:
    chosen: dict[Argv, str] = {}
    for install in group:
        for value, text in install.items:
            chosen.setdefault(value, text)
    head = group[0]
    return " ".join([head.prefix, *head.options, *chosen.values()])


# --- one RUN --------------------------------------------------------------------------------------


def _consolidated(segs: list[_Segment]) -> tuple[list[str], list[str]]:
    """The RUN's segment texts with every consolidatable window replaced, and the installers
    whose installs were made one."""
    managers = load("hygiene")["consolidate"]
    out: list[str] = []
    installers: list[str] = []
    i = 0
    while i < len(segs):
        manager = next((m for m in managers if _kind(segs[i], m) is not None), None)
        if manager is not None:
            j = i
            while j < len(segs) and _kind(segs[j], manager) is not None:
                j += 1
            for window in _by_options(segs[i:j], manager):
                made = _system_window(window, manager)
                out += made or [s.text.strip() for s in window]
                if made:
                    installers.append(next(s.cmd.program for s in window if s.cmd and _kind(s, manager) == "install"))
            i = j
            continue
        group: list[_Install] = []
        j = i
        while j < len(segs):
            install = _pip_install(segs[j])
            if install is None or (group and (install.key != group[0].key or _helper(group[-1]))):
                break
            group.append(install)
            j += 1
        if len(group) > 1:
            out.append(_pip_group(group))
            installers.append("pip")
            i = j
            continue
        out.append(segs[i].text.strip())
        i += 1
    return out, installers


def _argvs(node: ir.Run) -> list[Argv]:
    return [c.assignments + c.argv for c in run_commands(node) or []]


def declared(old: ir.Run, new: ir.Run, old_argvs: list[Argv] | None = None) -> tuple[CommandEdit, ...]:
    """The command edits from ``old`` to ``new``, aligned as the guard walks them (``old_argvs``:
    the commands of ``old`` when the caller has read them already)."""
    a, b = _argvs(old) if old_argvs is None else old_argvs, _argvs(new)
    edits: list[CommandEdit] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if tag == "replace" and i2 - i1 == j2 - j1:
            edits += [CommandEdit(x, y) for x, y in zip(a[i1:i2], b[j1:j2], strict=True)]
            continue
        edits += [CommandEdit(x, None) for x in a[i1:i2]] + [CommandEdit(None, y) for y in b[j1:j2]]
    return tuple(edits)


@dataclass(frozen=True)
class Consolidated:
    """A RUN whose installs were made one: the new RUN, its command edits for the guard, and
    the installers involved (``apt-get``, ``apk``, ``pip``…)."""

    run: ir.Run
    commands: tuple[CommandEdit, ...]
    installers: tuple[str, ...]


def consolidate(node: ir.Run, stage: ir.Stage, segments: list[str] | None = _UNKNOWN) -> Consolidated | None:
    """``node`` with its installs consolidated, or None when there is nothing to do (or the
    guard would not read the result as the declared edits: then it is left as it was).
    ``segments``: the ``and_segments`` of a RUN merge-runs made (no comment, no heredoc)."""
    segs = _segments(node, segments)
    if segs is None:
        return None
    texts, installers = _consolidated(segs)
    if texts == [s.text.strip() for s in segs]:
        return None
    new = replace(node, command=chain(texts))
    # The old commands are its segments' in order (read above): the RUN merge-runs made of
    # several is not parsed as a whole again (the guard reads the RUNs it was made of).
    known = None if any(s.found is None for s in segs) else [c for s in segs for c in s.found or ()]
    edits = declared(node, new, known)
    check = Change(rule="", pass_name="", message="", reason="", effect="", commands=edits)
    before = ir.Dockerfile(stages=(replace(stage, body=(node,)),))
    after = ir.Dockerfile(stages=(replace(stage, body=(new,)),))
    facts = Facts()
    if known is not None:
        facts.know(node, tuple(known))
    if violation(Policy.DECLARED, before, after, [check], facts) is not None:
        return None
    return Consolidated(new, edits, tuple(installers))
