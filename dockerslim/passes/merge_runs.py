"""DS201 merge-runs: consecutive RUNs of a stage become one RUN joined with ``&&``.

Fewer layers, and a file created in one RUN and deleted in the next no longer ships in a
lower layer. Merged only when the result is equivalent: both RUNs in shell form with the same
flags (``--mount``, ``--network``, ``--security``), no heredocs, a POSIX shell, nothing in
the first that changes shell state for the second (``cd``, ``export``, ``set``, ``source``,
``umask``…), and a second whose top-level commands are joined by ``&&`` only (``a; b`` after
``&&`` would run ``b`` even when the first RUN failed). Instructions between RUNs (ENV, ARG,
WORKDIR, USER, COPY…) always separate them, so the cache boundary a ``COPY requirements.txt``
draws before the dependency install stays where it is. Comments above the second RUN move
above the merged one. Never merged: a RUN whose script holds a shell comment (``RUN a # note``),
on either side: the merged RUN is one logical line, so everything after ``#`` — the other RUN's
commands included — would become comment text.
"""

from __future__ import annotations

from dataclasses import replace

from .. import ir
from ..changes import Change, Note, PassResult
from ..pass_context import PassContext
from ..rules import ignored
from ..rules import rule as catalogue_entry
from ..shell import and_segments, commands, has_comment, run_script
from ._consolidate import consolidate

RULE = catalogue_entry("merge-runs")  # id, name and summary: data/rules.toml
ID, NAME, SUMMARY = RULE.id, RULE.name, RULE.summary

STATEFUL = {"cd", "pushd", "popd", "export", "set", "source", ".", "umask", "unset", "alias", "trap", "exit",
            "exec", "shopt", "ulimit", "declare", "readonly", "local"}
POSIX_SHELLS = {"/bin/sh", "/bin/bash", "sh", "bash", "/usr/bin/bash", "/bin/dash"}


def _why_not(first: ir.Run, second: ir.Run, posix: bool, stage: ir.Stage) -> str | None:
    if ignored(RULE, first, stage) or ignored(RULE, second, stage):
        return f"`# dockerslim: ignore={ID}` asks to leave it alone"
    if not posix:
        return "the stage's SHELL is not a POSIX shell"
    if first.flags != second.flags:
        return "their RUN flags (--mount/--network/--security) differ"
    if isinstance(first.command, tuple) or isinstance(second.command, tuple):
        return "one of them is in JSON (exec) form"
    if first.heredocs or second.heredocs:
        return "one of them uses a heredoc"
    script = run_script(first)
    if any(has_comment(s) for s in (script or "", run_script(second) or "")):
        return "a shell comment in one of them would swallow the commands joined after it"
    cmds = commands(script) if script is not None else None
    if cmds is None:
        return "the first command could not be analysed"
    stateful = sorted({c.program for c in cmds if c.program in STATEFUL} |
                      {"VAR=value" for c in cmds if c.assignments and not c.argv})
    if stateful:
        return f"the first changes shell state ({', '.join(stateful)}) that the second would inherit"
    if and_segments(run_script(second) or "") is None:
        return "the second joins its commands with ; || or a newline"
    if "&" in (script or "").replace("&&", ""):
        return "the first starts a background job"
    return None


def _merge(group: list[ir.Run]) -> tuple[ir.Run, list[str] | None]:
    """The RUNs of ``group`` as one RUN, and its top-level ``&&`` segments (the parts'
    segments, or None when the first RUN's are None: it is kept as one part). Built once per
    group, not once per RUN merged: a long run of RUNs is neither parsed nor joined again at
    every step (that was quadratic)."""
    first = group[0]
    found = _segments_of(first)
    segments = None if found is None else list(found)
    parts = list(found) if found is not None else [str(first.command).strip()]
    leading = list(first.leading)
    for run in group[1:]:
        more = _segments_of(run) or []
        parts += more
        if segments is not None:
            segments += more
        leading += run.leading
    merged = ir.Run(command="\n&& ".join(parts), flags=first.flags, leading=tuple(leading), source=first.source)
    return merged, segments


def _segments_of(run: ir.Run) -> list[str] | None:
    return and_segments(run_script(run) or "")


