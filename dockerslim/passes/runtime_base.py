"""DS101 runtime-base: the final stage runs on a runtime image instead of a devel/full one.

pytorch ``…-devel`` → ``…-runtime``, nvidia/cuda ``-devel-`` → ``-runtime-``, ``python:3.12`` →
``python:3.12-slim``, Go binaries → distroless/slim Debian (catalog: ``data/base_images.toml``;
the runtime tag keeps the OS release, libc and Python path of the original).

Declined, with the reason, when the final stage still does work that needs what only the full
image has: a RUN that builds or installs Python packages, a tool (curl, git, gcc…) used by a RUN,
CMD, ENTRYPOINT or HEALTHCHECK that the stage does not install itself, or source in the build
context that compiles at run time (the JIT guard: torch.compile, Triton, Numba, …). Unknown,
variable and digest-pinned bases stay as they are.
"""

from __future__ import annotations

import posixpath
from dataclasses import replace

from .. import ir
from ..catalog import BaseInfo, load, lookup_base
from ..changes import Change, Note
from ..classify import Kind, category, classify_run
from ..context import PassContext
from ..image import ImageRef, has_variables
from ..jit import scan_context, uses_modules
from ..shell import commands, run_commands
from ..words import resolved_image
from . import PassResult

ID = "DS101"
NAME = "runtime-base"
SUMMARY = "swap a devel/full base image of the final stage for its runtime variant"

SAFE_RUN_KINDS = {Kind.SYSTEM_PACKAGES, Kind.FS_EDIT}
# programs a full/devel image has and its runtime variant may lack
FULL_IMAGE_TOOLS = {"curl", "wget", "git", "ssh", "gcc", "g++", "make", "cmake", "nvcc", "pkg-config", "unzip", "zip", "jq"}
TOOL_PACKAGES = {"gcc": ("gcc", "build-essential"), "g++": ("g++", "build-essential"), "make": ("make", "build-essential"),
                 "ssh": ("openssh-client",)}


def _note(message: str, line: int | None = None, level: str = "info") -> Note:
    return Note(rule=ID, pass_name=NAME, message=message, line=line, level=level)  # type: ignore[arg-type]


def _programs(command: ir.Command | None) -> set[str]:
    if command is None:
        return set()
    if isinstance(command, tuple):
        return {posixpath.basename(command[0])} if command else set()
    cmds = commands(command)
    if cmds is None:
        return {posixpath.basename(w) for w in command.split()}  # conservative: every word
    return {c.program for c in cmds}


def _installed(stage: ir.Stage) -> set[str]:
    out: set[str] = set()
    for node in stage.body:
        if isinstance(node, ir.Run) and isinstance(node.command, str):
            for c in run_commands(node) or []:
                if c.program in ("apt-get", "apt", "apk", "dnf", "yum", "microdnf"):
                    out.update(a.split("=")[0] for a in c.argv[2:] if not a.startswith("-"))
    return out


def _blockers(stage: ir.Stage) -> list[tuple[int | None, str]]:
    """Why the final stage needs its full base: (line, reason) for each obstacle."""
    found: list[tuple[int | None, str]] = []
    installed = _installed(stage)
    cwd, user = "/", "root"
    for node in stage.body:
        if isinstance(node, ir.Workdir):
            cwd = posixpath.join(cwd, node.path)
        if isinstance(node, ir.User):
            user = node.user
        programs: set[str] = set()
        if isinstance(node, ir.Run):
            step = classify_run(node, cwd, user)
            if step.kind not in SAFE_RUN_KINDS:
                found.append((node.line, f"this RUN is {step.kind.value} work, which may need the full image"))
                continue
            programs = {c.program for c in step.commands}
        elif isinstance(node, (ir.Cmd, ir.Entrypoint, ir.Healthcheck)):
            programs = _programs(node.command)
        for prog in sorted(programs & FULL_IMAGE_TOOLS):
            if not installed & set(TOOL_PACKAGES.get(prog, (prog,))):
                found.append((node.line, f"uses {prog}, which the runtime image may not have (install it in this stage)"))
    return found


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
    for node in df.instructions():
        if isinstance(node, ir.Run):
            cmds = run_commands(node)
            if cmds is None or any(category(c) == "build" for c in cmds):
                return True
    return False


