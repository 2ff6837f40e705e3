"""The rewrite pipeline: parse → passes → emit, checking itself after every pass.

A pass whose output does not re-parse is rolled back and the rollback is reported: a bug in
one pass must never hand the user a Dockerfile that does not build.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from . import passes
from .catalog import EXTRA_DATA
from .changes import Change, Note
from .context import PassContext
from .emit import emit
from .errors import DockerfileSyntaxError
from .ir import Dockerfile
from .options import Options
from .parse import parse
from .source import BOM


@dataclass(frozen=True, kw_only=True)
class RewriteResult:
    original: str
    text: str
    diff: str
    changes: tuple[Change, ...] = ()
    notes: tuple[Note, ...] = ()
    passes_run: tuple[str, ...] = ()
    layers_before: int = 0
    layers_after: int = 0

    @property
    def changed(self) -> bool:
        return self.text != self.original


def unified_diff(before: str, after: str, path: str | None) -> str:
    """A ``git diff``-style unified diff (``a/PATH``, ``b/PATH``); "" when nothing changed."""
    name = (path or "Dockerfile").lstrip("/")
    lines = difflib.unified_diff(
        before.removeprefix(BOM).splitlines(keepends=True),
        after.removeprefix(BOM).splitlines(keepends=True),
        fromfile=f"a/{name}",
        tofile=f"b/{name}",
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def layer_count(dockerfile: Dockerfile) -> int:
    """Filesystem layers the final stage adds on top of its base (RUN, COPY, ADD)."""
    from .ir import Copy, Run

    final = dockerfile.stages[-1]
    return sum(1 for node in final.body if isinstance(node, (Run, Copy)))


def run_passes(dockerfile: Dockerfile, context: PassContext) -> tuple[Dockerfile, list[Change], list[Note], list[str]]:
    changes: list[Change] = []
    notes: list[Note] = []
    ran: list[str] = []
    for module in passes.all_passes():
        if not context.options.enabled(module.ID, module.NAME):
            continue
        result = module.run(dockerfile, context)
        try:
            parse(emit(result.dockerfile))
        except DockerfileSyntaxError as exc:
            notes.append(Note(rule=module.ID, pass_name=module.NAME, level="warning",
                              message=f"rolled back: its output did not parse ({exc}); please report this"))
            continue
        dockerfile = result.dockerfile
        changes.extend(result.changes)
        notes.extend(result.notes)
        ran.append(module.NAME)
    return dockerfile, changes, notes, ran


def rewrite(
    text: str,
    *,
    path: str | None = None,
    context_dir: str | Path | None = None,
    options: Options | None = None,
) -> RewriteResult:
    """Rewrite Dockerfile ``text``; raises DockerfileSyntaxError for input that is not one.

    ``context_dir`` is the build context: with it the passes can look at the files COPY
    brings in (Python sources for the JIT guard, model sizes, .dockerignore).
    """
    original_df = parse(text, path)
    context = PassContext(
        path=path,
        context_dir=Path(context_dir) if context_dir is not None else None,
        options=options or Options(),
    )
    token = EXTRA_DATA.set(context.options.data)
    try:
        new_df, changes, notes, ran = run_passes(original_df, context)
    finally:
        EXTRA_DATA.reset(token)
    new_text = emit(new_df)
    return RewriteResult(
        original=text,
        text=new_text,
        diff=unified_diff(text, new_text, path),
        changes=tuple(changes),
        notes=tuple(notes),
        passes_run=tuple(ran),
        layers_before=layer_count(original_df),
        layers_after=layer_count(new_df),
    )
