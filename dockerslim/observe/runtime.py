"""What the final stage needs from its base, from the observed build rather than a guess.

Two questions the runtime-base decision asks when it has an observation (``rewrite --observe``):

- **Does anything need the interpreter?** The files the final stage receives (its COPY lines,
  traced through ``--from`` stages to the observed steps that wrote them), the programs its
  ENTRYPOINT/CMD/HEALTHCHECK run (resolved on PATH to an ELF file, a script and its shebang, or a
  program of the base) and its ENV. When nothing does, the plain distribution image of the same
  release will do (``python:3.12-slim`` is Debian bookworm plus Python → ``debian:bookworm-slim``).
- **Which libraries does the runtime base lack?** Every ELF file received has its DT_NEEDED
  sonames resolved the way ld.so would (RPATH unless RUNPATH, LD_LIBRARY_PATH, RUNPATH with
  ``$ORIGIN``, /etc/ld.so.conf, the trusted folders) against the received files and the runtime
  base's own files (``BaseFiles``, read from its layers when the build was observed). A soname
  neither has is looked up in the built image's dpkg file lists: the package that ships it is
  installed in the final stage (``libsnappy1v5``, never the ``-dev``). One no package ships is
  unresolved, and the base that lacks it is not used.

Pure functions of the record: no builder, no file system. The ELF class and machine of a
library are not recorded, so a same-named library of another architecture would count as found.
"""

from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass, field

from .. import ir
from ..catalog import BaseInfo, load
from ..image import ImageRef
from ..shell import commands
from .layers import is_library_name
from .record import BaseFiles, FileChange, Observation

DEV_SUFFIXES = ("-dev", "-dbg", "-dbgsym", "-doc")


def _cfg() -> dict[str, object]:
    return dict(load("observe")["runtime_base"])


def distro_slim(info: BaseInfo) -> ImageRef | None:
    """The plain distribution image of ``info``'s release (``debian:bookworm-slim``), or None
    when the data names none for its family."""
    template = dict(_cfg().get("distro_slim") or {}).get(info.family)  # type: ignore[call-overload]
    if not template or not info.release:
        return None
    return ImageRef.try_parse(str(template).format(release=info.release))


def candidate_bases(info: BaseInfo | None) -> list[ImageRef]:
    """The runtime bases a decision may choose for a final stage on ``info``: the catalogue's
    runtime variant, and the distribution's slim image when no interpreter is needed."""
    if info is None:
        return []
    out: list[ImageRef] = []
    for ref in (info.runtime, distro_slim(info)):
        if ref is not None and str(ref) not in {str(r) for r in out}:
            out.append(ref)
    return out


def base_files(obs: Observation, ref: ImageRef) -> BaseFiles | None:
    """The recorded files of the runtime base ``ref`` (None: not indexed when observed)."""
    for key in (str(ref), ref.canonical_name + (f":{ref.tag}" if ref.tag else "")):
        if key in obs.bases:
            return obs.bases[key]
    return None


# --- the files the final stage receives -------------------------------------------------------


def written_files(obs: Observation) -> dict[str, FileChange]:
    """Every path the observed build left written (last writer wins, deletions applied)."""
    out: dict[str, FileChange] = {}
    for line in sorted(obs.steps):
        step = obs.steps[line]
        for change in step.files:
            if change.written:
                out[change.path] = change
            else:
                prefix = change.path.rstrip("/") + "/"
                keep_self = change.op == "cleared"
                for path in [p for p in out if p.startswith(prefix) or (p == change.path and not keep_self)]:
                    del out[path]
    return out


@dataclass
class Received:
    """The files a stage ends up with from its COPY lines (runtime path → observed change), and
    the sources the observation cannot account for."""

    files: dict[str, FileChange] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)  # "COPY --from=x /opt/venv": no observed file below it


def _under(path: str, folder: str) -> bool:
    return folder == "/" or path == folder or path.startswith(folder.rstrip("/") + "/")


