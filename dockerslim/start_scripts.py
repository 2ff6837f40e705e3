"""The JIT guard for shell: scripts an image runs when it starts, read from the build context.

An ENTRYPOINT such as ``docker-entrypoint.sh`` that runs ``gcc``, ``make`` or ``pip install``
every time the container starts needs the devel/full image at run time, exactly like Python
code calling ``torch.compile``. This module finds those scripts (ENTRYPOINT/CMD/HEALTHCHECK,
exec or shell form, following ``sh x.sh`` / ``source x.sh`` a few levels), maps each image
path back to the context file a COPY brought in, and reports every compiler or installer at
command position. Trigger words live in ``data/jit.toml`` (``[start_script]``).

Scripts are read word by word, not parsed: a start script is often too dynamic for a parser,
and a false positive only keeps the larger base.

A compiler call whose needs are known (``[start_script] needs``: gcc → a C compiler and libc
headers) is one that links only the C library's own libraries and compiles readable sources
including only libc / C++ standard headers (for ``make``: the Makefile and the C/C++ files
beside it); the runtime then installs those packages instead of keeping the full base. Any
other call (an installer, cmake, nvcc, a ``-lssl``, a variable, an unreadable source) keeps
what it has today: the full base and every package.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import ir
from .catalog import load
from .jit import JitFinding
from .variables import StageValues

START = (ir.Entrypoint, ir.Cmd, ir.Healthcheck)
MAX_DEPTH = 4
MAX_SCRIPT_BYTES = 1_000_000
# ends a simple command: the next word is at command position again
SEPARATORS = re.compile(r"\|\||&&|[;|&(){}`\n]|\$\(|\b(?:then|do|else|elif|if|while|until)\b")


def _cfg() -> dict[str, Any]:
    section: dict[str, Any] = load("jit")["start_script"]
    return section


def _words(segment: str) -> list[str]:
    try:
        return shlex.split(segment, comments=True)
    except ValueError:
        return segment.split()


def _command_words(script: str) -> list[tuple[int, list[str]]]:
    """(line, words) of every simple command in ``script``, program first."""
    cfg = _cfg()
    wrappers = set(cfg["wrappers"])
    out: list[tuple[int, list[str]]] = []
    for number, line in enumerate(script.replace("\\\n", " ").splitlines(), 1):
        code = re.sub(r"(^|\s)#.*$", "", line)
        for segment in SEPARATORS.split(code):
            words = _words(segment)
            while words and (words[0] in wrappers or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0])):
                words = words[1:]
            if words:
                out.append((number, words))
    return out


def _trigger(words: list[str]) -> str | None:
    """The trigger ``words`` run (``gcc``, ``pip install``…), or None."""
    cfg = _cfg()
    program = posixpath.basename(words[0])
    if program in cfg["compilers"]:
        return program
    argv = words
    if program.startswith("python") and len(words) > 2 and words[1] == "-m":
        argv, program = words[2:], words[2]
    subs = [w for w in argv[1:] if not w.startswith("-")]
    wanted = cfg["installers"].get(program)
    if wanted is not None and subs and subs[0] in wanted:
        return f"{program} {subs[0]}"
    return None


INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
MAX_SOURCES = 200


def _libc_header(header: str, cfg: dict[str, Any]) -> bool:
    """A header the C library's -dev package or the C++ standard library gives (``<vector>``)."""
    return header in cfg["libc_headers"] or header.split("/")[0] in cfg["libc_header_dirs"] or (
        "/" not in header and "." not in header)


def _sources_ok(paths: list[Path], cfg: dict[str, Any]) -> str | None:
    """Why the sources need more than libc's headers (a ``<openssl/ssl.h>``), None when they do not."""
    for path in paths[:MAX_SOURCES]:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return f"{path.name} cannot be read"
        for kind, header in INCLUDE.findall(text):
            if kind == "<" and not _libc_header(header, cfg):
                return f"{path.name} includes <{header}>"
    return None if len(paths) <= MAX_SOURCES else f"more than {MAX_SOURCES} sources"


