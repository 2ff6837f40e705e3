"""Staging a ``make install`` that names no prefix: ``DESTDIR=/staging``, proven from the context.

An install step with no ``--prefix``, ``CMAKE_INSTALL_PREFIX``, ``PREFIX=`` or ``DESTDIR=``
writes into the default prefix (/usr/local) and wherever else its recipe says, which static
reading cannot locate; the split declines it. When the build context shows the build system
honours ``DESTDIR`` on everything it installs, the builder installs into a staging root instead
and the runtime receives that root whole (``COPY --from=builder /staging/ /``): exactly the files
the install wrote, at the paths it wrote them, and nothing of the toolchain around them.

Proof (``[[destdir]]`` in ``data/commands.toml``): a configured build system whose generated
install rules prefix every destination with ``DESTDIR`` (automake, CMake, Meson), without the
hand-written hooks that can escape it; or a hand-written Makefile whose install recipes only
print, or write with ``install``/``cp``/``mkdir``/``ln`` to destinations starting with
``$(DESTDIR)``. Anything else (a recipe calling a script, a prerequisite rule, ``override
DESTDIR``, a destination in /bin or /lib that a merged-/usr runtime holds as a symlink) is not
staged and the split keeps declining, with the reason in its note.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import ir
from ..catalog import load
from ..classify import Kind, StepInfo, category, classify_run
from ..shell import SimpleCommand, run_commands, run_script

STAGING = "/staging"
_DESTDIR = re.compile(r"^\$[({]DESTDIR[)}]")


@dataclass(frozen=True)
class Staged:
    """A build RUN rewritten to install into the staging root."""

    line: int | None
    original: ir.Run
    node: ir.Run  # the rewritten RUN
    proof: str  # what the build context showed
    root: str  # the staging root the runtime receives whole, at /


def _rules() -> list[dict[str, Any]]:
    return list(load("commands").get("destdir", []))


def _installs(cmd: SimpleCommand) -> bool:
    args = cmd.args()
    if cmd.program in ("make", "gmake", "ninja"):
        return "install" in args
    if cmd.program == "meson":
        return args[:1] == ["install"]
    return cmd.program == "cmake" and "--install" in cmd.argv


def _unprefixed(cmd: SimpleCommand) -> bool:
    """An install step that names neither a prefix nor a DESTDIR (the split's default-prefix case)."""
    words = (*cmd.assignments, *cmd.argv[1:])
    return not any(w.startswith(("DESTDIR=", "PREFIX=", "prefix=", "--prefix", "--destdir")) for w in words)


def _context_dir(steps: list[StepInfo], here: str, upto: StepInfo, root: Path) -> Path | None:
    """The build-context folder whose files the stage's last COPY before ``upto`` put at ``here``."""
    found: Path | None = None
    for step in steps:
        if step is upto:
            break
        node = step.node
        if not isinstance(node, ir.Copy) or step.kind != Kind.CONTEXT_COPY or node.heredocs or node.flags:
            if isinstance(node, ir.Copy) and any(here == a or here.startswith(a.rstrip("/") + "/")
                                                 for a in step.artifacts):
                found = None  # something else wrote the tree: its files are not the context's
            elif isinstance(node, ir.Run) and step.kind != Kind.SYSTEM_PACKAGES:
                found = None  # a RUN since the COPY may have changed the project's files
            continue
        dest = posixpath.normpath(posixpath.join(step.cwd, node.dest))
        if len(node.sources) != 1 or not (here == dest or here.startswith(dest.rstrip("/") + "/")):
            continue
        src = node.sources[0]
        if any(c in src for c in "*?[$") or "://" in src:
            found = None
            continue
        base = (root / src).resolve()
        if base != root and root not in base.parents:
            found = None
            continue
        found = base / posixpath.relpath(here, dest) if base.is_dir() else None
    return found.resolve() if found is not None and found.is_dir() else None


def _recipes(makefile: str) -> tuple[dict[str, tuple[list[str], list[str]]], str | None]:
    """Target -> (prerequisites, recipe lines) of a hand-written Makefile, or why it is not read."""
    rules: dict[str, tuple[list[str], list[str]]] = {}
    current: list[str] = []  # the targets the tab-indented lines below belong to
    for raw in makefile.replace("\\\n", " ").splitlines():
        if raw.startswith("\t"):
            for target in current:
                rules[target][1].append(raw.strip())
            continue
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if re.match(r"\s*(-?include|sinclude)\s", line):
            return {}, "it includes another makefile"
        if re.match(r"\s*override\s+DESTDIR\b", line):
            return {}, "it overrides DESTDIR"
        m = re.match(r"^([^:=\s][^:=]*?)\s*::?(?!=)\s*(.*)$", line)
        current = m.group(1).split() if m else []
        if m:
            prereqs, _, inline = m.group(2).partition(";")
            for target in current:
                rules.setdefault(target, ([], []))
                rules[target][0].extend(prereqs.split())
                if inline.strip():
                    rules[target][1].append(inline.strip())
    return rules, None


def _recipe_blocker(line: str, rule: dict[str, Any]) -> str | None:
    """Why one recipe line may write outside $(DESTDIR), or None."""
    line = line.lstrip("@-+ ")
    if any(x in line for x in ("`", "$$(", "$(shell", "$(MAKE)", "${MAKE}")):
        return f"`{line}` runs commands dockerslim does not read"
    for part in re.split(r"&&|\|\|?|;", line):
        if any(t not in ("/dev/null", "&1", "&2") for t in re.findall(r"\d*>>?\s*(&?[^\s;&|]*)", part)):
            return f"`{part.strip()}` redirects into a file"
        try:
            words = shlex.split(part)
        except ValueError:
            return f"`{part.strip()}` cannot be read"
        if not words:
            continue
        program = words[0]
        if program in rule["quiet"]:
            continue
        if program not in rule["writers"]:
            return f"`{part.strip()}` runs {program}, whose effects are not known"
        if any(w in ("-t", "--target-directory") or w.startswith("--target-directory=") for w in words):
            return f"`{part.strip()}` names its destination with -t"
        operands = [w for i, w in enumerate(words[1:], 1)
                    if not w.startswith("-") and words[i - 1] not in rule["value_options"]]
        if not operands:
            return f"`{part.strip()}` names no destination"
        every = program in rule["all_operands"] or "-d" in words[1:]
        for dest in operands if every else operands[-1:]:
            if not _DESTDIR.match(dest):
                return f"`{part.strip()}` writes {dest}, outside $(DESTDIR)"
            inside = _DESTDIR.sub("", dest)
            if any(inside == p or inside.startswith(p + "/") for p in rule["symlinked"]):
                return f"`{part.strip()}` writes {inside}, a symlink on merged-/usr systems"
    return None


def _makefile_blocker(folder: Path, rule: dict[str, Any]) -> str | None:
    """Why the folder's hand-written Makefile may install outside $(DESTDIR), or None."""
    path = next((folder / n for n in rule["sources"] if (folder / n).is_file()), None)
    if path is None:
        return "no Makefile found in the build context"
    rules, why = _recipes(path.read_text(encoding="utf-8", errors="replace"))
    if why:
        return f"{path.name}: {why}"
    if "install" not in rules:
        return f"{path.name} has no install rule"
    todo, seen = ["install"], set()
    while todo:
        target = todo.pop()
        if target in seen:
            continue
        seen.add(target)
        prereqs, recipe = rules.get(target, ([], []))
        for line in recipe:
            blocker = _recipe_blocker(line, rule)
            if blocker:
                return f"{path.name}, rule {target}: {blocker}"
        for pre in prereqs:
            if "$" in pre or "/" in pre or "%" in pre:
                return f"{path.name}, rule {target}: its prerequisite {pre} is a file rule that can write anywhere"
            if pre.startswith("install"):
                todo.append(pre)
            elif pre in rules and pre not in rule["build_targets"]:
                return f"{path.name}, rule {target}: its prerequisite {pre} is not a build or install rule"
    return None


def _generated_blocker(folder: Path, rule: dict[str, Any]) -> str | None:
    """Why a configured build system's project may install outside DESTDIR, or None."""
    names = list(rule["sources"])
    if not any((folder / n).is_file() for n in names):
        return f"no {' or '.join(names)} in the build context"
    for path in sorted(p for n in [*names, *rule.get("also", [])] for p in folder.rglob(n) if p.is_file()):
        text = path.read_text(encoding="utf-8", errors="replace")
        marker = next((m for m in rule["blockers"] if m.lower() in text.lower()), None)
        if marker:
            return f"{path.relative_to(folder)} has `{marker}`, which may install outside DESTDIR"
    return None


def _prove(cmds: list[SimpleCommand], index: int, folder: Path) -> tuple[str | None, str | None]:
    """(what proves it, None) when the install at ``cmds[index]`` honours DESTDIR, else (None, why).
    Before it in the RUN only build tools may run (a ``sed -i Makefile`` would change the rules)."""
    before = next((c for c in cmds[:index] if category(c) != "build" and c.program not in ("mkdir", "echo", "true")),
                  None)
    if before is not None:
        return None, f"`{before.text}` runs before it and may change the project's build files"
    configured = {c.program for c in cmds[:index]}
    for rule in _rules():
        if rule["configure"] and not configured & set(rule["configure"]):
            continue
        if not rule["configure"] and configured & {p for r in _rules() for p in r["configure"]}:
            continue
        if cmds[index].program not in rule["installers"]:
            continue
        moved = next((a for a in cmds[index].argv[1:] if a.startswith(("-C", "-f", "--directory", "--file",
                                                                        "--makefile", "-I", "--include"))), None)
        if rule.get("recipes") and moved:
            return None, f"`{moved}` reads another makefile or folder than the one in the build context"
        why = (_makefile_blocker(folder, rule) if rule.get("recipes") else _generated_blocker(folder, rule))
        return (None, why) if why else (str(rule["proof"]), None)
    return None, "no build system known to honour DESTDIR runs this install"


def _staged_text(script: str, cmds: list[SimpleCommand], installs: list[int]) -> str | None:
    """The script with each install given DESTDIR and the staging root made first; None when a
    word's place in the text is not where the analysis says."""
    inserts: list[tuple[int, str]] = []
    for i in installs:
        cmd = cmds[i]
        if len(cmd.words) != len(cmd.argv) or script[cmd.words[0][0]:cmd.words[0][1]] != cmd.argv[0]:
            return None
        argument = cmd.program in ("make", "gmake")  # a command-line variable beats the makefile's own
        at = cmd.words[-1][1] if argument else cmd.words[0][0]
        inserts.append((at, f" DESTDIR={STAGING}" if argument else f"DESTDIR={STAGING} "))
    for at, text in sorted(inserts, reverse=True):
        script = script[:at] + text + script[at:]
    return f"mkdir -p {STAGING} && {script}"


def stage_installs(steps: list[StepInfo],
                   context_dir: Path | None) -> tuple[list[Staged], list[tuple[int | None, str]]]:
    """Build RUNs whose only unlocated output is an unprefixed install that provably honours
    DESTDIR, rewritten to stage it; and (line, why) for those that do not."""
    done: list[Staged] = []
    why_not: list[tuple[int | None, str]] = []
    text = " ".join(str(getattr(s.node, "command", "")) for s in steps)
    for step in steps:
        node = step.node
        if not isinstance(node, ir.Run) or step.kind != Kind.BUILD or not step.unaccounted or node.heredocs:
            continue
        cmds = run_commands(node, step.cwd)
        script = run_script(node)
        installs = [i for i, c in enumerate(cmds or []) if _installs(c) and _unprefixed(c)]
        if not cmds or script is None or not installs:
            continue
        line = node.line
        if STAGING in text:
            why_not.append((line, f"the file already uses {STAGING}"))
            continue
        if context_dir is None:
            why_not.append((line, "no build context to show the install honours DESTDIR"))
            continue
        proof, why = None, None
        for i in installs:
            here = cmds[i].cwd
            folder = _context_dir(steps, here, step, context_dir.resolve()) if here else None
            if folder is None:
                why = f"`{cmds[i].text}`: its folder does not hold the build context's files as copied"
                break
            proof, why = _prove(cmds, i, folder)
            if why:
                why = f"`{cmds[i].text}`: {why}"
                break
        staged_script = _staged_text(script, cmds, installs) if not why else None
        if why or proof is None or staged_script is None:
            why_not.append((line, why or "the install's words could not be placed in the script"))
            continue
        new = replace(node, command=staged_script)
        again = classify_run(new, step.cwd, step.user)
        if again.unaccounted or again.kind != Kind.BUILD:
            why_not.append((line, again.unaccounted or "the staged step is no longer a build step"))
            continue
        step.node, step.commands, step.unaccounted = new, again.commands, None
        step.artifacts = [a for a in again.artifacts if a != STAGING] + [STAGING]
        done.append(Staged(line, node, new, proof, STAGING))
    return done, why_not
