"""Human and JSON renderings of rewrite results (``--explain``, ``--format json``, coloured diff)."""

from __future__ import annotations

import json
from typing import Any

from .rewrite import RewriteResult

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


def explain(path: str, result: RewriteResult) -> str:
    """Every change with rule, lines, reason, expected effect and risk; then the notes."""
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
    return "\n".join(lines) + "\n"


def as_dict(path: str, result: RewriteResult) -> dict[str, Any]:
    return {
        "path": path,
        "changed": result.changed,
        "text": result.text,
        "diff": result.diff,
        "passes": list(result.passes_run),
        "layers": {"before": result.layers_before, "after": result.layers_after},
        "changes": [c.to_dict() for c in result.changes],
        "notes": [n.to_dict() for n in result.notes],
    }


def to_json(entries: list[dict[str, Any]]) -> str:
    return json.dumps({"files": entries}, indent=2) + "\n"
