"""JavaScript builds for the split (``[[node_build]]`` and ``[node]`` in ``data/commands.toml``):
which folder a project's ``build`` script writes, whether node runs the app, and what the runtime
then needs from the tree — the output folder, the project's files as the stage COPY'd them
(replayed from the build context), and production node_modules from a prune stage, or the output
folder alone when nothing at run time runs node (assets served by another server).

Everything here is proven from the Dockerfile and the build context or not done: the output
folder from package.json's ``build`` script (a known builder's default or its option, or the one
plain folder the script names), the start command and the script it runs (no dev server, no build
at start), the context's own copy of the tree (no node_modules or output folder it would bring).
Kept apart from ``split_stages`` so the rules read (and test) on their own.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import dockerignore, ir
from ..catalog import load
from ..classify import Kind, StepInfo, copy_artifacts, resolve_dir
from ..shell import SimpleCommand, commands


@dataclass
class NodeBuild:
    """How the split carries one JavaScript project tree."""

    tool: str
    tree: str  # the project directory the build ran in
    output: str  # the folder the build script writes (absolute)
    serves: bool  # node runs at run time: production node_modules go along
    prune: str  # the command that prunes node_modules to production dependencies
    lines: tuple[int, ...]  # the install/build steps
    replays: list[ir.Copy] = field(default_factory=list)  # context COPYs made again in the assembly
    left: tuple[str, ...] = ()  # what stays in the builder (declared to verify)
    packages: frozenset[str] = frozenset()  # system packages that leave the runtime (static build)
    script: str = ""  # the build script, as package.json has it

    @property
    def node_modules(self) -> str:
        return posixpath.join(self.tree, "node_modules")


def _cfg() -> dict[str, Any]:
    return load("commands")


def _rule(cmd: SimpleCommand) -> dict[str, Any] | None:
    return next((r for r in _cfg().get("node_build", []) if cmd.program in r["programs"]), None)


def _role(cmd: SimpleCommand, rule: dict[str, Any]) -> str | None:
    """``install`` or ``build`` for a package-manager command of ``rule``, else None."""
    args = cmd.args()
    if list(args) in (list(b) for b in rule["build"]):
        return "build"
    if (args[0] if args else "") in rule["install"] and len(args) <= 1:
        return "install"
    return None


def _group(steps: list[StepInfo]) -> tuple[list[StepInfo], dict[str, Any], str] | str | None:
    """The install/build RUNs of one project (every command a ``cd``, an install or a build of
    one package manager, in one directory, at least one build): (steps, rule, tree), None when
    the stage runs no build script, or why it cannot be handled."""
    found: list[StepInfo] = []
    rule: dict[str, Any] | None = None
    tree: str | None = None
    why: str | None = None
    built = False
    for step in steps:
        if step.kind != Kind.BUILD or not isinstance(step.node, ir.Run) or not step.commands:
            continue
        mine = [c for c in step.commands if c.program != "cd"]
        rules = [_rule(c) for c in mine]
        if not any(rules):
            continue
        built = built or any(r is not None and _role(c, r) == "build" for c, r in zip(mine, rules, strict=True))
        for cmd, r in zip(mine, rules, strict=True):
            role = _role(cmd, r) if r is not None else None
            if why is not None:
                break
            if r is None or role is None:
                why = f"line {step.node.line}: `{' '.join(cmd.argv)}` is neither an install nor the build script"
            elif rule is not None and r["tool"] != rule["tool"]:
                why = "two package managers work in the stage"
            elif cmd.cwd is None or (tree is not None and cmd.cwd != tree):
                why = f"line {step.node.line} runs in a directory other than the project's"
            else:
                rule, tree = r, cmd.cwd
        found.append(step)
    if not built:
        return None
    if why is not None or rule is None or tree is None:
        return why or "the project directory is not known"
    return found, rule, tree


def _context_source(steps: list[StepInfo], before: int, target: str, context: Path) -> Path | None:
    """The context path the last context COPY before ``before`` put at ``target`` (or above it)."""
    hit: Path | None = None
    for step in steps[:before]:
        node = step.node
        if step.kind != Kind.CONTEXT_COPY or not isinstance(node, ir.Copy) or node.heredocs:
            continue
        pairs = list(zip(node.sources, step.artifacts, strict=True)) if len(step.artifacts) == len(
            node.sources) else [(s, step.artifacts[0]) for s in node.sources if len(step.artifacts) == 1]
        for src, dest in pairs:
            if target == dest or target.startswith(dest.rstrip("/") + "/"):
                rel = target[len(dest):].lstrip("/")
                candidate = (context / src / rel) if rel else context / src
                if candidate.exists():
                    hit = candidate
    return hit


def _package_json(steps: list[StepInfo], first: int, tree: str, context: Path) -> dict[str, Any] | str:
    path = _context_source(steps, first + 1, posixpath.join(tree, "package.json"), context)
    if path is None or not path.is_file():
        return f"no package.json of {tree} was found in the build context"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"{path.name} cannot be read ({exc})"
    return data if isinstance(data, dict) else f"{path.name} is not a JSON object"


def _script_commands(script: str) -> list[SimpleCommand] | None:
    cmds = commands(script)
    if cmds is None:
        return None
    # `npx vite build`, `yarn exec tsc`: the program is the word after the runner
    out = []
    for cmd in cmds:
        argv = cmd.argv
        while argv:
            program = argv[0].rpartition("/")[2]
            if program == "npx":
                argv = argv[1:]
                while argv and argv[0].startswith("-"):
                    argv = argv[1:]
            elif program in ("yarn", "pnpm") and argv[1:2] == ("exec",):
                argv = argv[2:]
            else:
                break
        out.append(SimpleCommand(argv=argv, assignments=cmd.assignments, text=cmd.text))
    return out


def output_folder(script: str) -> tuple[str | None, str]:
    """The folder (relative to the project) a ``build`` script writes, or None and why not."""
    node = _cfg()["node"]
    cmds = _script_commands(script)
    if cmds is None:
        return None, f"its build script `{script}` is not plain shell"
    found: set[str] = set()
    for cmd in cmds:
        program = cmd.program
        if program in node["unsupported"]:
            return None, f"its build script runs {program}, whose output is not one self-contained folder"
        if any("$" in w for w in cmd.argv):
            return None, f"its build script `{script}` holds a variable"
        if program in node["builders"]:
            named = [cmd.argv[i + 1] for i, w in enumerate(cmd.argv[:-1]) if w in node["out_options"]]
            named += [w.split("=", 1)[1] for w in cmd.argv if w.split("=", 1)[0] in node["out_options"] and "=" in w]
            folder = named[-1] if named else node["builders"][program]
            if not folder:
                return None, f"its build script runs {program} without naming its output folder"
            found.add(posixpath.normpath(folder))
            continue
        for word in cmd.argv[1:]:
            head = posixpath.normpath(word).split("/")[0]
            if head in node["plain_folders"]:
                found.add(head)
    for text in (cmd.text for cmd in commands(script) or []):  # redirections: `> dist/index.html`
        for after in text.split(">")[1:]:
            target = after.split()[:1]
            head = posixpath.normpath(target[0]).split("/")[0] if target else ""
            if head in node["plain_folders"]:
                found.add(head)
    if len(found) != 1:
        return None, (f"its build script `{script}` names no known output folder" if not found else
                      f"its build script `{script}` names several output folders ({', '.join(sorted(found))})")
    folder = found.pop()
    if folder.startswith(("/", "..")) or folder in (".", ""):
        return None, f"its build script writes {folder}, outside the project"
    return folder, ""


def _words(node: ir.Instruction) -> list[str]:
    command = getattr(node, "command", None)
    if not command:
        return []
    parts = list(command) if isinstance(command, tuple) else [command]
    return [w for p in parts for w in p.replace(";", " ").replace("&&", " ").split()]


def _runs_node(steps: list[StepInfo], builder_only: set[int]) -> bool:
    """Whether anything at run time runs node: CMD, ENTRYPOINT, HEALTHCHECK, a RUN the runtime keeps."""
    programs = set(_cfg()["node"]["runtime_programs"])
    for step in steps:
        node = step.node
        if isinstance(node, (ir.Cmd, ir.Entrypoint, ir.Healthcheck)):
            if any(w.rpartition("/")[2] in programs for w in _words(node)):
                return True
        elif (isinstance(node, ir.Run) and id(step) not in builder_only
              and step.kind not in (Kind.BUILD, Kind.PYTHON_DEPS)
              and (step.kind == Kind.UNKNOWN or any(c.program in programs for c in step.commands))):
            return True
    return False


def _start_blocker(steps: list[StepInfo], rule: dict[str, Any], scripts: dict[str, Any]) -> str | None:
    """Why the start command may build or serve for development (then the tree stays whole)."""
    dev = set(_cfg()["node"]["dev_servers"])
    for step in steps:
        node = step.node
        if not isinstance(node, (ir.Cmd, ir.Entrypoint)):
            continue
        words = [w.rpartition("/")[2] for w in _words(node)]
        hit = next((w for w in words if w in dev), None)
        if hit:
            return f"line {node.line} starts {hit} (a development server or a build at start)"
        if words and words[0] in rule["programs"]:
            args = [w for w in words[1:] if not w.startswith("-")]
            name = args[1] if args[:1] and args[0] in rule["run"] and len(args) > 1 else (args[0] if args else "")
            for script in (f"pre{name}", name):
                text = scripts.get(script)
                if script == name and not isinstance(text, str):
                    return f"line {node.line} runs the script {name!r}, which package.json does not define"
                if isinstance(text, str):
                    cmds = _script_commands(text) or []
                    bad = next((c.program for c in cmds if c.program in dev), None)
                    if bad or "build" in text.split():
                        return f"line {node.line} runs the script {script!r} (`{text}`), which builds or serves " \
                               "for development at start"
    return None


def _replay(step: StepInfo) -> ir.Copy | None:
    """The context COPY made again in the assembly stage (absolute destination), or None."""
    node = step.node
    if type(node) is not ir.Copy or node.flags or node.heredocs or any("$" in p for p in node.paths):
        return None
    dest = node.dest
    absolute = resolve_dir(step.cwd, dest)
    into_dir = dest.endswith("/") or dest in (".", "..") or len(node.sources) > 1
    return ir.Copy(paths=(*node.sources, absolute.rstrip("/") + "/" if into_dir else absolute))


def _covers(step: StepInfo, whole: ir.Copy) -> bool:
    """Whether ``whole`` (``COPY . DIR/``, replayed) brings every file the plain context COPY
    ``step`` wrote, from the same place in the context."""
    node = step.node
    dest = whole.paths[-1].rstrip("/") or "/"
    if type(node) is not ir.Copy or node.flags or node.heredocs or len(step.artifacts) != len(node.sources):
        return False
    for src, art in zip(node.sources, step.artifacts, strict=True):
        rel = posixpath.normpath(src)
        if rel.startswith("..") or any(c in src for c in "*?[$") or "://" in src:
            return False
        if posixpath.normpath(posixpath.join(dest, rel)) != art:
            return False
    return True


def _uncovered(steps: list[StepInfo], replays: list[ir.Copy], replayed: list[StepInfo]) -> list[ir.Copy]:
    """The replays without the context COPYs a later ``COPY . DIR/`` replay brings again whole;
    any other context COPY it covers no longer needs carrying from the builder either."""
    index = {id(s): i for i, s in enumerate(steps)}
    wholes = [(index[id(s)], r) for s, r in zip(replayed, replays, strict=True) if r.sources in ((".",), ("./",))]
    kept: list[ir.Copy] = []
    for step, again in zip(replayed, replays, strict=True):
        if not any(j > index[id(step)] and _covers(replace(step, artifacts=_artifacts_of(step)), w)
                   for j, w in wholes):
            kept.append(again)
    for i, step in enumerate(steps):
        if step.kind == Kind.CONTEXT_COPY and step.artifacts and any(j > i and _covers(step, w) for j, w in wholes):
            step.artifacts = []
    return kept


def _artifacts_of(step: StepInfo) -> list[str]:
    return copy_artifacts(step.node, step.cwd) if isinstance(step.node, ir.Copy) else []


def plan(steps: list[StepInfo], context: Path | None) -> tuple[NodeBuild | None, str, int | None]:
    """How the split carries a JavaScript build: (the plan, "", line), or (None, why not, line);
    (None, "", None) when the stage runs no build script."""
    group = _group(steps)
    if group is None:
        return None, "", None
    line = next((s.node.line for s in steps if s.kind == Kind.BUILD and any(_rule(c) for c in s.commands)), None)
    if isinstance(group, str):
        return None, group, line
    found, rule, tree = group
    build, why = _plan(steps, context, found, rule, tree)
    return build, why, line


def _plan(steps: list[StepInfo], context: Path | None, found: list[StepInfo], rule: dict[str, Any],
          tree: str) -> tuple[NodeBuild | None, str]:
    if context is None:
        return None, "no build context was given to read package.json from"
    index = {id(s): i for i, s in enumerate(steps)}
    first = index[id(found[0])]
    package = _package_json(steps, first, tree, context)
    if isinstance(package, str):
        return None, package
    found_scripts = package.get("scripts")
    scripts: dict[str, Any] = found_scripts if isinstance(found_scripts, dict) else {}
    script = scripts.get("build")
    if not isinstance(script, str):
        return None, "package.json defines no build script"
    folder, why = output_folder(script)
    if folder is None:
        return None, why
    output = posixpath.join(tree, folder)
    mine = {id(s) for s in found}
    serves = _runs_node(steps, mine)
    if serves:
        blocker = _start_blocker(steps, rule, scripts)
        if blocker:
            return None, blocker
    # Every other step that writes the tree must be a context COPY the assembly can make again,
    # from a context that holds no node_modules or output folder of its own.
    rules = dockerignore.load(context)
    root = context.resolve()
    replays: list[ir.Copy] = []
    replayed: list[StepInfo] = []
    for i, step in enumerate(steps):
        if id(step) in mine:
            continue
        for path in step.artifacts:
            if not (path == tree or tree.startswith(path.rstrip("/") + "/") or path.startswith(tree + "/")):
                continue
            again = _replay(step) if step.kind == Kind.CONTEXT_COPY else None
            if again is None:
                return None, f"line {step.node.line} also writes {path}, and it is not a plain COPY from the context"
            if path.startswith(tree + "/") and (path.startswith(output) or path.startswith(tree + "/node_modules")):
                return None, f"line {step.node.line} writes {path}, inside what the build makes"
            source = _context_source(steps, i + 1, tree, context) if not path.startswith(tree + "/") else None
            if source is not None:
                for name in (folder, "node_modules"):
                    inside = (source / name).resolve()
                    rel = inside.relative_to(root) if inside.is_relative_to(root) else None
                    if inside.exists() and (rel is None or not dockerignore.ignored(rel.as_posix(), rules)):
                        return None, (f"line {step.node.line} copies the context's {rel or name} into the "
                                      "project, and .dockerignore does not leave it out")
            replays.append(again)
            replayed.append(step)
            break
    for step in replayed:
        step.artifacts = []
    replays = _uncovered(steps, replays, replayed)
    for step in found:
        step.artifacts = [output]
    packages: frozenset[str] = frozenset() if serves else frozenset(_cfg()["node"]["packages"])
    left = (posixpath.join(tree, "node_modules"),)
    return NodeBuild(tool=str(rule["tool"]), tree=tree, output=output, serves=serves, prune=str(rule["prune"]),
                     lines=tuple(s.node.line for s in found if s.node.line is not None),
                     replays=list(dict.fromkeys(replays)), left=left, packages=packages, script=script), ""
