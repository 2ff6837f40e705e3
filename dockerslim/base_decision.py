"""Which base image the final stage runs on: one decision, taken in one place.

Both split-stages (is a split worth it?) and runtime-base (swap the FROM) ask
:func:`decide_runtime_base`; before it existed they reasoned separately and disagreed (the split
expected ``python:3.12-slim``, the base pass then kept ``python:3.12`` for a ``HEALTHCHECK CMD
curl``, and the "slimmer" rewrite grew the image). The decision is a pure function of the
Dockerfile, the instructions the final stage will run, the build context and the options.

It also owns the run-time compiler guard (:func:`compiler_guard`): Python sources that JIT
compile, start scripts that run gcc/make/pip — and the refusal to decide on sources it cannot
read (no build context, or a file the Dockerfile copies that the context lacks).
"""

from __future__ import annotations

import glob
import posixpath
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import ir
from .catalog import PACKAGE_MANAGERS, BaseInfo, load, lookup_base, package_fate
from .changes import Level
from .classify import Kind, category, classify_run, family, pip_argv
from .cuda_use import uses_modules
from .image import ImageRef, has_variables
from .jit import JitFinding, RuntimeToolchain, runtime_toolchain, scan_context
from .pass_context import PassContext

if TYPE_CHECKING:
    from .observe.record import Observation
from .shell import SimpleCommand, commands, run_commands
from .start_scripts import ContextFiles, scan_start
from .variables import (
    REFERENCE,
    VARIABLE,
    StageValues,
    Unresolved,
    expand,
    global_args,
    references,
    resolved_image,
    substitute,
)

SAFE_RUN_KINDS = {Kind.SYSTEM_PACKAGES, Kind.FS_EDIT}


@dataclass(frozen=True)
class Reason:
    message: str
    line: int | None = None
    level: Level = "info"  # as Note.level


@dataclass(frozen=True)
class Guard:
    """What the run-time compiler guard found, or why it could not look."""

    findings: tuple[JitFinding, ...] = ()
    blind: str | None = None  # why the sources could not be checked (no context, missing file)
    toolchain: RuntimeToolchain = field(default_factory=RuntimeToolchain)  # what the findings need at run time

    @property
    def keeps_toolchain(self) -> bool:
        """True when the image compiles at run time with the image's tools (or the sources could
        not be read): every package the Dockerfile installed stays, and headers are not pruned."""
        return self.blind is not None or self.toolchain.compiles or any(f.keeps_packages for f in self.findings)


@dataclass(frozen=True)
class BaseDecision:
    """The base the final stage should run on, and why."""

    image: str  # FROM as written
    ref: ImageRef | None
    info: BaseInfo | None
    runtime: ImageRef | None  # the base to use; None: keep ``image``
    forced: bool = False
    guard: Guard = field(default_factory=Guard)
    kept: tuple[Reason, ...] = ()  # why the base is kept (when runtime is None)
    install: tuple[str, ...] = ()  # packages the final stage must install on the runtime base (curl…)
    wheels_assumed: tuple[int | None, ...] = ()  # lines of pip installs that run on the runtime base
    facts: tuple[Reason, ...] = ()  # other things worth saying (CUDA-free base chosen…)
    written: VariableSwap | None = None  # a FROM holding variables: how the swap is written
    # runtime libraries the final stage installs (observed build): (package, which file needs which soname)
    libraries: tuple[tuple[str, str], ...] = ()
    without_interpreter: bool = False  # the distro's plain image: the observed build showed no use of Python

    @property
    def swaps(self) -> bool:
        return self.runtime is not None and str(self.runtime) != self.image

    def size_before(self) -> str | None:
        return self.info.size(self.ref) if self.info else None

    def size_after(self) -> str | None:
        return self.info.size(self.runtime) if self.info and self.swaps else self.size_before()

    def estimate(self) -> str:
        """The base part of the final size, as the catalogue knows it ("" when unknown)."""
        before, after = self.size_before(), self.size_after()
        if not before or not after:
            return ""
        if not self.swaps:
            return f"base stays {self.image} ({before})"
        return f"base {before} → {after} ({self.runtime})"


# --- what the final stage needs from its base -------------------------------------------------

# programs a full/devel image has and its runtime variant may lack
FULL_IMAGE_TOOLS = {
    "curl",
    "wget",
    "git",
    "ssh",
    "gcc",
    "g++",
    "make",
    "cmake",
    "nvcc",
    "pkg-config",
    "unzip",
    "zip",
    "jq",
}
TOOL_PACKAGES = {
    "gcc": ("gcc", "build-essential"),
    "g++": ("g++", "build-essential"),
    "make": ("make", "build-essential"),
    "ssh": ("openssh-client",),
}


