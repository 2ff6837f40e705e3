"""DS207 prune (``--aggressive`` only): the builder removes from the artifacts of the split what
no program in the image reads, so the runtime's ``COPY`` only receives pruned trees.

The list is data (``data/prune.toml``): the bytecode of the installers (pip, setuptools,
wheel — the installed packages keep the .pyc pip compiled for them, as the original had),
tests inside site-packages, docs and man pages under the install prefix, headers and static
libraries (not when the image may compile at run time), installer caches inside the artifacts,
and ``strip --strip-unneeded`` of the C extensions pip compiled in the builder (a wheel tagged
plain ``linux_``, or a legacy ``setup.py install``'s .egg-info). Each category
is one ``find`` in one RUN appended to the builder stage, right before the assembly copies the
artifacts, and one Change saying what goes, why and at what risk; with an observed build
(``rewrite --observe``) the Change gives the measured size the original's steps wrote there.

Only the split's own builder (the stage ``split-stages`` marks) is pruned, only below the
paths it copies out, and patterns with ``{prefix}`` only in the install prefixes it wrote (the
virtualenv, a pip --user tree): an app's source tree, the base image's files and wheels that
came built are left alone. No split, no Python install prefix among the artifacts, or a
builder with its own SHELL: declined with a note. A builder that ends as another user prunes
as root and switches back (it never ships). The result must be verified (``dockerslim verify
--aggressive``): a package that reads its own tests or headers at run time breaks.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, replace
from typing import Any

from .. import ir
from ..base_decision import compiler_guard
from ..catalog import load
from ..changes import Change, CommandEdit, Note, PassResult, Risk
from ..guard import Facts
from ..pass_context import PassContext
from ..rules import rule as catalogue_entry
from ..shell import chain
from ._lint import with_ignore

RULE = catalogue_entry("prune")  # id, name and summary: data/rules.toml
ID, NAME, SUMMARY = RULE.id, RULE.name, RULE.summary

BUILDER_MARK = "# dockerslim: build stage"  # the leading comment split-stages gives its builder
MARKER = "# dockerslim: --aggressive (DS207): remove what no program reads from the artifacts before they are copied\n"
_PLAIN = re.compile(r"^/[A-Za-z0-9_./+@-]*$")
_PATTERN = re.compile(r"^[A-Za-z0-9_./+@*{}-]+$")  # safe inside single quotes, no `[` classes

# Strips the extensions of wheels built in the builder: a locally built wheel's WHEEL says
# `Tag: cp312-cp312-linux_x86_64` (PyPI's say manylinux_/musllinux_: grep selects those files),
# and RECORD lists its files relative to site-packages. `sh -c` per WHEEL keeps the RUN a list of
# simple commands (the guard and hadolint read them). A signed RECORD, or no strip in the
# builder: nothing is stripped; a strip that fails leaves its file as it was (find -exec ... \;
# does not fail the build, and strip writes a copy before it replaces the file).
STRIP_SCRIPT = (  # "\n": a line break of the Dockerfile (escaped newline), which the builder removes
    'd=${1%/WHEEL}; [ -e "$d/RECORD.jws" ] || [ -e "$d/RECORD.p7s" ]\n'
    '|| ! command -v strip >/dev/null || while IFS=, read -r f _; do case $f in\n'
    '*.so) strip --strip-unneeded "${d%/*}/$f";; esac; done < "$d/RECORD"'
)
# A legacy `setup.py install` (pip before 23.1 without the wheel package, as Debian's bookworm
# venvs have) leaves an .egg-info whose installed-files.txt lists the files relative to itself:
# such an install is always built here.
EGG_STRIP_SCRIPT = (
    'd=${1%/installed-files.txt}; ! command -v strip >/dev/null\n'
    '|| while read -r f; do case $f in *.so) strip --strip-unneeded "$d/$f";; esac; done < "$1"'
)
WIDTH = 80  # a find longer than this is wrapped (emit writes each "\n" as an escaped line break)


@dataclass(frozen=True)
class Find:
    type: str  # d | f
    names: tuple[str, ...]
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Category:
    name: str
    what: str
    why: str
    effect: str
    risk: Risk
    finds: tuple[Find, ...] = ()
    strip: bool = False
    unless: str | None = None  # "runtime-compiler"


def catalogue() -> tuple[tuple[str, ...], tuple[Category, ...]]:
    """The install prefixes and the categories of ``data/prune.toml``."""
    data: dict[str, Any] = load("prune")
    categories = []
    for entry in data["category"]:
        finds = tuple(Find(f["type"], tuple(f.get("names", ())), tuple(f.get("paths", ())))
                      for f in entry.get("find", ()))
        for f in finds:
            if f.type not in ("d", "f") or not all(_PATTERN.match(p) for p in f.names + f.paths):
                raise ValueError(f"prune.toml: category {entry['name']!r} has a bad find entry {f}")
        categories.append(Category(
            name=entry["name"], what=entry["what"], why=entry["why"], effect=entry["effect"], risk=entry["risk"],
            finds=finds, strip=entry.get("strip", False), unless=entry.get("unless"),
        ))
    return tuple(data["prefixes"]), tuple(categories)


def _inside(pattern: str, root: str) -> bool:
    """Whether the prefix ``pattern`` (a glob per path component) is ``root`` or below it."""
    p, r = pattern.strip("/").split("/"), root.strip("/").split("/")
    return len(r) <= len(p) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(r, p, strict=False))


def _quote(word: str) -> str:
    return f"'{word}'" if any(c in word for c in "*{}") else word


def _prefix_roots(roots: list[str], prefixes: list[str]) -> list[str]:
    """The artifact roots that are, or hold, an install prefix."""
    return [r for r in roots if any(_inside(p, r) for p in prefixes)]


def _find_command(roots: list[str], find: Find, prefixes: list[str]) -> tuple[list[str], str] | None:
    """One ``find`` over the artifact roots it can match in, or None when no pattern applies."""
    paths = [p.replace("{prefix}", prefix) for p in find.paths for prefix in (prefixes if "{prefix}" in p else [""])]
    if all("{prefix}" in p for p in find.paths):
        roots = _prefix_roots(roots, prefixes)
    if not paths or not roots:
        return None
    words = ["find", *roots, "-type", find.type]
    if find.names:
        words += _alternatives("-name", find.names)
    words += _alternatives("-path", tuple(paths))
    return roots, _wrap([*words, "-prune -exec rm -rf {} +"])


def _alternatives(test: str, globs: tuple[str, ...]) -> list[str]:
    words = [f"{test} {_quote(g)}" for g in globs]
    if len(words) == 1:
        return words
    return ["\\(", words[0], *(f"-o {w}" for w in words[1:]), "\\)"]


def _wrap(words: list[str]) -> str:
    """The words joined by blanks, a line break (emitted as ``\\``-newline) before the
    phrase that would pass ``WIDTH``."""
    lines = [words[0]]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) > WIDTH:
            lines.append(word)
        else:
            lines[-1] += " " + word
    return "\n".join(lines)


def _strip_commands(roots: list[str], prefixes: list[str]) -> list[tuple[list[str], str] | None]:
    """Strip the extensions of wheels built here, then those of legacy ``setup.py install``s."""
    roots = _prefix_roots(roots, prefixes)
    if not roots:
        return []
    where = " ".join(roots)
    return [(roots, f"find {where} -type f -path '*/site-packages/*.dist-info/WHEEL'\n"
                    "-exec grep -qs '^Tag: .*-linux_' {} \\;\n"
                    f"-exec sh -c '{STRIP_SCRIPT}' sh {{}} \\;"),
            (roots, f"find {where} -type f -path '*/site-packages/*.egg-info/installed-files.txt'\n"
                    f"-exec sh -c '{EGG_STRIP_SCRIPT}' sh {{}} \\;")]


def prune_commands(roots: list[str], prefixes: list[str], categories: list[Category] | tuple[Category, ...],
             ) -> list[tuple[Category, list[str], str]]:
    """Per category, the commands that prune it below ``roots`` (with the roots each walks)."""
    parts: list[tuple[Category, list[str], str]] = []
    for category in categories:
        found = (_strip_commands(roots, prefixes) if category.strip
                 else [_find_command(roots, f, prefixes) for f in category.finds])
        parts += [(category, *command) for command in found if command]
    return parts


@dataclass(frozen=True)
class _Split:
    builder: int  # index of the split's builder stage
    roots: list[str]  # the paths the other stages copy from it


def _find_split(df: ir.Dockerfile) -> _Split | str:
    """The split's builder and what leaves it, or why there is nothing to prune safely."""
    builders = [i for i, s in enumerate(df.stages)
                if s.name and any(line.startswith(BUILDER_MARK) for line in s.from_.leading)]
    if len(builders) != 1:
        return "no split: the artifacts are not gathered from a builder stage, so nothing can be pruned safely"
    index = builders[0]
    name = df.stages[index].name or ""
    roots: list[str] = []
    for i, stage in enumerate(df.stages):
        if i == index:
            continue
        for node in stage.body:
            if isinstance(node, (ir.Copy, ir.Add)) and (node.flag("from") or "").lower() == name.lower():
                for source in node.paths[:-1]:
                    if not _PLAIN.match(source) or source == "/":
                        return f"the builder's artifact {source!r} is not a plain path"
                    roots.append(source.rstrip("/"))
    if not roots:
        return "the builder stage has no artifacts copied out of it"
    return _Split(index, sorted(set(roots)))


