"""Rewriting and verifying many Dockerfiles at once (a monorepo, a fleet): in parallel, in the
order the files were given, with a progress display on a terminal and one summary at the end.

A rewrite is CPU-bound pure Python, so threads would not help: files go to a
``ProcessPoolExecutor`` in chunks (one task per file would spend more time pickling and
waking workers than rewriting on 5,000 small files). A file that fails (not a Dockerfile,
unreadable, or a bug in a pass) is reported with its error; it never stops the others.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import DockerslimError
from .files import read_text
from .options import Options
from .rewrite import RewriteResult, rewrite

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from .verify import VerifyReport

CHUNKS_PER_WORKER = 8  # enough chunks to balance uneven files, few enough to keep overhead low
MAX_CHUNK = 64
DEFAULT_OPTIONS = Options()


@dataclass(frozen=True)
class FileOutcome:
    """What rewriting one file gave: counts for the summary, and the text to write back."""

    path: str
    changed: bool = False
    lines_before: int = 0
    lines_after: int = 0
    layers_before: int = 0
    layers_after: int = 0
    result: RewriteResult | None = None  # the whole result, to write back or report (when kept)
    error: str | None = None  # one line naming the file; the file was not rewritten

    @property
    def text(self) -> str | None:
        """The rewrite, when the result was kept."""
        return self.result.text if self.result is not None else None


def default_jobs() -> int:
    """CPUs this process may use (the affinity mask, not just the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _line_count(text: str) -> int:
    return len(text.splitlines())


def rewrite_file(path: str, options: Options, context: str | None, keep: bool) -> FileOutcome:
    """Rewrite one file; every failure becomes the outcome's error, never an exception."""
    try:
        text = read_text(path)
        ctx = context or os.path.dirname(os.path.abspath(path))
        result = rewrite(text, path=path, context_dir=ctx, options=options)
    except DockerslimError as exc:
        return FileOutcome(path=path, error=str(exc))
    except OSError as exc:
        return FileOutcome(path=path, error=f"{path}: {exc.strerror or exc}")
    except Exception as exc:  # a bug in a pass must not stop the other 4,999 files
        return FileOutcome(path=path, error=f"{path}: internal error: {type(exc).__name__}: {exc}")
    return FileOutcome(
        path=path, changed=result.changed,
        lines_before=_line_count(result.original), lines_after=_line_count(result.text),
        layers_before=result.layers_before, layers_after=result.layers_after,
        result=result if keep else None,
    )


Job = tuple[str, "Options | FileOutcome"]  # a file with its options, or its outcome already (an error)


def _run_job(job: Job, context: str | None, keep: bool) -> FileOutcome:
    path, options = job
    return options if isinstance(options, FileOutcome) else rewrite_file(path, options, context, keep)


def _rewrite_chunk(jobs: Sequence[Job], context: str | None, keep: bool) -> list[FileOutcome]:
    """Worker side: one chunk of files (equal Options objects pickle once per chunk)."""
    return [_run_job(job, context, keep) for job in jobs]


def _chunks(items: Sequence[Job], jobs: int) -> list[tuple[int, Sequence[Job]]]:
    size = max(1, min(MAX_CHUNK, len(items) // (jobs * CHUNKS_PER_WORKER) or 1))
    return [(start, items[start:start + size]) for start in range(0, len(items), size)]


def _warm_up() -> None:
    """Load the catalogs once in the parent, so forked workers inherit them instead of each
    reading the TOML files again."""
    with contextlib.suppress(DockerslimError):
        rewrite("FROM python:3.12\nRUN pip install x\n")


def rewrite_many(
    paths: Iterable[str],
    *,
    jobs: int | None = None,
    options_for: Callable[[str], Options] | None = None,
    context: str | None = None,
    keep: bool = True,
    progress: bool | None = None,
    console: Console | None = None,
) -> list[FileOutcome]:
    """Rewrite every file in ``paths``; outcomes come back in the order of ``paths``.

    ``jobs`` defaults to the CPUs available; 1 runs in this process. ``options_for(path)``
    gives each file's options (the CLI resolves configuration files and flags there; it runs
    in this process, so it may be a closure); default ``Options()``. ``progress`` None shows
    a bar only when ``console`` (default: stderr) is a terminal.
    """
    items = [(p, _options(p, options_for)) for p in paths]
    if any(p == "-" for p, _ in items):
        raise ValueError("rewrite_many reads files; rewrite stdin with dockerslim.rewrite")
    jobs = max(1, jobs or default_jobs())
    if console is None:
        from rich.console import Console

        console = Console(stderr=True)
    show = console.is_terminal if progress is None else progress
    results: list[FileOutcome | None] = [None] * len(items)

    with _progress(console, show, len(items)) as advance:
        if jobs == 1 or len(items) < 2:
            for i, job in enumerate(items):
                results[i] = _run_job(job, context, keep)
                advance(1)
        else:
            _warm_up()
            with ProcessPoolExecutor(max_workers=min(jobs, len(items))) as pool:
                pending: dict[Future[list[FileOutcome]], int] = {
                    pool.submit(_rewrite_chunk, chunk, context, keep): start
                    for start, chunk in _chunks(items, jobs)
                }
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        start = pending.pop(future)
                        chunk_outcomes = future.result()
                        results[start:start + len(chunk_outcomes)] = chunk_outcomes
                        advance(len(chunk_outcomes))
    return [r for r in results if r is not None]


def _options(path: str, options_for: Callable[[str], Options] | None) -> Options | FileOutcome:
    """The file's options, or its error outcome when its configuration cannot be read."""
    if options_for is None:
        return DEFAULT_OPTIONS
    try:
        return options_for(path)
    except DockerslimError as exc:
        return FileOutcome(path=path, error=str(exc) if path in str(exc) else f"{path}: {exc}")


@contextlib.contextmanager
def _progress(console: Console, show: bool, total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar when ``show`` (cleared when done); else a no-op. Yields ``advance(n)``."""
    if not show:
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("rewriting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("rewrite", total=total)
        yield lambda n: bar.advance(task, n)


def summary_line(outcomes: Sequence[FileOutcome], *, written: bool = False) -> str:
    """"3 of 40 files would be rewritten" (or "were rewritten" once written), plus the errors."""
    changed = sum(1 for o in outcomes if o.changed)
    errors = sum(1 for o in outcomes if o.error)
    noun = "file" if len(outcomes) == 1 else "files"
    line = f"{changed} of {len(outcomes)} {noun} {'were' if written else 'would be'} rewritten"
    if errors:
        line += f", {errors} could not be rewritten (errors above)"
    return line


def summary_table(outcomes: Sequence[FileOutcome], *, limit: int = 50) -> Table:
    """One row per changed or failed file (the first ``limit``), then the totals."""
    from rich.table import Table

    table = Table(title="dockerslim rewrite", show_footer=True)
    shown = [o for o in outcomes if o.changed or o.error]
    changed = [o for o in outcomes if o.changed]
    table.add_column("file", footer=f"total: {len(changed)} of {len(outcomes)} changed")
    table.add_column("lines", justify="right",
                     footer=f"{sum(o.lines_before for o in changed)} → {sum(o.lines_after for o in changed)}")
    table.add_column("layers (final stage)", justify="right",
                     footer=f"{sum(o.layers_before for o in changed)} → {sum(o.layers_after for o in changed)}")
    for o in shown[:limit]:
        if o.error:
            table.add_row(o.path, "error", o.error)
        else:
            table.add_row(o.path, f"{o.lines_before} → {o.lines_after}", f"{o.layers_before} → {o.layers_after}")
    if len(shown) > limit:
        table.add_row(f"… and {len(shown) - limit} more", "", "")
    return table


# --- verifying many Dockerfiles ----------------------------------------------------------------

Say = Callable[[str], None]  # a step of one file's verification ("building …", "running …")
LogSink = Callable[[str, str], None]  # (image label, line): a builder's output as it is printed
VerifyOne = Callable[[str, Say, LogSink], "VerifyReport"]  # verify one path: verify.verify, bound by the CLI


@dataclass(frozen=True)
class VerifyOutcome:
    """One file's verification: its report, or the error that stopped it (no builder, …)."""

    path: str
    report: VerifyReport | None = None
    error: str | None = None

    @property
    def broken_original(self) -> str | None:
        """The original's build error: nothing about the rewrite was learnt (exit 2, as single-file verify)."""
        if self.report is None:
            return None
        return next((c.detail or "failed" for c in self.report.checks if c.name == "original builds" and not c.ok),
                    None)

    @property
    def exit_code(self) -> int:
        """0 verified (or nothing to verify), 1 the candidate failed a check, 2 an environment error."""
        if self.error is not None or self.broken_original is not None:
            return 2
        return 0 if self.report is not None and self.report.ok else 1

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        if self.broken_original is not None:
            return "error: the original does not build"
        assert self.report is not None
        if not self.report.changed:
            return "unchanged"
        failed = [c.name for c in self.report.checks if not c.ok]
        return "verified" if not failed else "failed: " + ", ".join(failed)

    @property
    def sizes(self) -> tuple[int, int] | None:
        """(original, candidate) uncompressed bytes, when both were built and measured."""
        r = self.report
        if r is None or r.original is None or r.rewrite is None:
            return None
        return r.original.size, r.rewrite.size

    @property
    def saved(self) -> int | None:
        """Bytes the candidate saves; only a verified candidate's saving counts."""
        return self.sizes[0] - self.sizes[1] if self.sizes and self.exit_code == 0 else None

    def to_dict(self) -> dict[str, Any]:
        sizes = self.sizes
        return {"path": self.path, "status": self.status, "ok": self.exit_code == 0, "error": self.error,
                "size_before": sizes[0] if sizes else None, "size_after": sizes[1] if sizes else None,
                "saved": self.saved, "report": self.report.to_dict() if self.report is not None else None}


def verify_exit_code(outcomes: Sequence[VerifyOutcome]) -> int:
    """2 if any file met an environment error, else 1 if any candidate failed a check, else 0."""
    return max((o.exit_code for o in outcomes), default=0)


def verify_many(
    paths: Sequence[str],
    verify_one: VerifyOne,
    *,
    jobs: int | None = None,
    progress: bool | None = None,
    console: Console | None = None,
    log: bool = False,
) -> list[VerifyOutcome]:
    """Verify every file in ``paths``, ``jobs`` at a time; outcomes in the order of ``paths``.

    A verification waits on builds and containers, not on this process, so files run in
    threads; how many builds the builder runs at once is the builder's own limit (its
    ``slots``: ``--max-builds``), which may be lower than ``jobs``. ``progress`` None shows a
    line per running file with its current step only when ``console`` (default: stderr) is a
    terminal; ``log`` streams every line the builders print, prefixed by the image's label.
    One file's failure or error never stops the others.
    """
    from concurrent.futures import ThreadPoolExecutor

    from .builders import build_step

    if console is None:
        from rich.console import Console

        console = Console(stderr=True)
    show = console.is_terminal if progress is None else progress
    jobs = max(1, min(jobs or default_jobs(), len(paths) or 1))
    lock = threading.Lock()

    with _verify_display(console, show, len(paths)) as display:
        def one(path: str) -> VerifyOutcome:
            row = display.start(path)

            def on_line(label: str, line: str) -> None:
                if log:
                    with lock:
                        console.print(f"[{label}] {line}", markup=False, highlight=False, soft_wrap=True)
                step = build_step(line)
                if step is not None:
                    display.step(row, f"{label}: {step}")

            try:
                report = verify_one(path, lambda step: display.step(row, step), on_line)
                outcome = VerifyOutcome(path=path, report=report)
            except DockerslimError as exc:
                outcome = VerifyOutcome(path=path, error=str(exc) if path in str(exc) else f"{path}: {exc}")
            except OSError as exc:
                outcome = VerifyOutcome(path=path, error=f"{path}: {exc.strerror or exc}")
            except Exception as exc:  # a bug must not stop the other files' verification
                outcome = VerifyOutcome(path=path, error=f"{path}: internal error: {type(exc).__name__}: {exc}")
            display.finish(row)
            return outcome

        if jobs == 1:
            return [one(p) for p in paths]
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="dockerslim-verify") as pool:
            return list(pool.map(one, paths))


class _VerifyDisplay:
    """The live display of a fleet verification: an overall bar and one line per running file
    with its current step. A no-op off a terminal."""

    def __init__(self, bar: Any | None, total_task: Any | None) -> None:
        self.bar, self.total = bar, total_task

    def start(self, path: str) -> Any:
        return self.bar.add_task(f"{path}: waiting", total=None) if self.bar is not None else None

    def step(self, row: Any, text: str) -> None:
        if self.bar is not None:
            self.bar.update(row, description=text if len(text) <= 110 else text[:109] + "…")

    def finish(self, row: Any) -> None:
        if self.bar is not None:
            self.bar.remove_task(row)
            self.bar.advance(self.total, 1)


@contextlib.contextmanager
def _verify_display(console: Console, show: bool, total: int) -> Iterator[_VerifyDisplay]:
    if not show:
        yield _VerifyDisplay(None, None)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.text import Text

    class TotalOnly(ProgressColumn):
        """A column shown on the overall row only (a file's row is its current step)."""

        def __init__(self, inner: ProgressColumn) -> None:
            super().__init__()
            self.inner = inner

        def render(self, task: Task) -> Any:
            return self.inner.render(task) if task.total is not None else Text("")

    with Progress(TextColumn("{task.description}"), TotalOnly(BarColumn()), TotalOnly(MofNCompleteColumn()),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        yield _VerifyDisplay(bar, bar.add_task("verifying", total=total))


def verify_table(outcomes: Sequence[VerifyOutcome]) -> Table:
    """One row per file (verified, which check failed, or the error), size before → after and
    bytes saved; the footer totals the verified files' saving."""
    from rich.table import Table

    from .report import megabytes

    verified = [o for o in outcomes if o.saved is not None]
    total = sum(o.saved or 0 for o in verified)
    table = Table(title="dockerslim verify", show_footer=True)
    table.add_column("file", footer=f"{len(verified)} of {len(outcomes)} verified with a rewrite")
    table.add_column("result")
    table.add_column("size (original → rewrite)", justify="right")
    table.add_column("saved", justify="right", footer=f"{total:,} bytes ({megabytes(total)})")
    for o in outcomes:
        sizes = o.sizes
        shown = f"{megabytes(sizes[0])} → {megabytes(sizes[1])}" if sizes else ""
        saved = f"{o.saved:,}" if o.saved is not None else ""
        table.add_row(o.path, o.status if o.error is None else f"error: {o.error}", shown, saved)
    return table