def _programs(command: ir.Command | None) -> set[str]:
    if command is None:
        return set()
    if isinstance(command, tuple):
        return {posixpath.basename(command[0])} if command else set()
    cmds = commands(command)
    if cmds is None:
        return {posixpath.basename(w) for w in command.split()}  # conservative: every word
    return {c.program for c in cmds}


def installed_packages(body: tuple[ir.Instruction, ...] | list[ir.Instruction]) -> set[str]:
    out: set[str] = set()
    for node in body:
        if isinstance(node, ir.Run) and isinstance(node.command, str):
            for c in run_commands(node) or []:
                if c.program in PACKAGE_MANAGERS:
                    out.update(a.split("=")[0] for a in c.argv[2:] if not a.startswith("-"))
    return out


PIP_VALUE_OPTIONS = {
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--trusted-host",
    "--timeout",
    "--retries",
    "--cache-dir",
    "--python-version",
    "--platform",
    "--implementation",
    "--abi",
    "--progress-bar",
    "--log",
    "--proxy",
}
LOCAL_OR_SOURCE = (".", "./", "/", "../", "-e", "--editable", "--no-binary", "git+", "hg+", "svn+", "bzr+", "file:")


def _source_build(word: str) -> bool:
    """A pip argument or requirement line that builds from a local tree, a VCS URL or an sdist by choice."""
    return word in (".", "..") or word.startswith(LOCAL_OR_SOURCE) or word.endswith((".tar.gz", ".zip"))


def _pip_from_index_only(node: ir.Run, cwd: str, user: str, files: ContextFiles | None) -> bool:
    """A RUN that only pip-installs from an index (no local project, VCS URL or --no-binary, also
    inside the requirement files it names, which must be readable in the build context): what a
    runtime image with the same Python and pip can do too, given wheels."""
    step = classify_run(node, cwd, user)
    if step.kind != Kind.PYTHON_DEPS or step.artifacts:
        return False
    for pip in step.pip:
        if (pip.command.program == "uv" and pip.command.args()[:1] == ["sync"]) or pip.command.program in (
            "poetry",
            "pipenv",
        ):
            return False
        argv = pip.command.argv
        skip = False
        for i, word in enumerate(argv[1:], 1):
            if skip:
                skip = False
                continue
            path = (
                (argv[i + 1] if i + 1 < len(argv) else "")
                if word in ("-r", "--requirement")
                else word.split("=", 1)[1]
                if word.startswith("--requirement=")
                else word[2:]
                if word.startswith("-r") and len(word) > 2
                else None
            )
            if path is not None:
                found = files.find(path, pip.command.cwd or cwd) if files else None
                if found is None:
                    return False  # cannot read it: cannot say it installs only wheels
                lines = found.read_text(encoding="utf-8", errors="replace").splitlines()
                if any(_source_build(line.split("#")[0].strip()) for line in lines if line.split("#")[0].strip()):
                    return False
            if word in PIP_VALUE_OPTIONS:
                skip = True
                continue
            if _source_build(word) or "://" in word:
                return False
    return True


def run_tool_packages(tool: str, info: BaseInfo | None) -> tuple[str, ...]:
    """The packages that give the runtime variant of ``info`` the tool ``tool`` (apt-based
    Debian/Ubuntu runtime images only), or () when it cannot simply be installed there."""
    if info is None or info.runtime is None or info.family not in ("debian", "ubuntu"):
        return ()
    return tuple(load("packages").get("apt", {}).get("run_tools", {}).get(tool, ()))


