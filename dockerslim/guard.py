"""The semantic guard: after every pass, the RUNs still execute the same commands, in an order
the pass declared safe.

"The output still parses" is not enough: ``RUN echo one # note`` merged with the next RUN
parses fine, yet the shell reads everything after ``#`` as a comment and the next RUN's
commands never run. So each RUN is read as the shell reads it (``shell.run_commands``: simple
commands, comments stripped, quotes removed) and the lists before and after a pass are compared
under the pass's ``Policy``. A command the pass adds, removes or edits on purpose is declared on
its ``Change.commands``; any other difference rolls the pass back (``rewrite.run_passes``).
"""

from __future__ import annotations

from collections import Counter
from enum import Enum

from . import ir
from .changes import Argv, Change, CommandEdit
from .shell import run_commands


class Policy(Enum):
    """What a pass may do to the commands the RUNs execute."""

    SAME = "same"  # every command unchanged, in file order; RUN boundaries may move (merging)
    DECLARED = "declared"  # SAME, except the commands its Changes declare added, removed or edited
    RESTAGED = "restaged"  # new stages each keep old commands in their order, together all of them; may add its own


class Facts:
    """The commands of each RUN, read once per rewrite: a RUN left untouched by a pass is not
    parsed again (nodes are frozen and hash by their fields)."""

    def __init__(self) -> None:
        self._memo: dict[ir.Run, tuple[Argv, ...]] = {}

    def run(self, node: ir.Run) -> tuple[Argv, ...]:
        found = self._memo.get(node)
        if found is None:
            cmds = run_commands(node)
            if cmds is None:  # not analysable: the script itself is the one command it runs
                script = node.command if isinstance(node.command, str) else "\0".join(node.command)
                found = (("<script>", script, *(h.body for h in node.heredocs)),)
            else:
                found = tuple(c.assignments + c.argv for c in cmds)
            self._memo[node] = found
        return found

    def know(self, node: ir.Run, commands: tuple[Argv, ...]) -> None:
        """Record the commands of ``node`` read by the caller (a RUN made of parts already read)."""
        self._memo[node] = commands

    def stages(self, df: ir.Dockerfile) -> list[list[Argv]]:
        """Per stage, the commands its RUNs execute in order (ONBUILD triggers do not run here)."""
        return [[c for node in stage.body if isinstance(node, ir.Run) for c in self.run(node)] for stage in df.stages]


def _take(commands: list[Argv], argv: Argv) -> bool:
    """Remove the first occurrence of ``argv``; False when there is none."""
    try:
        commands.remove(argv)
    except ValueError:
        return False
    return True


def _show(argv: Argv) -> str:
    return " ".join(argv)[:120]


def violation(policy: Policy, before: ir.Dockerfile, after: ir.Dockerfile, changes: list[Change],
              facts: Facts | None = None) -> str | None:
    """Why ``after`` does not execute what ``before`` did under ``policy``, or None when it does."""
    facts = facts or Facts()
    old = [c for s in facts.stages(before) for c in s]
    new_stages = facts.stages(after)
    edits = [e for change in changes for e in change.commands] if policy is not Policy.SAME else []
    if policy is Policy.RESTAGED:
        for edit in edits:
            if edit.before is not None and edit.after is None and not _take(old, edit.before):
                return f"it declares it removed `{_show(edit.before)}`, which no RUN executed"
        return _restaged(old, new_stages, edits)
    return _aligned(old, [c for s in new_stages for c in s], edits)


def _aligned(old: list[Argv], new: list[Argv], edits: list[CommandEdit]) -> str | None:
    """Walk both lists in step: equal commands match; where they differ, a declared edit,
    addition or removal must account for it. Every declaration must be used."""
    pending = Counter(edits)  # looked up by value: linear however many edits a pass declares
    i = j = 0
    while i < len(old) or j < len(new):
        a = old[i] if i < len(old) else None
        b = new[j] if j < len(new) else None
        if a is not None and a == b:
            i, j = i + 1, j + 1
            continue
        candidates = [CommandEdit(a, b)] if a is not None and b is not None else []
        candidates += [CommandEdit(None, b)] if b is not None else []
        candidates += [CommandEdit(a, None)] if a is not None else []
        edit = next((e for e in candidates if pending[e] > 0), None)
        if edit is None:
            return _first_difference(old[i:], new[j:], i)
        pending[edit] -= 1
        i += edit.before is not None
        j += edit.after is not None
    left = next((e for e, n in pending.items() if n > 0), None)
    if left is not None:
        return f"it declares `{_show(left.after or left.before or ())}`, which it did not do"
    return None


def _first_difference(old: list[Argv], new: list[Argv], offset: int = 0) -> str:
    for i, (a, b) in enumerate(zip(old, new, strict=False)):
        if a != b:
            return f"command {offset + i + 1} changed from `{_show(a)}` to `{_show(b)}`"
    if len(old) > len(new):
        return f"`{_show(old[len(new)])}` is no longer executed"
    return f"`{_show(new[len(old)])}` is executed, which was not before"


def _restaged(old: list[Argv], new_stages: list[list[Argv]], edits: list[CommandEdit]) -> str | None:
    """Each new stage runs the old commands it keeps in their old order (an edited command counted
    as the one it replaces), and every old command still runs in some stage. Commands the file
    did not run before are the pass's own (a virtualenv, the runtime's package install: the
    stages it builds), reported in its Changes. ``old`` has the declared removals taken out."""
    stages = [list(s) for s in new_stages]
    for edit in edits:
        if edit.after is None:
            continue
        # an added command is looked for from the last stage (the runtime, where a split adds its
        # package install) so that an `apt-get update` it adds is not taken from the builder's copy
        order = reversed(stages) if edit.before is None else iter(stages)
        stage = next((s for s in order if edit.after in s), None)
        if stage is None:
            return f"it declares `{_show(edit.after)}`, which no RUN executes after it"
        i = stage.index(edit.after)
        if edit.before is None:
            del stage[i]
        else:
            stage[i] = edit.before
    known = set(old)
    stages = [[cmd for cmd in stage if cmd in known] for stage in stages]
    for stage in stages:
        rest = iter(old)
        if not all(any(cmd == o for o in rest) for cmd in stage):
            shown = "; ".join(_show(c) for c in stage[:3])
            return f"a stage runs commands the original did not, or in another order: {shown}"
    most: Counter[Argv] = Counter()
    for stage in stages:
        for cmd, n in Counter(stage).items():
            most[cmd] = max(most[cmd], n)
    for cmd, n in Counter(old).items():
        if most[cmd] < n:
            return f"`{_show(cmd)}` is no longer executed by any stage"
    return None


def edits(old: ir.Run, new: ir.Run) -> tuple[CommandEdit, ...]:
    """The declaration for a RUN a pass rewrote on purpose into ``new``: its commands that differ,
    pairwise when it runs as many commands as before, else all removed and all added."""
    facts = Facts()
    a, b = facts.run(old), facts.run(new)
    if len(a) == len(b):
        return tuple(CommandEdit(x, y) for x, y in zip(a, b, strict=True) if x != y)
    return tuple(CommandEdit(x, None) for x in a) + tuple(CommandEdit(None, y) for y in b)
