"""Human, JSON and GitHub-annotation renderings of rewrite results (``--explain``, ``--format
json``/``github``, coloured diff), with what ``--observe`` saw and ``--verify`` proved."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .rewrite import RewriteResult

if TYPE_CHECKING:
    from .changes import Change
    from .observe.record import Observation
    from .prove import ProvenRewrite

# Diff colours as rich styles (rendered to ANSI by rich; whether to colour at all is the CLI's
# decision, which follows rich's reading of the terminal, NO_COLOR and FORCE_COLOR).
DIFF_STYLES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("+++", "---"), "bold"),
    (("@@",), "cyan"),
    (("+",), "green"),
    (("-",), "red"),
)


def colour_diff(diff: str) -> str:
    """The diff with ANSI colours per line; tabs and every other byte kept as they are."""
    from rich.style import Style

    styles = [(prefixes, Style.parse(style)) for prefixes, style in DIFF_STYLES]
    out = []
    for line in diff.splitlines(keepends=True):
        for prefixes, style in styles:
            if line.startswith(prefixes):
                out.append(style.render(line.rstrip("\n")) + "\n")
                break
        else:
            out.append(line)
    return "".join(out)


def megabytes(n: int | float | None) -> str:
    """Bytes as every report reads them: "123.4 MB" (decimal, one decimal place); "?" unknown."""
    return "?" if n is None else f"{n / 1e6:.1f} MB"


def observation_line(obs: Observation) -> str:
    """One line: where the record came from and how much the steps wrote."""
    how = "read from the cache (no build)" if obs.cached else f"built with {obs.builder} in {obs.seconds:.1f} s"
    written = sum(step.size for step in obs.steps.values())
    return f"observed {len(obs.steps)} steps, {megabytes(written)} written; {how}"


def _observation_lines(obs: Observation) -> list[str]:
    lines = [f"  {observation_line(obs)}"]
    for line, step in sorted(obs.steps.items()):
        if step.size or step.files:
            made = "; ".join(f"created {kind} {', '.join(names)}"
                             for kind, names in sorted(step.accounts.items()) if names)
            lines.append(f"      line {line} {step.keyword}: {len(step.files)} paths, {megabytes(step.size)} written"
                         + (f"; {made}" if made else ""))
    lines += [f"      note: {note}" for note in obs.notes]
    return lines


def _proof_lines(proof: ProvenRewrite) -> list[str]:
    head = f"verified rung: {proof.rung}" if proof.rung else "no rung verified: the original is kept"
    lines = [f"  {head}"]
    for a in proof.attempts:
        state = "ok" if a.ok and not a.skipped else ("not built: " + a.skipped if a.skipped else "failed")
        lines.append(f"      {a.rung}: {state}")
        lines += [f"          {reason}" for reason in ([] if a.skipped or a.ok else a.reasons)]
    return lines


def explain(path: str, result: RewriteResult, *, observation: Observation | None = None,
            proof: ProvenRewrite | None = None) -> str:
    """Every change with rule, lines, reason, expected effect and risk; then the notes; then
    what the observation saw and which verify rungs failed and why."""
    lines = [f"{path}: {len(result.changes)} change(s), layers in final stage "
             f"{result.layers_before} -> {result.layers_after}"]
    for c in result.changes:
        where = f"line {c.line}" if c.line else "new"
        if c.line and c.end_line and c.end_line != c.line:
            where = f"lines {c.line}-{c.end_line}"
        lines.append(f"  {c.rule} {c.pass_name} ({where}): {c.message}")
        lines.append(f"      why:    {c.reason}")
        lines.append(f"      effect: {c.effect}")
        lines.append(f"      risk:   {c.risk}")
    for n in result.notes:
        where = f" (line {n.line})" if n.line else ""
        lines.append(f"  {n.rule} {n.pass_name}{where} [{n.level}]: {n.message}")
    if not result.changes and not result.notes:
        lines.append("  nothing to change")
    share = unclassified(result)
    if share["total"]:
        lines.append(f"  RUN words dockerslim cannot classify: {share['unknown']}/{share['total']} "
                     f"({share['share']:.0%}); passes decline on the steps they hold")
    if observation is not None:
        lines += _observation_lines(observation)
    if proof is not None:
        lines += _proof_lines(proof)
    return "\n".join(lines) + "\n"


def unclassified(result: RewriteResult) -> dict[str, Any]:
    """How much of the original file's RUN work the classifier cannot read (words of unknown
    commands / all RUN words), for --explain and JSON."""
    from .classify import unknown_share
    from .errors import DockerslimError
    from .parse import parse

    try:
        unknown, total = unknown_share(parse(result.original, result.path))
    except DockerslimError:  # not parseable: nothing was classified
        unknown = total = 0
    return {"unknown": unknown, "total": total, "share": round(unknown / total, 3) if total else 0.0}


def observation_dict(obs: Observation) -> dict[str, Any]:
    """The record's summary per step (the full file lists stay in the cache)."""
    return {
        "builder": obs.builder, "cached": obs.cached, "seconds": round(obs.seconds, 3), "key": obs.key,
        "base_images": dict(obs.base_images), "notes": list(obs.notes),
        "steps": [{"line": line, "keyword": step.keyword, "paths": len(step.files), "bytes": step.size,
                   "accounts": step.accounts} for line, step in sorted(obs.steps.items())],
    }


