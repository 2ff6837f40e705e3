"""What each instruction of a stage does, in the terms the split needs.

Every RUN is read with ``shell.py`` and classified by the programs it runs (``data/commands.toml``):
system packages, Python dependency installs, build steps, downloads, plain file-system edits, or
unknown. Alongside, the classifier tracks the stage's working directory and user, and collects
the artifacts each step leaves (paths whose contents the runtime stage must receive).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from enum import Enum

from . import ir
from .catalog import load
from .shell import SimpleCommand, run_commands, run_script


class Kind(str, Enum):
    CONFIG = "config"
    CONTEXT_COPY = "context-copy"
    IMAGE_COPY = "image-copy"  # COPY --from=<image or stage>
    SYSTEM_PACKAGES = "system-packages"
    PYTHON_DEPS = "python-deps"
    BUILD = "build"
    DOWNLOAD = "download"
    FS_EDIT = "fs-edit"
    MIXED = "mixed"  # system packages together with builder work in one RUN
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PackageInstall:
    manager: str  # apt-get, apk, …
    packages: tuple[str, ...]


@dataclass(frozen=True)
class PipInstall:
    command: SimpleCommand
    user: bool = False  # --user
    target: str | None = None  # --target / --prefix / --root directory
    system: bool = False  # uv pip install --system, pipenv --system


@dataclass
class StepInfo:
    """One instruction, classified, with the directory and user it ran under."""

    node: ir.Instruction
    kind: Kind
    cwd: str
    user: str
    commands: list[SimpleCommand] = field(default_factory=list)
    packages: list[PackageInstall] = field(default_factory=list)
    pip: list[PipInstall] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)  # absolute paths the step produces
    unaccounted: str | None = None  # why its effects cannot be located (builder-only work)
    reason: str = ""


def _cfg() -> dict:
    return load("commands")


def _is_python(program: str) -> bool:
    return program.startswith("python")


def pip_argv(cmd: SimpleCommand) -> tuple[str, ...] | None:
    """argv of a pip invocation in any spelling (pip, pip3, python -m pip, uv pip), else None."""
    argv = cmd.argv
    prog = cmd.program
    if prog in ("pip", "pip3") or prog.startswith("pip3."):
        return argv
    if _is_python(prog) and len(argv) >= 3 and argv[1] == "-m" and argv[2] in ("pip", "pip3"):
        return argv[2:]
    if prog == "uv" and len(argv) >= 2 and argv[1] == "pip":
        return argv[1:]
    return None


def _option_value(argv: tuple[str, ...], *names: str) -> str | None:
    for i, a in enumerate(argv):
        for n in names:
            if a == n and i + 1 < len(argv):
                return argv[i + 1]
            if a.startswith(n + "="):
                return a.split("=", 1)[1]
    return None


def category(cmd: SimpleCommand) -> str:
    """system | python | build | download | fs | unknown, for one simple command."""
    cfg = _cfg()
    prog, argv = cmd.program, cmd.argv
    if not argv:
        return "fs"
    if prog in cfg["system_packages"]["programs"]:
        return "system"
    pip = pip_argv(cmd)
    if pip is not None:
        sub = [a for a in pip[1:] if not a.startswith("-")]
        if sub and sub[0] in ("install", "sync"):
            return "python"
        if sub and sub[0] in ("wheel", "download"):
            return "build"
        return "fs"  # pip list/freeze/cache purge…
    installers = cfg["python_install"]
    subs = cmd.args()
    if prog in installers and subs and subs[0] in installers[prog]:
        return "python"
    if prog in cfg["build"]["programs"]:
        return "build"
    build_subs = cfg["build"]["subcommands"]
    if prog in build_subs:
        first = subs[0] if subs else ""
        return "build" if first in build_subs[prog] else "unknown"
    if _is_python(prog) and len(argv) >= 3 and argv[1].endswith("setup.py"):
        return "build" if any(a in cfg["build"]["python_build"] or a == "install" for a in argv[2:]) else "unknown"
    if _is_python(prog) and len(argv) >= 3 and argv[1] == "-m" and argv[2] in ("build", "compileall"):
        return "build"
    if prog in cfg["download"]["programs"]:
        return "download"
    if prog in cfg["fs_edit"]["programs"]:
        if prog in ("sh", "bash") and len(argv) > 1:
            return "unknown"  # runs a script we do not read
        return "fs"
    return "unknown"


REDIRECT_RE = re.compile(r"\d?>>?\s*(?P<target>'[^']*'|\"[^\"]*\"|[^\s;&|)]+)")


def runtime_setup(cmd: SimpleCommand) -> bool:
    """A command whose effect the running image needs whatever stage it ran in: it creates users
    or groups, or writes a file under /etc (``data/commands.toml`` ``[runtime_setup]``)."""
    cfg = _cfg()["runtime_setup"]
    if cmd.program in cfg["programs"]:
        return True
    if cmd.program in cfg["readers"] or category(cmd) != "fs":
        return False
    return any(a.startswith(tuple(cfg["paths"])) for a in cmd.argv[1:])


def command_texts(node: ir.Run, cmds: list[SimpleCommand]) -> list[str]:
    """Each command of a RUN as written, with the redirections that follow its words
    (``echo x > /etc/f``), so that replaying it elsewhere writes what it wrote."""
    script = run_script(node)
    out: list[str] = []
    for i, cmd in enumerate(cmds):
        text = cmd.text.strip()
        if script is not None and cmd.words:
            script_ = script.replace("\\\n", "  ")
            stop = cmds[i + 1].words[0][0] if i + 1 < len(cmds) and cmds[i + 1].words else len(script_)
            tail = script_[cmd.words[-1][1]:stop]
            redirects = [m.group(0) for m in REDIRECT_RE.finditer(tail)]
            missing = [r for r in redirects if r not in text]
            if missing:
                text = " ".join([text, *missing])
        out.append(text)
    return out


def redirect_targets(text: str) -> list[str]:
    return [m.group("target").strip("'\"") for m in REDIRECT_RE.finditer(text)]


def setup_commands(node: ir.Run, cmds: list[SimpleCommand]) -> list[str]:
    """The run-time setup commands of a RUN as written (redirections into /etc included), in order."""
    paths = tuple(_cfg()["runtime_setup"]["paths"])
    return [text for cmd, text in zip(cmds, command_texts(node, cmds), strict=False)
            if runtime_setup(cmd) or any(t.startswith(paths) for t in redirect_targets(text))]


def _packages(cmd: SimpleCommand) -> PackageInstall | None:
    prog, argv = cmd.program, cmd.argv
    words = [a for a in argv[1:] if not a.startswith("-")]
    if prog in ("apt-get", "apt") and words[:1] == ["install"]:
        return PackageInstall(prog, tuple(words[1:]))
    if prog == "apk" and words[:1] == ["add"]:
        return PackageInstall(prog, tuple(words[1:]))
    if prog in ("dnf", "yum", "microdnf") and words[:1] == ["install"]:
        return PackageInstall(prog, tuple(words[1:]))
    return None


def _pip_install(cmd: SimpleCommand) -> PipInstall:
    argv = pip_argv(cmd) or cmd.argv
    target = _option_value(argv, "--target", "-t", "--prefix", "--root")
    return PipInstall(command=cmd, user="--user" in argv, target=target,
                      system="--system" in argv or "--system" in cmd.argv)


def _build_outputs(cmd: SimpleCommand, cwd: str) -> tuple[list[str], str | None]:
    """Explicit outputs of a build command, and why they cannot be located (or None)."""
    argv = cmd.argv
    outs: list[str] = []
    out = _option_value(argv, "-o", "--output", "--out-dir", "--outdir")
    if out:
        outs.append(posixpath.normpath(posixpath.join(cwd, out)))
    if cmd.program in ("make",) and "install" in argv[1:]:
        prefix = next((a.split("=", 1)[1] for a in argv if a.startswith(("PREFIX=", "prefix=", "DESTDIR="))), None)
        if not prefix:
            return outs, f"`{cmd.text}` installs to a location dockerslim cannot see (no PREFIX= or DESTDIR=)"
        outs.append(prefix)
    if cmd.program in ("cmake",) and "--install" in argv:
        prefix = _option_value(argv, "--prefix")
        if not prefix:
            return outs, f"`{cmd.text}` installs to the CMake default prefix (no --prefix)"
        outs.append(prefix)
    if cmd.program == "go" and "install" in argv[1:2]:
        outs.append("/go/bin")
    if cmd.program == "cargo" and "install" in argv[1:2]:
        root = _option_value(argv, "--root")
        outs.append(root or "/usr/local/cargo/bin")
    if _is_python(cmd.program) and "install" in argv[2:] and len(argv) > 1 and argv[1].endswith("setup.py"):
        return outs, f"`{cmd.text}` installs into the interpreter's site-packages outside a virtualenv"
    return outs, None


def download_outputs(cmd: SimpleCommand, cwd: str) -> list[str] | None:
    """Where a download command writes files ([] for none, e.g. ``git config``, ``curl`` to a
    pipe), or None when that cannot be told (a tool's own cache, an unknown tool)."""
    argv, program = cmd.argv, cmd.program
    if program == "git":
        sub = cmd.args()[:1]
        if sub != ["clone"]:
            return [] if sub and sub[0] in ("config", "init", "checkout", "submodule", "lfs") else None
        args = [a for a in argv[2:] if not a.startswith("-")]
        values = {argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--branch", "-b", "--depth", "--origin", "-o")}
        args = [a for a in args if a not in values]
        if not args:
            return None
        target = args[1] if len(args) > 1 else posixpath.basename(args[0].rstrip("/")).removesuffix(".git")
        return [posixpath.normpath(posixpath.join(cwd, target))]
    if program in ("curl", "wget"):
        if program == "curl" and any(a in ("-O", "--remote-name", "--remote-name-all") for a in argv[1:]):
            return None  # named after the URL, in a folder curl may be told elsewhere
        names = ("-o", "--output") if program == "curl" else ("-O", "--output-document")
        out = _option_value(argv, *names)
        if out is not None and out != "-":
            return [posixpath.normpath(posixpath.join(cwd, out))]
        if program == "wget" and out is None:
            urls = [a for a in argv[1:] if "://" in a]
            return [posixpath.join(cwd, posixpath.basename(u.rstrip("/"))) for u in urls] or None
        return []  # curl to stdout: a pipe or a shell redirect
    if program in ("huggingface-cli", "hf"):
        local = _option_value(argv, "--local-dir")
        return [posixpath.normpath(posixpath.join(cwd, local))] if local else None
    return None


def _home(user: str) -> str:
    name = user.split(":", 1)[0]
    return "/root" if name in ("", "root", "0") else f"/home/{name}"


def classify_run(node: ir.Run, cwd: str, user: str) -> StepInfo:
    cmds = run_commands(node, cwd)
    if cmds is None:
        return StepInfo(node, Kind.UNKNOWN, cwd, user, reason="the command could not be analysed")
    info = StepInfo(node, Kind.FS_EDIT, cwd, user, commands=cmds)
    cats: set[str] = set()
    downloads: list[str] = []  # where the step's downloads land
    untracked: list[str] = []  # downloads whose files land where dockerslim cannot see
    for cmd in cmds:
        cat = category(cmd)
        cats.add(cat)
        here = cmd.cwd or cwd
        if cat == "system":
            pkg = _packages(cmd)
            if pkg:
                info.packages.append(pkg)
        elif cat == "python":
            pip = _pip_install(cmd)
            info.pip.append(pip)
            if pip.target:
                info.artifacts.append(posixpath.normpath(posixpath.join(here, pip.target)))
            elif pip.user:
                info.artifacts.append(_home(user) + "/.local")
            if (cmd.program == "uv" and cmd.args()[:1] == ["sync"]) or cmd.program == "poetry":
                info.artifacts.append(here)
            if any(a in (".", "-e", "--editable") or a.startswith(("./", "-e.")) for a in cmd.argv):
                info.artifacts.append(here)  # a local project: its tree holds build outputs
        elif cat == "build":
            if cmd.cwd is None:
                info.unaccounted = f"`{cmd.text}` runs after a `cd` dockerslim cannot follow"
            outs, why = _build_outputs(cmd, here)
            info.artifacts.extend(outs)
            info.artifacts.append(here)
            if why and not info.unaccounted:
                info.unaccounted = why
        elif cat == "download":
            outs = download_outputs(cmd, here)
            if outs is None:
                untracked.append(cmd.text)
            else:
                downloads.extend(outs)
        elif cat == "unknown":
            info.reason = f"`{cmd.text}` is not a command dockerslim knows the effects of"
    cats.discard("fs")
    if "download" in cats and cats & {"python", "build"} and untracked:
        # a download whose files land where dockerslim cannot see: not builder-only work
        info.reason = info.reason or f"`{untracked[0]}` downloads files to a place dockerslim cannot see"
        info.kind = Kind.UNKNOWN
    elif "unknown" in cats:
        info.kind = Kind.UNKNOWN
    elif "system" in cats and cats & {"python", "build"}:
        info.kind = Kind.MIXED
    elif "system" in cats:
        info.kind = Kind.SYSTEM_PACKAGES
    elif "build" in cats:
        info.kind = Kind.BUILD
    elif "python" in cats:
        info.kind = Kind.PYTHON_DEPS
    elif "download" in cats:
        info.kind = Kind.DOWNLOAD
    if info.kind in (Kind.PYTHON_DEPS, Kind.BUILD):
        info.artifacts.extend(d for d in downloads if d not in info.artifacts)  # the runtime needs them too
    return info


def copy_artifacts(node: ir.Copy, cwd: str) -> list[str]:
    """Absolute paths a COPY/ADD writes (the destination, refined per source when it can be)."""
    dest = node.dest
    absolute = posixpath.normpath(posixpath.join(cwd, dest))
    into_dir = dest.endswith("/") or dest in (".", "..") or len(node.sources) > 1  # `COPY app.py .` too
    if node.heredocs or not into_dir:
        return [absolute]
    out = []
    for src in node.sources:
        if src in (".", "./") or src.endswith("/") or any(c in src for c in "*?[") or "://" in src:
            return [absolute]  # contents of a folder or a glob: the whole destination
        out.append(posixpath.join(absolute, posixpath.basename(src.rstrip("/"))))
    return out


def resolve_dir(current: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(current, path))