def _flags_ok(words: list[str], cfg: dict[str, Any]) -> str | None:
    """Why compiler words link or include beyond libc (``-lssl``, ``-I/usr/include/x``, a
    variable or command substitution), None when they do not."""
    libc = set(cfg["libc_libraries"])
    for i, word in enumerate(words):
        if "$" in word or "`" in word:
            return f"`{word}` is only known when it runs"
        if word.startswith("-l"):
            lib = word[2:] or (words[i + 1] if i + 1 < len(words) else "")
            if lib not in libc:
                return f"it links -l{lib}, not a library of the C library"
        flag = next((f for f in ("-isystem", "-I", "-L") if word.startswith(f)), None)
        if flag is not None:
            folder = word[len(flag):] or (words[i + 1] if i + 1 < len(words) else "")
            if folder.startswith("/"):
                return f"{flag} {folder} names a folder of the image"
    return None


def _needs(trigger: str, words: list[str], files: ContextFiles | None) -> tuple[tuple[str, ...] | None, str]:
    """What one start-script command needs at run time (toolchains of data/jit.toml) and why;
    None when that is not known: the full base and its packages stay."""
    cfg = _cfg()
    needs = cfg.get("needs", {}).get(trigger)
    if needs is None:
        return None, f"`{trigger}` may need anything the full image has"
    if files is None:
        return None, "no build context to read its sources from"
    program = posixpath.basename(words[0])
    why = _flags_ok(words[1:], cfg)
    if why:
        return None, why
    suffixes = tuple(cfg["c_sources"])
    if program == "make":
        folder, makefile = ".", "Makefile"
        args = words[1:]
        for i, word in enumerate(args):
            if word in ("-C", "-f") and i + 1 < len(args):
                folder, makefile = (args[i + 1], makefile) if word == "-C" else (folder, args[i + 1])
        found = next((f for name in ((makefile,) if makefile != "Makefile" else ("GNUmakefile", "makefile", "Makefile"))
                      for f in (files.find(posixpath.join(folder, name)),) if f is not None), None)
        if found is None:
            return None, "its Makefile is not in the build context"
        rules = found.read_text(encoding="utf-8", errors="replace")
        why = _flags_ok([w for line in rules.splitlines() for w in _words(line) if w.startswith(("-l", "-I", "-L"))],
                        cfg) or ("it runs pkg-config" if "pkg-config" in rules else None)
        sources = sorted(p for p in found.parent.rglob("*") if p.suffix in suffixes and p.is_file())
    else:
        sources = []
        for word in words[1:]:
            if word.endswith(suffixes) and not word.startswith("-"):
                path = files.find(word)
                if path is None:
                    return None, f"{word} is not in the build context"
                sources.append(path)
        if not sources:
            return None, "it names no source file dockerslim can read"
    why = why or _sources_ok(sources, cfg)
    if why:
        return None, why
    names = ", ".join(p.name for p in sources[:3]) + (", …" if len(sources) > 3 else "")
    return tuple(needs), f"{names}: only C library / C++ standard headers included, only libc's libraries linked"


def _scripts_run(words: list[str]) -> list[str]:
    """Script paths a command runs: itself when it is a path, or the file given to sh/bash/source."""
    cfg = _cfg()
    program = posixpath.basename(words[0])
    if program in cfg["script_runners"]:
        rest = [w for w in words[1:] if not w.startswith("-")]
        if "-c" in words[1:]:
            return []  # the inline script is scanned as text
        return rest[:1]
    if "/" in words[0] or words[0].endswith(".sh"):
        return [words[0]]
    return []