def _decline(result: PassResult, message: str, line: int | None = None) -> PassResult:
    result.notes.append(Note(rule=ID, pass_name=NAME, level="skipped", line=line, message=message))
    return result


def run(df: ir.Dockerfile, context: PassContext) -> PassResult:
    result = PassResult(dockerfile=df)
    if not context.options.aggressive:
        return result  # opt-in: the default rewrite stays what it was, silently
    found = _find_split(df)
    if isinstance(found, str):
        return _decline(result, found)
    builder = df.stages[found.builder]
    if any(MARKER in node.leading for node in builder.body):
        return result  # pruned already (a rewrite of a rewrite)
    users = [n.user for n in builder.body if isinstance(n, ir.User)]
    user = users[-1] if users and users[-1].split(":")[0] not in ("root", "0") else None
    if any(isinstance(n, ir.Shell) for n in builder.body):
        return _decline(result, "the builder sets its own SHELL: the prune RUN is written for /bin/sh",
                        builder.from_.line)
    prefix_globs, categories = catalogue()
    prefixes = [p for p in prefix_globs if any(_inside(p, r) for r in found.roots)]
    if not prefixes:
        return _decline(result, f"the artifacts ({', '.join(found.roots)}) hold no Python install prefix "
                                f"({', '.join(prefix_globs)}): nothing on the prune list applies")
    chosen = []
    for category in categories:
        if category.unless == "runtime-compiler":
            guard = compiler_guard(df.stages[-1], context, df)
            if guard.keeps_toolchain:
                why = guard.blind or "; ".join(str(f) for f in guard.findings[:2])
                _decline(result, f"{category.what} kept: the image may compile at run time ({why})")
                continue
        chosen.append(category)
    parts = prune_commands(found.roots, prefixes, chosen)
    if not parts:
        return _decline(result, f"nothing in the artifacts ({', '.join(found.roots)}) is on the prune list")
    leading: tuple[str, ...] = () if user else ("\n", MARKER)
    if any(category.strip for category, _, _ in parts):  # its `sh -c '…$1…'` expands in the inner shell
        leading = with_ignore(leading, "the $ inside sh -c '…' expand in that shell, as meant", ["SC2016"])
    prune = ir.Run(command=chain([command for _, _, command in parts]), leading=leading)
    added = Facts().run(prune)
    # A builder that ends as another user prunes as root (files the split or pip wrote as root
    # would refuse), then switches back, so the stage ends as its author left it.
    steps: tuple[ir.Instruction, ...] = (
        (ir.User(user="root", leading=with_ignore(
            ("\n", MARKER), f"root only to prune in this builder, which never ships; back to {user} below",
            ["DL3066"])), prune, ir.User(user=user)) if user else (prune,))
    stages = list(df.stages)
    stages[found.builder] = replace(builder, body=(*builder.body, *steps))
    result.dockerfile = replace(df, stages=tuple(stages))
    # Each find is one simple command, declared on its category's Change; should the shell
    # reader ever see the RUN as one script instead, the first Change declares it.
    per_part = len(added) == len(parts)
    reported: list[str] = []
    for category, _roots, _command in parts:
        if category.name in reported:
            continue
        reported.append(category.name)
        where = sorted({r for cat, roots, _ in parts if cat is category for r in roots})
        if per_part:
            commands = [c for c, (cat, _, _) in zip(added, parts, strict=True) if cat is category]
        else:
            commands = list(added) if len(reported) == 1 else []
        result.changes.append(Change(
            rule=ID, pass_name=NAME, line=builder.from_.line,
            message=f"--aggressive: the builder removes {category.what} from {', '.join(where)} "
                    f"before the runtime copies them ({category.name})",
            reason=category.why,
            effect=_size(category, context, found.roots, prefixes) + category.effect,
            risk=category.risk,
            commands=tuple(CommandEdit(None, c) for c in commands),
        ))
    return result