def proof_dict(proof: ProvenRewrite) -> dict[str, Any]:
    return {
        "rung": proof.rung,
        "attempts": [{"rung": a.rung, "ok": a.ok and not a.skipped, "reasons": list(a.reasons), "skipped": a.skipped}
                     for a in proof.attempts],
    }


def as_dict(path: str, result: RewriteResult, *, observation: Observation | None = None,
            proof: ProvenRewrite | None = None) -> dict[str, Any]:
    out = {
        "path": path,
        "changed": result.changed,
        "text": result.text,
        "diff": result.diff,
        "passes": list(result.passes_run),
        "layers": {"before": result.layers_before, "after": result.layers_after},
        "changes": [c.to_dict() for c in result.changes],
        "notes": [n.to_dict() for n in result.notes],
        "unclassified_run_words": unclassified(result),
    }
    if observation is not None:
        out["observation"] = observation_dict(observation)
    if proof is not None:
        out["verify"] = proof_dict(proof)
    return out


def change_message(c: Change) -> str:
    """One change as one annotation's text (SARIF result, GitHub ``::warning``): what, why, effect, risk."""
    return f"{c.message}. Why: {c.reason}. Effect: {c.effect}. Risk: {c.risk}."


def warns(c: Change) -> bool:
    """Whether a change is shown as a warning (SARIF level, GitHub annotation): medium or high risk."""
    return c.risk in ("medium", "high")


def to_json(entries: list[dict[str, Any]]) -> str:
    return json.dumps({"files": entries}, indent=2) + "\n"


def _escape_data(text: str) -> str:
    """Workflow-command message escaping (as @actions/core does)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(kind: str, path: str, line: int | None, end_line: int | None, title: str, message: str) -> str:
    props = [f"file={_escape_property(path)}", f"line={line or 1}"]
    if line and end_line and end_line > line:
        props.append(f"endLine={end_line}")
    props.append(f"title={_escape_property(title)}")
    return f"::{kind} {','.join(props)}::{_escape_data(message)}\n"


def to_github(results: list[tuple[str, RewriteResult]], *, errors: Sequence[tuple[str, str]] = ()) -> str:
    """GitHub Actions annotations, one per change and note (medium/high risk and warnings as
    ``::warning``, the rest as ``::notice``) and one ``::error`` per file that could not be read."""
    out: list[str] = []
    for path, result in results:
        for c in result.changes:
            out.append(_annotation("warning" if warns(c) else "notice", path, c.line, c.end_line,
                                   f"{c.rule} {c.pass_name}", change_message(c)))
        for n in result.notes:
            kind = "warning" if n.level == "warning" else "notice"
            out.append(_annotation(kind, path, n.line, None, f"{n.rule} {n.pass_name}", n.message))
    for path, message in errors:
        out.append(_annotation("error", path, None, None, "dockerslim", message))
    return "".join(out)
