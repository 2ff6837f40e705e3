"""What each instruction of a stage does, in the terms the split needs.

Every RUN is read with ``shell.py`` and classified by the programs it runs (``data/commands.toml``):
system packages, Python dependency installs, build steps, downloads, plain file-system edits, or
unknown. Command families people really write (``curl … get-pip.py | python``, ``python -m venv``,
``add-apt-repository``, ``manage.py collectstatic``, ``cmake -DCMAKE_INSTALL_PREFIX=… && ninja
install``, poetry's three environment layouts…) are data too (``[[family]]``): what each needs at
build time, what it leaves, where its output goes and whether the runtime needs it. Alongside, the
classifier tracks the stage's working directory and user, and collects the artifacts each step
leaves (paths whose contents the runtime stage must receive).
"""

from __future__ import annotations

import ast
import fnmatch
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import lru_cache
from typing import Any

from . import ir
from .catalog import EXTRA_DATA, load
from .shell import SimpleCommand, run_commands, run_script


class Kind(str, Enum):  # noqa: UP042 -- not StrEnum: that would change str()/f-string output
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


def _cfg() -> dict[str, Any]:
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


def as_installer(cmd: SimpleCommand) -> SimpleCommand:
    """``python -m pip install …`` and ``uv pip install …`` seen as ``pip``/``uv`` with their
    argv (and word spans) starting at the installer, so the rules can match one spelling."""
    pip = pip_argv(cmd)
    if pip is None:
        return cmd
    skip = len(cmd.argv) - len(pip)
    return replace(cmd, argv=(("uv",) if cmd.program == "uv" else ("pip",)) + pip[1:], words=cmd.words[skip:])


def _option_value(argv: tuple[str, ...], *names: str) -> str | None:
    for i, a in enumerate(argv):
        for n in names:
            if a == n and i + 1 < len(argv):
                return argv[i + 1]
            if a.startswith(n + "="):
                return a.split("=", 1)[1]
    return None


@dataclass(frozen=True)
class Family:
    """A command family of ``data/commands.toml`` ``[[family]]``: what one kind of step is."""

    name: str
    category: str  # system | python | build | download | fs
    needs: str  # at build time
    leaves: str  # what stays in the image
    output: str  # none | cwd | arg[:default] | prefix | home-cache:SUBDIR | unknown
    role: str  # build-only | runtime-setup | runtime-data
    pip: bool = False  # installs packages as pip does (into the active interpreter or virtualenv)
    env: tuple[str, ...] = ()  # ENV names that move its output (first set wins)


UNSAFE_CODE_NAMES = frozenset({"open", "exec", "eval", "compile", "__import__", "system", "subprocess", "popen",
                               "remove", "unlink", "rmtree", "write", "write_text", "write_bytes", "mkdir",
                               "makedirs", "download", "urlretrieve", "copy", "move", "rename", "chmod"})


def _python_code(cmd: SimpleCommand) -> str | None:
    """The code of ``python -c CODE``, else None."""
    argv = cmd.argv
    if not _is_python(cmd.program):
        return None
    for i, a in enumerate(argv[1:], 1):
        if a == "-c":
            return argv[i + 1] if i + 1 < len(argv) else None
        if not a.startswith("-"):
            return None
    return None


