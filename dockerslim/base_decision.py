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
from dataclasses import dataclass, field
from pathlib import Path

from . import ir
from .catalog import BaseInfo, load, lookup_base
from .classify import Kind, category, classify_run, family, pip_argv
from .context import PassContext
from .cuda_use import uses_modules
from .image import ImageRef, has_variables
from .jit import JitFinding, scan_context
from .shell import commands, run_commands
from .start_scripts import ContextFiles, scan_start
from .words import resolved_image

SAFE_RUN_KINDS = {Kind.SYSTEM_PACKAGES, Kind.FS_EDIT}
PACKAGE_MANAGERS = ("apt-get", "apt", "apk", "dnf", "yum", "microdnf")


@dataclass(frozen=True)
class Reason:
    message: str
    line: int | None = None
    level: str = "info"  # info | skipped | warning (as Note.level)


@dataclass(frozen=True)
class Guard:
    """What the run-time compiler guard found, or why it could not look."""

    findings: tuple[JitFinding, ...] = ()
    blind: str | None = None  # why the sources could not be checked (no context, missing file)

    @property
    def keeps_toolchain(self) -> bool:
        """True when the runtime must keep the full base and every package."""
        return bool(self.findings) or self.blind is not None


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
) -> list[Reason]:
    """Why a final stage running ``body`` needs its full base: one reason per obstacle. Tools
    the runtime image can get from its package manager go to ``install`` instead, when given."""
    found: list[Reason] = []
    installed = installed_packages(body)
    builds_packages = any(
        pkg
        for node in body
        if isinstance(node, ir.Run)
        for pkg in _build_only_installs(node, info.release if info else "")
    )
    pip_ok = bool(info and info.pip_in_runtime) and not builds_packages
    cwd, user = "/", "root"
    for node in body:
        if isinstance(node, ir.Workdir):
            cwd = posixpath.join(cwd, node.path)
        if isinstance(node, ir.User):
            user = node.user
        programs: set[str] = set()
        if isinstance(node, ir.Run):
            step = classify_run(node, cwd, user)
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


def _build_only_installs(node: ir.Run, release: str) -> list[str]:
    from .catalog import package_fate

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
    return Guard(findings=tuple(findings))


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
    if has_variables(image) and not forced:
        hint = ""
        if info and info.runtime:
            hint = (
                f"; it defaults to {resolved}, whose runtime variant is {info.runtime}: pass "
                f"--runtime-base {info.runtime} (not done automatically, since --build-arg would then "
                "no longer choose the runtime image)"
            )
        return keep(
            Reason(
                f"base {image} holds a variable{hint or '; use --runtime-base IMAGE to choose one'}", stage.from_.line
            )
        )
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
    if guard.findings:
        return keep(
            *(
                Reason(
                    f"runtime base not used: {f.path}:{f.line} runs {f.name}: {f.reason}; "
                    "the runtime stage keeps the devel base and its compiler",
                    stage.from_.line,
                    "warning",
                )
                for f in guard.findings
            ),
            guard=guard,
        )
    install: list[str] = []
    files = ContextFiles(stage, context.context_dir, df) if context.context_dir is not None else None
    wheels: list[int | None] = []
    found = blockers(body, info, None if forced else install, files, wheels)
    if found:
        return keep(*(Reason(f"runtime base not used: {r.message}", r.line, r.level) for r in found), guard=guard)
    runtime = ImageRef.parse(forced) if forced else (_choose(info, df, body, context, facts) if info else None)
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
    )
