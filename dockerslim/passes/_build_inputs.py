"""Compiled ecosystems: the project files that only feed the compiler stay in the builder.

When the runtime runs the build's artifact — a cargo/maven/gradle tree narrowed to the file the
start command names (split-stages' ``Narrowing``), or the program ``go build -o`` wrote — the
context files the stage COPY'd into the project before the build whose path inside the project is
a build input of that ecosystem (``[[build_inputs]]`` in ``data/commands.toml``: Cargo.toml,
``**/*.rs``, go.mod, ``**/*.go``, pom.xml, src/main/java…, and the build's own Dockerfile) are no
longer carried to the runtime. Everything else those COPYs brought (config/, templates/, static/,
scripts) still is, path by path from the builder, or the COPY whole (with a note) when that would
take more than ``MAX_KEPT`` paths. An input stays carried when anything the runtime runs names it:
a step the runtime keeps, the start command, or a context script it runs. The paths left behind are
declared (``Files.``), so ``verify`` accepts their absence and nothing else's.

Deliberately left alone: COPYs after the build (their files did not feed it), COPYs with a
wildcard, a variable or a source the context does not hold, and go steps that write more into the
project than their ``-o`` output (``go generate``, ``go build`` without ``-o``, other commands in
the same RUN).
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import dockerignore, ir
from ..catalog import load
from ..changes import Change
from ..classify import Kind, StepInfo
from ..emit import instruction_text
from ..start_scripts import script_texts

if TYPE_CHECKING:
    from .split_stages import Narrowing

MAX_KEPT = 8  # paths of one COPY still carried one by one; more: the COPY is carried whole
DEFAULT_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
PLAIN_FLAGS = ("chown", "chmod", "link")  # others change which files land where (--exclude, --parents)
CARRYING = {Kind.CONTEXT_COPY, Kind.IMAGE_COPY, Kind.PYTHON_DEPS, Kind.BUILD, Kind.MIXED}
_TOKEN = re.compile(r"[\s;&|=:'\"(),\[\]`<>]+")


@dataclass(frozen=True)
class InputsLeft:
    """Build inputs of one project the runtime no longer receives."""

    tool: str
    tree: str  # the project directory the build ran in
    runs: tuple[str, ...]  # the artifact(s) the start command runs
    left: tuple[str, ...]  # image paths left in the builder (declared to verify as Files.)
    kept: tuple[str, ...]  # paths the same COPYs brought that are not build inputs: still carried
    lines: tuple[int, ...]  # the COPY steps


@dataclass(frozen=True)
class _Context:
    """What the build context holds, read once per rewrite."""

    dir: Path
    sent: list[str]  # files the builder sends (after .dockerignore), relative
    ignore: list[dockerignore.Rule]  # its .dockerignore
    texts: list[tuple[str, str]]  # start scripts: (context path, text)
    recipe: list[str]  # the build's own recipe files ([build_recipe])


@dataclass
class _Project:
    tool: str
    tree: str
    runs: list[str]
    build_at: int  # index of its last build step: COPYs before it fed the build
    inputs: list[str]  # .dockerignore-style patterns, relative to the tree
    narrowing: Narrowing | None = None
    go: dict[int, list[str]] = field(default_factory=dict)  # id(step) -> its artifacts without the tree
    writes: list[str] = field(default_factory=list)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _rules() -> list[dict[str, Any]]:
    return list(load("commands").get("build_inputs", []))


Notes = list[tuple[str, int | None]]  # (message, line) for split-stages to report


def leave_build_inputs(stage: ir.Stage, df: ir.Dockerfile, steps: list[StepInfo], narrowed: list[Narrowing],
                       context_dir: Path | None) -> tuple[list[InputsLeft], list[Narrowing], Notes]:
    """Leave the build inputs of every project whose artifact the runtime runs in the builder:
    the COPY steps' (and go steps') artifacts are narrowed in place. Returns what was left, the
    narrowings (a ``COPY . .`` replay is dropped where its files are now carried path by path),
    and notes (message, line) on what stays carried and why."""
    notes: Notes = []
    projects = _narrowed_projects(steps, narrowed) + _go_projects(stage, steps, notes)
    if not projects:
        return [], narrowed, notes
    if context_dir is None:
        notes += [(f"{p.tool}: the sources in {p.tree} are carried: no build context to tell build inputs "
                   "from other files", None) for p in projects]
        return [], narrowed, notes
    ctx = _Context(context_dir, [rel for rel, _ in dockerignore.context_files(context_dir)],
                   dockerignore.load(context_dir), script_texts(stage, context_dir, df),
                   list(load("commands").get("build_recipe", {}).get("inputs", [])))
    done: list[InputsLeft] = []
    out = list(narrowed)
    for project in projects:
        left = _leave(project, steps, ctx, notes)
        if left is None:
            continue
        done.append(left)
        if project.narrowing is not None and project.narrowing.replayed:
            out = [replace(n, replayed=()) if n is project.narrowing else n for n in out]
    return done, out, notes


def _narrowed_projects(steps: list[StepInfo], narrowed: list[Narrowing]) -> list[_Project]:
    by_tool = {r["tool"]: r for r in _rules()}
    projects = []
    for n in narrowed:
        rule = by_tool.get(n.tool)
        at = [i for i, s in enumerate(steps) if s.node.line in n.lines]
        if rule is not None and at:
            projects.append(_Project(n.tool, n.tree, list(n.files), max(at), list(rule["inputs"]), narrowing=n))
    return projects


def _go_projects(stage: ir.Stage, steps: list[StepInfo], notes: Notes) -> list[_Project]:
    """Trees where a tool that writes its program where ``-o`` says (go) builds what the start
    command runs, and writes nothing else into the tree."""
    projects = []
    env = {k for n in stage.body if isinstance(n, (ir.Env, ir.Arg)) for k, _ in n.pairs}
    for rule in (r for r in _rules() if r.get("programs")):
        by_tree: dict[str, list[tuple[int, StepInfo]]] = {}
        for i, step in enumerate(steps):
            if isinstance(step.node, ir.Run) and any(c.program in rule["programs"] for c in step.commands):
                by_tree.setdefault(step.cwd, []).append((i, step))
        for tree, group in by_tree.items():
            why = _tool_blocker(rule, group, tree, env)
            outs = {id(s): [a for a in s.artifacts if a != tree] for _, s in group}
            runs = _runs(stage, steps, [a for o in outs.values() for a in o]) if why is None else []
            if why is None and not runs:
                why = f"the start command runs no file `{rule['tool']} build {rule['output_option']}` wrote"
            if why is not None:
                notes.append((f"{rule['tool']}: the sources in {tree} are carried: {why}", group[-1][1].node.line))
                continue
            subs = {w for _, s in group for c in s.commands for w in c.argv[1:2]}
            writes = list(dict.fromkeys(posixpath.join(tree, w) for sub, names in rule["writes"].items()
                                        if sub in subs for w in names))
            projects.append(_Project(rule["tool"], tree, runs, group[-1][0], list(rule["inputs"]), go=outs,
                                     writes=writes))
    return projects


def _tool_blocker(rule: dict[str, Any], group: list[tuple[int, StepInfo]], tree: str, env: set[str]) -> str | None:
    """Why the tool's steps in ``tree`` may write more into it than their output option names."""
    if tree == "?" or tree == "/":
        return "the directory it runs in is not known" if tree == "?" else "it runs in /"
    moving = set(rule["moving_env"]) & env
    if moving:
        return f"the stage sets {', '.join(sorted(moving))}"
    for _, step in group:
        node = step.node
        line = node.line
        if step.kind != Kind.BUILD or step.unaccounted or getattr(node, "heredocs", None):
            return f"line {line} also runs commands it does not know the effects of"
        for cmd in step.commands:
            if cmd.program not in rule["programs"]:
                return f"line {line} also runs `{cmd.text}`, which may write into {tree}"
            if (cmd.cwd or step.cwd) != tree:
                return f"line {line} changes directory"
            words = [a for a in cmd.argv[1:] if not a.startswith("-")]
            if not any(words[:len(p)] == p for p in rule["allowed"]):
                return f"`{cmd.text}` (line {line}) may write into {tree}"
            for word in (*cmd.assignments, *cmd.argv[1:]):
                name = word.lstrip("-").split("=", 1)[0]
                if f"-{name}" in rule["moving_options"] or word.split("=", 1)[0] in rule["moving_env"]:
                    return f"`{word}` (line {line}) moves the project or what it reads"
            option = rule["output_option"]
            if any(words[:len(p)] == p for p in rule["outputs"]) and not any(
                    a in (option, "-" + option) or a.startswith((option + "=", "-" + option + "="))
                    for a in cmd.argv[1:]):
                return f"`{cmd.text}` (line {line}) names no {option}: it writes its program into {tree}"
    return None