def _size(category: Category, context: PassContext, roots: list[str], prefixes: list[str]) -> str:
    """What the observed build of the original wrote that this category matches, when known."""
    observation = context.observation
    if observation is None or category.strip:
        return ""
    files = total = 0
    for step in observation.steps.values():
        for f in step.files:
            if f.written and f.kind == "f" and _matches(f.path, category, prefixes):
                files, total = files + 1, total + f.size
    if not files:
        return "observed build: the original's steps wrote nothing this category matches; "
    return f"observed build: the original's steps wrote {files} such files, {total / 1e6:.1f} MB; "


def _matches(path: str, category: Category, prefixes: list[str]) -> bool:
    """Whether a file of the original image falls under ``category`` (its folders or files)."""
    for find in category.finds:
        for pattern in find.paths:
            for prefix in (prefixes if "{prefix}" in pattern else [""]):
                glob = pattern.replace("{prefix}", prefix)
                if find.type == "d":
                    parts = path.split("/")
                    folders = ["/".join(parts[:i]) for i in range(2, len(parts))]
                    if any(fnmatch.fnmatchcase(d, glob) and (not find.names or any(
                            fnmatch.fnmatchcase(d.rsplit("/", 1)[-1], n) for n in find.names)) for d in folders):
                        return True
                elif fnmatch.fnmatchcase(path, glob) and (not find.names or any(
                        fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], n) for n in find.names)):
                    return True
    return False
