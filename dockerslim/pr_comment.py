"""A verify result as a pull-request comment (``verify --format markdown``): the verdict, size
before and after with the saving, what was left out, and the checks as a table.

It reads the same dict as the HTML report (``VerifyReport.to_dict()``, or what
``verify --format json`` printed), through ``html_report.image_view``, so a comment and the
report never disagree on a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .html_report import image_view, results_of
from .report import megabytes


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, no column break."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _one(result: Mapping[str, Any]) -> list[str]:
    view = image_view(result)
    verdict = "✅ verified" if view["ok"] else "❌ not verified"
    lines = [f"### `{_cell(view['path'])}`: {verdict}", ""]
    o, r = view["original"], view["rewrite"]
    if o and r:
        lines += ["| | original | rewrite | saving |", "|---|---:|---:|---:|"]
        lines += [f"| {row['title']} | {megabytes(o[row['key']])} | {megabytes(r[row['key']])} | {row['saving']} |"
                  for row in view["size_rows"]]
        lines += [f"| layers | {o.get('layers', '')} | {r.get('layers', '')} | |", ""]
    if view["dropped"]:
        left_out = ", ".join(f"{d['group']} {d['text']}" for d in view["dropped"][:6])
        lines += [f"Left out of the runtime image: {left_out}.", ""]
    if view["checks"]:
        lines += [f"Checks: {view['passed']} of {len(view['checks'])} passed", "",
                  "| check | result | detail |", "|---|---|---|"]
        lines += [f"| {_cell(c['name'])} | {'✅' if c['ok'] else '❌'} | {_cell(c['detail'])[:300]} |"
                  for c in view["checks"]]
        lines.append("")
    if view["notes"]:
        lines += [f"- {_cell(n)}" for n in view["notes"]] + [""]
    return lines


def to_markdown(data: Any) -> str:
    """The comment for one verify result, a list of them, or ``{"results": [...]}``."""
    from . import __version__

    lines = ["## dockerslim verify", ""]
    for result in results_of(data):
        lines += _one(result)
    lines.append(f"<sub>dockerslim {__version__}</sub>")
    return "\n".join(lines) + "\n"
