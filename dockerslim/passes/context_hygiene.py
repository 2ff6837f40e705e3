"""DS205 context-hygiene: a ``COPY . .`` (or ``ADD .``) from a build context that has no
``.dockerignore`` sends — and bakes in — everything: ``.git``, virtualenvs, caches, datasets,
weights. Reports it with what ``dockerslim dockerignore`` would exclude. Changes nothing.
``.dockerignore`` filters the build context only; it does not apply to ``COPY --from``.
"""

from __future__ import annotations

from .. import ir
from ..changes import Note, PassResult
from ..dockerignore import propose
from ..pass_context import PassContext
from ..rules import ignored
from ..rules import rule as catalogue_entry

RULE = catalogue_entry("context-hygiene")  # id, name and summary: data/rules.toml
ID, NAME, SUMMARY = RULE.id, RULE.name, RULE.summary


def run(df: ir.Dockerfile, context: PassContext) -> PassResult:
    result = PassResult(dockerfile=df)
    if context.context_dir is None or (context.context_dir / ".dockerignore").exists():
        return result
    for stage in df.stages:
        for node in stage.body:
            everything = isinstance(node, ir.Copy) and node.flag("from") is None and any(
                s in (".", "./") for s in node.sources)
            if not everything or ignored(RULE, node, stage):
                continue
            proposal = propose(context.context_dir, df)
            patterns = ", ".join(p for p, _, _ in proposal)
            extra = f"; `dockerslim dockerignore {context.context_dir}` proposes: {patterns}" if proposal else ""
            result.notes.append(Note(rule=ID, pass_name=NAME, level="warning", line=node.line,
                                     message="copies the whole build context, which has no .dockerignore" + extra +
                                             " (note: .dockerignore does not apply to COPY --from)"))
            return result
    return result
