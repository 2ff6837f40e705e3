"""SARIF 2.1.0 output, so CI systems (GitHub code scanning, GitLab, Azure DevOps) show each
change and note inline on the Dockerfile line it concerns."""

from __future__ import annotations

import json
from typing import Any

from . import __version__, passes
from .rewrite import RewriteResult

LEVELS = {"info": "note", "warning": "warning", "skipped": "note"}


def _rules() -> list[dict[str, Any]]:
    """The input checks the parser reports (DS0xx), then every pass in pipeline order."""
    from .parse import PARSE_RULES

    found = [{
        "id": rule_id, "name": name,
        "shortDescription": {"text": summary}, "fullDescription": {"text": summary},
        "defaultConfiguration": {"level": "warning"},
    } for rule_id, name, summary in PARSE_RULES]
    return found + [{
        "id": p.id, "name": p.name,
        "shortDescription": {"text": p.summary},
        "fullDescription": {"text": p.help.split("\n\n")[0].replace("\n", " ")},
        "defaultConfiguration": {"level": "note"},
    } for p in passes.PIPELINE]


def _location(path: str, line: int | None) -> list[dict[str, Any]]:
    region = {"startLine": line} if line else {"startLine": 1}
    return [{"physicalLocation": {"artifactLocation": {"uri": path}, "region": region}}]


def to_sarif(results: list[tuple[str, RewriteResult]]) -> str:
    rules = _rules()
    index = {r["id"]: i for i, r in enumerate(rules)}
    out: list[dict[str, Any]] = []
    for path, result in results:
        for c in result.changes:
            out.append({
                "ruleId": c.rule, "ruleIndex": index.get(c.rule, 0),
                "level": "warning" if c.risk in ("medium", "high") else "note",
                "message": {"text": f"{c.message}. Why: {c.reason}. Effect: {c.effect}. Risk: {c.risk}."},
                "locations": _location(path, c.line),
                "properties": {"risk": c.risk, "kind": "change"},
            })
        for n in result.notes:
            out.append({
                "ruleId": n.rule, "ruleIndex": index.get(n.rule, 0), "level": LEVELS[n.level],
                "message": {"text": n.message}, "locations": _location(path, n.line),
                "properties": {"kind": n.level},
            })
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "dockerslim", "version": __version__, "rules": rules,
                                "informationUri": "https://pypi.org/project/dockerslim/"}},
            "results": out,
        }],
    }
    return json.dumps(doc, indent=2) + "\n"