class ContextFiles:
    """Maps image paths back to the build-context files COPY/ADD brought in."""

    def __init__(self, stage: ir.Stage, context: Path, df: ir.Dockerfile | None = None) -> None:
        self.context = context
        self.copies: list[tuple[str, ir.Copy]] = []  # (cwd, copy) with ARG/ENV values substituted
        values = StageValues(df or ir.Dockerfile(preamble=(), stages=(stage,)))
        cwd: str | None = "/"
        for node in stage.body:
            values.visit(node)
            if isinstance(node, ir.Workdir):
                path = values.resolve(node.path)
                cwd = posixpath.normpath(posixpath.join(cwd, path)) if cwd is not None and path is not None else None
            elif isinstance(node, ir.Copy) and node.flag("from") is None and not node.heredocs and cwd is not None:
                paths = [values.resolve(p) for p in node.paths]
                if all(p is not None for p in paths):
                    self.copies.append((cwd, replace(node, paths=tuple(paths))))  # type: ignore[arg-type]
        self.cwd = cwd or "/"

    def find(self, image_path: str, cwd: str | None = None) -> Path | None:
        target = posixpath.normpath(posixpath.join(cwd or self.cwd, image_path))
        for copy_cwd, node in reversed(self.copies):
            dest = posixpath.normpath(posixpath.join(copy_cwd, node.dest))
            globbed = any(c in src for src in node.sources for c in "*?[")
            into_dir = node.dest.endswith("/") or node.dest in (".", "..") or len(node.sources) > 1 or globbed
            for src in node.sources:
                if "://" in src or "$" in src:
                    continue
                matches = (
                    sorted(self.context.glob(src.lstrip("/")))
                    if any(c in src for c in "*?[")
                    else [self.context / src.lstrip("/")]
                )
                for local in matches:
                    found = self._lands(local, dest, target, into_dir)
                    if found is not None:
                        return found
        return None

    @staticmethod
    def _lands(local: Path, dest: str, target: str, into_dir: bool) -> Path | None:
        """The context file that ends up at ``target`` when ``local`` is copied to ``dest``."""
        if local.is_dir():
            if target == dest or target.startswith(dest.rstrip("/") + "/"):
                candidate = local / posixpath.relpath(target, dest)
                if candidate.is_file():
                    return candidate
        elif local.is_file():
            lands = posixpath.join(dest, local.name) if into_dir else dest
            if lands == target:
                return local
        return None


def _command_texts(node: ir.Instruction) -> list[str]:
    command = getattr(node, "command", None)
    if not command:
        return []
    if isinstance(command, tuple):
        if (
            len(command) >= 3
            and posixpath.basename(command[0]) in ("sh", "bash", "dash")
            and command[1] in ("-c", "-ec", "-ex")
        ):
            return [command[2]]
        return [shlex.join(command)]
    return [command]


def scan_start(stage: ir.Stage, context: Path | None, df: ir.Dockerfile | None = None) -> list[JitFinding]:
    """Compilers and source installers that the stage's ENTRYPOINT/CMD/HEALTHCHECK run, in
    their shell-form text or in the context scripts they call."""
    cfg = _cfg()
    built: list[ContextFiles] = []  # made on first use: most start commands run no context script
    findings: list[JitFinding] = []
    seen: set[Path] = set()

    def context_files() -> ContextFiles:
        assert context is not None
        if not built:
            built.append(ContextFiles(stage, context, df))
        return built[0]

    def scan(text: str, where: str, line_offset: int | None, depth: int) -> None:
        for number, words in _command_words(text):
            trigger = _trigger(words)
            line = line_offset if line_offset is not None else number
            if trigger:
                needs, why = _needs(trigger, words, context_files() if context is not None else None)
                findings.append(JitFinding(where, line, trigger, cfg["reason"], needs, why, keeps_packages=True))
            if context is None or depth >= MAX_DEPTH:
                continue
            for script in _scripts_run(words):
                path = context_files().find(script)
                if path is None or path in seen:
                    continue
                seen.add(path)
                try:
                    if path.stat().st_size > MAX_SCRIPT_BYTES:
                        continue
                    body = path.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
                scan(body, str(path.relative_to(context)), None, depth + 1)

    for node in stage.body:
        if isinstance(node, START):
            for text in _command_texts(node):
                scan(text, f"{node.keyword} (line {node.line})", node.line, 0)
    return findings


def script_texts(stage: ir.Stage, context: Path, df: ir.Dockerfile | None = None) -> list[tuple[str, str]]:
    """(context path, text) of every context script the stage's ENTRYPOINT/CMD/HEALTHCHECK run,
    following ``sh x.sh`` / ``source x.sh`` as ``scan_start`` does: what the container reads when
    it starts, for callers that must know which files it names (split-stages' build inputs)."""
    files = ContextFiles(stage, context, df)
    out: list[tuple[str, str]] = []
    seen: set[Path] = set()

    def follow(text: str, depth: int) -> None:
        for _, words in _command_words(text):
            for script in _scripts_run(words) if depth < MAX_DEPTH else ():
                path = files.find(script)
                if path is None or path in seen or not path.is_file() or path.stat().st_size > MAX_SCRIPT_BYTES:
                    continue
                seen.add(path)
                body = path.read_text(encoding="utf-8", errors="replace")
                out.append((str(path.relative_to(context)), body))
                follow(body, depth + 1)

    for node in stage.body:
        if isinstance(node, START):
            for text in _command_texts(node):
                follow(text, 0)
    return out
