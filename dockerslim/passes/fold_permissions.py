"""DS206 fold-permissions: ``COPY x /y`` followed by ``RUN chmod …/chown … /y`` of only the
copied path becomes ``COPY --chmod=… --chown=… x /y``: one layer instead of two, and a
``chown -R`` no longer writes every copied byte a second time.

Folded only when the result is provably the same image, as measured with buildah 1.28 (see
``tests/test_fold_permissions.py``): the RUN runs nothing but ``chmod``/``chown`` of the path the
COPY just wrote; the COPY has one source from the build context (no ``--from``, glob, variable
or heredoc). Modes are written in octal — octal ``--chmod`` is in BuildKit's Dockerfile
frontend since 1.2 and in buildah (1.28 rejects symbolic ones such as ``u=rwx``, which BuildKit
only took in 1.14) — so a symbolic mode is converted: absolute ones (``755``, ``a=rx``)
exactly, relative ones (``+x``, ``g-w``) from the context file's mode as git records it (644,
or 755 when executable), which the Change says (risk low: a checkout under umask 002 has 664).
Ownership: ``chown app f`` keeps the group the COPY gave (``--chown=app:0``; a bare
``--chown=app`` would take app's id as group). ``--chown`` also owns the directories a COPY
creates, so the copied file's directory must already exist (a FHS directory, a WORKDIR, an
earlier COPY). A copied *directory* folds only ``chown -R`` of exactly its destination, which
the COPY must create (nothing earlier in the stage names it): ``--chmod`` does not change the
destination directory itself, ``chmod -R`` does, so a directory's ``chmod`` never folds.

Left alone: other options (``-h``, ``--reference``), set-id bits, ``user:``/``:group`` owners,
variables, several sources, RUN flags, a non-root ``USER`` (there the RUN failed), and the
stages that do not ship. No ``# syntax=`` line is added: octal ``--chmod`` builds with the
Dockerfile frontend built into Docker 20.10's BuildKit and with buildah 1.28 (both measured),
while a ``# syntax=docker/dockerfile:1`` line
makes BuildKit fetch the frontend image, which fails offline (measured: "failed to do request").
The classic builder (``DOCKER_BUILDKIT=0``) knows no ``--chmod``; the Change says so.
"""

from __future__ import annotations

import posixpath
import re
import stat
from dataclasses import replace
from pathlib import Path

from .. import ir
from ..catalog import load
from ..changes import Change, CommandEdit, Note, PassResult
from ..pass_context import PassContext
from ..rules import ignored
from ..rules import rule as catalogue_entry
from ..shell import SimpleCommand, run_commands, run_script, top_level_operators

RULE = catalogue_entry("fold-permissions")  # id, name and summary: data/rules.toml
ID, NAME, SUMMARY = RULE.id, RULE.name, RULE.summary

UMASK = 0o022  # the umask RUN steps run with (BuildKit and buildah): `chmod +w` leaves g and o alone
_OWNER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$")
_PLAIN_PATH = re.compile(r"^[A-Za-z0-9_./+@-]+$")
_SHIFT = {"u": 6, "g": 3, "o": 0}
_PERM = {"r": 4, "w": 2, "x": 1}


def apply_mode(spec: str, mode: int | None, is_dir: bool = False) -> int | None:
    """The permission bits after ``chmod spec`` on a file with ``mode`` (None: unknown), or None
    when that cannot be computed exactly (a relative mode on an unknown file, set-id or sticky
    bits, copying one class's bits from another)."""
    if re.fullmatch(r"[0-7]{1,4}", spec):
        value = int(spec, 8)
        return value if value <= 0o777 else None
    known = set("ugo") if mode is not None else set()  # classes whose bits are known so far
    current = mode or 0
    for clause in spec.split(","):
        found = re.fullmatch(r"([ugoa]*)([-+=])([rwxX]*)", clause)
        if found is None:
            return None
        who, op, perms = found.groups()
        if op == "=" and not who:
            return None  # `=r` keeps the umask's bits in a way that is easy to get wrong: decline
        classes = set(who.replace("a", "ugo") or "ugo")
        if op == "=":
            known |= classes
        elif not classes <= known or ("X" in perms and known != set("ugo")):
            return None
        bits = 0
        for c in classes:
            for p in perms:
                value = 1 if p == "X" and (is_dir or current & 0o111) else _PERM.get(p, 0)
                bits |= value << _SHIFT[c]
        if not who:
            bits &= ~UMASK
        if op == "+":
            current |= bits
        elif op == "-":
            current &= ~bits
        else:
            cleared = sum(0o7 << _SHIFT[c] for c in classes)
            current = (current & ~cleared) | bits
    if known != set("ugo"):
        return None
    mode = current
    return mode


def _resolve(path: str, workdir: str) -> str | None:
    if not _PLAIN_PATH.match(path):
        return None
    return posixpath.normpath(posixpath.join(workdir, path))


