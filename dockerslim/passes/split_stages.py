"""DS100 split-stages: one bloated stage becomes builder → assembly → runtime.

The builder replays the original stage as written (minus image-only config), so every build
step sees exactly what it saw before. The assembly stage (``FROM scratch``) gathers the
artifacts — context copies, the Python virtualenv, build outputs — from the builder, and the
runtime stage replays the original config and the steps it still needs (package installs with
build-only packages removed, file-system edits, anything dockerslim cannot analyse), receiving
all artifacts in one ``COPY --from=assembly / /`` at the place the first of them appeared.

What the running app needs from a build step is never left in the builder: users, groups and
``/etc`` files a builder-only RUN made are recreated in the runtime stage. The virtualenv uses
``--system-site-packages`` only where the catalogue says the base's Python is a real prefix;
elsewhere it also lists the base environment's site-packages (venvs do not chain), and a file
that installs into its own virtualenv is not split. Whether a split pays off is decided with
the runtime-base pass's own function (``base_decision.decide_runtime_base``) on the instructions
the runtime stage would keep: no split when the base would stay and no build-only package
leaves, nor when the base swap alone gives the same image.

Compiled ecosystems (cargo, maven, gradle: ``[[build_output]]`` in ``data/commands.toml``): when
the start command names a file inside the build tool's output folder (``target/release/<bin>``,
``target/app.jar``), only that file leaves it; the project's other files arrive from the steps
that put them there (a ``COPY . .`` of the whole tree is replayed from the context when the
context holds no such folder; otherwise only BuildKit's ``COPY --exclude`` could thin it). Where
that cannot be shown (``cargo run``, a wrapper script, a variable), the tree is carried whole and
a note says why.

Deliberately left alone: files that are already multi-stage (their structure is the author's),
and any stage where a build step's outputs cannot be located (``make install`` without a
prefix, a ``cd`` into a variable, a build hidden in a script): the split is declined, with the
line and the reason, rather than risking a runtime stage that is missing something. With an
observed build of the original (``rewrite --observe``, ``PassContext.observation``) such a step
carries what it really wrote instead, minus build leftovers and source trees nothing names
(``_observed.py``); without one, the output is exactly the static rewrite.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import dockerignore, ir
from ..base_decision import BaseDecision, compiler_guard, decide_runtime_base
from ..catalog import BaseInfo, load, lookup_base
from ..changes import Change, CommandEdit, Note
from ..classify import (
    TOO_BROAD,
    Kind,
    PipInstall,
    StepInfo,
    category,
    classify_run,
    copy_artifacts,
    resolve_dir,
    setup_commands,
)
from ..emit import instruction_text
from ..guard import Facts, edits
from ..image import ImageRef
from ..pass_context import PassContext
from ..shell import chain, remove_words
from ..variables import StageValues, resolved_image
from . import PassResult
from ._build_inputs import inputs_change, leave_build_inputs
from ._lint import pin_rules, with_ignore
from ._node_build import NodeBuild
from ._node_build import plan as plan_node_build
from ._observed import ObservedBuild, StepOutcome, command_words, config_words, installed_packages, unloadable
from ._runtime_packages import PackagePlan, plan_runtime_packages
from ._staged_install import Staged, stage_installs

ID = "DS100"
NAME = "split-stages"
SUMMARY = "split a single stage into builder / assembly / runtime stages"

VENV = "/opt/venv"
KEPT_INSTALL = "the build stage's install, kept for run time: hadolint reports its unpinned packages there"
RUNTIME_LIBS = "runtime libraries of the build's packages; no version is knowable here"
BUILDER_ONLY = {Kind.PYTHON_DEPS, Kind.BUILD}
ARTIFACT_KINDS = {Kind.CONTEXT_COPY, Kind.IMAGE_COPY, Kind.PYTHON_DEPS, Kind.BUILD, Kind.MIXED}
IMAGE_ONLY_CONFIG = (ir.Cmd, ir.Entrypoint, ir.Expose, ir.Healthcheck, ir.Stopsignal, ir.Volume,
                     ir.Label, ir.Onbuild, ir.Maintainer)
DISTRO_PYTHON_PKGS = {"python3", "python3-pip", "python3-dev", "python3-full"}


class Decline(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def _note(message: str, line: int | None = None, level: str = "info") -> Note:
    return Note(rule=ID, pass_name=NAME, message=message, line=line, level=level)  # type: ignore[arg-type]


def _classify(stage: ir.Stage, df: ir.Dockerfile) -> list[StepInfo]:
    """Every instruction of the stage with its kind, working directory and user; ARG and ENV
    values are substituted where the builder substitutes them (WORKDIR, COPY/ADD, USER)."""
    cwd, user = "/", "root"
    values = StageValues(df)
    steps: list[StepInfo] = []
    for node in stage.body:
        values.visit(node)
        if isinstance(node, ir.Workdir):
            path = values.resolve(node.path)
            cwd = resolve_dir(cwd, path) if path is not None and cwd != "?" else "?"
            steps.append(StepInfo(node, Kind.CONFIG, cwd, user))
        elif isinstance(node, ir.User):
            user = values.resolve(node.user) or node.user
            steps.append(StepInfo(node, Kind.CONFIG, cwd, user))
        elif isinstance(node, ir.Copy):
            kind = Kind.IMAGE_COPY if node.flag("from") is not None else Kind.CONTEXT_COPY
            step = StepInfo(node, kind, cwd, user)
            paths = [values.resolve(p) for p in node.paths]
            dest = paths[-1]
            if dest is None or (cwd == "?" and not dest.startswith("/")):
                step.unaccounted = ("its destination holds a variable whose value is not known" if dest is None
                                    else "its destination is relative to a WORKDIR that holds a variable")
            else:
                resolved = replace(node, paths=tuple(p if p is not None else o
                                                     for p, o in zip(paths, node.paths, strict=False)))
                step.artifacts = copy_artifacts(resolved, cwd if cwd != "?" else "/")
                if isinstance(node, ir.Add) and any(s.endswith((".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2"))
                                                    for s in node.sources):
                    step.artifacts = [resolve_dir(cwd, dest)]
            steps.append(step)
        elif isinstance(node, ir.Run):
            steps.append(classify_run(node, cwd if cwd != "?" else "/", user))
            if cwd == "?" and steps[-1].kind in BUILDER_ONLY | {Kind.MIXED}:
                steps[-1].unaccounted = "it runs in a WORKDIR that holds a variable whose value is not known"
        else:
            steps.append(StepInfo(node, Kind.CONFIG, cwd, user))
    return steps


def _needs_venv(steps: list[StepInfo]) -> bool:
    return any(p.target is None and not p.user and not _own_venv(p) for s in steps for p in s.pip)


def _own_venv(pip: PipInstall) -> bool:
    """pip from a virtualenv the Dockerfile made itself (``/x/venv/bin/pip``)."""
    return "/bin/" in pip.command.argv[0] or pip.command.argv[0].startswith(("/", "."))


def _program(command: ir.Command) -> str:
    """The program a CMD/ENTRYPOINT runs (first word of the shell form)."""
    words = list(command) if isinstance(command, tuple) else command.split()
    return words[0] if words else ""


def _check(steps: list[StepInfo], final_cmds: list[ir.Command]) -> None:
    """Raise Decline when some builder-only work cannot be carried over faithfully."""
    for step in steps:
        line = step.node.line
        if step.unaccounted and (step.kind in ARTIFACT_KINDS):
            raise Decline(f"cannot locate the effects of this step: {step.unaccounted}", line)
        if step.kind == Kind.UNKNOWN and any(category(c) in ("build", "python") for c in step.commands):
            raise Decline("a build step or dependency install is mixed with commands dockerslim cannot follow", line)
        for pip in step.pip:
            if pip.system and (pip.command.program != "uv" or step.node.heredocs  # type: ignore[attr-defined]
                               or not isinstance(step.node.command, str)):  # type: ignore[attr-defined]
                raise Decline("`--system` installs into the interpreter outside a virtualenv", line)
            if (pip.target is None and not pip.user and not _own_venv(pip)
                    and step.user.split(":")[0] not in ("root", "0")):
                raise Decline(f"dependencies are installed as user {step.user!r}; "
                              "a shared virtualenv would not be writable", line)
        for path in step.artifacts if step.kind in ARTIFACT_KINDS else ():
            if path in TOO_BROAD:
                raise Decline(f"this step writes to {path}, too broad to carry over as an artifact", line)
    if _needs_venv(steps):
        for command in final_cmds:
            argv0 = _program(command)
            if argv0.startswith("/") and posixpath.basename(argv0).startswith("python") and not argv0.startswith(VENV):
                raise Decline(f"the image runs {argv0} by absolute path, which would bypass the virtualenv")


def _widen(path: str) -> str | None:
    """The path the assembly should take: a whole home directory (so its owner and mode come
    along instead of an implicit root-owned parent), nothing under /tmp (its mode 1777 must
    not be replaced, and nothing there is the app)."""
    parts = path.strip("/").split("/")
    if parts[0] == "tmp":
        return None
    if parts[0] == "home" and len(parts) > 2:
        return "/home/" + parts[1]
    if parts[0] == "root" and len(parts) > 1:
        return "/root"
    return path


MERGED_USR = {"/bin": "/usr/bin", "/sbin": "/usr/sbin", "/lib": "/usr/lib", "/lib64": "/usr/lib64"}


def _target(path: str) -> str:
    """Where an artifact lands: /bin/x goes to /usr/bin/x, because on merged-/usr systems /bin is
    a symlink, and a real /bin directory arriving from the assembly would replace it."""
    for link, real in MERGED_USR.items():
        if path == link or path.startswith(link + "/"):
            return real + path[len(link):]
    return path


def _artifacts(steps: list[StepInfo], venv: bool) -> list[str]:
    paths: list[str] = [VENV] if venv else []
    for step in steps:
        if step.kind in ARTIFACT_KINDS:
            paths += [w for w in map(_widen, step.artifacts) if w]
    out: list[str] = []
    for p in sorted(set(paths)):
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return out


def _unique_name(df: ir.Dockerfile, wanted: str) -> str:
    names = {s.name.lower() for s in df.stages if s.name}
    name, n = wanted, 2
    while name in names:
        name, n = f"{wanted}-{n}", n + 1
    return name


# Lists the base interpreter's own site-packages in the new virtualenv: --system-site-packages
# alone only reaches a real prefix, and a base whose Python is itself a virtualenv (or one the
# catalogue does not know) would lose its packages (venvs do not chain).
CHAIN_BASE_ENV = ("python3 -c 'import site; print(\"\\n\".join(site.getsitepackages()))' > "
                  f"\"$({VENV}/bin/python -c 'import sysconfig; print(sysconfig.get_path(\"purelib\"))')"
                  "/_base_python.pth\"")


# The virtualenv's `pip` when it has none of its own: the base's pip, run by the virtualenv's
# interpreter (which sees it through --system-site-packages), so it installs into the
# virtualenv; what `python -m pip` does, with the script's folder first on sys.path as in pip's
# own console script (not the working directory, whose files could shadow pip's imports).
PIP_SHIM = (f"printf '#!{VENV}/bin/python\\nimport runpy\\n"
            f"runpy.run_module(\"pip\", run_name=\"__main__\")\\n' > {VENV}/bin/pip",
            f"chmod 755 {VENV}/bin/pip")


def _venv_steps(system_site: bool, chain_base: bool, pip_names: tuple[str, ...] = ()) -> list[ir.Instruction]:
    """The RUN that makes the virtualenv and the ENV that activates it. With ``pip_names`` (the
    base's pip serves it) it gets no pip of its own, only ``pip`` and those names pointing at the base's."""
    flag = " --system-site-packages" if system_site or chain_base or pip_names else ""
    command = f"python3 -m venv{' --without-pip' if pip_names else ''}{flag} {VENV}"
    if pip_names:
        command = chain([command, *PIP_SHIM, *(f"ln -s pip {VENV}/bin/{name}" for name in pip_names if name != "pip")])
    if chain_base:
        command = chain([command, CHAIN_BASE_ENV])
    what = "; its pip is the base image's" if pip_names else ""
    return [
        ir.Run(command=command,
               leading=(f"# dockerslim: dependencies go into a virtualenv, copied whole into the runtime{what}\n",)),
        _venv_env(),
    ]


def _base_pip(info: BaseInfo | None, python_env: PythonEnv, decision: BaseDecision, image: str) -> str | None:
    """Why the virtualenv needs a pip of its own; None when the base's serves it. With
    --system-site-packages pip skips what the builder's base already has (pip, setuptools…), so
    that must be in the runtime's base too: only where the catalogue says the runtime has the same
    Python with the same site-packages (``site_packages_in_runtime``)."""
    if python_env.kind != "prefix":
        return python_env.evidence
    if info is None:
        return f"{image} is not in the catalogue"
    if not info.python:
        return (f"the Python of {image} comes from the file's own installs, and the runtime stage gets the interpreter "
                "without the pip they bring (python3-pip with its setuptools and wheel, or get-pip.py's), which the "
                "builder's pip would take as installed")
    if not info.site_packages_in_runtime:
        return f"the catalogue does not say that the runtime variant of {image} has the same site-packages"
    if decision.forced and decision.swaps:
        return f"the runtime base {decision.runtime} is given (--runtime-base): its site-packages are not known"
    return None


def _venv_env() -> ir.Env:
    """The ENV that activates the virtualenv, in the builder after it is made and in the runtime."""
    return ir.Env(pairs=(("VIRTUAL_ENV", VENV), ("PATH", f'"{VENV}/bin:$PATH"')))


@dataclass(frozen=True)
class PythonEnv:
    """What the ``python3`` the pip installs use is, and the evidence."""

    kind: str  # prefix (a real installation) | venv (itself a virtualenv) | unknown
    evidence: str
    in_file: bool = False  # the Dockerfile itself made or activated the virtualenv


def _python_env(info: BaseInfo | None, image: str, steps: list[StepInfo]) -> PythonEnv:
    """What the ``python3`` the pip installs use is: ``prefix`` (a real installation, which
    --system-site-packages reaches), ``venv`` (a virtualenv, which it does not), or ``unknown``;
    with the evidence. The file's own words come first (``ENV VIRTUAL_ENV``, or ``python -m venv
    DIR`` with ``DIR/bin`` put on PATH before the first install), then the catalogue."""
    made: dict[str, int | None] = {}
    for step in steps:
        node = step.node
        if step.pip:
            break
        if isinstance(node, ir.Env):
            for key, value in node.pairs:
                if key == "VIRTUAL_ENV":
                    return PythonEnv("venv", f"ENV VIRTUAL_ENV at line {node.line}", in_file=True)
                if key == "PATH":
                    for folder, line in made.items():
                        if f"{folder.rstrip('/')}/bin" in value:
                            return PythonEnv("venv", f"the virtualenv {folder} made at line {line} is on PATH "
                                                     f"(line {node.line})", in_file=True)
        for cmd in step.commands:
            argv = cmd.argv
            if cmd.program == "virtualenv" or (cmd.program.startswith("python") and argv[1:3] == ("-m", "venv")):
                target = next((a for a in reversed(argv[1:]) if not a.startswith("-") and a not in ("venv", "-m")),
                              None)
                if target:
                    made[resolve_dir(step.cwd, target)] = node.line
    if info is None:
        return PythonEnv("unknown",
                         f"{image} is not in the catalogue, so whether its Python is a real prefix is not known")
    kind = "a virtualenv" if info.python_env == "venv" else "a real prefix"
    return PythonEnv(info.python_env, f"catalogue: the Python of {image} is {kind}")


def _without_system_flag(step: StepInfo) -> ir.Instruction:
    """``uv pip install --system`` → ``uv pip install``: in the builder it installs into the
    active virtualenv, which is what reaches the runtime."""
    node = step.node
    assert isinstance(node, ir.Run) and isinstance(node.command, str)
    script = node.command.replace("\n", " ")
    spans = [span for pip in step.pip if pip.system and pip.command.program == "uv"
             for word, span in zip(pip.command.argv, pip.command.words, strict=False) if word == "--system"]
    return replace(node, command=remove_words(script, spans))


def _add_python_venv_package(node: ir.Run) -> ir.Run:
    """Distro Python needs python3-venv to make a virtualenv: add it to the builder's install."""
    assert isinstance(node.command, str)
    for pkg in ("python3-pip", "python3-dev", "python3"):
        for sep in (" ", ""):
            needle = f" {pkg}{sep}"
            idx = node.command.find(needle)
            if idx != -1 and (idx + len(needle) == len(node.command) or sep == " "):
                cmd = node.command[: idx + len(pkg) + 1] + " python3-venv" + node.command[idx + len(pkg) + 1:]
                return replace(node, command=cmd)
    return node


