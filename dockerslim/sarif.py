"""SARIF 2.1.0 output, so CI systems (GitHub code scanning, GitLab, Azure DevOps) show each
change and note inline on the Dockerfile lines it concerns.

Rules come from the catalogue (``data/rules.toml``) with their help text and a ``helpUri``;
each file's rewrite travels as one SARIF ``fix`` (line-exact replacements that turn the
original into the rewrite) on the file's first change; files that could not be rewritten are
``toolExecutionNotifications`` of the one ``invocation``.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from typing import Any

from . import __version__, rules
from .report import change_message, warns
from .rewrite import RewriteResult

LEVELS = {"info": "note", "warning": "warning", "skipped": "note"}
INFORMATION_URI = "https://pypi.org/project/dockerslim/"
HELP_URI = INFORMATION_URI + "#{anchor}"  # the README (the project page) has one anchor per rule: ds201-merge-runs
LINE_RE = re.compile(r"[^\n]*\n|[^\n]+$")  # lines with their ends; \r\n stays inside one line


def help_uri(rule: rules.Rule) -> str:
    return HELP_URI.format(anchor=f"{rule.id.lower()}-{rule.name}")


def _rules() -> list[dict[str, Any]]:
    """Every rule of the catalogue, in catalogue order."""
    return [{
        "id": r.id, "name": r.name,
        "shortDescription": {"text": r.summary},
        "fullDescription": {"text": r.help.split("\n\n")[0].replace("\n", " ")},
        "help": {"text": r.help},
        "helpUri": help_uri(r),
        "defaultConfiguration": {"level": "warning" if r.kind == "parse" else "note"},
    } for r in rules.catalogue()]


def _region(line: int | None, end_line: int | None = None) -> dict[str, int]:
    region = {"startLine": line or 1}
    if line and end_line and end_line > line:
        region["endLine"] = end_line
    return region


def _location(path: str, line: int | None, end_line: int | None = None) -> list[dict[str, Any]]:
    return [{"physicalLocation": {"artifactLocation": {"uri": path}, "region": _region(line, end_line)}}]


def replacements(original: str, text: str) -> list[dict[str, Any]]:
    """SARIF replacements (line/column regions; columns in UTF-16 code units, SARIF's default) that turn
    ``original`` into ``text``, applied from the last to the first as SARIF asks."""
    before, after = LINE_RE.findall(original), LINE_RE.findall(text)
    out: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if i2 < len(before):  # ends where the next line starts (an insertion: an empty region there)
            end = {"endLine": i2 + 1, "endColumn": 1}
        elif i2 > i1:  # through the end of the file: after the last character of its last line
            end = {"endLine": i2, "endColumn": _columns(before[i2 - 1]) + 1}
        else:  # an insertion after the last line
            last = before[-1] if before else ""
            end = {"endLine": max(len(before), 1), "endColumn": _columns(last) + 1}
        start = ({"startLine": i1 + 1, "startColumn": 1} if i1 < len(before) or not before
                 else {"startLine": end["endLine"], "startColumn": end["endColumn"]})
        out.append({"deletedRegion": {**start, **end}, "insertedContent": {"text": "".join(after[j1:j2])}})
    return out[::-1]


def _columns(line: str) -> int:
    """Columns a line spans in UTF-16 code units (an emoji counts two)."""
    return len(line.encode("utf-16-le")) // 2


def _fix(path: str, result: RewriteResult) -> dict[str, Any]:
    return {
        "description": {"text": f"Apply dockerslim's rewrite of {path} ({len(result.changes)} change(s))."},
        "artifactChanges": [{"artifactLocation": {"uri": path}, "replacements": replacements(result.original,
                                                                                           result.text)}],
    }


def to_sarif(results: list[tuple[str, RewriteResult]], *, errors: Sequence[tuple[str, str]] = (),
             command_line: str | None = None) -> str:
    """One run: the catalogue's rules, a result per change and note, the rewrite as fixes, and
    one invocation (successful unless a file could not be rewritten)."""
    catalogue = _rules()
    index = {r["id"]: i for i, r in enumerate(catalogue)}
    out: list[dict[str, Any]] = []
    for path, result in results:
        fixed = not result.changed
        for c in result.changes:
            entry: dict[str, Any] = {
                "ruleId": c.rule, "ruleIndex": index.get(c.rule, 0),
                "level": "warning" if warns(c) else "note",
                "message": {"text": change_message(c)},
                "locations": _location(path, c.line, c.end_line),
                "properties": {"risk": c.risk, "kind": "change"},
            }
            if not fixed:  # the whole rewrite once per file: its changes do not apply one by one
                entry["fixes"] = [_fix(path, result)]
                fixed = True
            out.append(entry)
        for n in result.notes:
            out.append({
                "ruleId": n.rule, "ruleIndex": index.get(n.rule, 0), "level": LEVELS[n.level],
                "message": {"text": n.message}, "locations": _location(path, n.line),
                "properties": {"kind": n.level},
            })
    invocation: dict[str, Any] = {"executionSuccessful": not errors}
    if command_line:
        invocation["commandLine"] = command_line
    if errors:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": message}, "locations": _location(path, None)}
            for path, message in errors]
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "dockerslim", "version": __version__, "rules": catalogue,
                                "informationUri": INFORMATION_URI}},
            "invocations": [invocation],
            "results": out,
        }],
    }
    return json.dumps(doc, indent=2) + "\n"