def _imports_only(code: str) -> bool:
    """Code that only imports, prints and asserts, touching no file or process: a smoke test."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Assert, ast.Pass)):
            continue
        if isinstance(stmt, ast.Expr) and (
            isinstance(stmt.value, ast.Constant)
            or (isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, ast.Name)
                and stmt.value.func.id == "print")
        ):
            continue
        return False
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    return not names & UNSAFE_CODE_NAMES


def _reads_stdin(cmd: SimpleCommand) -> bool:
    """An interpreter or shell given no script: it runs what its stdin (a pipe) holds."""
    rest = [a for a in cmd.argv[1:] if a not in ("-", "-s", "-E", "-u", "-x", "-e")]
    return not rest and cmd.program.startswith(("python", "bash", "sh"))


def _fetched_urls(cmd: SimpleCommand | None) -> list[str]:
    """URLs a curl/wget writing to stdout fetched (what a following `| sh` runs)."""
    if cmd is None or cmd.program not in ("curl", "wget") or download_outputs(cmd, "/") != []:
        return []
    return [a for a in cmd.argv[1:] if "://" in a]


def _script(cmd: SimpleCommand) -> tuple[str, list[str]] | None:
    """(script file name, its arguments) of ``python [options] SCRIPT ARGS…``."""
    argv = cmd.argv
    for i, a in enumerate(argv[1:], 1):
        if a in ("-c", "-m"):
            return None
        if not a.startswith("-"):
            return posixpath.basename(a), list(argv[i + 1:])
    return None


def _matches(rule: dict[str, Any], cmd: SimpleCommand, previous: SimpleCommand | None) -> bool:
    if not any(fnmatch.fnmatchcase(cmd.program, p) for p in rule["programs"]):
        return False
    if "subcommand" in rule and cmd.args()[:1] not in ([s] for s in rule["subcommand"]):
        return False
    if "module" in rule:
        argv = cmd.argv
        after = list(argv[argv.index("-m") + 1:][:1]) if "-m" in argv[1:] else []
        if not after or after[0] not in rule["module"]:
            return False
    if "script" in rule:
        found = _script(cmd)
        if found is None or not any(fnmatch.fnmatchcase(found[0], p) for p in rule["script"]):
            return False
        if "script_args" in rule and found[1][:1] not in ([a] for a in rule["script_args"]):
            return False
    if "option" in rule and not any(a.split("=", 1)[0] in rule["option"] for a in cmd.argv[1:]):
        return False
    if "stdin_url" in rule:
        urls = _fetched_urls(previous)
        if not _reads_stdin(cmd) or not any(fnmatch.fnmatchcase(u, p) for u in urls for p in rule["stdin_url"]):
            return False
    if "code_markers" in rule or "imports_only" in rule:
        code = _python_code(cmd)
        if code is None:
            return False
        if "code_markers" in rule and not any(m in code for m in rule["code_markers"]):
            return False
        if rule.get("imports_only") and not _imports_only(code):
            return False
    return True


@lru_cache(maxsize=1024)
def _families_for(program: str, extra: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    """The ``[[family]]`` rules whose ``programs`` patterns match ``program``, in file order: the
    rest cannot match (``_matches`` checks the program first), and a rewrite asks per command.
    ``extra``: the data folders in effect, which ``_cfg`` reads."""
    return tuple(r for r in _cfg().get("family", ()) if any(fnmatch.fnmatchcase(program, p) for p in r["programs"]))


def family(cmd: SimpleCommand, previous: SimpleCommand | None = None) -> Family | None:
    """The first ``[[family]]`` of data/commands.toml that ``cmd`` belongs to (``previous``: the
    command before it in the RUN, which feeds a pipe such as ``curl … get-pip.py | python``)."""
    if not cmd.argv:
        return None
    for rule in _families_for(cmd.program, EXTRA_DATA.get()):
        if _matches(rule, cmd, previous):
            return Family(name=rule["name"], category=rule["category"], needs=rule.get("needs", ""),
                          leaves=rule.get("leaves", ""), output=rule.get("output", "unknown"),
                          role=rule.get("role", ""), pip=rule.get("pip", False), env=tuple(rule.get("env", ())))
    return None


def category(cmd: SimpleCommand, previous: SimpleCommand | None = None) -> str:
    """system | python | build | download | fs | unknown, for one simple command (``previous``:
    the command before it in the same RUN, for pipes such as ``curl … | python``)."""
    cfg = _cfg()
    prog, argv = cmd.program, cmd.argv
    if not argv:
        return "fs"
    if prog == "xargs":
        inner = _xargs_command(cmd)
        return category(inner) if inner is not None else "unknown"
    if prog == "find":
        inner = _find_exec(cmd)
        if inner is not None:
            return category(inner) if inner.argv else "unknown"
    fam = family(cmd, previous)
    if fam is not None:
        return fam.category
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


XARGS_VALUE_OPTIONS = {"-I", "-i", "-n", "-P", "-L", "-d", "-s", "-a", "-E", "-e", "--max-args", "--max-procs",
                       "--delimiter", "--arg-file", "--replace"}


def _xargs_command(cmd: SimpleCommand) -> SimpleCommand | None:
    """The command ``xargs [options] CMD ARGS…`` runs (None when it names none: echo)."""
    argv = cmd.argv
    i = 1
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in XARGS_VALUE_OPTIONS else 1
    return replace(cmd, argv=argv[i:]) if i < len(argv) else None


def _find_exec(cmd: SimpleCommand) -> SimpleCommand | None:
    """The command a ``find … -exec CMD {} ;`` runs, or None when find runs none."""
    argv = cmd.argv
    for flag in ("-exec", "-execdir", "-ok", "-okdir"):
        if flag in argv:
            rest = argv[argv.index(flag) + 1:]
            end = next((i for i, a in enumerate(rest) if a in (";", "\\;", "+")), len(rest))
            return replace(cmd, argv=tuple(rest[:end]))
    return None


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


def local_projects(argv: tuple[str, ...]) -> list[str]:
    """The local project folders a pip install names: ``-e DIR`` / ``--editable DIR`` and
    positional paths (``.``, ``./pkg``, ``../x``, ``/src/x``); VCS URLs and index names are not."""
    out: list[str] = []
    for i, a in enumerate(argv):
        value = None
        if i == 0:
            continue  # the program itself (/opt/venv/bin/pip)
        if a in ("-e", "--editable") and i + 1 < len(argv):
            value = argv[i + 1]
        elif a.startswith("--editable="):
            value = a.split("=", 1)[1]
        elif a.startswith("-e") and len(a) > 2 and not a.startswith("--"):
            value = a[2:]
        elif not a.startswith("-") and (a in (".", "..") or a.startswith(("./", "../", "/"))) and (
                argv[i - 1] not in ("-r", "--requirement", "-c", "--constraint", "-t", "--target",
                                              "--prefix", "--root", "-f", "--find-links", "--cache-dir")):
            value = a
        if value is None or "://" in value or value.startswith(("git+", "hg+", "svn+", "bzr+")):
            continue
        if any(c in value for c in "*?") or value.endswith((".whl", ".tar.gz", ".zip", ".tgz", ".txt")):
            continue  # archives and wheels: installed, not a tree the runtime reads
        value = re.split(r"\[", value, maxsplit=1)[0]  # ".[server]" -> "."
        out.append(value.strip("\"'") or ".")
    return out


def _pip_install(cmd: SimpleCommand) -> PipInstall:
    argv = pip_argv(cmd) or cmd.argv
    target = _option_value(argv, "--target", "-t", "--prefix", "--root")
    return PipInstall(command=cmd, user="--user" in argv, target=target,
                      system="--system" in argv or "--system" in cmd.argv)


DEFAULT_PREFIX = "/usr/local"  # autotools, CMake and Meson all install there unless told otherwise


@dataclass
class _BuildState:
    """What the configure steps of one RUN set for the install steps after them."""

    prefix: str | None = None  # --prefix / CMAKE_INSTALL_PREFIX / -Dprefix


def _configured_prefix(cmd: SimpleCommand, cwd: str) -> str | None:
    """The install prefix a configure step sets (``./configure --prefix``, ``cmake
    -DCMAKE_INSTALL_PREFIX=``, ``meson setup --prefix`` / ``-Dprefix=``), else None."""
    argv = cmd.argv
    value: str | None = None
    if cmd.program == "cmake" and "--install" not in argv and "--build" not in argv:
        for i, a in enumerate(argv):
            m = re.match(r"-DCMAKE_INSTALL_PREFIX(?::\w+)?=(.*)$", a)
            if m:
                value = m.group(1)
            elif a == "-D" and i + 1 < len(argv) and argv[i + 1].startswith("CMAKE_INSTALL_PREFIX"):
                value = argv[i + 1].split("=", 1)[1]
    elif cmd.program == "meson" and cmd.args()[:1] != ["install"]:
        value = _option_value(argv, "--prefix")
        value = value or next((a.split("=", 1)[1] for a in argv if a.startswith("-Dprefix=")), None)
    elif cmd.program == "configure":
        value = _option_value(argv, "--prefix")
    if value and ("$" in value or "`" in value):
        return value  # named by a variable: the install step says it cannot be located
    return posixpath.normpath(posixpath.join(cwd, value)) if value else None


def _destdir(cmd: SimpleCommand) -> str | None:
    for a in (*cmd.assignments, *cmd.argv[1:]):
        if a.startswith("DESTDIR="):
            return a.split("=", 1)[1] or None
    return _option_value(cmd.argv, "--destdir") if cmd.program == "meson" else None


def _installs(cmd: SimpleCommand) -> bool:
    """A build tool's install step (make/ninja install, meson install, cmake --install or --target install)."""
    argv = cmd.argv
    if cmd.program in ("make", "ninja", "gmake"):
        return "install" in argv[1:]
    if cmd.program == "meson":
        return cmd.args()[:1] == ["install"]
    if cmd.program == "cmake":
        return "--install" in argv or _option_value(argv, "--target", "-t") == "install"
    return False