# --- compiled ecosystems: only the artifact leaves the build tool's output folder --------------


@dataclass(frozen=True)
class Narrowing:
    """A project tree the split carries as its artifacts instead of whole."""

    tool: str
    tree: str  # the project directory the build ran in
    folder: str  # the build tool's output folder inside it
    files: tuple[str, ...]  # what the start command names inside the folder
    left: tuple[str, ...]  # the folder and the tool's leftovers, left in the builder
    lines: tuple[int, ...]  # the build steps
    replayed: tuple[ir.Copy, ...] = ()  # `COPY . .` of the tree, replayed from the context


_TOKEN = re.compile(r"[\s;&|=:'\"(),\[\]`<>]+")


def _tokens(text: str) -> list[str]:
    return [t for t in _TOKEN.split(text) if t]


def _build_rule(step: StepInfo) -> dict[str, Any] | None:
    """The ``[[build_output]]`` entry every command of a build RUN belongs to, or None."""
    if not isinstance(step.node, ir.Run) or step.kind != Kind.BUILD or step.node.heredocs or not step.commands:
        return None
    rules = load("commands").get("build_output", [])
    rule: dict[str, Any] | None = next((r for r in rules if step.commands[0].program in r["programs"]), None)
    if rule is None:
        return None
    for cmd in step.commands:
        sub = next((a for a in cmd.argv[1:] if not a.startswith("-")), None)
        if cmd.program not in rule["programs"] or (rule["subcommands"] and sub not in rule["subcommands"]):
            return None
    return rule


