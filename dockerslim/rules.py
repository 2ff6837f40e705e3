"""The rule catalogue (``data/rules.toml``): one stable id, name, summary and help text per
finding or rewrite, and inline suppression.

``# dockerslim: ignore=DS201`` (ids or names, comma-separated; ``ignore=all``) switches rules
off for one instruction when it stands in a comment line right above it, or after ``#`` in a
RUN's own script, and for a whole stage when it stands above its ``FROM``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from . import ir

IGNORE_RE = re.compile(r"#\s*dockerslim:\s*ignore\s*=\s*([A-Za-z0-9_,\s-]+)")


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    kind: str  # "parse" or "pass"
    summary: str
    help: str


@cache
def catalogue() -> tuple[Rule, ...]:
    """Every rule, in catalogue order."""
    text = resources.files("dockerslim.data").joinpath("rules.toml").read_text(encoding="utf-8")
    return tuple(Rule(id=r["id"], name=r["name"], kind=r["kind"], summary=r["summary"], help=r["help"].strip())
                 for r in tomllib.loads(text)["rule"])


def rule(id_or_name: str) -> Rule:
    """The rule with this id or name, in any case (ds201, Merge-Runs); KeyError names the known ones."""
    for r in catalogue():
        if id_or_name.upper() == r.id or id_or_name.lower() == r.name:
            return r
    raise KeyError(f"unknown rule {id_or_name!r}; rules: " + ", ".join(r.id for r in catalogue()))


def _ignored_in(lines: tuple[str, ...] | list[str]) -> set[str]:
    out: set[str] = set()
    for line in lines:
        if "dockerslim" not in line:  # asked for every instruction by every pass: stay cheap
            continue
        for m in IGNORE_RE.finditer(line):
            out.update(w.strip() for w in m.group(1).split(",") if w.strip())
    return out


def ignored(rule_: Rule, node: ir.Instruction, stage: ir.Stage | None = None) -> bool:
    """Whether ``# dockerslim: ignore=…`` switches ``rule_`` off for ``node`` (or its stage)."""
    words = _ignored_in(node.leading)
    if isinstance(node, ir.Run) and isinstance(node.command, str):
        words |= _ignored_in([node.command])
    if stage is not None:
        words |= _ignored_in(stage.from_.leading)
    return bool(words & {rule_.id, rule_.name, "all"})
