"""DS208 bind-mounts: ``COPY --from=ghcr.io/acme/wheels:1 /wheels /wheels`` followed by ``RUN pip
install /wheels/*`` becomes ``RUN --mount=type=bind,from=ghcr.io/acme/wheels:1,source=/wheels,
target=/wheels pip install /wheels/*``: the wheels are there while the install runs and never
stored in a layer of the image (a COPY keeps them forever, whatever a later ``rm`` does).

From an image only (``[bind_mount_from]`` in ``data/commands.toml``): a mount from a *stage* of the
file (``COPY --from=build``) fails on buildah 1.28 whenever that stage comes from the layer cache
(measured on fixtures/rewrite/already-multistage; containers/buildah#4375), and newer buildah
reuses a cached RUN whose mounted stage changed (containers/buildah#6609), so those COPYs stay,
with that reason in a note.

Only when that is provably the same image apart from the copied files: the COPY has one source
from an image, no other flag, no glob or variable, and a destination that is not a
folder to copy into (``/x/``); the very next instruction is a RUN whose every command naming the
path is a known reader that only reads it (``[[mount_reader]]`` in ``data/commands.toml``: pip
install of wheels, ``dpkg -i``, ``tar -x`` of an archive there), each such word being a file it
reads; nothing else in the stage before or after names the path or its last part (RUN, COPY, ENV,
WORKDIR, CMD/ENTRYPOINT, HEALTHCHECK), and neither does any file of the build context (the start
scripts a CMD runs are among them). A bind mount is read-only, so a command that would write
there (``rm -rf /wheels``, ``pip install --target /wheels``) keeps the COPY.

Only stages that ship are changed; builder layers are not in the final image. No ``# syntax=``
line is added: ``RUN --mount`` builds with the Dockerfile frontend built into Docker 20.10's
BuildKit and with buildah (1.28 measured, ``tests/test_bind_mounts.py``), while a syntax line
makes BuildKit fetch the frontend image, which fails offline (package-hygiene's cache mounts
rely on the same). The classic builder (``DOCKER_BUILDKIT=0``) knows no ``--mount``; the Change
says so.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import dockerignore, ir
from ..catalog import load
from ..changes import Change, Note, PassResult
from ..classify import pip_argv, resolve_dir
from ..emit import instruction_text
from ..pass_context import PassContext
from ..shell import SimpleCommand, run_commands
from ..variables import StageValues

ID = "DS208"
NAME = "bind-mounts"
SUMMARY = "a COPY --from only the next RUN reads becomes a bind mount of that RUN"

CHUNK = 1 << 20  # bytes of a context file searched at a time


def _note(message: str, line: int | None) -> Note:
    return Note(rule=ID, pass_name=NAME, message=message, line=line, level="info")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _reader(cmd: SimpleCommand) -> tuple[dict[str, Any], tuple[str, ...]] | None:
    """The ``[[mount_reader]]`` rule this command runs under, with its argv (pip spelled as pip)."""
    argv = pip_argv(cmd) or cmd.argv
    program = "pip" if pip_argv(cmd) else cmd.program
    for rule in load("commands").get("mount_reader", []):
        if not any(fnmatch.fnmatchcase(program, p) for p in rule["programs"]):
            continue
        sub = next((a for a in argv[1:] if not a.startswith("-")), None)
        if rule["subcommand"] and sub not in rule["subcommand"]:
            continue
        if rule["modes"] and not (any(a in rule["modes"] for a in argv[1:]) or (
                rule["cluster"] and len(argv) > 1 and re.match(rule["cluster"], argv[1]))):
            continue
        return rule, argv
    return None


def _reads_only(cmd: SimpleCommand, target: str, cwd: str) -> str | None:
    """Why ``cmd`` may not read ``target`` through a read-only mount (None: it only reads files there)."""
    names = [i for i, a in enumerate(cmd.argv) if _names(a, target, cmd.cwd or cwd)]
    if not names and not any(_names(a.split("=", 1)[1], target, cmd.cwd or cwd) for a in cmd.assignments if "=" in a):
        return None
    found = _reader(cmd)
    if found is None or names == [] or cmd.cwd is None:
        return f"`{cmd.text}` names {target} and is not a command known to only read it"
    rule, argv = found
    skip = len(cmd.argv) - len(argv)
    for i in names:
        word, j = cmd.argv[i], i - skip
        previous = argv[j - 1] if j >= 1 else ""
        option, _, value = word.partition("=")
        if j < 1:
            return f"`{cmd.text}` runs a program inside {target}"
        if previous in rule["read_options"] or (rule["cluster"] and re.match(rule["cluster"], previous)):
            continue
        if word.startswith("-") and option in rule["read_options"] and value:
            continue
        if not word.startswith("-") and (not previous.startswith("-") or previous in rule["flags"]) and any(
                fnmatch.fnmatchcase(posixpath.basename(word), p) for p in rule["positional"]):
            continue
        return f"`{cmd.text}`: {word} is not a file {rule['name']} only reads"
    return None


def _names(word: str, target: str, cwd: str) -> bool:
    """Whether a word refers to the mounted path or something inside it (relative words too)."""
    if "/" not in word and word != posixpath.basename(target):
        return False
    return _inside(posixpath.normpath(posixpath.join(cwd, word.strip("'\""))), target)


def _pattern(target: str) -> str:
    """The path or its last part as a word (conservative: any mention counts)."""
    base = re.escape(posixpath.basename(target.rstrip("/")))
    return rf"{re.escape(target)}|(?<![\w.-]){base}(?![\w-])"


def _mentions(text: str, target: str) -> bool:
    return re.search(_pattern(target), text) is not None


def _file_mentions(path: Path, target: str) -> bool:
    """``_mentions`` over a file of any size, read in chunks that overlap by the longest match."""
    pattern = re.compile(_pattern(target).encode())
    overlap = len(target.encode()) + 1
    tail = b""
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            if pattern.search(tail + chunk):
                return True
            tail = chunk[-overlap:]
    return False


def _context_blocker(context_dir: Path | None, target: str) -> str | None:
    """Why a file of the build context that reaches the image may name the path (start scripts,
    app code), or None; files .dockerignore leaves out never reach it."""
    if context_dir is None:
        return "no build context to show that no script or program of the image names it"
    rules = dockerignore.load(context_dir)
    for path in sorted(context_dir.rglob("*")):
        rel = path.relative_to(context_dir).as_posix()
        if not path.is_file() or rel == ".dockerignore" or dockerignore.ignored(rel, rules):
            continue
        if "Dockerfile" not in path.name and _file_mentions(path, target):
            return f"{rel} names it"
    return None


def _text(node: ir.Instruction) -> str:
    if isinstance(node, ir.Run):
        text = node.command if isinstance(node.command, str) else " ".join(node.command)
        return text + "".join(h.body for h in node.heredocs)
    return instruction_text(node)


def _candidate(node: ir.Instruction, values: StageValues, cwd: str) -> str | None:
    """The absolute destination of a COPY that could become a bind mount, or None."""
    if type(node) is not ir.Copy or node.heredocs or len(node.sources) != 1:
        return None
    if [f.name for f in node.flags] != ["from"] or not node.flag("from"):
        return None
    source, dest = node.sources[0], values.resolve(node.dest)
    if dest is None or "$" in dest or dest.endswith("/") or dest in (".", "..") or any(c in source for c in "*?[$"):
        return None
    if not source.startswith("/") and source not in (".", "./"):
        return None  # relative to the other stage's WORKDIR: not read here
    target = resolve_dir(cwd, dest)
    return None if target == "/" else target


def _stage(stage: ir.Stage, df: ir.Dockerfile, context: PassContext, result: PassResult) -> ir.Stage:
    body = list(stage.body)
    values = StageValues(df)
    cwd = "/"
    cwds: list[str] = []
    for node in body:
        values.visit(node)
        if isinstance(node, ir.Workdir):
            path = values.resolve(node.path)
            cwd = resolve_dir(cwd, path) if path is not None and cwd != "?" else "?"
        cwds.append(cwd)
    values = StageValues(df)
    i = 0
    while i < len(body) - 1:
        node, after = body[i], body[i + 1]
        values.visit(node)
        target = _candidate(node, values, cwds[i]) if cwds[i] != "?" else None
        if target is None or not isinstance(after, ir.Run) or after.heredocs or isinstance(after.command, tuple):
            i += 1
            continue
        why = _source_blocker(df, node) or _blocker(body, i, target, cwds[i], context)
        if why:
            result.notes.append(_note(f"COPY to {target} kept: {why}", node.line))
            i += 1
            continue
        assert isinstance(node, ir.Copy)
        mount = f"type=bind,from={node.flag('from')},source={node.sources[0]},target={target}"
        run = replace(after, flags=(ir.Flag(name="mount", value=mount), *after.flags),
                      leading=(*node.leading, *after.leading))
        body[i:i + 2] = [run]
        cwds[i:i + 2] = [cwds[i + 1]]
        _report(result, node, run, target)
        i += 1
    return replace(stage, body=tuple(body))


def _source_blocker(df: ir.Dockerfile, copy: ir.Instruction) -> str | None:
    """Why the builders dockerslim supports cannot mount what the COPY copies from (``[bind_mount_from]``)."""
    source = copy.flag("from") or ""
    kind = "stage" if source.isdigit() or df.stage_named(source) is not None else "image"
    allowed = load("commands").get("bind_mount_from", {})
    return None if allowed.get(kind, False) else f"it copies from a {kind}, and {allowed.get(kind + '_why', '')}"


def _blocker(body: list[ir.Instruction], i: int, target: str, cwd: str, context: PassContext) -> str | None:
    """Why the COPY at ``body[i]`` must stay (None: the RUN after it can mount its files instead)."""
    run = body[i + 1]
    assert isinstance(run, ir.Run)
    if any(f.name == "mount" and "target=" + target in (f.value or "") for f in run.flags):
        return "the RUN already mounts something there"
    commands = run_commands(run, cwd)
    if commands is None:
        return "the RUN after it cannot be analysed"
    read = False
    for cmd in commands:
        why = _reads_only(cmd, target, cwd)
        if why:
            return why
        read = read or any(_names(a, target, cmd.cwd or cwd) for a in cmd.argv)
    if not read:
        return "the RUN after it does not name it"
    for j, node in enumerate(body):
        if j in (i, i + 1):
            continue
        if _mentions(_text(node), target):
            return f"line {node.line} {'also ' if j < i else 'later '}names it"
    return _context_blocker(context.context_dir, target)


def _report(result: PassResult, copy: ir.Copy, run: ir.Run, target: str) -> None:
    result.changes.append(Change(
        rule=ID, pass_name=NAME, line=copy.line, end_line=run.source.end_line if run.source else run.line,
        message=f"{target} is bind-mounted into the RUN that reads it instead of copied into a layer",
        reason="only the next RUN reads it, with commands that only read files (nothing later in the file or "
               "in the build context names it)",
        effect=f"{target} is no longer in the image (the COPY's layer kept it however the RUN used it); "
               "--mount needs BuildKit (Docker 20.10 or later) or buildah; the classic builder "
               "(DOCKER_BUILDKIT=0) rejects it",
        risk="low", config=(f"Files.{target}",),  # left out on purpose: verify does not expect it
    ))


def run(df: ir.Dockerfile, context: PassContext) -> PassResult:
    result = PassResult(dockerfile=df)
    shipping = df.shipping_stages()
    stages = tuple(_stage(s, df, context, result) if i in shipping else s for i, s in enumerate(df.stages))
    result.dockerfile = replace(df, stages=stages)
    return result