def _moves(rule: dict[str, Any], step: StepInfo) -> str | None:
    """An option of the build that moves the project or its output folder, if any."""
    for cmd in step.commands:
        for word in (*cmd.assignments, *cmd.argv[1:]):
            for opt in rule["moving_options"]:
                if word == opt or word.startswith(opt + "=") or (len(opt) == 2 and word.startswith(opt)):
                    return word
            if any(word.startswith(f"{env}=") for env in rule["moving_env"]):
                return word
    return None


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _artifact(rel: str, patterns: list[str]) -> bool:
    """``rel`` (relative to the output folder) matches a pattern part by part (``*`` stays in one part)."""
    parts = rel.split("/")
    return any(len(p.split("/")) == len(parts) and all(fnmatch.fnmatchcase(a, b) for a, b in
                                                       zip(parts, p.split("/"), strict=True)) for p in patterns)


def _narrow(steps: list[StepInfo], context_dir: Path | None, result: PassResult) -> list[Narrowing]:
    """Build steps of a compiled ecosystem (``[[build_output]]``) whose whole project tree would be
    carried lose it for the file(s) the start command names inside the tool's output folder; the
    tree's other files still arrive from the steps that put them there (the stage's COPYs). Any
    doubt keeps the tree, with a note: a start command that names no file there (``cargo run``, a
    wrapper script, a variable), a file there that is not an artifact, another step writing the
    tree whole (``COPY . .``) or into the folder, another instruction reading the folder, an
    option or ENV that moves it. A ``COPY . .`` of the whole tree is replayed from the context
    instead, when the context shows it holds no such folder (absent or in .dockerignore)."""
    by_tree: dict[str, list[tuple[StepInfo, dict[str, Any]]]] = {}
    for step in steps:
        rule = _build_rule(step)
        if rule is not None and len(step.artifacts) == 1 and step.artifacts[0] == step.cwd and all(
                (c.cwd or step.cwd) == step.cwd for c in step.commands):
            by_tree.setdefault(step.cwd, []).append((step, rule))
    done: list[Narrowing] = []
    for tree, group in by_tree.items():
        rule = group[0][1]
        line = group[-1][0].node.line
        folder = posixpath.join(tree, str(rule["folder"]))
        replays: list[StepInfo] = []
        why = _narrow_blocker(steps, group, tree, folder, context_dir, replays)
        named: list[str] = []
        if why is None:
            named, why = _named(steps, folder, rule["artifacts"])
        if why is not None:
            result.notes.append(_note(f"{rule['tool']}: the whole of {tree} is carried, {folder} included: {why}",
                                      line))
            continue
        for step, _ in group:
            step.artifacts = list(named)
        for step in replays:
            step.artifacts = []
        left = (folder, *(posixpath.join(tree, x) for x in rule["leftovers"]))
        done.append(Narrowing(str(rule["tool"]), tree, folder, tuple(named), left,
                              tuple(s.node.line for s, _ in group if s.node.line is not None),
                              tuple(ir.Copy(paths=(".", tree.rstrip("/") + "/")) for _ in replays[:1])))
    return done


