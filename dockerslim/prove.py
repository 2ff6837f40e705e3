"""Prove before emitting: build rewrites from the most aggressive down and keep the first one
that verifies against the original.

The ladder (each rung is the rewrite under narrower options):
  1. full split          – every pass, as the options ask;
  2. split, no assembly  – artifacts copied straight into the runtime stage (no FROM scratch);
  3. base swap only      – no split-stages: the single stage keeps its steps on a runtime base;
  4. hygiene only        – neither split-stages nor runtime-base.
The original is built once for all rungs (verify.Session). A rung whose text is the original's,
or the same as a rung already tried, is not built again. A candidate that failed is never
returned: when every rung fails, the result is the original text, unchanged, with each rung's
reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .builders import Builder
from .observe.record import Observation
from .options import Options
from .passes import runtime_base, split_stages
from .rewrite import RewriteResult, rewrite
from .verify import Session, VerifyReport, declared_by


@dataclass(frozen=True)
class Rung:
    name: str
    options: Options


@dataclass
class Attempt:
    rung: str
    ok: bool
    reasons: list[str] = field(default_factory=list)  # the failing checks, "name: detail"
    report: VerifyReport | None = None
    skipped: str = ""  # why no build was needed (unchanged text, same as an earlier rung)


@dataclass
class ProvenRewrite:
    original: str
    text: str  # what to emit: a verified rewrite, or the original when no rung verified
    rung: str | None  # the rung that verified, None when the original is returned
    result: RewriteResult | None  # the rewrite behind ``text`` (its changes and notes)
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.text != self.original

    def failures(self) -> list[str]:
        """One line per rung that failed: which, and why."""
        return [f"{a.rung}: {'; '.join(a.reasons) or 'failed'}" for a in self.attempts if not a.ok and not a.skipped]

    def summary(self) -> str:
        """What a user reads on stderr: the rung emitted, then why each rung above it was not."""
        head = (f"verified: {self.rung}" if self.rung else
                "no rewrite verified: the original is kept unchanged")
        lines = [head] + [f"  {a.rung}: {a.skipped}" if a.skipped else f"  {a.rung}: failed: {'; '.join(a.reasons)}"
                          for a in self.attempts if not a.ok]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, object]:
        return {"rung": self.rung, "changed": self.changed,
                "attempts": [{"rung": a.rung, "ok": a.ok, "reasons": a.reasons, "skipped": a.skipped}
                             for a in self.attempts]}


_declared = declared_by  # the name tests/test_observed_split_builds.py imports


def ladder(options: Options | None = None) -> list[Rung]:
    """The rungs, most aggressive first, narrowing the user's options."""
    base = options or Options()
    split, swap = split_stages.NAME, runtime_base.NAME
    return [
        Rung("full split", base),
        Rung("split without assembly", replace(base, assembly=False)),
        Rung("base swap only", replace(base, skip=base.skip | {split})),
        Rung("hygiene only", replace(base, skip=base.skip | {split, swap})),
    ]


def rewrite_verified(
    text: str,
    *,
    path: str | None = None,
    context_dir: str | Path,
    options: Options | None = None,
    builder: Builder,
    smoke: str | None = None,
    build_args: dict[str, str] | None = None,
    build_contexts: dict[str, str] | None = None,
    compressed: bool = False,
    keep: bool = False,
    observation: Observation | None = None,
    progress: Callable[[str], None] | None = None,
    on_line: Callable[[str, str], None] | None = None,
) -> ProvenRewrite:
    """The most aggressive rewrite of ``text`` that verifies against the original, or the
    original itself; every rung tried is listed with why it failed. ``observation`` (of the
    original) is handed to every rung's rewrite; ``progress`` and ``on_line`` (image label,
    line) are the verify session's, so a user sees the builds as they run."""
    context = Path(context_dir)
    proven = ProvenRewrite(original=text, text=text, rung=None, result=None)
    tried: dict[str, Attempt] = {}
    with Session(text, path=path or "Dockerfile", context=context, builder=builder, smoke=smoke,
                 build_args=build_args, build_contexts=build_contexts, compressed=compressed, keep=keep,
                 progress=progress, on_line=on_line) as session:
        for rung in ladder(options):
            result = rewrite(text, path=path, context_dir=context, options=rung.options, observation=observation)
            if not result.changed:
                proven.attempts.append(Attempt(rung.name, False, skipped="the rewrite leaves the file unchanged"))
                continue
            if result.text in tried:
                earlier = tried[result.text]
                proven.attempts.append(Attempt(rung.name, earlier.ok, list(earlier.reasons), earlier.report,
                                               skipped=f"same file as rung {earlier.rung!r}"))
                continue
            declared, replaced, moved_out = declared_by(result)
            report = session.verify(result.text, declared=declared, replaced=replaced, moved_out=moved_out)
            reasons = [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]
            attempt = Attempt(rung.name, report.ok, reasons, report)
            tried[result.text] = attempt
            proven.attempts.append(attempt)
            if report.ok:
                proven.text, proven.rung, proven.result = result.text, rung.name, result
                return proven
            if any(c.name == "original builds" and not c.ok for c in report.checks):
                break  # nothing can verify against an original that does not build
    return proven