def blockers(
    body: tuple[ir.Instruction, ...] | list[ir.Instruction],
    info: BaseInfo | None,
    install: list[str] | None = None,
    files: ContextFiles | None = None,
    wheels: list[int | None] | None = None,
    df: ir.Dockerfile | None = None,
) -> list[Reason]:
    """Why a final stage running ``body`` needs its full base: one reason per obstacle. Tools
    the runtime image can get from its package manager go to ``install`` instead, when given."""
    found: list[Reason] = []
    installed = installed_packages(body) | set(install or ())  # install: also what the JIT guard adds (gcc…)
    builds_packages = any(
        pkg
        for node in body
        if isinstance(node, ir.Run)
        for pkg in _build_only_installs(node, info.release if info else "")
    )
    pip_ok = bool(info and info.pip_in_runtime) and not builds_packages
    cwd, user = "/", "root"
    values = StageValues(df) if df is not None else None  # ENV that moves outputs (HF_HOME, POETRY_*)
    for node in body:
        if values is not None:
            values.visit(node)
        if isinstance(node, ir.Workdir):
            cwd = posixpath.join(cwd, node.path)
        if isinstance(node, ir.User):
            user = node.user
        programs: set[str] = set()
        if isinstance(node, ir.Run):
            step = classify_run(node, cwd, user, dict(values.values) if values is not None else None)
            if step.kind not in SAFE_RUN_KINDS:
                if pip_ok and _pip_from_index_only(node, cwd, user, files):
                    if wheels is not None:
                        wheels.append(node.line)
                    continue
                if step.kind == Kind.DOWNLOAD:
                    # a download (model weights, a data file) runs the same on the runtime image,
                    # given the tool: one the stage installs, or curl/wget installed for it
                    programs = {c.program for c in step.commands}
                    missing = {
                        p for p in programs & FULL_IMAGE_TOOLS if not installed & set(TOOL_PACKAGES.get(p, (p,)))
                    }
                    if install is not None and all(run_tool_packages(p, info) for p in missing):
                        for prog in sorted(missing):
                            install.extend(p for p in run_tool_packages(prog, info) if p not in install)
                        continue
                found.append(
                    Reason(f"this RUN is {step.kind.value} work, which may need the full image", node.line, "skipped")
                )
                continue
            gone = _removes_base_file(step.commands)
            if gone:
                found.append(Reason(f"removes {gone} without -f, a file of the full image the runtime image may "
                                    "not have (the RUN would fail there)", node.line, "skipped"))
                continue
            programs = {c.program for c in step.commands}
        elif isinstance(node, (ir.Cmd, ir.Entrypoint, ir.Healthcheck)):
            programs = _programs(node.command)
        for prog in sorted(programs & FULL_IMAGE_TOOLS):
            if not installed & set(TOOL_PACKAGES.get(prog, (prog,))):
                packages = run_tool_packages(prog, info) if install is not None else ()
                if install is not None and packages and isinstance(node, (ir.Cmd, ir.Entrypoint, ir.Healthcheck)):
                    install.extend(p for p in packages if p not in install)
                    continue
                found.append(
                    Reason(
                        f"uses {prog}, which the runtime image may not have (install it in this stage)",
                        node.line,
                        "skipped",
                    )
                )
    return found


def _removes_base_file(cmds: list[SimpleCommand]) -> str | None:
    """The first absolute path a plain ``rm`` (no -f) deletes that the same RUN did not make: a
    file of the base image (``rm /etc/apt/sources.list.d/cuda.list`` on a CUDA devel image)."""
    made: set[str] = set()
    for c in cmds:
        if c.program in ("touch", "mkdir", "cp", "mv", "ln", "tee"):
            made.update(a for a in c.argv[1:] if a.startswith("/"))
        if c.program != "rm":
            continue
        flags = "".join(a.lstrip("-") for a in c.argv[1:] if a.startswith("-") and not a.startswith("--"))
        if "f" in flags or "--force" in c.argv:
            continue
        for a in c.args():
            if a.startswith("/") and a not in made:
                return a
    return None


def _fills_path_dirs(df: ir.Dockerfile, dirs: tuple[str, ...]) -> bool:
    """Some RUN puts programs into ``dirs`` (``go install``, ``cargo install``, or a path there)."""
    for node in df.instructions():
        if isinstance(node, ir.Run):
            for c in run_commands(node) or []:
                if c.argv[:2] in (("go", "install"), ("cargo", "install")) or any(
                        a.startswith(dirs) for a in c.argv[1:]):
                    return True
        if isinstance(node, ir.Copy) and node.paths and node.paths[-1].startswith(dirs):
            return True
    return False


def _runs_by_name(df: ir.Dockerfile, body: tuple[ir.Instruction, ...] | list[ir.Instruction],
                  info: BaseInfo | None) -> str | None:
    """The program a CMD/ENTRYPOINT runs by bare name when the build puts programs in folders
    (``/go/bin``) on the full image's PATH that the runtime image's PATH lacks, and the stage
    sets no PATH itself."""
    if info is None or not info.path_dirs or not _fills_path_dirs(df, info.path_dirs):
        return None
    if any(isinstance(n, ir.Env) and any(k == "PATH" for k, _ in n.pairs) for n in body):
        return None
    last = {type(n): n for n in body if isinstance(n, (ir.Entrypoint, ir.Cmd))}
    command = last.get(ir.Entrypoint) or last.get(ir.Cmd)
    if command is None or command.command is None:
        return None
    first = command.command[0] if isinstance(command.command, tuple) else (command.command.split() or [""])[0]
    return first if first and "/" not in first and first not in ("sh", "bash", "env") else None


def _build_only_installs(node: ir.Run, release: str) -> list[str]:
    out = []
    for c in run_commands(node) or []:
        if c.program in PACKAGE_MANAGERS and c.args()[:1] in (["install"], ["add"]):
            out += [p for p in c.args()[1:] if package_fate(c.program, p, release).build_only]
    return out


# --- the compiler guard -----------------------------------------------------------------------