def _place(files: dict[str, FileChange], src: str, dest: str, into: dict[str, FileChange]) -> bool:
    """Copy the entries of ``files`` below ``src`` to ``dest`` (Docker's COPY rules for one
    source); False when there is none."""
    src = posixpath.normpath(src) if src not in ("", "/") else "/"
    hits = {p: c for p, c in files.items() if _under(p, src)}
    if not hits:
        return False
    single = src in hits and hits[src].kind != "d" and len(hits) == 1
    for path, change in hits.items():
        if single:
            target = posixpath.join(dest, posixpath.basename(src)) if dest.endswith("/") else dest
        else:
            rel = posixpath.relpath(path, src) if path != src else ""
            target = posixpath.normpath(posixpath.join(dest, rel)) if rel else posixpath.normpath(dest)
        into[target] = change
    return True


def received(df: ir.Dockerfile, stage: ir.Stage, obs: Observation, written: dict[str, FileChange] | None = None,
             seen: frozenset[str] = frozenset()) -> Received:
    """The files ``stage``'s COPY lines bring in: from a build stage, what the observed build
    wrote below each source; from a FROM-scratch stage (the assembly), what it received itself;
    from the build context, what the observed step at that line wrote."""
    written = written_files(obs) if written is None else written
    out = Received()
    cwd = "/"
    for node in stage.body:
        if isinstance(node, ir.Workdir):
            cwd = posixpath.join(cwd, node.path)
        if not isinstance(node, ir.Copy) or node.heredocs:
            continue
        source = node.flag("from")
        text = f"COPY {' '.join(node.paths)}" + (f" (--from={source})" if source else "")
        if source is None:
            if node.line is not None and node.line in obs.steps and obs.steps[node.line].instruction:
                for change in obs.step_outputs(node.line):
                    out.files[change.path] = change
            else:
                out.unknown.append(f"{text}: not a step of the observed build")
            continue
        dest = node.paths[-1] if node.paths[-1].startswith("/") else posixpath.join(cwd, node.paths[-1])
        if node.paths[-1].endswith("/") and not dest.endswith("/"):
            dest += "/"
        origin = df.stage_named(source)
        if origin is None or source in seen:
            out.unknown.append(f"{text}: from an image, not an observed stage")
            continue
        if origin.from_.image == "scratch":  # the assembly: its own COPY lines hold the files
            inner = received(df, origin, obs, written, seen | {source})
            out.unknown += inner.unknown
            pool = inner.files
        else:
            pool = written
        for src in node.sources:
            if not _place(pool, src, dest, out.files):
                out.unknown.append(f"{text}: the observed build wrote nothing at {src}")
    return out


# --- does anything need the interpreter? -----------------------------------------------------


def stage_env(stage: ir.Stage) -> dict[str, str]:
    values: dict[str, str] = {}
    for node in stage.body:
        if isinstance(node, ir.Env):
            for key, value in node.pairs:
                values[key] = value
    return values


def _path_dirs(env: dict[str, str]) -> list[str]:
    default: list[str] = [str(d) for d in _cfg()["default_path"]]  # type: ignore[attr-defined]
    path = env.get("PATH")
    if path is None:
        return default
    out: list[str] = []
    for part in path.split(":"):
        if part in ("$PATH", "${PATH}"):
            out += default
        elif part.startswith("/") and "$" not in part:
            out.append(part)
    return out


def _argv_words(command: ir.Command | None) -> list[list[str]]:
    """Each simple command of a CMD/ENTRYPOINT/HEALTHCHECK as words (``sh -c "…"`` read inside)."""
    if command is None:
        return []
    if isinstance(command, tuple):
        argv = list(command)
        if len(argv) >= 3 and posixpath.basename(argv[0]) in ("sh", "bash", "dash") and argv[1] == "-c":
            return [argv[:2], *_argv_words(argv[2])]
        return [argv] if argv else []
    cmds = commands(command)
    if cmds is None:
        return [command.split()]
    return [list(c.argv) for c in cmds]


def _interpreter_name(name: str) -> bool:
    return any(fnmatch.fnmatchcase(posixpath.basename(name), p) for p in _cfg()["interpreter_programs"])  # type: ignore[attr-defined]