def _replayable(step: StepInfo, tree: str) -> bool:
    """``COPY . .`` (no flags) of the build context into the tree: the same files arrive when the
    COPY is made again from the context."""
    node = step.node
    return (type(node) is ir.Copy and step.kind == Kind.CONTEXT_COPY and not node.flags and not node.heredocs
            and node.sources in ((".",), ("./",)) and step.artifacts == [tree])


def _context_lacks(context_dir: Path | None, name: str) -> str | None:
    """Why a replayed ``COPY . .`` might bring ``name`` (the output folder) from the context, or None."""
    if context_dir is None:
        return "no build context was given to show it lacks that folder"
    if (context_dir / name).exists() and not dockerignore.ignored(name, dockerignore.load(context_dir)):
        return f"the build context holds {name}/ and .dockerignore does not leave it out"
    return None


def _project_blocker(steps: list[StepInfo], rule: dict[str, Any], tree: str, folder: str,
                     context_dir: Path | None) -> str | None:
    """Why the project's build files (read from the context where its COPYs take them) do not show
    that the named artifact runs alone: none found, or one mentions a marker (a manifest Class-Path
    onto target/lib, copied dependencies, a cdylib)."""
    names: list[str] = rule["project_files"]
    if context_dir is None:
        return f"no build context to read {' or '.join(names)} from"
    root = context_dir.resolve()
    found: list[Path] = []
    for step in steps:
        node = step.node
        if step.kind != Kind.CONTEXT_COPY or not isinstance(node, ir.Copy) or node.heredocs or not any(
                _inside(a, tree) for a in step.artifacts):
            continue
        for src in node.sources:
            base = (root / src).resolve()
            if base != root and root not in base.parents:
                continue
            candidates = [base] if base.name in names else [base / n for n in names]
            found += [c for c in candidates if c.is_file()]
    if not found:
        return f"no {' or '.join(names)} of the project was found in the build context"
    for path in dict.fromkeys(found):
        text = path.read_text(encoding="utf-8", errors="replace")
        marker = next((m for m in rule["markers"] if m in text), None)
        if marker:
            return (f"{path.relative_to(root)} mentions `{marker}`: the artifact may load files beside it "
                    f"in {folder}")
    return None


def _narrow_blocker(steps: list[StepInfo], group: list[tuple[StepInfo, dict[str, Any]]],
                    tree: str, folder: str, context_dir: Path | None, replays: list[StepInfo]) -> str | None:
    """Why the tree cannot be carried as its artifacts (None: it can); whole-tree ``COPY . .``
    steps that can be replayed from the context go to ``replays``. Raises Decline when an option
    or ENV moves the output folder: then not even the whole tree holds what the build wrote."""
    mine = {id(s) for s, _ in group}
    if _widen(tree) != tree:
        return "it lies in a home directory or /tmp, which the split carries whole (owner and mode) or not at all"
    if any(r["tool"] != group[0][1]["tool"] for _, r in group):
        return "two build tools work in it"
    for step, rule in group:
        moved = _moves(rule, step)
        if moved:  # the build's outputs are elsewhere: carrying the tree would lose them
            raise Decline(f"`{moved}` moves the project or the output folder of {rule['tool']}, "
                          "so where the build writes cannot be located", step.node.line)
    project = _project_blocker(steps, group[0][1], tree, folder, context_dir)
    if project:
        return project
    envs: list[str] = list(group[0][1]["moving_env"])
    for step in steps:
        node = step.node
        if id(step) in mine or isinstance(node, (ir.Cmd, ir.Entrypoint, ir.Healthcheck)):
            continue
        if _replayable(step, tree):
            lacks = _context_lacks(context_dir, posixpath.basename(folder))
            if lacks:
                return f"line {node.line} copies the whole context into {tree}, and {lacks}"
            replays.append(step)
            continue
        for path in step.artifacts:
            if _inside(tree, path) or _inside(path, folder):
                return (f"line {node.line} also writes {path} whole (carrying the tree without {folder} would "
                        "need COPY --exclude, which buildah does not build)" if _inside(tree, path)
                        else f"line {node.line} writes {path} inside the output folder")
        if isinstance(node, ir.Run):
            text = node.command if isinstance(node.command, str) else " ".join(node.command)
            text += "".join(h.body for h in node.heredocs) if node.heredocs else ""
        else:
            text = instruction_text(node)
        for token in _tokens(text):
            if token in envs:
                raise Decline(f"line {node.line} sets {token}, which moves the output folder of "
                              f"{group[0][1]['tool']}, so where the build writes cannot be located", node.line)
            if ("/" in token or token == posixpath.basename(folder)) and _inside(
                    posixpath.normpath(posixpath.join(step.cwd, token)), folder):
                return f"line {node.line} refers to {token}, inside the output folder"
    return None


def _named(steps: list[StepInfo], folder: str, patterns: list[str]) -> tuple[list[str], str | None]:
    """The files of ``folder`` the final CMD/ENTRYPOINT/HEALTHCHECK name, or why not."""
    named: list[str] = []
    for step in steps:
        node = step.node
        if not isinstance(node, (ir.Cmd, ir.Entrypoint, ir.Healthcheck)) or not node.command:
            continue
        words = list(node.command) if isinstance(node.command, tuple) else [node.command]
        for token in (t for w in words for t in _tokens(w)):
            if "$" in token:
                return [], f"line {node.line} names `{token}`, whose value is not known here"
            path = posixpath.normpath(posixpath.join(step.cwd, token))
            if not _inside(path, folder):
                continue
            if path == folder or not _artifact(path[len(folder) + 1:], patterns):
                return [], f"line {node.line} names {path}, which is not one build artifact ({', '.join(patterns)})"
            named.append(path)
    if not named:
        return [], f"the start command names no file inside {folder} (e.g. `cargo run` or a wrapper script)"
    return list(dict.fromkeys(named)), None