def missing_sources(stage: ir.Stage, context_dir: Path) -> list[tuple[int | None, str]]:
    """(line, source) of every build-context file the stage copies that the context lacks."""
    out: list[tuple[int | None, str]] = []
    for node in stage.body:
        if not isinstance(node, ir.Copy) or node.flag("from") is not None or node.heredocs:
            continue
        for src in node.sources:
            if "://" in src or "$" in src:
                continue
            pattern = str(context_dir / src.lstrip("/"))
            if any(c in src for c in "*?["):
                if not glob.glob(pattern):
                    out.append((node.line, src))
            elif not Path(pattern).exists():
                out.append((node.line, src))
    return out


def compiler_guard(stage: ir.Stage, context: PassContext, df: ir.Dockerfile | None = None) -> Guard:
    """Whether the image compiles at run time (Python JIT in the context's sources, or a start
    script/command running a compiler or an installer), or why that cannot be checked."""
    if context.context_dir is None:
        return Guard(
            blind="no build context was given (stdin or a library call without context_dir), so the "
            "sources cannot be checked for code that compiles at run time; pass --context or --stdin-filename"
        )
    missing = missing_sources(stage, context.context_dir)
    if missing:
        line, src = missing[0]
        return Guard(
            blind=f"{src} (COPY at line {line}) is not in the build context, "
            "so it cannot be checked for code that compiles at run time or uses CUDA"
        )
    findings = list(scan_context(context.context_dir)) + scan_start(stage, context.context_dir, df)
    resolved = resolved_image(df, stage) if df is not None else stage.from_.image
    ref = ImageRef.try_parse(resolved) if not has_variables(resolved) else None
    info = lookup_base(ref) if ref else None
    toolchain = runtime_toolchain(findings, info.image.canonical_name if info else "", info.family if info else "",
                                  info.python if info else "")
    return Guard(findings=tuple(findings), toolchain=toolchain)


# --- the decision -----------------------------------------------------------------------------


def _is_static_go(df: ir.Dockerfile) -> bool:
    for node in df.instructions():
        if isinstance(node, ir.Env) and ("CGO_ENABLED", "0") in node.pairs:
            return True
        if isinstance(node, ir.Run) and isinstance(node.command, str):
            for c in run_commands(node) or []:
                if c.program == "go" and "CGO_ENABLED=0" in c.assignments:
                    return True
    return False


def _compiles_anything(df: ir.Dockerfile) -> bool:
    """A RUN that builds: a build tool, ``setup.py install/develop`` or a pip install of a local
    tree or VCS URL (either may compile extensions, CUDA ones included), or an unreadable RUN."""
    for node in df.instructions():
        if isinstance(node, ir.Run):
            cmds = run_commands(node)
            if cmds is None or any(category(c) == "build" for c in cmds):
                return True
            for c in cmds:
                fam = family(c)
                if fam is not None and fam.name == "setup-py-install":
                    return True
                pip = pip_argv(c)
                if pip is not None and any(_source_build(w) or "://" in w for w in pip[2:]):
                    return True
    return False


def _fetches_code(df: ir.Dockerfile) -> str | None:
    """The first RUN command that fetches files the build context does not hold (git clone,
    curl, wget…): sources dockerslim cannot read to tell whether they use CUDA."""
    for node in df.instructions():
        if isinstance(node, ir.Run):
            previous = None
            for c in run_commands(node) or []:
                if category(c, previous) == "download" and c.args()[:1] not in (["config"], ["init"]):
                    return c.text
                previous = c
    return None


def _choose(
    info: BaseInfo,
    df: ir.Dockerfile,
    body: tuple[ir.Instruction, ...] | list[ir.Instruction],
    context: PassContext,
    facts: list[Reason],
) -> ImageRef | None:
    if info.static_runtime and _is_static_go(df) and not any(isinstance(n, ir.Run) for n in body):
        user = next((n.user for n in reversed(body) if isinstance(n, ir.User)), "root")
        if user.split(":")[0] in ("root", "0", "nonroot", "65532") or user.split(":")[0].isdigit():
            return info.static_runtime
    fetched = _fetches_code(df) if info.cuda_free_runtime else None
    if fetched and info.cuda_free_runtime:
        facts.append(Reason(f"{info.runtime} keeps the CUDA libraries: `{fetched}` fetches files the build context "
                            "does not hold, which dockerslim cannot check for CUDA use"))
    elif info.cuda_free_runtime and context.context_dir is not None and not _compiles_anything(df):
        users = uses_modules(context.context_dir, set(load("base_images")["cuda"]["modules"]))
        if not users:
            facts.append(
                Reason(
                    f"no source or requirement in the context uses CUDA and nothing is compiled: "
                    f"{info.cuda_free_runtime} (CUDA base only) instead of {info.runtime}"
                )
            )
            return info.cuda_free_runtime
        facts.append(Reason(f"{info.runtime} keeps the CUDA libraries: {users[0]} uses them"))
    return info.runtime