def _parents(path: str) -> list[str]:
    out = []
    while path not in ("/", ""):
        path = posixpath.dirname(path)
        out.append(path)
    return out


class _Why(Exception):
    """Why a COPY and the RUN after it do not fold."""


def _target(copy: ir.Copy, workdir: str, context_dir: Path | None, existing: set[str]) -> tuple[str, Path]:
    """Where the COPY puts its one source, and that source in the context."""
    if copy.heredocs or len(copy.sources) != 1:
        raise _Why("the COPY has several sources or a heredoc")
    if any(f.name not in ("chown", "chmod", "link") for f in copy.flags):
        raise _Why("the COPY has flags other than --chown/--chmod/--link (--from: the source's mode is unknown)")
    source, dest = copy.sources[0], copy.dest
    if context_dir is None:
        raise _Why("the build context is not known (whether the source is a file or a folder decides)")
    if not _PLAIN_PATH.match(source) or not _PLAIN_PATH.match(dest):
        raise _Why("a path holds a variable, a glob or a quote")
    local = (context_dir / source).resolve()
    if not local.is_relative_to(context_dir.resolve()) or local.is_symlink() or not local.exists():
        raise _Why(f"{source} is not a plain file or folder of the build context")
    base = posixpath.normpath(posixpath.join(workdir, dest))
    if local.is_dir():
        return base, local
    if dest.endswith("/") or base in existing:  # into a folder: the file keeps its name
        base = posixpath.join(base, posixpath.basename(source.rstrip("/")))
    return posixpath.normpath(base), local


def _steps(run: ir.Run, workdir: str) -> list[SimpleCommand]:
    """The RUN's commands when it only runs chmod/chown joined by ``&&``."""
    script = run_script(run)
    if run.flags or run.heredocs or script is None:
        raise _Why("the RUN has flags, a heredoc or exec form")
    ops = top_level_operators(script)
    cmds = run_commands(run, cwd=workdir)
    if ops is None or cmds is None or any(op != "&&" for op in ops) or "#" in script:
        raise _Why("the RUN joins its commands with something other than &&, or holds a comment")
    if not cmds or any(c.program not in ("chmod", "chown") or c.assignments for c in cmds):
        raise _Why("the RUN does more than chmod/chown")
    return cmds


def _fold(
    copy: ir.Copy, run: ir.Run, workdir: str, existing: set[str], named: set[str], context_dir: Path | None
) -> tuple[ir.Copy, str]:
    """The COPY with the RUN's permission changes as flags, and the reason text."""
    target, local = _target(copy, workdir, context_dir, existing)
    is_dir = local.is_dir()
    # The mode a checkout gives the file, as git records it (644, or 755 when executable): a
    # relative chmod is computed from it (a checkout under umask 002 would have 664/775).
    mode: int | None = 0o755 if local.stat().st_mode & stat.S_IXUSR else 0o644
    relative_from: int | None = None  # the context file's mode a relative chmod was computed from
    exact = False  # an absolute chmod came first: later relative ones start from a known mode
    owner: str | None = None
    chmod_seen = False
    for cmd in _steps(run, workdir):
        words = list(cmd.argv[1:])
        recursive = "-R" in words
        words = [w for w in words if w != "-R"]
        if any(w.startswith("-") for w in words) or len(words) < 2:
            raise _Why(f"`{cmd.text}` has options other than -R, or no path")
        spec, paths = words[0], words[1:]
        if any(_resolve(p, workdir) != target for p in paths):
            raise _Why(f"`{cmd.text}` touches paths the COPY did not write")
        if is_dir and not (cmd.program == "chown" and recursive):
            raise _Why(
                "a copied folder folds only `chown -R` (--chmod leaves the folder itself alone; chmod changes it)"
            )
        if cmd.program == "chmod":
            if copy.flag("chmod") is not None:
                raise _Why("the COPY already has --chmod")
            absolute = apply_mode(spec, None)
            new = absolute if absolute is not None else apply_mode(spec, mode)
            if new is None:
                raise _Why(f"the mode {spec!r} cannot be written as an exact octal --chmod")
            if absolute is None and not exact and relative_from is None:
                relative_from = mode
            exact = exact or absolute is not None
            mode, chmod_seen = new, True
        else:
            if copy.flag("chown") is not None:
                raise _Why("the COPY already has --chown")
            if not _OWNER.match(spec):
                raise _Why(f"the owner {spec!r} is not a plain user or user:group")
            owner = spec if ":" in spec else f"{spec}:0"  # chown keeps the group: root, as the COPY left it
    if owner is not None:
        created = [p for p in _parents(target) if p not in existing]
        if created and not is_dir:
            raise _Why(f"--chown would also own {created[-1]}, which the COPY creates")
        if is_dir and (target in existing or target in named or _parents(target)[0] not in existing):
            raise _Why(
                f"{target} exists before the COPY (or its parent does not): chown -R changes it, --chown does not"
            )
    new_copy = copy
    reasons = []
    if chmod_seen:
        assert mode is not None
        new_copy = new_copy.with_flag("chmod", f"{mode:03o}")
        reasons.append(
            f"--chmod={mode:03o}"
            + (
                f" (computed from the context file's mode {relative_from:03o}, as git records it)"
                if relative_from is not None
                else ""
            )
        )
    if owner is not None:
        new_copy = new_copy.with_flag("chown", owner)
        reasons.append(f"--chown={owner}")
    return replace(new_copy, leading=copy.leading + run.leading), ", ".join(reasons)