@dataclass
class _Split:
    """The decisions one split rests on, shared by the functions that build its stages."""

    stage: ir.Stage
    steps: list[StepInfo]
    plans: dict[int, PackagePlan]  # id(step) -> runtime version of its package installs
    release: str
    venv: bool
    system_site: bool
    chain_base: bool  # the virtualenv lists the base Python's site-packages itself (.pth)
    python_env: PythonEnv
    distro_python: bool
    builder: str
    assembly: str
    artifacts: list[str]
    decision: BaseDecision  # the runtime base the runtime stage will get (shared with runtime-base)
    observed: list[StepOutcome]  # what the observed build decided, per step (rewrite --observe)
    node: NodeBuild | None = None  # a JavaScript build carried as its output (+ production node_modules)
    narrowed: list[Narrowing] = field(default_factory=list)  # build trees carried as their artifacts
    staged: list[Staged] = field(default_factory=list)  # unprefixed installs staged under DESTDIR
    pip_names: tuple[str, ...] = ()  # the virtualenv has no pip of its own: these run the base's


def run(df: ir.Dockerfile, context: PassContext) -> PassResult:
    result = PassResult(dockerfile=df)
    split = _decide(df, context, result)
    if split is None:
        return result
    stages = [_builder_stage(split, result)]
    stages += _prune_stages(split)
    if context.options.assembly:
        stages.append(ir.Stage(
            from_=ir.From(image="scratch", name=split.assembly, leading=(
                "\n", "# dockerslim: everything the runtime needs from the build, gathered for one COPY\n")),
            body=(*_replays(split), *_copies(split.builder, split.artifacts, split.staged)),
        ))
        # The FROM scratch assembly holds only the artifacts, not a whole file system (hadolint DL3067).
        delivery: list[ir.Instruction] = [ir.Copy(
            flags=(ir.Flag(name="from", value=split.assembly),), paths=("/", "/"),
            leading=with_ignore((), "the assembly stage is FROM scratch: its / holds only the artifacts above",
                                ["DL3067"]))]
    else:
        delivery = [*_replays(split), *_copies(split.builder, split.artifacts, split.staged)]
    if split.venv:
        delivery.append(_venv_env())
    stages.append(_runtime_stage(split, delivery, result))
    result.dockerfile = replace(df, stages=tuple(stages))
    _report(split, context, result)
    return result


def _replays(split: _Split) -> list[ir.Instruction]:
    """The whole-tree context COPYs replayed beside the narrowed artifacts (before them: the
    artifacts land inside those trees), and a JavaScript project's production node_modules."""
    node: list[ir.Instruction] = [*split.node.replays] if split.node else []
    if split.node and split.node.serves:
        node.append(ir.Copy(flags=(ir.Flag(name="from", value=_prune_name(split)),),
                            paths=(split.node.node_modules, split.node.node_modules)))
    return list(dict.fromkeys([*(c for n in split.narrowed for c in n.replayed), *node]))


def _prune_name(split: _Split) -> str:
    return split.builder + "-production"


def _prune_stages(split: _Split) -> list[ir.Stage]:
    """A JavaScript app's node_modules pruned to production dependencies, in a stage of its own
    (the builder keeps its dev dependencies for the build; the runtime receives the pruned copy)."""
    if split.node is None or not split.node.serves:
        return []
    return [ir.Stage(
        from_=ir.From(image=split.builder, name=_prune_name(split), leading=(
            "\n", f"# dockerslim: {split.node.tool} dependencies pruned to production ones for the runtime\n")),
        body=(ir.Workdir(path=split.node.tree), ir.Run(command=split.node.prune)))]


def _copies(source: str, artifacts: list[str], staged: list[Staged]) -> list[ir.Instruction]:
    """One COPY per artifact; a staging root arrives whole at / (its paths are the install's)."""
    roots = {s.root for s in staged}
    return [ir.Copy(flags=(ir.Flag(name="from", value=source),),
                    paths=(p + "/", "/") if p in roots else (p, _target(p))) for p in artifacts]


def _stage_installs(steps: list[StepInfo], context: PassContext, result: PassResult) -> list[Staged]:
    """Installs that name no prefix, staged under DESTDIR where the context proves the build system
    honours it (``_staged_install``); with an observed build, what it saw decides instead."""
    if context.observation is not None:
        return []
    staged, why_not = stage_installs(steps, context.context_dir)
    for line, why in why_not:
        result.notes.append(_note(f"install not staged under DESTDIR: {why}", line))
    return staged