def decide_runtime_base(
    df: ir.Dockerfile,
    stage: ir.Stage,
    context: PassContext,
    body: tuple[ir.Instruction, ...] | list[ir.Instruction] | None = None,
) -> BaseDecision:
    """The base the final stage should run on when it runs ``body`` (default: the stage's own
    instructions; the split passes the instructions its runtime stage would keep)."""
    body = stage.body if body is None else body
    image = stage.from_.image
    forced = context.options.runtime_base
    resolved = resolved_image(df, stage)
    ref = ImageRef.try_parse(resolved) if not has_variables(resolved) else None
    info = lookup_base(ref) if ref else None

    def keep(*reasons: Reason, guard: Guard = Guard()) -> BaseDecision:
        return BaseDecision(image=image, ref=ref, info=info, runtime=None, guard=guard, kept=tuple(reasons))

    if context.options.keep_base and not forced:
        return keep(Reason("--keep-base: base image kept"))
    if has_variables(image) and not forced and ref is None:
        return keep(Reason(f"base {image} holds a variable with no default; use --runtime-base IMAGE to choose one",
                           stage.from_.line))
    if image == "scratch" or df.stage_named(image):
        return keep()
    if ref is None and not forced:
        return keep()
    if (info is None or (info.runtime is None and info.static_runtime is None)) and not forced:
        why = "it is pinned by digest" if ref and ref.digest else "the catalog knows no runtime variant of it"
        return keep(Reason(f"base {image} kept: {why}", stage.from_.line))
    guard = compiler_guard(stage, context, df)
    facts: list[Reason] = []
    if guard.blind and forced:  # the user chose the base: say what could not be checked, and do it
        facts.append(Reason(f"--runtime-base {forced} used unchecked: {guard.blind}", stage.from_.line, "warning"))
    elif guard.blind:
        return keep(Reason(f"runtime base not used: {guard.blind}", stage.from_.line, "warning"), guard=guard)
    if guard.toolchain.held:
        return keep(
            *(
                Reason(
                    f"runtime base not used: {f.path}:{f.line} runs {f.name}: {f.reason}; {why}: "
                    "the runtime stage keeps the devel base and its compiler",
                    stage.from_.line,
                    "warning",
                )
                for f, why in guard.toolchain.held
            ),
            guard=guard,
        )
    install: list[str] = []
    if not forced:  # what run-time compilation needs, installed on the runtime base (gcc…) unless the stage does
        have = installed_packages(body)
        install += [p for p in guard.toolchain.packages if p not in have]
    elif guard.toolchain.packages:
        facts.append(Reason(f"--runtime-base {forced}: the image compiles at run time and needs "
                            f"{' '.join(guard.toolchain.packages)}, not installed (the base was chosen)",
                            stage.from_.line, "warning"))
    for f, what in guard.toolchain.met:
        facts.append(Reason(f"{f.path}:{f.line} runs {f.name} at run time, which {what}"
                            + ("; the runtime stage installs " + " ".join(guard.toolchain.packages)
                               + " instead of keeping the whole devel/full base" if guard.toolchain.packages else ""),
                            stage.from_.line))
    files = ContextFiles(stage, context.context_dir, df) if context.context_dir is not None else None
    wheels: list[int | None] = []
    found = blockers(body, info, None if forced else install, files, wheels, df)
    if found:
        return keep(*(Reason(f"runtime base not used: {r.message}", r.line, r.level) for r in found), guard=guard)
    runtime = ImageRef.parse(forced) if forced else (_choose(info, df, body, context, facts) if info else None)
    libraries: tuple[tuple[str, str], ...] = ()
    bare = False
    if (context.observation is not None and not forced and info is not None and runtime is not None
            and body is stage.body and str(runtime) == str(info.runtime)):
        observed = _observed_base(df, stage, context.observation, info, facts, set(install))
        if isinstance(observed, Reason):
            return keep(observed, guard=guard)
        if observed is not None:
            runtime, libraries, bare = observed
    by_name = _runs_by_name(df, body, info) if not forced and runtime is not None and not bare else None
    if by_name:
        return keep(Reason(f"runtime base not used: the image runs {by_name} by name, found on {image}'s PATH "
                           f"({', '.join(info.path_dirs) if info else ''}), which {runtime} does not search",
                           stage.from_.line, "skipped"), guard=guard)
    if install and info is not None and runtime == info.static_runtime and not forced:
        runtime = info.runtime  # distroless has no package manager; the Debian runtime does
    if install and (runtime is None or (info is not None and runtime == info.static_runtime)):
        # distroless has no package manager: keep the full base
        return keep(
            Reason(
                f"runtime base not used: the final stage runs {', '.join(install)}, which {runtime} does not have",
                stage.from_.line,
                "skipped",
            ),
            guard=guard,
        )
    written: VariableSwap | None = None
    if has_variables(image) and not forced and runtime is not None and str(runtime) != resolved:
        swap = variable_swap(df, stage, resolved, str(runtime), shared=body is not stage.body)
        if isinstance(swap, str):
            return keep(
                Reason(
                    f"base {image} holds a variable; it defaults to {resolved}, whose runtime variant is {runtime}, "
                    f"but {swap}: pass --runtime-base {runtime} to choose it",
                    stage.from_.line,
                ),
                guard=guard,
            )
        written = swap
    return BaseDecision(
        image=image,
        ref=ref,
        info=info,
        runtime=runtime,
        forced=bool(forced),
        guard=guard,
        facts=tuple(facts),
        install=tuple(install),
        wheels_assumed=tuple(wheels),
        written=written,
        libraries=libraries,
        without_interpreter=bare,
    )