def _runs(stage: ir.Stage, steps: list[StepInfo], outs: list[str]) -> list[str]:
    """The outputs the final ENTRYPOINT/CMD names (by path, or by name on PATH)."""
    dirs = list(DEFAULT_PATH)
    for node in stage.body:
        if isinstance(node, ir.Env):
            dirs += [d for k, v in node.pairs if k == "PATH" for d in v.strip("\"'").split(":") if d.startswith("/")]
    found = []
    for step in steps:
        node = step.node
        if not isinstance(node, (ir.Cmd, ir.Entrypoint)) or not node.command:
            continue
        words = list(node.command) if isinstance(node.command, tuple) else [node.command]
        for token in (t for w in words for t in _TOKEN.split(w) if t and "$" not in t):
            named = [posixpath.normpath(posixpath.join(step.cwd, token))]
            named += [posixpath.join(d, token) for d in dirs] if "/" not in token else []
            found += [o for o in outs if any(_inside(p, o) for p in named)]
    return list(dict.fromkeys(found))


def _feeds(step: StepInfo, project: _Project) -> bool:
    """A plain context COPY into the project (a narrowed tree's replayed ``COPY . .`` included)."""
    node = step.node
    if (step.kind != Kind.CONTEXT_COPY or type(node) is not ir.Copy or node.heredocs or step.cwd == "?"
            or any("$" in p for p in node.paths) or any(f.name not in PLAIN_FLAGS for f in node.flags)):
        return False
    if step.artifacts:
        return all(_inside(a, project.tree) for a in step.artifacts)
    dest = posixpath.normpath(posixpath.join(step.cwd, node.dest))
    return project.narrowing is not None and bool(project.narrowing.replayed) and dest == project.tree