def _decide(df: ir.Dockerfile, context: PassContext, result: PassResult) -> _Split | None:
    """Whether to split, and on what terms; None (with a note saying why) when not."""
    if len(df.stages) != 1:
        result.notes.append(_note("already multi-stage: its stage structure is kept"))
        return None
    stage = df.stages[0]
    steps = _classify(stage, df)
    staged = _stage_installs(steps, context, result)
    observed = _use_observation(stage, steps, context, result)
    final_cmds = [n.command for n in stage.body if isinstance(n, (ir.Cmd, ir.Entrypoint)) and n.command]
    hidden_builds = any(s.kind == Kind.UNKNOWN and any(category(c) in ("build", "python") for c in s.commands)
                        for s in steps)
    if not any(s.kind in BUILDER_ONLY | {Kind.MIXED} for s in steps) and not hidden_builds and not any(
        s.kind == Kind.SYSTEM_PACKAGES and s.packages for s in steps
    ):
        result.notes.append(_note("nothing is built in this stage: no split needed"))
        return None
    try:
        _check(steps, final_cmds)
    except Decline as exc:
        result.notes.append(_note(f"split declined: {exc}", exc.line, "skipped"))
        return None

    image = stage.from_.image
    resolved = resolved_image(df, stage)  # FROM ${BASE}: the ARG default tells the OS release
    parsed = ImageRef.try_parse(resolved)
    info = lookup_base(parsed) if parsed else None
    release = info.release if info else ""
    venv = _needs_venv(steps)
    python_env = _python_env(info, image, steps) if venv else PythonEnv("prefix", "")
    if python_env.in_file:
        result.notes.append(_note(
            f"split declined: pip installs into the image's own virtualenv ({python_env.evidence}); "
            f"a second virtualenv at {VENV} would not see what it holds (virtualenvs do not chain)",
            next((s.node.line for s in steps if s.pip), None), "skipped"))
        return None

    # Runtime versions of the package installs; they decide whether splitting pays off.
    # Code that compiles at run time (the JIT guard), or sources the guard cannot read, keep
    # every package the image had.
    guard = compiler_guard(stage, context, df)
    if guard.findings and guard.keeps_toolchain:  # not for numba's CPU JIT: it compiles nothing of the image
        first = guard.findings[0]
        result.notes.append(_note(f"system packages kept whole in the runtime: {first} (JIT guard)",
                                  first.line, "warning"))
    elif guard.blind:
        result.notes.append(_note(f"system packages kept whole in the runtime: {guard.blind}",
                                  stage.from_.line, "warning"))
    keep_all = guard.keeps_toolchain
    node, why, line = plan_node_build(steps, context.context_dir)
    if why:
        result.notes.append(_note(f"the JavaScript project is carried whole, node_modules included: {why}", line))
    plans: dict[int, PackagePlan] = {}
    for step in steps:
        if step.kind in (Kind.SYSTEM_PACKAGES, Kind.MIXED):
            installed = (installed_packages(context.observation, step.node.line)
                         if context.observation is not None and step.node.line in context.observation.steps else None)
            plan = plan_runtime_packages(step, "" if keep_all else release, keep_all=keep_all, installed=installed,
                                         build_only=node.packages if node else frozenset())
            if plan.why_not and step.kind == Kind.MIXED:
                result.notes.append(_note(f"split declined: this RUN installs packages and builds, and {plan.why_not}",
                                          step.node.line, "skipped"))
                return None
            plans[id(step)] = plan
    removed = any(p.removed for p in plans.values())
    if not any(s.kind in BUILDER_ONLY | {Kind.MIXED} for s in steps) and not removed:
        result.notes.append(_note("no build-only packages or build steps: no split needed"))
        return None
    # One decision for the runtime base (runtime-base asks the same function of the same stage).
    decision = decide_runtime_base(df, stage, context, body=_runtime_body(steps, plans))
    if not removed and not decision.swaps:
        why = "; ".join(r.message for r in decision.kept) or "the catalogue knows no smaller variant"
        result.notes.append(_note(f"split not worth it: the runtime stage would keep {image} ({why}) and there are "
                                  "no build-only packages to leave behind", stage.from_.line, "skipped"))
        return None
    if not removed and decision.swaps and not any(s.kind in (Kind.BUILD, Kind.MIXED) for s in steps):
        alone = decide_runtime_base(df, stage, context)
        if alone.swaps and str(alone.runtime) == str(decision.runtime):
            result.notes.append(_note(
                f"no split: swapping the base to {decision.runtime} (runtime-base) gives the same image "
                "as a split would, since nothing is compiled and no build-only package would stay behind; "
                f"the dependencies install the same way on it ({decision.estimate() or 'smaller base'})",
                stage.from_.line))
            return None
    try:
        narrowed = _narrow(steps, context.context_dir, result)
    except Decline as exc:
        result.notes.append(_note(f"split declined: {exc}", exc.line, "skipped"))
        return None
    unloaded = unloadable(df, stage, _artifacts(steps, venv), context.observation) if context.observation else None
    if unloaded:  # observed build: a carried binary would not load (hook for _observed.unloadable)
        result.notes.append(_note(f"split declined: {unloaded}", stage.from_.line, "skipped"))
        return None
    chain_base = venv and python_env.kind != "prefix"
    if chain_base:
        result.notes.append(_note(
            f"the virtualenv lists the base Python's own site-packages in a .pth file: {python_env.evidence}, "
            "and --system-site-packages only reaches a real prefix", level="info"))
    own_pip = _base_pip(info, python_env, decision, image) if venv else None
    if own_pip:
        result.notes.append(_note(f"the virtualenv keeps a pip of its own (and its setuptools on Python 3.11 and "
                                  f"older): {own_pip}", next((s.node.line for s in steps if s.pip), None)))
    # the project's sources and build files stay in the builder where the runtime runs the artifact
    inputs, narrowed, kept = leave_build_inputs(stage, df, steps, narrowed, context.context_dir)
    result.notes += [_note(message, line) for message, line in kept]
    result.changes += [inputs_change(left, ID, NAME) for left in inputs]
    return _Split(
        stage=stage, steps=steps, plans=plans, release=release, venv=venv,
        system_site=venv and (info is None or info.packages_in_base),  # reuse what the base ships (torch…)
        chain_base=chain_base, python_env=python_env,
        distro_python=venv and info is not None and info.python == "",
        builder=_unique_name(df, "builder"), assembly=_unique_name(df, "assembly"),
        artifacts=_artifacts(steps, venv), decision=decision, observed=observed, narrowed=narrowed, node=node,
        staged=staged,
        pip_names=_pip_names(steps) if venv and own_pip is None else (),
    )


def _pip_names(steps: list[StepInfo]) -> tuple[str, ...]:
    """``pip``, ``pip3`` and any other ``pipX.Y`` the stage runs: each must find the virtualenv first."""
    used = {c.program for s in steps for c in s.commands if re.fullmatch(r"pip[0-9.]*", c.program)}
    return tuple(sorted({"pip", "pip3"} | used))


def _use_observation(stage: ir.Stage, steps: list[StepInfo], context: PassContext,
                     result: PassResult) -> list[StepOutcome]:
    """With an observed build: steps whose outputs static reading could not locate become
    builder-only with the observed outputs as artifacts; artifacts lose build leftovers and
    source trees nothing reads (``_observed.py``). Steps it cannot help are noted."""
    if context.observation is None:
        return []
    cwd = steps[-1].cwd if steps else "/"
    build = ObservedBuild(context.observation, steps, config_words(stage), cwd, command_words(stage))
    outcomes: list[StepOutcome] = []
    for step in steps:
        outcome = build.convert(step)
        if outcome is None and step.kind in (Kind.UNKNOWN, Kind.BUILD) and isinstance(step.node, ir.Run) and (
                step.kind == Kind.UNKNOWN or step.unaccounted) and build.observed(step):
            why = build.blocker(step)
            if why:
                result.notes.append(_note(f"observed build: this step's outputs are not carried as files ({why}); "
                                          "the static reading stands", step.node.line))
        outcome = outcome or build.refine(step)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _runtime_body(steps: list[StepInfo], plans: dict[int, PackagePlan]) -> list[ir.Instruction]:
    """The instructions the runtime stage will run (artifacts aside): what the base decision
    must judge, rather than the original stage with its build steps."""
    body: list[ir.Instruction] = []
    for step in steps:
        node = step.node
        if step.kind in (Kind.SYSTEM_PACKAGES, Kind.MIXED):
            plan = plans[id(step)]
            if plan.why_not or (step.kind == Kind.SYSTEM_PACKAGES and not plan.removed and not plan.added):
                body.append(node)
            elif plan.script is not None:
                body.append(ir.Run(command=plan.script, flags=node.flags))
        elif step.kind not in ARTIFACT_KINDS:
            body.append(node)
        else:
            setup = setup_commands(node, step.commands) if isinstance(node, ir.Run) else []
            if setup:
                body.append(ir.Run(command=chain(setup), flags=node.flags))
    return body