def _stage(stage: ir.Stage, context: PassContext, result: PassResult) -> ir.Stage:
    existing = set(load("hygiene")["fold_permissions"]["existing_dirs"])
    named: set[str] = set()  # paths earlier instructions of the stage write or name
    workdir = "/"
    root = True  # RUN steps run as root: as another user the chown (or a chmod of root's file) failed
    body: list[ir.Instruction] = []
    nodes = list(stage.body)
    i = 0
    while i < len(nodes):
        node = nodes[i]
        nxt = nodes[i + 1] if i + 1 < len(nodes) else None
        if (
            type(node) is ir.Copy
            and isinstance(nxt, ir.Run)
            and "$" not in workdir
            and root
            and not ignored(RULE, node, stage)
            and not ignored(RULE, nxt, stage)
        ):
            try:
                folded, why = _fold(node, nxt, workdir, existing, named, context.context_dir)
            except _Why as skipped:
                if any(c.program in ("chmod", "chown") for c in run_commands(nxt) or []):
                    result.notes.append(
                        Note(
                            rule=ID,
                            pass_name=NAME,
                            level="skipped",
                            line=nxt.line,
                            message=f"permissions not folded into the COPY above: {skipped}",
                        )
                    )
            else:
                body.append(folded)
                _report(result, node, nxt, why)
                _remember(folded, workdir, existing, named)
                i += 2
                continue
        if isinstance(node, ir.User):
            root = node.user.split(":")[0] in ("root", "0")
        if isinstance(node, ir.Workdir) and _PLAIN_PATH.match(node.path):
            workdir = posixpath.normpath(posixpath.join(workdir, node.path))
            existing.update([workdir, *_parents(workdir)])
        elif isinstance(node, ir.Workdir):
            workdir = "$"
        _remember(node, workdir, existing, named)
        body.append(node)
        i += 1
    return replace(stage, body=tuple(body))


def _remember(node: ir.Instruction, workdir: str, existing: set[str], named: set[str]) -> None:
    """Directories that exist after ``node``, and paths it names (a later ``chown -R`` of one of
    them would change what was there)."""
    if isinstance(node, (ir.Copy, ir.Add)) and "$" not in workdir and _PLAIN_PATH.match(node.paths[-1]):
        dest = posixpath.normpath(posixpath.join(workdir, node.paths[-1]))
        existing.update(_parents(dest))
        named.add(dest)
        if node.paths[-1].endswith("/"):
            existing.add(dest)
    elif isinstance(node, ir.Run):
        text = node.command if isinstance(node.command, str) else " ".join(node.command)
        text += "".join(h.body for h in node.heredocs)
        named.update(re.findall(r"/[A-Za-z0-9_./+@-]*", text))
    elif isinstance(node, ir.Workdir):
        named.add(workdir)


def _report(result: PassResult, copy: ir.Copy, run: ir.Run, flags: str) -> None:
    relative = "computed from" in flags
    result.changes.append(
        Change(
            rule=ID,
            pass_name=NAME,
            line=copy.line,
            end_line=run.source.end_line if run.source else run.line,
            message=f"permissions set by the COPY ({flags}) instead of a RUN after it",
            reason="the RUN only changed the mode/owner of the path the COPY wrote, and the COPY flags give the same "
            "result; octal --chmod builds with BuildKit (Dockerfile frontend >= 1.2) and buildah",
            effect="one layer fewer; a chown/chmod no longer stores every copied byte a second time. --chmod needs "
            "BuildKit (Docker 20.10 or later) or buildah; the classic builder (DOCKER_BUILDKIT=0) rejects it",
            risk="low" if relative else "none",
            commands=tuple(CommandEdit(c.argv, None) for c in run_commands(run) or []),
        )
    )


def run(df: ir.Dockerfile, context: PassContext) -> PassResult:
    result = PassResult(dockerfile=df)
    shipping = df.shipping_stages()
    stages = tuple(_stage(s, context, result) if i in shipping else s for i, s in enumerate(df.stages))
    result.dockerfile = replace(df, stages=stages)
    return result