class Image:
    """The runtime image to be: a base's recorded files with the received files on top, paths
    resolved through the symlinks of both (merged /usr: /lib → usr/lib)."""

    def __init__(self, base: BaseFiles, files: dict[str, FileChange]) -> None:
        self.base = base
        self.files = files
        self.links = {p: t for p, t in base.paths.items() if t}
        self.links.update({p: c.target for p, c in files.items() if c.kind == "l" and c.target})

    def canonical(self, path: str) -> str:
        parts = [p for p in path.split("/") if p and p != "."]
        current, hops = "/", 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                current = posixpath.dirname(current) or "/"
                continue
            candidate = posixpath.join(current, part)
            target = self.links.get(candidate)
            if target is not None and hops < 40:
                hops += 1
                current = "/" if target.startswith("/") else current
                parts = [p for p in target.split("/") if p and p != "."] + parts
                continue
            current = candidate
        return current

    def exists(self, path: str) -> bool:
        real = self.canonical(path)
        return real in self.files or real in self.base.paths or path in self.files or path in self.base.paths

    def lookup(self, program: str, dirs: list[str], cwd: str) -> str | None:
        """The path ``program`` runs from (PATH search for a bare name), or None."""
        if "/" in program:
            path = program if program.startswith("/") else posixpath.normpath(posixpath.join(cwd, program))
            return path if self.exists(path) else None
        return next((posixpath.join(d, program) for d in dirs if self.exists(posixpath.join(d, program))), None)

    def received(self, path: str) -> FileChange | None:
        return self.files.get(self.canonical(path)) or self.files.get(path)


@dataclass
class Needs:
    """Why the final stage needs the interpreter (empty: it does not), and what was looked at."""

    interpreter: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # evidence for the "no interpreter" verdict


def needs_interpreter(stage: ir.Stage, got: Received, image: Image,
                      body: tuple[ir.Instruction, ...] | list[ir.Instruction] | None = None,
                      installed: set[str] | frozenset[str] = frozenset()) -> Needs:
    """Whether the final stage (running ``body``, default its own) needs the interpreter on
    ``image``: a Python path among the received files, a program that is the interpreter or a
    script run by it (or naming it), a Python ENV, a RUN that runs it, a program that is missing
    (``installed``: programs the stage installs itself, curl for a HEALTHCHECK)."""
    cfg = _cfg()
    body = stage.body if body is None else body
    out = Needs()
    if got.unknown:
        out.interpreter.append(f"the observation does not show every file the stage receives ({got.unknown[0]})")
    py = [p for p in sorted(got.files) if got.files[p].kind != "d"
          and any(fnmatch.fnmatchcase(p, pat) for pat in cfg["python_paths"])]  # type: ignore[attr-defined]
    if py:
        more = f" and {len(py) - 1} more" if len(py) > 1 else ""
        out.interpreter.append(f"it receives Python files ({py[0]}{more})")
    env = stage_env(stage)
    named = [k for k in cfg["python_env"] if k in env]  # type: ignore[attr-defined]
    if named:
        out.interpreter.append(f"its ENV sets {named[0]}")
    dirs, cwd = _path_dirs(env), "/"
    for node in body:
        if isinstance(node, ir.Workdir):
            cwd = posixpath.join(cwd, node.path)
    entry = next((n for n in reversed(body) if isinstance(n, ir.Entrypoint)), None)
    cmd = next((n for n in reversed(body) if isinstance(n, ir.Cmd)), None)
    runs: list[tuple[str, list[list[str]]]] = []
    if entry is not None and entry.command:
        tail = list(cmd.command) if cmd is not None and isinstance(cmd.command, tuple) and isinstance(
            entry.command, tuple) else []
        runs.append(("ENTRYPOINT", _argv_words(tuple(list(entry.command) + tail) if tail else entry.command)))
    elif cmd is not None and cmd.command:
        runs.append(("CMD", _argv_words(cmd.command)))
    for node in body:
        if isinstance(node, ir.Healthcheck) and getattr(node, "command", None):
            runs.append(("HEALTHCHECK", _argv_words(node.command)))
        elif isinstance(node, ir.Run):
            runs.append((f"RUN at line {node.line}", _argv_words(node.command)))
    for where, argvs in runs:
        for argv in argvs:
            while argv and argv[0] in cfg["wrappers"]:  # type: ignore[operator]
                argv = argv[1:]
            if not argv or argv[0] in cfg["shell_builtins"]:  # type: ignore[operator]
                continue
            program = argv[0]
            if _interpreter_name(program):
                out.interpreter.append(f"{where} runs {program}")
                continue
            path = image.lookup(program, dirs, cwd)
            if path is None and program in installed:
                out.checked.append(f"{where}: {program} is installed by the final stage")
                continue
            if path is None:
                if where.startswith("RUN"):
                    continue  # a RUN's programs are the package manager's and the shell's (blockers judge them)
                out.interpreter.append(f"{where} runs {program}, which neither {image.base.ref} nor the copied "
                                       "files have")
                continue
            checked = [(program, path)] + [(w, p) for w in argv[1:] if "/" in w or "." in w
                                            for p in [image.lookup(w if "/" in w else "./" + w, [], cwd)] if p]
            for word, found in checked:
                change = image.received(found)
                if change is None:
                    if word == program and not where.startswith("RUN"):
                        out.checked.append(f"{where}: {program} is {found} of {image.base.ref}")
                    continue
                if change.elf:
                    out.checked.append(f"{where}: {found} is an ELF program")
                elif change.shebang:
                    interp = change.shebang[2:].split()
                    name = interp[1] if interp and posixpath.basename(interp[0]) == "env" and len(interp) > 1 \
                        else (interp[0] if interp else "")
                    if _interpreter_name(name):
                        out.interpreter.append(f"{where}: {found} is a script run by {name}")
                    elif change.names_python:
                        out.interpreter.append(f"{where}: the script {found} mentions python")
                    else:
                        out.checked.append(f"{where}: {found} is a {posixpath.basename(name) or 'shell'} script "
                                           "that does not mention python")
                elif word == program:
                    out.interpreter.append(f"{where}: {found} is neither an ELF program nor a script")
    return out