def _unlisted(context: Path, rel: str, under: list[str], ignore: list[dockerignore.Rule]) -> bool:
    """Whether the COPY of ``rel`` brings what a list of files does not show: a symbolic link to a
    folder, or a folder the context sends with no file in it."""
    top = context / rel
    if not top.is_dir():
        return False
    for root, dirs, _ in os.walk(top):
        for d in dirs:
            full = Path(root, d)
            name = full.relative_to(context).as_posix()
            if dockerignore.ignored(name, ignore):
                continue
            if full.is_symlink() or not any(f.startswith(name + "/") for f in under):
                return True
    return False


def _split_copy(step: StepInfo, tree: str, ctx: _Context,
                rules: list[dockerignore.Rule]) -> tuple[list[str], list[str]] | None:
    """(build inputs, other paths) a COPY brought into ``tree``, each as few paths as cover them;
    None when its files cannot be listed from the context."""
    node = step.node
    assert isinstance(node, ir.Copy)
    dest = posixpath.normpath(posixpath.join(step.cwd, node.dest))
    into_dir = node.dest.endswith(("/", "/.")) or node.dest in (".", "..") or len(node.sources) > 1
    files: dict[str, bool] = {}
    roots: list[str] = []
    for src in node.sources:
        rel = posixpath.normpath(src.lstrip("/"))
        if any(c in src for c in "*?[") or "://" in src or rel.startswith(".."):
            return None
        under = [f for f in ctx.sent if rel == "." or f == rel or f.startswith(rel + "/")]
        if not under or _unlisted(ctx.dir, rel, under, ctx.ignore):
            return None
        if under == [rel]:
            image = posixpath.join(dest, posixpath.basename(rel)) if into_dir else dest
            files[image] = False
            roots.append(image)
            continue
        for f in under:
            sub = f if rel == "." else f[len(rel) + 1:]
            files[posixpath.join(dest, sub)] = False
            # a folder of its own is one path; the project folder itself is never declared whole
            roots.append(dest if dest != tree else posixpath.join(dest, sub.split("/")[0]))
    if not all(_inside(p, tree) and p != tree for p in files):
        return None
    files = {p: dockerignore.ignored(posixpath.relpath(p, tree), rules) for p in files}
    left: list[str] = []
    kept: list[str] = []
    for root in dict.fromkeys(roots):
        lo, ke = _cover(root, {p: f for p, f in files.items() if _inside(p, root)})
        left += lo
        kept += ke
    return left, kept


def _cover(root: str, files: dict[str, bool]) -> tuple[list[str], list[str]]:
    """(paths of only inputs, paths of no input) that together cover ``files`` under ``root``."""
    flags = set(files.values())
    if flags == {True}:
        return [root], []
    if flags == {False}:
        return [], [root]
    children: dict[str, dict[str, bool]] = {}
    for path, flag in files.items():
        children.setdefault(posixpath.join(root, path[len(root) + 1:].split("/")[0]), {})[path] = flag
    left: list[str] = []
    kept: list[str] = []
    for child in sorted(children):
        lo, ke = _cover(child, children[child])
        left += lo
        kept += ke
    return left, kept