def _observed_base(df: ir.Dockerfile, stage: ir.Stage, obs: Observation, info: BaseInfo, facts: list[Reason],
                   tools: set[str]) -> tuple[ImageRef, tuple[tuple[str, str], ...], bool] | Reason | None:
    """With an observed build: the runtime base from facts, and the libraries it must install.

    The distro's plain image of the same release when nothing the stage runs or receives needs
    the interpreter and every received ELF file's sonames resolve there (or from a package of the
    build); else the family's runtime variant, its libraries resolved the same way. A soname that
    resolves on neither keeps the base, naming the file. None: the observation did not record the
    runtime variant's files (the static choice stands). ``tools``: packages the stage installs for
    programs it runs (curl for a HEALTHCHECK)."""
    from .observe import runtime as rt

    got = rt.received(df, stage, obs)
    installs = installed_packages(stage.body)
    env = rt.stage_env(stage)
    apt = info.family in ("debian", "ubuntu")
    owners = obs.lib_owners if apt else {}

    def why(libs: rt.Libraries) -> tuple[tuple[str, str], ...]:
        return tuple((pkg, "; ".join(f"{f} needs {s}" for f, s in needs))
                     for pkg, needs in sorted(libs.install.items()))

    slim = rt.distro_slim(info)
    slim_files = rt.base_files(obs, slim) if slim is not None and str(slim) != str(info.runtime) else None
    if slim is not None and slim_files is not None:
        image = rt.Image(slim_files, got.files)
        needs = rt.needs_interpreter(stage, got, image, installed=tools | installs)
        if needs.interpreter:
            facts.append(Reason(f"runtime base stays in the {info.image.repository} family ({info.runtime}), not "
                                f"{slim}: {'; '.join(needs.interpreter)} (observed build)", stage.from_.line))
        else:
            libs = rt.resolve_libraries(image, owners, installs, env)
            if libs.unresolved:
                file, soname = libs.unresolved[0]
                facts.append(Reason(f"not {slim}: {file} needs {soname}, which neither {slim} nor a package of the "
                                    "build provides (observed build)", stage.from_.line))
            else:
                checked = "; ".join(needs.checked) or "it runs nothing of its own"
                facts.append(Reason(
                    f"runtime base {slim} (the plain {info.family} {info.release} image {info.runtime} is built on): "
                    f"nothing the final stage runs or receives needs Python (observed build: {checked}; "
                    f"{len(got.files)} received paths, none a Python file; the sonames of {libs.elf_files} ELF "
                    f"file(s) resolve there" + (f" once {', '.join(sorted(libs.install))} is installed"
                                                if libs.install else "") + ")", stage.from_.line))
                return slim, why(libs), True
    family = rt.base_files(obs, info.runtime) if info.runtime is not None else None
    if family is None or info.runtime is None:
        return None
    libs = rt.resolve_libraries(rt.Image(family, got.files), owners, installs, env)
    if libs.unresolved:
        file, soname = libs.unresolved[0]
        own = rt.base_files(obs, info.image)
        left = own is not None and bool(rt.resolve_libraries(rt.Image(own, got.files), owners, installs,
                                                             env).unresolved)
        return Reason(f"runtime base not used: {file} needs {soname}, which neither {info.runtime} nor a package "
                      "of the build provides (observed build); the final stage keeps the base it was built on"
                      + (", which lacks it too: the file that provides it is not among those the stage receives"
                         if left else ""), stage.from_.line, "warning")
    return info.runtime, why(libs), False


# --- a base chosen by ARG: swap it so that --build-arg still chooses -------------------------


@dataclass(frozen=True)
class ArgEdit:
    """A global ARG whose default the swap rewrites."""

    name: str
    before: str
    after: str
    line: int | None


@dataclass(frozen=True)
class VariableSwap:
    """How a FROM that holds variables names the runtime image: its new text (variables kept),
    the ARG default it rewrites (if any) and what the swap assumes of --build-arg values."""

    from_text: str
    arg: ArgEdit | None
    assumes: str
    split: ArgSplit | None = None