def _build_outputs(cmd: SimpleCommand, cwd: str, state: _BuildState | None = None) -> tuple[list[str], str | None]:
    """Explicit outputs of a build command, and why they cannot be located (or None)."""
    state = state or _BuildState()
    argv = cmd.argv
    outs: list[str] = []
    out = _option_value(argv, "-o", "--output", "--out-dir", "--outdir")
    if out and cmd.program not in ("make", "ninja", "meson", "cmake"):
        outs.append(posixpath.normpath(posixpath.join(cwd, out)))
    configured = _configured_prefix(cmd, cwd)
    if configured:
        state.prefix = configured
    if _installs(cmd):
        destdir = _destdir(cmd)
        explicit = next((a.split("=", 1)[1] for a in argv[1:] if a.startswith(("PREFIX=", "prefix="))), None)
        explicit = explicit or (_option_value(argv, "--prefix") if cmd.program == "cmake" else None)
        where = destdir or explicit or state.prefix
        if not where:
            return outs, (f"`{cmd.text}` installs to the default prefix {DEFAULT_PREFIX} (no --prefix, "
                          "CMAKE_INSTALL_PREFIX, PREFIX= or DESTDIR=)")
        if "$" in where or "`" in where:
            return outs, f"`{cmd.text}` installs to a prefix that holds a shell variable ({where})"
        outs.append(posixpath.normpath(posixpath.join(cwd, where)))
    if cmd.program == "go" and "install" in argv[1:2]:
        outs.append("/go/bin")
    if cmd.program == "cargo" and "install" in argv[1:2]:
        root = _option_value(argv, "--root")
        outs.append(root or "/usr/local/cargo/bin")
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