def _refs(steps: list[StepInfo], skip: set[int], texts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(path or ``$``-word, where) of every word the runtime may read a file by: the steps it
    keeps and its config (builder-only steps and ``skip`` aside) and the start scripts."""
    refs: list[tuple[str, str]] = []

    def add(text: str, cwd: str, where: str) -> None:
        for token in (t for t in _TOKEN.split(text) if t):
            refs.append((token if "$" in token else posixpath.normpath(posixpath.join(cwd, token)), where))

    for step in steps:
        node = step.node
        if id(step) in skip or step.kind in (Kind.BUILD, Kind.PYTHON_DEPS, Kind.MIXED) or isinstance(node, ir.From):
            continue
        if isinstance(node, ir.Run):
            text = node.command if isinstance(node.command, str) else " ".join(node.command)
            text += "".join(h.body for h in node.heredocs) if node.heredocs else ""
        elif isinstance(node, ir.Copy):
            text = node.dest  # its sources name files of the context or of another image, not of this one
        else:
            text = instruction_text(node)
        add(text, step.cwd, f"line {node.line}")
    cwd = steps[-1].cwd if steps else "/"
    for path, body in texts:
        add(body, cwd, f"{path} (a start script)")
    return refs


def _naming(path: str, refs: list[tuple[str, str]], runs: list[str]) -> str | None:
    """Where the runtime names ``path`` (or a file in it), if anywhere."""
    for ref, where in refs:
        if "$" in ref:
            if ref.rstrip("/").rsplit("/", 1)[-1] == posixpath.basename(path):
                return f"{where} names `{ref}`"
        elif _inside(ref, path) and not any(_inside(ref, r) for r in runs):
            return f"{where} names {ref}"
    return None


def _leave(project: _Project, steps: list[StepInfo], ctx: _Context,
           notes: Notes) -> InputsLeft | None:
    """Narrow the project's COPY (and go) steps to what is not a build input; None if nothing leaves."""
    rules = dockerignore.parse_rules("\n".join([*ctx.recipe, *project.inputs]))
    copies = [s for s in steps[:project.build_at] if _feeds(s, project)]
    refs = _refs(steps, {id(s) for s in copies}, ctx.texts)
    folder = project.narrowing.left if project.narrowing is not None else ()
    plan: dict[int, tuple[StepInfo, list[str], list[str]]] = {}
    for step in copies:
        split = _split_copy(step, project.tree, ctx, rules)
        if split is None or not split[0]:
            continue
        left, kept = split
        for path in list(left):
            why = _naming(path, refs, project.runs)
            if why:
                left.remove(path)
                kept.append(path)
                notes.append((f"{project.tool}: {path} stays in the runtime although it is a build input: {why}",
                               step.node.line))
        if len(kept) > MAX_KEPT or any(_inside(k, f) or _inside(f, k) for k in kept for f in folder):
            notes.append((f"{project.tool}: line {step.node.line} is carried whole: it brings {len(kept)} "
                          f"paths that are not build inputs of {project.tool}", step.node.line))
            continue
        if left:
            plan[id(step)] = (step, left, sorted(kept))
    if any(id(s) not in plan for s in copies if not s.artifacts):
        return None  # a `COPY . .` replayed whole brings every input along
    carriers = [a for s in steps if id(s) not in plan and s.kind in CARRYING
                for a in project.go.get(id(s), s.artifacts)]
    left_all = list(dict.fromkeys(p for _, left, _ in plan.values() for p in left
                                  if not any(_inside(p, a) for a in carriers)))
    if not left_all:
        return None
    for step, _, kept in plan.values():
        step.artifacts = list(kept)
    for step in steps:
        if id(step) in project.go:
            step.artifacts = project.go[id(step)]
    kept_all = [p for _, _, kept in plan.values() for p in kept]
    written = [w for w in project.writes if not any(_inside(w, p) for p in left_all + kept_all)]
    return InputsLeft(project.tool, project.tree, tuple(project.runs), tuple(left_all + written), tuple(kept_all),
                      tuple(s.node.line for s, _, _ in plan.values() if s.node.line is not None))


def inputs_change(left: InputsLeft, rule: str, pass_name: str) -> Change:
    """The split's account of the build inputs it left in the builder (declared to verify)."""
    shown = ", ".join(left.left[:6]) + (f" and {len(left.left) - 6} more" if len(left.left) > 6 else "")
    return Change(
        rule=rule, pass_name=pass_name, line=left.lines[0] if left.lines else None,
        message=f"{left.tool}: the project's sources and build files stay in the builder: {shown}",
        reason=f"the runtime runs {', '.join(left.runs)}, which the build made from them; they are build inputs "
               f"of {left.tool} ([[build_inputs]] in data/commands.toml) or the build's own recipe, and nothing "
               "the runtime runs (the steps it keeps, the start command, the start scripts it runs) names them",
        effect="the runtime no longer receives them"
               + (f"; still carried, not build inputs: {', '.join(left.kept)}" if left.kept else ""),
        risk="low",
        config=tuple(f"Files.{path}" for path in left.left),  # left out on purpose: verify skips them
    )