@dataclass(frozen=True)
class ArgSplit:
    """A global ARG naming the base of the final stage and of another stage (the builder): it
    loses its default, which the FROMs naming it write inline (``${BASE:-python:3.12}``), and a
    second global ARG names the final stage's part: the runtime value while the first is not
    given, the first's value when it is (``ARG RUNTIME_BASE=${BASE:-python:3.12-slim}``). So
    ``--build-arg BASE=X`` alone runs both stages on X, as the original ran on X: never a builder
    and a runtime that disagree (a virtualenv of one Python on another)."""

    name: str
    value: str  # the default it had, now written in the FROMs
    runtime_name: str
    runtime_value: str  # the runtime variant of ``value``
    line: int | None

    @property
    def runtime_default(self) -> str:
        return "${" + self.name + ":-" + self.runtime_value + "}"


def _pieces(text: str, values: dict[str, str]) -> list[tuple[str, str, str | None]] | None:
    """``text`` cut into (written, resolved, variable name or None for a literal), or None when a
    variable has no value."""
    out: list[tuple[str, str, str | None]] = []
    at = 0
    for m in VARIABLE.finditer(text):
        if m.start() > at:
            out.append((text[at:m.start()], text[at:m.start()], None))
        try:
            value = substitute(m.group(0), values)
        except Unresolved:
            return None
        out.append((m.group(0), value, m.group("braced") or m.group("plain")))
        at = m.end()
    if at < len(text):
        out.append((text[at:], text[at:], None))
    return out


def _arg_uses(df: ir.Dockerfile, name: str) -> int:
    """How many FROMs and stage ARG declarations name the global ARG ``name``."""
    pattern = re.compile(r"\$(\{" + re.escape(name) + r"[}:+-]|" + re.escape(name) + r"\b)")
    uses = sum(1 for st in df.stages if pattern.search(st.from_.image))
    uses += sum(1 for st in df.stages for n in st.body if isinstance(n, ir.Arg) and any(k == name for k, _ in n.pairs))
    return uses


def _literal_swap(text: str, names: list[str], values: dict[str, str], resolved: str,
                  runtime: str) -> VariableSwap | str:
    if substitute(text, values) != runtime:  # the check that the edit names what was decided
        return "its new text would not name that image"
    return VariableSwap(text, None, f"any --build-arg {', '.join(names)} names a tag whose runtime variant is "
                                    f"spelt the same way ({resolved} → {runtime} with the defaults)")


def _change(resolved: str, runtime: str) -> tuple[int, int, str]:
    """The smallest edit from ``resolved`` to ``runtime``: (start, end, new text for resolved[start:end])."""
    p = 0
    while p < min(len(resolved), len(runtime)) and resolved[p] == runtime[p]:
        p += 1
    s = 0
    while s < min(len(resolved), len(runtime)) - p and resolved[-1 - s] == runtime[-1 - s]:
        s += 1
    return p, len(resolved) - s, runtime[p:len(runtime) - s]


def _spans(pieces: list[tuple[str, str, str | None]]) -> list[tuple[int, int, str, str, str | None]]:
    """(start, stop) in the resolved text of each piece, with the piece."""
    spans, at = [], 0
    for written, value, name in pieces:
        spans.append((at, at + len(value), written, value, name))
        at += len(value)
    return spans


def _edit_literal(text: str, values: dict[str, str], resolved: str, runtime: str) -> str | None:
    """``text`` (a FROM or an ARG default, variables kept) edited to name ``runtime`` when the
    change lies in its literal text (an insertion may sit at either end of it), or is an insertion
    at the very start or end of a reference whose repository is written out; else None."""
    pieces = _pieces(text, values)
    if pieces is None or "".join(r for _, r, _ in pieces) != resolved:
        return None
    p, end, new = _change(resolved, runtime)
    spans = _spans(pieces)
    for i, (start, stop, written, _value, name) in enumerate(spans):
        if name is None and start <= p and end <= stop:
            changed = written[:p - start] + new + written[end - start:]
            return "".join(x[2] for x in spans[:i]) + changed + "".join(x[2] for x in spans[i + 1:])
    if p == end and p in (0, len(resolved)) and "$" not in text.split(":")[0]:
        # only when the repository is written out (``FROM ${BASE}-slim`` would guess at every
        # image --build-arg could name)
        return new + text if p == 0 else text + new
    return None


