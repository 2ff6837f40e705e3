"""hadolint ignore directives on instructions a pass writes that break a rule on purpose.

hadolint honours ``# hadolint ignore=CODE`` only on the line right above the instruction with
nothing after the codes, so the directive is always the last leading line, after a
``# dockerslim:`` line that says why (issue 11: a rewrite adds no finding the original lacked).
"""

from __future__ import annotations

import re

from .. import ir
from ..catalog import load
from ..shell import run_commands

DIRECTIVE = re.compile(r"#\s*hadolint\s+ignore=([A-Za-z0-9, ]+)\s*$")


def with_ignore(leading: tuple[str, ...], reason: str, codes: list[str]) -> tuple[str, ...]:
    """``leading`` ending in ``# dockerslim: <reason>`` and an ignore of ``codes``. An ignore
    already right above is merged into the new one (hadolint reads one line only); a reason
    and codes already there are not added twice, so rewriting a rewrite changes nothing."""
    if not codes:
        return leading
    lines = list(leading)
    have: list[str] = []
    if lines and (found := DIRECTIVE.match(lines[-1].strip())):
        have = [c.strip() for c in found.group(1).split(",") if c.strip()]
        lines.pop()
    why = f"# dockerslim: {reason}\n"
    if why not in lines:
        lines.append(why)
    merged = have + [c for c in codes if c not in have]
    lines.append(f"# hadolint ignore={','.join(merged)}\n")
    return tuple(lines)


def pin_rules(run: ir.Run) -> list[str]:
    """hadolint's version-pin rules the package installs of ``run`` fall under, in order."""
    table: dict[str, str] = load("hadolint").get("pin_rule", {})
    codes: list[str] = []
    for cmd in run_commands(run) or []:
        code = table.get(cmd.program)
        if code and cmd.args()[:1] in (["install"], ["add"]) and code not in codes:
            codes.append(code)
    return codes