def _posix(shell: ir.Shell | None) -> bool:
    return shell is None or (bool(shell.command) and shell.command[0] in POSIX_SHELLS)


def run(df: ir.Dockerfile, context: PassContext) -> PassResult:
    result = PassResult(dockerfile=df)
    stages = []
    shipping = df.shipping_stages()
    for index, stage in enumerate(df.stages):
        if index not in shipping:  # builder layers never ship; separate RUNs cache better there
            stages.append(stage)
            continue
        body: list[ir.Instruction] = []
        shell: ir.Shell | None = None
        group: list[ir.Run] = []  # the RUNs to merge into body[-1]
        segments: dict[int, list[str] | None] = {}  # index in body of a merged RUN -> its && segments
        for node in stage.body:
            if isinstance(node, ir.Shell):
                shell = node
            prev = body[-1] if body else None
            if isinstance(node, ir.Run) and isinstance(prev, ir.Run):
                # Judged on the last RUN of the group, not on the merged text: every earlier one
                # passed the same checks when it joined (no comment, no shell state, no background
                # job, not ignored), so the answer is the same without parsing the group again.
                why = _why_not(group[-1], node, _posix(shell), stage)
                if why is None:
                    group.append(node)
                    continue
                result.notes.append(Note(rule=ID, pass_name=NAME, level="skipped", line=node.line,
                                         message=f"not merged with the RUN above: {why}"))
            _close(group, body, segments, result)
            group = [node] if isinstance(node, ir.Run) else []
            body.append(node)
        _close(group, body, segments, result)
        stages.append(replace(stage, body=tuple(_consolidate_installs(body, stage, result, segments))))
    result.dockerfile = replace(df, stages=tuple(stages))
    return result


def _close(group: list[ir.Run], body: list[ir.Instruction], segments: dict[int, list[str] | None],
           result: PassResult) -> None:
    """A group of several RUNs ends: body[-1] (its first RUN) becomes the merged RUN."""
    if len(group) > 1:
        body[-1], segments[len(body) - 1] = _merge(group)
        _report(result, group)


def _report(result: PassResult, group: list[ir.Run]) -> None:
    lines = [r.line for r in group if r.line]
    ends = [r.source.end_line for r in group if r.source]
    result.changes.append(Change(
        rule=ID, pass_name=NAME, line=min(lines) if lines else None, end_line=max(ends) if ends else None,
        message=f"merged {len(group)} consecutive RUN instructions into one",
        reason="they run in sequence with nothing between them, the same flags and no shell state carried over",
        effect=f"{len(group) - 1} fewer layer(s); files removed by a later command no longer ship in an earlier layer. "
               "Trade-off: a change to any of the commands re-runs all of them (they share one cache entry)",
        risk="low",
    ))


def _consolidate_installs(body: list[ir.Instruction], stage: ir.Stage, result: PassResult,
                          segments: dict[int, list[str] | None]) -> list[ir.Instruction]:
    """Each RUN of the (merged) stage with its adjacent package installs made one (a merged
    RUN's ``&&`` segments as the merge left them: not read from its text again)."""
    out: list[ir.Instruction] = []
    for index, node in enumerate(body):
        made = None
        if isinstance(node, ir.Run) and not ignored(RULE, node, stage):
            made = consolidate(node, stage, segments[index]) if index in segments else consolidate(node, stage)
        if made is None:
            out.append(node)
            continue
        pip = "pip" in made.installers
        result.changes.append(Change(
            rule=ID, pass_name=NAME, line=node.line, end_line=node.source.end_line if node.source else None,
            message=f"{' and '.join(dict.fromkeys(made.installers))} installs that follow each other made one"
                    + ("" if made.installers == ("pip",) else ": one index refresh, one sorted and deduplicated "
                       "install, the cleanup once"),
            reason="nothing runs between these installs that could need a package from an earlier one, and their "
                   "options agree; one install transaction does not depend on the order of its packages",
            effect="fewer index downloads and a shorter build, the same packages installed"
                   + (". pip: one resolver call picks versions that satisfy all requirements together (separate "
                      "calls could upgrade or downgrade what an earlier one installed)" if pip else ""),
            risk="medium" if pip else "low",
            commands=made.commands,
        ))
        out.append(made.run)
    return out