def _family_output(fam: Family, cmd: SimpleCommand, here: str, user: str,
                   env: Mapping[str, str] | None) -> list[str] | None:
    """Where a family's files land ([] for nowhere), or None when that cannot be told."""
    kind, _, default = fam.output.partition(":")
    if kind == "none":
        return []
    if kind == "cwd":
        return [here]
    if kind == "arg":
        module = cmd.argv.index("-m") + 2 if "-m" in cmd.argv else 2 if cmd.program == "uv" else 1
        args = [a for a in cmd.argv[module:] if not a.startswith("-")]
        target = args[-1] if args else default
        return [posixpath.normpath(posixpath.join(here, target))] if target else None
    if kind == "home-cache":
        if env is None:
            return None  # the stage's ENV was not given: an ENV may move the cache
        moved = next((env[n] for n in fam.env if env.get(n)), None)
        return [posixpath.normpath(posixpath.join(here, moved))] if moved else [f"{_home(user)}/.cache/{default}"]
    return None


def _truthy(value: str | None) -> bool | None:
    return None if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def _poetry_outputs(cmd: SimpleCommand, here: str, user: str, config: dict[str, str],
                    env: Mapping[str, str] | None) -> tuple[list[str], bool]:
    """(artifacts, installs into the interpreter poetry runs in) of ``poetry install``.

    Poetry puts the project's environment in one of three places: the interpreter poetry runs in
    (``virtualenvs.create false``; in a split, the builder's virtualenv), ``.venv`` in the
    project (``virtualenvs.in-project true``), or by default a folder under its cache,
    ``~/.cache/pypoetry/virtualenvs`` (``virtualenvs.path`` / ``cache-dir`` move it). Settings
    come from ``poetry config`` earlier in the RUN or ``POETRY_VIRTUALENVS_*`` ENV. Without the
    stage's ENV (``env`` None) and without a setting in the RUN, the interpreter is assumed, as
    before this was read."""

    def setting(key: str, variable: str) -> str | None:
        return config.get(key) or (env or {}).get(variable)

    if _truthy(setting("virtualenvs.create", "POETRY_VIRTUALENVS_CREATE")) is False:
        return [here], True  # the project (installed editable) and the interpreter's packages
    if _truthy(setting("virtualenvs.in-project", "POETRY_VIRTUALENVS_IN_PROJECT")):
        return [here], False
    path = setting("virtualenvs.path", "POETRY_VIRTUALENVS_PATH")
    cache = setting("cache-dir", "POETRY_CACHE_DIR")
    if path or cache:
        return [here, posixpath.normpath(posixpath.join(here, path or f"{cache}/virtualenvs"))], False
    if env is None and not config:
        return [here], True
    return [here, f"{_home(user)}/.cache/pypoetry/virtualenvs"], False


