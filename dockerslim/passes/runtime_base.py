"""DS101 runtime-base: the final stage runs on a runtime image instead of a devel/full one.

pytorch ``…-devel`` → ``…-runtime``, nvidia/cuda ``-devel-`` → ``-runtime-``, ``python:3.12`` →
``python:3.12-slim``, Go binaries → distroless/slim Debian (catalog: ``data/base_images.toml``;
the runtime tag keeps the OS release, libc and Python path of the original).

The decision itself is :func:`dockerslim.base_decision.decide_runtime_base`, shared with
split-stages so the two never disagree. It declines, with the reason, when the final stage still
does work that needs what only the full image has (a RUN that builds, a tool such as curl or gcc
the stage does not install), when code compiles at run time (the JIT guard: Python sources and
start scripts), when the sources cannot be read (no build context, or a copied file the context
lacks), and for unknown and digest-pinned bases. A FROM that holds variables (``FROM ${BASE}``,
``FROM pytorch/pytorch:${PYTORCH}-cuda${CUDA}-cudnn${CUDNN}-devel``) is swapped so that ``--build-arg``
still chooses: the literal part is edited (``-devel`` → ``-runtime``) or the ARG default rewritten,
and a note says which build-arg values the swap assumes. An ARG that also names a builder's base
loses its default to the FROMs and a second ARG names the runtime (``base_decision.ArgSplit``), so
``--build-arg BASE=X`` alone never pairs an X builder with another runtime.
"""

from __future__ import annotations

from dataclasses import replace

from .. import ir
from ..base_decision import ArgEdit, ArgSplit, decide_runtime_base
from ..changes import Change, CommandEdit, Level, Note
from ..guard import Facts
from ..pass_context import PassContext
from ..variables import with_default
from . import PassResult
from ._lint import pin_rules, with_ignore

ID = "DS101"
NAME = "runtime-base"
SUMMARY = "swap a devel/full base image of the final stage for its runtime variant"
UNTAGGED = "the catalogue's runtime base is untagged on purpose: its newest build, with security fixes"
TOOLS_UNPINNED = "the release's own version is installed; no version is knowable here"


def _note(message: str, line: int | None = None, level: Level = "info") -> Note:
    return Note(rule=ID, pass_name=NAME, message=message, line=line, level=level)


def _rewrite_default(preamble: tuple[ir.Instruction, ...], edit: ArgEdit) -> tuple[ir.Instruction, ...]:
    """The global ARGs with ``edit.name``'s default replaced (the first declaration that sets one)."""
    out, done = [], False
    for node in preamble:
        if not done and isinstance(node, ir.Arg) and any(n == edit.name and d is not None for n, d in node.pairs):
            node = replace(node, pairs=tuple((n, edit.after if n == edit.name else d) for n, d in node.pairs))
            done = True
        out.append(node)
    return tuple(out)


def _split_default(preamble: tuple[ir.Instruction, ...], split: ArgSplit) -> tuple[ir.Instruction, ...]:
    """The global ARGs with ``split.name`` declared without default and, after its last
    declaration, ``ARG <runtime_name>=${<name>:-<runtime value>}`` (see ArgSplit)."""
    out: list[ir.Instruction] = []
    last = max(i for i, n in enumerate(preamble) if isinstance(n, ir.Arg) and any(k == split.name for k, _ in n.pairs))
    for i, node in enumerate(preamble):
        if isinstance(node, ir.Arg):
            node = replace(node, pairs=tuple((n, None if n == split.name else d) for n, d in node.pairs))
        out.append(node)
        if i == last:
            out.append(ir.Arg(pairs=((split.runtime_name, split.runtime_default),), leading=(
                f"# dockerslim: runtime base: {split.runtime_value}, or {split.name} itself when --build-arg "
                f"{split.name} is given ({split.name}'s default is in the FROMs)\n",)))
    return tuple(out)