def variable_swap(df: ir.Dockerfile, stage: ir.Stage, resolved: str, runtime: str, shared: bool) -> VariableSwap | str:
    """How to write the runtime image into a FROM that holds variables, or why it cannot be.

    The smallest change from ``resolved`` to ``runtime`` is located in the FROM as written: inside
    literal text (``…-cudnn${CUDNN}-devel`` → ``…-runtime``) it is made there and the variables
    stay; inside the value of a global ARG used by this FROM alone (``FROM ${BASE}``), that ARG's
    default is rewritten (its literal part when it reads other ARGs: ``python:${PY}`` →
    ``python:${PY}-slim``), so ``--build-arg`` still chooses. ``shared``: the FROM would be shared
    with a builder stage (a split's runtime); then, or when another stage's FROM names the ARG,
    its default moves into the FROMs and a second ARG names the runtime (:class:`ArgSplit`)."""
    values = global_args(df)
    pieces = _pieces(stage.from_.image, values)
    if pieces is None or "".join(r for _, r, _ in pieces) != resolved:
        return "its parts cannot be told apart"
    names = sorted({n for _, _, n in pieces if n})
    edited = _edit_literal(stage.from_.image, values, resolved, runtime)
    if edited is not None:
        return _literal_swap(edited, names, values, resolved, runtime)
    p, end, new = _change(resolved, runtime)
    spans = _spans(pieces)
    for i, (start, stop, _written, value, name) in enumerate(spans):
        if name is None or not (start <= p and end <= stop):
            continue
        default = next((d for node in df.preamble if isinstance(node, ir.Arg)
                        for n, d in node.pairs if n == name and d is not None), None)
        if default is None or expand(default, values) != value:
            return f"{name} gets its value from elsewhere than a plain ARG default"
        after = value[:p - start] + new + value[end - start:]
        if "$" in default:  # reads other ARGs: edit its literal part, they stay
            written = _edit_literal(default, values, value, after)
            if written is None:
                return (f"{name}'s default {default} reads another ARG and the change lies inside that one "
                        f"(write ARG {name}={value})")
            after = written
        else:
            default = value  # quotes removed
        line = next((node.line for node in df.preamble if isinstance(node, ir.Arg)
                     and any(n == name for n, _ in node.pairs)), None)
        if shared or _arg_uses(df, name) > 1:
            return _arg_split(df, spans, i, ArgSplit(name, default, "", after, line), runtime)
        return VariableSwap(stage.from_.image, ArgEdit(name, default, after, line),
                            f"--build-arg {name} is not given, or names a runtime image itself (its default "
                            f"is now {after}; a devel image passed there runs as is)")
    return "the change spans a variable and literal text"


def _arg_split(df: ir.Dockerfile, spans: list[tuple[int, int, str, str, str | None]], i: int, split: ArgSplit,
               runtime: str) -> VariableSwap | str:
    """The final stage's FROM when the ARG holding the change (``spans[i]``) also names another
    stage's base (see :class:`ArgSplit`), or why its default cannot move into the FROMs."""
    name = split.name
    if any(isinstance(n, ir.Arg) and any(k == name for k, _ in n.pairs) for st in df.stages for n in st.body):
        return f"{name} is declared again inside a stage, which would lose its default"
    if any(isinstance(n, ir.Arg) and any(d is not None and references(d, name) for _, d in n.pairs)
           for n in df.preamble):
        return f"another ARG's default reads {name}, and would lose it"
    if any(m.group("op") for st in df.stages for m in references(st.from_.image, name)):
        return f"a FROM gives {name} a default of its own"
    if re.search(r"[\s}$\"'\\]", REFERENCE.sub("", split.value + split.runtime_value)):
        return f"{name}'s value cannot be written inside ${{{name}:-…}}"
    declared = {k for n in df.instructions() if isinstance(n, ir.Arg) for k, _ in n.pairs}
    runtime_name, k = f"RUNTIME_{name}", 2
    while runtime_name in declared:
        runtime_name, k = f"RUNTIME_{name}_{k}", k + 1
    text = "".join(x[2] for x in spans[:i]) + "${" + runtime_name + "}" + "".join(x[2] for x in spans[i + 1:])
    values = global_args(df)
    if substitute(text, {**values, runtime_name: expand(split.runtime_value, values)}) != runtime:
        return "its new text would not name that image"
    others = sorted({x[4] for x in spans if x[4] and x[4] != name})
    inner = sorted({m.group("braced") or m.group("plain") for m in VARIABLE.finditer(split.value)} - {None})
    value, after = split.value, split.runtime_value
    return VariableSwap(text, None, (
        f"--build-arg {name} is not given: the base checked is its default {value}"
        + (f" ({expand(value, values)})" if inner else "") + f" (runtime part {after}); "
        f"--build-arg {name}=X alone runs the builder and the final stage on the same X, as the original ran "
        f"on X (a matching pair, not a smaller one: X's runtime variant was not checked, and the virtualenv "
        f"makes that image a little larger than the original's); to slim X too, pass "
        f"--build-arg {runtime_name}=<X's runtime variant, same OS release and Python> as well"
        + (f"; {', '.join(others)} name a tag whose runtime variant is spelt the same way" if others else "")
        + (f"; --build-arg {', '.join(inner)} moves both stages alike ({value}, {after})" if inner else "")),
        replace(split, runtime_name=runtime_name))