def classify_run(node: ir.Run, cwd: str, user: str, env: Mapping[str, str] | None = None) -> StepInfo:
    """One RUN, classified. ``env``: the ARG/ENV values in scope (``variables.StageValues.values``);
    without it, outputs that an ENV can move (the Hugging Face cache, poetry's virtualenvs)
    count as not located."""
    cmds = run_commands(node, cwd)
    if cmds is None:
        return StepInfo(node, Kind.UNKNOWN, cwd, user, reason="the command could not be analysed")
    info = StepInfo(node, Kind.FS_EDIT, cwd, user, commands=cmds)
    cats: set[str] = set()
    downloads: list[str] = []  # where the step's downloads land
    untracked: list[str] = []  # downloads whose files land where dockerslim cannot see
    build = _BuildState()
    poetry_config: dict[str, str] = {}
    previous: SimpleCommand | None = None
    for cmd in cmds:
        cat = category(cmd, previous)
        fam = family(cmd, previous)
        previous = cmd
        cats.add(cat)
        here = cmd.cwd or cwd
        if cmd.program == "poetry" and cmd.args()[:1] == ["config"] and len(cmd.args()) >= 3:
            poetry_config[cmd.args()[1]] = cmd.args()[2]
        if fam is not None and fam.category in ("python", "build") and not fam.pip:
            outs = _family_output(fam, cmd, here, user, env)
            if fam.category == "build" and cmd.cwd is None:
                info.unaccounted = info.unaccounted or f"`{cmd.text}` runs after a `cd` dockerslim cannot follow"
            elif outs is None:
                info.unaccounted = info.unaccounted or f"`{cmd.text}`: where it writes ({fam.leaves}) cannot be told"
            else:
                info.artifacts.extend(o for o in outs if o not in info.artifacts)
            if fam.category == "build":
                _build_outputs(cmd, here, build)  # a configure step sets the prefix
            continue
        if cat == "system":
            pkg = _packages(cmd)
            if pkg:
                info.packages.append(pkg)
        elif cat == "python":
            if cmd.program == "poetry":
                outs, into_interpreter = _poetry_outputs(cmd, here, user, poetry_config, env)
                info.artifacts.extend(o for o in outs if o not in info.artifacts)
                if into_interpreter:
                    info.pip.append(_pip_install(cmd))
                continue
            pip = _pip_install(cmd)
            info.pip.append(pip)
            if fam is not None and fam.name == "setup-py-install":
                info.artifacts.append(here)  # develop links to the tree; install leaves build/ there
                if cmd.argv[0].startswith("/") and "/venv" not in cmd.argv[0] and not pip.target:
                    info.unaccounted = info.unaccounted or (
                        f"`{cmd.text}` installs into the site-packages of {cmd.argv[0]}, outside a virtualenv")
            if pip.target:
                info.artifacts.append(posixpath.normpath(posixpath.join(here, pip.target)))
            elif pip.user:
                info.artifacts.append(_home(user) + "/.local")
            if cmd.program == "uv" and cmd.args()[:1] == ["sync"]:
                info.artifacts.append(here)
            for tree in local_projects(pip_argv(cmd) or cmd.argv):
                # a local project: its tree holds build outputs (and an editable install points there)
                info.artifacts.append(posixpath.normpath(posixpath.join(here, tree)))
        elif cat == "build":
            if cmd.cwd is None:
                info.unaccounted = f"`{cmd.text}` runs after a `cd` dockerslim cannot follow"
            outs, why = _build_outputs(cmd, here, build)
            info.artifacts.extend(outs)
            info.artifacts.append(here)
            if why and not info.unaccounted:
                info.unaccounted = why
        elif cat == "download":
            outs = _family_output(fam, cmd, here, user, env) if fam is not None else download_outputs(cmd, here)
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
    if info.kind == Kind.DOWNLOAD and not untracked and downloads and all(
            c.program != "git" or c.args()[:1] == ["clone"] for c in cmds if category(c) == "download") and any(
            c.args()[:1] == ["clone"] for c in cmds if c.program == "git"):
        # a source checkout: fetched once in the builder and carried whole, rather than cloned
        # again in the runtime (which would need git there, and fails where the tree already is)
        info.kind = Kind.BUILD
        info.reason = "a git clone whose folder is carried to the runtime"
    if info.kind in (Kind.PYTHON_DEPS, Kind.BUILD):
        info.artifacts.extend(d for d in downloads if d not in info.artifacts)  # the runtime needs them too
    info.artifacts = list(dict.fromkeys(info.artifacts))
    return info


def unknown_share(df: ir.Dockerfile) -> tuple[int, int]:
    """(words of RUN commands dockerslim cannot classify, all words of RUN commands) over the
    whole file: how much of its shell work the passes decide on blind. A RUN whose shell cannot
    be read counts whole."""
    unknown = total = 0
    for node in df.instructions():
        if not isinstance(node, ir.Run):
            continue
        cmds = run_commands(node)
        if cmds is None:
            words = len(str(node.command).split()) if isinstance(node.command, str) else len(node.command)
            unknown, total = unknown + words, total + words
            continue
        previous: SimpleCommand | None = None
        for cmd in cmds:
            total += len(cmd.argv)
            if category(cmd, previous) == "unknown":
                unknown += len(cmd.argv)
            previous = cmd
    return unknown, total


# Shared system folders a step's artifact may not be: carried over whole, they would bring the
# builder's files (compilers, headers) along and hide the runtime base's own.
TOO_BROAD = frozenset({"/", "/usr", "/usr/local", "/usr/lib", "/bin", "/sbin", "/lib", "/etc", "/var", "/opt", "/home",
                       "/root", "/usr/bin", "/usr/local/lib", "/tmp"})


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