def _builder_stage(split: _Split, result: PassResult) -> ir.Stage:
    """The original stage, as written, without image-only config, with the virtualenv set up."""
    body: list[ir.Instruction] = []
    venv_added = False
    for step in split.steps:
        node = step.node
        if isinstance(node, IMAGE_ONLY_CONFIG):
            continue
        if split.venv and not venv_added and any(not p.user and p.target is None for p in step.pip):
            body += _venv_steps(split.system_site, split.chain_base, split.pip_names)
            venv_added = True
        if any(p.system and p.command.program == "uv" for p in step.pip):
            node = _without_system_flag(step)
            result.changes.append(Change(
                rule=ID, pass_name=NAME, line=node.line,
                message="`uv pip install --system` installs into the virtualenv",
                reason="in the builder the virtualenv is active; what it holds is what reaches the runtime",
                effect="the same packages, in /opt/venv instead of the system interpreter", risk="low",
                commands=edits(step.node, node)))  # type: ignore[arg-type]
        if split.distro_python and isinstance(node, ir.Run) and any(
            set(pk.packages) & DISTRO_PYTHON_PKGS for pk in step.packages):
            venv_ready = _add_python_venv_package(node)
            if venv_ready is not node:
                result.changes.append(Change(
                    rule=ID, pass_name=NAME, line=node.line,
                    message="python3-venv added to the builder's package install",
                    reason="distro Python needs it to create the virtualenv", effect="builder stage only", risk="none",
                    commands=edits(node, venv_ready)))
            node = venv_ready
        body.append(node)
    while body and not isinstance(body[-1], (ir.Run, ir.Copy)):
        body.pop()  # trailing config changes nothing the runtime receives
    from_ = replace(split.stage.from_, name=split.builder,
                    leading=(*split.stage.from_.leading,
                             "# dockerslim: build stage (compilers, headers, caches stay here)\n"))
    return ir.Stage(from_=from_, body=tuple(body))


def _runtime_stage(split: _Split, delivery: list[ir.Instruction], result: PassResult) -> ir.Stage:
    """The original order, builder-only work replaced by the artifacts."""
    body: list[ir.Instruction] = []
    package_runs: set[int] = set()  # positions of package-install RUNs (they never need artifacts)
    first_artifact: int | None = None
    replays: list[int] = []  # positions of RUNs recreating users, groups and /etc files
    for step in split.steps:
        node = step.node
        if step.kind in (Kind.SYSTEM_PACKAGES, Kind.MIXED):
            plan = split.plans[id(step)]
            if plan.why_not or (step.kind == Kind.SYSTEM_PACKAGES and not plan.removed and not plan.added):
                new_node: ir.Instruction | None = node
                if isinstance(node, ir.Run):  # its unpinned packages are reported once, on the builder's copy
                    new_node = replace(node, leading=with_ignore(node.leading, KEPT_INSTALL, pin_rules(node)))
            elif plan.script is not None:
                install = ir.Run(command=plan.script, flags=node.flags, source=node.source)
                new_node = replace(install, leading=with_ignore(node.leading, RUNTIME_LIBS, pin_rules(install)))
            else:
                new_node = None
            if new_node is not None:
                package_runs.add(len(body))
                body.append(new_node)
        elif step.kind not in ARTIFACT_KINDS:
            body.append(node)
        elif isinstance(node, ir.Run) and (setup := setup_commands(node, step.commands)):
            # users, groups and /etc files the running app needs: recreated, not left in the builder
            replay = ir.Run(command=chain(setup), flags=tuple(f for f in node.flags if f.name != "mount"), leading=(
                "# dockerslim: users, groups and /etc files made by a build step, recreated for the runtime\n",))
            replays.append(len(body))
            body.append(replay)
            result.changes.append(Change(
                rule=ID, pass_name=NAME, line=node.line,
                message=f"runtime stage recreates what line {node.line} set up outside the build: {'; '.join(setup)}",
                reason="the build step stays in the builder, but the user, group or /etc file it made is used at run "
                       "time (USER, --chown, file owners, configuration)",
                effect="the same accounts and /etc files in the final image", risk="low",
                commands=tuple(CommandEdit(None, argv) for argv in Facts().run(replay))))
        if step.kind in ARTIFACT_KINDS and first_artifact is None:
            first_artifact = len(body)
        if step.kind == Kind.UNKNOWN:
            result.notes.append(_note(
                f"kept in the runtime stage unchanged: {step.reason or 'its effects are unknown'}",
                node.line, "warning"))
    # Deliver the artifacts where the first of them appeared, but after any package installs
    # that follow it with only config in between: installs do not need the app, and a layer
    # of packages above the app's layer would be rebuilt on every code change.
    at = len(body) if first_artifact is None else first_artifact
    for i in range(at, len(body)):
        if i in package_runs:
            at = i + 1
        elif isinstance(body[i], (ir.Run, ir.Copy)):
            break
    # Accounts before the artifacts arrive: files the builder gave to a user keep their numeric
    # owner, which the recreated user then has (same commands, same order of creation).
    late = [body[i] for i in replays if i >= at]
    if late:
        body = [n for i, n in enumerate(body) if i not in replays or i < at]
        body[at:at] = late
        at += len(late)
    body[at:at] = delivery
    tools = split.decision.guard.toolchain.packages if split.decision.swaps else ()
    if tools:  # what run-time compilation needs (JIT guard), not in the runtime base: installed first
        install = ir.Run(command=f"apt-get update && apt-get install -y --no-install-recommends {' '.join(tools)} "
                                 "&& rm -rf /var/lib/apt/lists/*",
                         leading=(f"# dockerslim: {' '.join(tools)}: what the code compiling at run time needs "
                                  f"(JIT guard), not in {split.decision.runtime}\n",))
        body.insert(0, replace(install, leading=with_ignore(install.leading, RUNTIME_LIBS, pin_rules(install))))
        met = "; ".join(f"{f.path}:{f.line} runs {f.name}, which {what}"
                        for f, what in split.decision.guard.toolchain.met)
        result.changes.append(Change(
            rule=ID, pass_name=NAME, line=split.stage.from_.line,
            message=f"runtime stage installs {' '.join(tools)} for the code the image compiles at run time",
            reason=f"{met}; these packages give {split.decision.runtime} that toolchain, where keeping "
                   f"{split.stage.from_.image} would keep the whole full image",
            effect="the run-time compilation works as before", risk="medium",
            commands=tuple(CommandEdit(None, argv) for argv in Facts().run(install))))
    from_ = replace(split.stage.from_, leading=("\n", "# dockerslim: runtime stage (only what the app needs to run)\n"))
    return ir.Stage(from_=from_, body=tuple(body))


def _estimate(split: _Split) -> str:
    """The size estimate the split rests on: the catalogue's base sizes and what leaves."""
    removed = list(dict.fromkeys(p for plan in split.plans.values() for p in plan.removed))
    parts = [split.decision.estimate() or (f"base {split.decision.runtime}" if split.decision.swaps
                                           else f"base stays {split.stage.from_.image}")]
    if removed:
        parts.append("build-only packages left behind: " + ", ".join(removed))
    return "; estimated final size: " + ", ".join(parts) + ", plus the artifacts"


