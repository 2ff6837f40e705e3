"""The rewrite pipeline: parse → passes (``passes.PIPELINE``) → emit, checking itself after
every pass.

A pass whose output does not re-parse, or whose RUNs no longer execute the same commands in an
order the pass declared safe (``guard.py``), is rolled back and the rollback is reported: a bug
in one pass must never hand the user a Dockerfile that does not build or builds something else.
"""

from __future__ import annotations

import difflib
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from . import rules
from .catalog import EXTRA_DATA
from .changes import Change, Note
from .emit import emit, render_instruction
from .errors import DockerfileSyntaxError
from .guard import Facts, violation
from .ir import Copy, Dockerfile, Run
from .options import Options
from .parse import parse, warnings
from .pass_context import PassContext, rewrite_scope
from .passes import PIPELINE, Pass
from .source import BOM

if TYPE_CHECKING:  # the observation side imports the builders; passes only read the record
    from .observe.record import Observation


@dataclass(frozen=True, kw_only=True)
class RewriteResult:
    original: str
    text: str
    path: str | None = field(default=None, compare=False)
    changes: tuple[Change, ...] = ()
    notes: tuple[Note, ...] = ()
    passes_run: tuple[str, ...] = ()
    layers_before: int = 0
    layers_after: int = 0

    @property
    def changed(self) -> bool:
        return self.text != self.original

    @cached_property
    def diff(self) -> str:
        """The unified diff, computed on first use only (most callers never ask for it)."""
        return unified_diff(self.original, self.text, self.path)


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
    final = dockerfile.stages[-1]
    return sum(1 for node in final.body if isinstance(node, (Run, Copy)))


def run_passes(dockerfile: Dockerfile, context: PassContext, pipeline: tuple[Pass, ...] | None = None,
               whole_file: bool = False) -> tuple[Dockerfile, list[Change], list[Note], list[str]]:
    """Run the enabled passes in order; a pass that fails a check is rolled back with a warning.
    After each pass only the instructions it changed are re-parsed, unless ``whole_file``."""
    changes: list[Change] = []
    notes: list[Note] = []
    ran: list[str] = []
    facts = Facts()
    for step in PIPELINE if pipeline is None else pipeline:
        if not context.options.enabled(step.id, step.name):
            continue
        result = step.run(dockerfile, context)
        why = _rejected(step, dockerfile, result.dockerfile, result.changes, facts, whole_file)
        if why:
            notes.append(Note(rule=step.id, pass_name=step.name, level="warning",
                              message=f"rolled back: {why}; please report this"))
            continue
        quiet = _suppressed_lines(step, dockerfile)
        touched = next((c.line for c in result.changes if quiet & _lines(c.line, c.end_line)), None)
        if touched is not None:
            notes.append(Note(rule=step.id, pass_name=step.name, level="skipped", line=touched,
                              message=f"not applied: it would change line {touched}, which "
                                      f"`# dockerslim: ignore={step.id}` asks it to leave alone"))
            continue
        dockerfile = result.dockerfile
        changes.extend(result.changes)
        notes.extend(n for n in result.notes if n.line not in quiet)
        ran.append(step.name)
    return dockerfile, changes, notes, ran


def _lines(first: int | None, last: int | None) -> set[int]:
    return set(range(first, (last or first) + 1)) if first else set()


def _suppressed_lines(step: Pass, df: Dockerfile) -> set[int]:
    """Source lines of the instructions (or whole stages) ``# dockerslim: ignore=…`` switches
    this pass off for: the pass may neither change them nor report on them."""
    try:
        entry = rules.rule(step.id)
    except KeyError:
        return set()
    out: set[int] = set()
    for stage in df.stages:
        for node in stage:
            if node.source and rules.ignored(entry, node, stage):
                out |= _lines(node.source.line, node.source.end_line)
    return out


def _changed_text(df: Dockerfile) -> str:
    """The instructions a pass changed or added, as a Dockerfile of their own (an untouched
    instruction is its parsed source text: parsing it again can tell nothing new)."""
    changed = [node for node in df.instructions() if not node.untouched]
    if not changed:
        return ""
    head = "".join(d.text if d.text is not None else f"# {d.name}={d.value}\n" for d in df.directives)
    return head + "FROM scratch\n" + "".join(render_instruction(node, df.escape) for node in changed)


def _rejected(step: Pass, before: Dockerfile, after: Dockerfile, changes: list[Change], facts: Facts,
              whole_file: bool = False) -> str | None:
    """Why a pass's output must not be kept: it does not parse, or runs other commands."""
    if after is before:
        return None
    try:
        text = emit(after) if whole_file else _changed_text(after)
        if text:
            parse(text)
    except DockerfileSyntaxError as exc:
        return f"its output did not parse ({exc})"
    broken = violation(step.commands, before, after, changes, facts)
    return f"its RUNs no longer execute what they did: {broken}" if broken else None


@contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic garbage collector paused for one rewrite: it makes no cycles worth collecting
    (frozen nodes, strings, tuples), yet the collector walked every live object again and again,
    a third of a 100,000-line rewrite's time. Switched back on at the end (if it was on: a caller
    that turned it off keeps it off); the process-wide state, so a concurrent thread's rewrite may
    switch it on early, which costs time, never correctness."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def rewrite(
    text: str,
    *,
    path: str | None = None,
    context_dir: str | Path | None = None,
    options: Options | None = None,
    observation: Observation | None = None,
) -> RewriteResult:
    """Rewrite Dockerfile ``text``; raises DockerfileSyntaxError for input that is not one.

    ``context_dir`` is the build context: with it the passes can look at the files COPY
    brings in (Python sources for the JIT guard, model sizes, .dockerignore). ``observation``
    (``observe.observe``: what one real build of ``text`` wrote per step) reaches the passes as
    ``PassContext.observation``.
    """
    with _no_gc(), rewrite_scope():  # the memo dropped before the collector is back: it need not walk it
        original_df = parse(text, path)
        context = PassContext(
            path=path,
            context_dir=Path(context_dir) if context_dir is not None else None,
            options=options or Options(),
            observation=observation,
        )
        token = EXTRA_DATA.set(context.options.data)
        try:
            new_df, changes, notes, ran = run_passes(original_df, context)
            new_text = emit(new_df)
            try:
                parse(new_text)
            except DockerfileSyntaxError:  # only the whole file shows it (a stage name clash): find the pass
                new_df, changes, notes, ran = run_passes(original_df, context, whole_file=True)
                new_text = emit(new_df)
        finally:
            EXTRA_DATA.reset(token)
    return RewriteResult(
        original=text,
        text=new_text,
        path=path,
        changes=tuple(changes),
        notes=(*warnings(original_df), *notes),  # what BuildKit accepts but the author likely did not mean
        passes_run=tuple(ran),
        layers_before=layer_count(original_df),
        layers_after=layer_count(new_df),
    )