def run(df: ir.Dockerfile, context: PassContext) -> PassResult:
    result = PassResult(dockerfile=df)
    final = df.stages[-1]
    decision = decide_runtime_base(df, final, context)
    for reason in decision.kept + decision.facts:
        result.notes.append(_note(reason.message, reason.line, reason.level))
    if not decision.swaps:
        return result
    assert decision.runtime is not None
    image, info, new_ref = final.from_.image, decision.info, decision.runtime
    written = decision.written
    new_from = replace(final.from_, image=written.from_text if written else str(new_ref))
    if not written and new_ref.tag is None and new_ref.digest is None:  # hadolint DL3006: untagged
        new_from = replace(new_from, leading=with_ignore(final.from_.leading, UNTAGGED, ["DL3006"]))
    preamble, stages = df.preamble, df.stages[:-1]
    if written and written.split:
        split = written.split
        preamble = _split_default(df.preamble, split)
        stages = tuple(replace(st, from_=replace(st.from_, image=with_default(st.from_.image, split.name, split.value)))
                       for st in stages)
        result.changes.append(Change(
            rule=ID, pass_name=NAME, line=split.line, before=f"ARG {split.name}={split.value}",
            after=f"ARG {split.name}; ARG {split.runtime_name}={split.runtime_default}",
            message=f"ARG {split.name} declares no default: {split.value} moves into the FROMs that name it; "
                    f"ARG {split.runtime_name} names the final stage's part ({split.runtime_value})",
            reason=f"{split.name} names the base of the final stage and of another stage: one default cannot name "
                   f"{split.runtime_value} for the final stage only, and a second ARG with a fixed default would "
                   f"pair a --build-arg {split.name}=X builder with a {split.runtime_value} runtime",
            effect=f"the final stage runs on {new_ref} unless --build-arg {split.name} is given; then both stages "
                   f"use its value (or --build-arg {split.runtime_name} for the final stage)",
            risk="medium"))
    if written and written.arg:
        preamble = _rewrite_default(df.preamble, written.arg)
        result.changes.append(Change(
            rule=ID, pass_name=NAME, line=written.arg.line, before=written.arg.before, after=written.arg.after,
            message=f"ARG {written.arg.name} defaults to {written.arg.after} instead of {written.arg.before}",
            reason=f"the final stage's FROM is {image}, chosen by this ARG; rewriting its default keeps "
                   f"--build-arg {written.arg.name}=… working",
            effect=f"the final stage runs on {new_ref} unless --build-arg {written.arg.name} names another image",
            risk="medium"))
    if written:
        result.notes.append(_note(f"the swap of {image} assumes {written.assumes}", final.from_.line))
    body = final.body
    libraries = [pkg for pkg, _ in decision.libraries if pkg not in decision.install]
    if decision.install or libraries:
        packages = " ".join([*decision.install, *libraries])
        why = (f"used at run time, not in {new_ref}" if not libraries else
               f"{'tools and ' if decision.install else ''}libraries the copied binaries load, not in {new_ref}")
        tools = ir.Run(command=f"apt-get update && apt-get install -y --no-install-recommends {packages} "
                               "&& rm -rf /var/lib/apt/lists/*",
                       leading=(f"# dockerslim: {packages}: {why}\n",))
        tools = replace(tools, leading=with_ignore(tools.leading, TOOLS_UNPINNED, pin_rules(tools)))
        body = (tools, *body)
        edits = tuple(CommandEdit(None, argv) for argv in Facts().run(tools))
    if decision.install:
        installed = " ".join(decision.install)
        result.changes.append(Change(
            rule=ID, pass_name=NAME, line=final.from_.line,
            message=f"final stage installs {installed} on {new_ref}",
            reason=f"the image runs {installed} (HEALTHCHECK, CMD or ENTRYPOINT) and {image} had it; "
                   f"installing it costs a few MB where keeping {image} costs the whole full image",
            effect=f"{installed} available at run time as before", risk="low", commands=edits))
    if libraries:
        needs = "; ".join(f"{pkg}: {what}" for pkg, what in decision.libraries if pkg in libraries)
        result.changes.append(Change(
            rule=ID, pass_name=NAME, line=final.from_.line,
            message=f"final stage installs {' '.join(libraries)} on {new_ref} "
                    "(runtime libraries of the copied binaries)",
            reason=f"observed build: {needs}; {new_ref} does not have the library, and in the built image that "
                   "package ships it (its runtime package, not the -dev)",
            effect="every copied ELF file finds the libraries it loads", risk="low",
            commands=() if decision.install else edits))
    result.dockerfile = replace(df, preamble=preamble,
                                stages=(*stages, replace(final, from_=new_from, body=body)))
    before, after = decision.size_before(), decision.size_after()
    sizes = f" ({before} → {after})" if before and after else ""
    result.changes.append(Change(
        rule=ID, pass_name=NAME, line=final.from_.line, before=image, after=str(new_ref),
        message=f"final stage runs on {new_ref} instead of {decision.ref if written else image}"
                + (f" (FROM {image} → FROM {new_from.image})" if written and not written.arg else ""),
        reason=(("the final stage runs no Python (see the note on what was checked): the plain distribution image "
                 "it is built on will do" if decision.without_interpreter else
                 info.note if info and info.note else "the final stage only runs the app; build tools are not needed")
                + ("" if not info else f"; same OS release ({info.family} {info.release})"
                   + (f" and Python path {info.python}" if info.python and not decision.without_interpreter else "")))
               + ("" if not decision.wheels_assumed else
                  f"; the pip installs at line(s) {', '.join(str(n) for n in decision.wheels_assumed)} name only index "
                  f"packages and run with the same Python and pip on {new_ref}, which has no compiler: a package "
                  "without a wheel for it would fail the build there (verify proves it)"),
        effect=f"smaller base image{sizes}",
        risk="high" if decision.forced else "medium",
    ))
    return result