def _report(split: _Split, context: PassContext, result: PassResult) -> None:
    stage, steps, plans = split.stage, split.steps, split.plans
    end = max((n.source.end_line for n in stage if n.source), default=None)
    moved = [s for s in steps if s.kind in BUILDER_ONLY]
    result.changes.append(Change(
        rule=ID, pass_name=NAME, line=stage.from_.line, end_line=end,
        message=f"split into {split.builder}" + (f" / {split.assembly}" if context.options.assembly else "")
                + " / runtime stages",
        reason=f"{len(moved)} build step(s) (dependency installs, compilation) and their tools stay in the "
               f"builder; the runtime receives {len(split.artifacts)} artifact path(s): {', '.join(split.artifacts)}",
        effect="the final image no longer carries compilers, headers, build caches or intermediate layers; "
               + ("one layer brings every artifact" if context.options.assembly else "one layer per artifact path")
               + "; builds take a little longer (two stages) and the runtime layer is rebuilt when any artifact changes"
               + _estimate(split),
        risk="low",
    ))
    removed = list(dict.fromkeys(p for plan in plans.values() for p in plan.removed))
    added = list(dict.fromkeys(p for plan in plans.values() for p in plan.added))
    if removed or added:
        pkg_line = next((s.node.line for s in steps
                         if id(s) in plans and (plans[id(s)].removed or plans[id(s)].added)), None)
        result.changes.append(Change(
            rule=ID, pass_name=NAME, line=pkg_line,
            message=f"runtime stage drops build-only packages ({', '.join(removed) or 'none'})"
                    + (f" and installs their runtime libraries ({', '.join(added)})" if added else ""),
            reason="compilers and -dev packages are needed to build, not to run; "
                   "compiled artifacts need only the shared libraries"
                   + (f" (runtime names for {split.release})" if split.release else "")
                   + "".join(f"; {dev} → {', '.join(libs)}: no map lists it, the observed install brought them"
                             for plan in plans.values() for dev, libs in plan.observed.items()),
            effect="smaller runtime layer for system packages",
            risk="medium",
        ))
    for pkg in dict.fromkeys(p for plan in plans.values() for p in plan.unknown_dev):
        result.notes.append(_note(f"{pkg}: no runtime library known for release {split.release or '(unknown)'}; "
                                  "kept in the runtime stage", level="warning"))
    if split.venv:
        result.changes.append(Change(
            rule=ID, pass_name=NAME, line=next((s.node.line for s in steps if s.pip), None),
            message=f"Python dependencies install into a virtualenv at {VENV}"
                    + (" that also sees the base image's packages (--system-site-packages)"
                       if split.system_site else ""),
            reason="a virtualenv is one directory the runtime can receive whole, without a compiler"
                   + ("; it reuses the packages the base image already ships (torch…) instead of copying them"
                      if split.system_site else ""),
            effect=f"final image Env gains VIRTUAL_ENV={VENV} and {VENV}/bin at the front of PATH",
            risk="low", config=("Env.VIRTUAL_ENV", "Env.PATH"),
        ))
    if split.pip_names:
        result.changes.append(Change(
            rule=ID, pass_name=NAME, line=next((s.node.line for s in steps if s.pip), None),
            message=f"the virtualenv has no pip of its own: {', '.join(split.pip_names)} in {VENV}/bin run the base "
                    "image's pip, which it sees (--without-pip --system-site-packages)",
            reason="the runtime base has the same Python with the same site-packages (catalogue), so the final image "
                   "need not carry a second pip (and setuptools on Python 3.11 and older) with its bytecode; what "
                   "pip found already installed in the builder's base is in the runtime's too",
            effect="about 20 MB less in the final image; the app also sees the base's own site-packages (pip…), as "
                   "it did in the original",
            risk="low",
        ))
    for outcome in split.observed:
        result.changes.append(Change(
            rule=ID, pass_name=NAME, line=outcome.line,
            message=(f"observed build: line {outcome.line} (`{outcome.text}`) runs in the builder only; "
                     if outcome.converted else f"observed build: the artifacts of line {outcome.line} thinned; ")
                    + outcome.message(),
            reason="the real build of the original showed which files this step wrote; "
                   + ("static reading could not locate them" if outcome.converted else
                      "object files, build caches and source trees that nothing at run time names stay behind"),
            effect="the runtime receives " + (", ".join(outcome.roots) or "nothing from this step"),
            risk="medium" if outcome.converted else "low",
            config=tuple(f"Files.{path}" for path in outcome.moved),  # left out on purpose: verify skips them
        ))
    if split.node is not None:
        _report_node(split.node, result)
    for narrow in split.narrowed:
        result.changes.append(Change(
            rule=ID, pass_name=NAME, line=narrow.lines[0] if narrow.lines else None,
            message=f"{narrow.tool}: the runtime receives only {', '.join(narrow.files)} from {narrow.folder}, "
                    f"not the whole of {narrow.tree}",
            reason=f"the start command runs {', '.join(narrow.files)}; the rest of {narrow.folder} (objects, "
                   "dependency builds, incremental caches, classes) serves the build only, and the project's "
                   "other files arrive from the steps that put them there"
                   + (f" (`COPY . {narrow.tree}/` from the build context, which holds no "
                      f"{posixpath.basename(narrow.folder)}/ to bring along)" if narrow.replayed else ""),
            effect=f"left in the builder: {', '.join(narrow.left)}",
            risk="low",
            config=tuple(f"Files.{path}" for path in narrow.left),  # left out on purpose: verify skips them
        ))
    for staged in split.staged:
        result.changes.append(Change(
            rule=ID, pass_name=NAME, line=staged.line,
            message=f"the install names no prefix: the builder stages it under DESTDIR={staged.root}, "
                    f"which the runtime receives whole at /",
            reason=f"the build context shows it: {staged.proof}; "
                   "the staging root holds exactly what the install wrote, at the paths it wrote them",
            effect=f"the runtime gets the installed files without the toolchain; {staged.root} stays in the builder",
            risk="low", commands=edits(staged.original, staged.node),
        ))
    if split.distro_python:
        result.notes.append(_note(
            "python3-venv added to the builder's package install (distro Python needs it for a virtualenv)"))


def _report_node(node: NodeBuild, result: PassResult) -> None:
    carried = [node.output] + ([f"{node.node_modules} (production dependencies)"] if node.serves else [])
    result.changes.append(Change(
        rule=ID, pass_name=NAME, line=node.lines[0] if node.lines else None,
        message=f"{node.tool}: the runtime receives {' and '.join(carried)} and the project's own files, "
                f"not the whole of {node.tree}",
        reason=f"package.json's build script (`{node.script}`) writes {node.output}; "
               + (f"node runs the app, so it needs only production dependencies (`{node.prune}` in a stage of its "
                  "own)" if node.serves else
                  "nothing at run time runs node, so node_modules and the system packages that bring node stay "
                  "in the builder"),
        effect=f"left in the builder: {', '.join(node.left)}"
               + ("" if node.serves else "; no node in the final image"),
        risk="low",
        config=tuple(f"Files.{path}" for path in node.left),  # left out on purpose: verify skips them
    ))