# --- which libraries does the runtime base lack? -------------------------------------------


def _expand(entry: str, origin: str) -> list[str]:
    out = entry.replace("${ORIGIN}", origin).replace("$ORIGIN", origin)
    if "$LIB" in out or "${LIB}" in out:
        return [out.replace("${LIB}", lib).replace("$LIB", lib) for lib in ("lib64", "lib")]
    return [out]


@dataclass
class Libraries:
    """The outcome of resolving every received ELF file's DT_NEEDED on one runtime image."""

    install: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # package -> [(file, soname)]
    unresolved: list[tuple[str, str]] = field(default_factory=list)  # (file, soname) nothing provides
    elf_files: int = 0


def resolve_libraries(image: Image, lib_owners: dict[str, list[str]], installs: set[str],
                      env: dict[str, str] | None = None) -> Libraries:
    """Resolve each received ELF file's sonames on ``image``; a missing one is installed from the
    package of the built image that ships it (``installs``: what the final stage installs anyway)."""
    out = Libraries()
    library_path = [d for d in (env or {}).get("LD_LIBRARY_PATH", "").split(":") if d.startswith("/")]
    defaults = list(image.base.ld_dirs) + [d for d in load("observe")["ld_so"]["default_dirs"]
                                           if d not in image.base.ld_dirs]
    for path in sorted(image.files):
        change = image.files[path]
        if not change.elf or change.kind != "f":
            continue
        out.elf_files += 1
        origin = posixpath.dirname(path)
        dirs = [] if change.runpath else [d for e in change.rpath for d in _expand(e, origin)]
        dirs += library_path + [d for e in change.runpath for d in _expand(e, origin)] + defaults
        wanted = [s for s in change.needed]
        if change.interp and not image.exists(change.interp):
            wanted.append(change.interp)
        for soname in wanted:
            if "/" in soname:
                if image.exists(soname if soname.startswith("/") else posixpath.join(origin, soname)):
                    continue
            elif any(image.exists(posixpath.join(d, soname)) for d in dirs):
                continue
            owners = [p for p in lib_owners.get(posixpath.basename(soname), []) if not p.endswith(DEV_SUFFIXES)]
            if not owners:
                out.unresolved.append((path, soname))
            elif set(owners) & installs:
                continue
            elif set(owners) & set(image.base.packages):
                out.unresolved.append((path, soname))  # the base has the package, yet ld.so would not find it
            else:
                out.install.setdefault(owners[0], []).append((path, soname))
    return out


__all__ = ["Image", "Libraries", "Needs", "Received", "base_files", "candidate_bases", "distro_slim",
           "is_library_name", "needs_interpreter", "received", "resolve_libraries", "written_files"]