def _choose(info: BaseInfo, df: ir.Dockerfile, final: ir.Stage, context: PassContext,
            result: PassResult) -> ImageRef | None:
    if info.static_runtime and _is_static_go(df) and not any(isinstance(n, ir.Run) for n in final.body):
        user = next((n.user for n in reversed(final.body) if isinstance(n, ir.User)), "root")
        if user.split(":")[0] in ("root", "0", "nonroot", "65532") or user.split(":")[0].isdigit():
            return info.static_runtime
    if info.cuda_free_runtime and context.context_dir is not None and not _compiles_anything(df):
        users = uses_modules(context.context_dir, set(load("base_images")["cuda"]["modules"]))
        if not users:
            result.notes.append(_note(f"no source or requirement in the context uses CUDA and nothing is compiled: "
                                      f"{info.cuda_free_runtime} (CUDA base only) instead of {info.runtime}"))
            return info.cuda_free_runtime
        result.notes.append(_note(f"{info.runtime} keeps the CUDA libraries: {users[0]} uses them"))
    return info.runtime


def run(df: ir.Dockerfile, context: PassContext) -> PassResult:
    result = PassResult(dockerfile=df)
    final = df.stages[-1]
    image = final.from_.image
    if context.options.keep_base and not context.options.runtime_base:
        result.notes.append(_note("--keep-base: base image kept"))
        return result
    if has_variables(image) and not context.options.runtime_base:
        resolved = resolved_image(df, final)
        hint = ""
        if not has_variables(resolved):
            parsed = ImageRef.try_parse(resolved)
            info = lookup_base(parsed) if parsed else None
            if info and info.runtime:
                hint = (f"; it defaults to {resolved}, whose runtime variant is {info.runtime}: pass "
                        f"--runtime-base {info.runtime} (not done automatically, since --build-arg would then "
                        "no longer choose the runtime image)")
        result.notes.append(_note(f"base {image} holds a variable{hint or '; use --runtime-base IMAGE to choose one'}",
                                  final.from_.line))
        return result
    if image == "scratch" or df.stage_named(image):
        return result
    forced = context.options.runtime_base
    resolved = resolved_image(df, final)
    ref = ImageRef.try_parse(resolved)
    if ref is None and not forced:
        return result
    info = lookup_base(ref) if ref else None
    if info is None and not forced:
        why = "it is pinned by digest" if ref and ref.digest else "the catalog knows no runtime variant of it"
        result.notes.append(_note(f"base {image} kept: {why}", final.from_.line))
        return result
    if context.context_dir is None:
        result.notes.append(_note("JIT guard could not run: no build context given (--context)", level="warning"))
    else:
        findings = scan_context(context.context_dir)
        if findings:
            for f in findings:
                result.notes.append(_note(f"runtime base not used: {f.path}:{f.line} calls {f.name}: {f.reason}; "
                                          "the runtime stage keeps the devel base and its compiler", final.from_.line, "warning"))
            return result
    blockers = _blockers(final)
    if blockers:
        for line, why in blockers:
            result.notes.append(_note(f"runtime base not used: {why}", line, "skipped"))
        return result
    new_ref = ImageRef.parse(forced) if forced else (_choose(info, df, final, context, result) if info else None)
    if new_ref is None or str(new_ref) == image:
        return result
    new_from = replace(final.from_, image=str(new_ref))
    result.dockerfile = replace(df, stages=df.stages[:-1] + (replace(final, from_=new_from),))
    sizes = ""
    if info and ref and info.size(ref) and info.size(new_ref):
        sizes = f" ({info.size(ref)} → {info.size(new_ref)})"
    result.changes.append(Change(
        rule=ID, pass_name=NAME, line=final.from_.line, before=image, after=str(new_ref),
        message=f"final stage runs on {new_ref} instead of {image}",
        reason=(info.note if info and info.note else "the final stage only runs the app; build tools are not needed")
               + ("" if not info else f"; same OS release ({info.family} {info.release})"
                  + (f" and Python path {info.python}" if info.python else "")),
        effect=f"smaller base image{sizes}",
        risk="high" if forced else "medium",
    ))
    return result
