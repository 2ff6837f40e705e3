"""DS202 package-hygiene: installers in the stages that reach the final image run with the
flags and cleanup that keep caches out of the layer (``data/hygiene.toml``): ``apt-get update``
in the same RUN as ``install``, ``-y``, ``--no-install-recommends`` (a behaviour change, on by
default, switchable), ``rm -rf /var/lib/apt/lists/*``, ``pip --no-cache-dir``, ``apk --no-cache``,
``dnf/yum clean all``, ``conda clean -afy``, ``npm cache clean --force``.

Builder stages (their layers never ship) get BuildKit cache mounts for pip/uv/npm/go caches
instead, so rebuilds do not download again. Left alone: RUNs that already have a cache mount, RUNs that are
not plain shell (exec form, heredocs, ``||``/pipes at top level) and, for the list cleanup,
an apt RUN whose next apt-using RUN installs before it updates (as this pass leaves it: an
install it can fix gets its own ``apt-get update``): deleting the lists would break it. A RUN
whose script ends in a shell comment (``RUN apt-get install -y x # why``) gets its flags but no
appended cleanup, and keeps its comment: text after ``#`` never runs.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import replace

from .. import ir, quoting
from ..catalog import load
from ..changes import Change, CommandEdit, Note, PassResult
from ..classify import as_installer
from ..emit import instruction_text
from ..parse import parse_mount
from ..pass_context import PassContext
from ..rules import ignored
from ..rules import rule as catalogue_entry
from ..shell import (
    SimpleCommand,
    and_segments,
    and_segments_after,
    chain,
    commands,
    has_comment,
    run_commands,
    run_script,
    top_level_operators,
)

RULE = catalogue_entry("package-hygiene")  # id, name and summary: data/rules.toml
ID, NAME, SUMMARY = RULE.id, RULE.name, RULE.summary


def _subcommand(cmd: SimpleCommand) -> str:
    words = [a for a in cmd.argv[1:] if not a.startswith("-")]
    if cmd.program == "uv" and words[:1] == ["pip"]:
        words = words[1:]
    return words[0] if words else ""


def _first_apt_step(cmds: list[SimpleCommand] | None) -> str | None:
    """``install`` or ``update``: which apt step a RUN takes first (``install`` when the RUN
    cannot be read: assume it needs the lists), None when it uses apt for neither. Joining RUNs
    never changes the answer for the RUNs before them, so a merge cannot change the decision."""
    if cmds is None:
        return "install"
    for c in cmds:
        if c.program in ("apt-get", "apt") and _subcommand(c) in ("install", "update"):
            return _subcommand(c)
    return None


def _full(cmd: SimpleCommand, argv: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """A command as the guard reads it: leading assignments, then argv."""
    return cmd.assignments + (cmd.argv if argv is None else argv)


def _fix(node: ir.Run, env: frozenset[str], lists_needed_later: bool, context: PassContext,
         wheel_dirs: frozenset[str] = frozenset(),
         declined: list[str] | None = None) -> tuple[ir.Run, list[str], str, list[CommandEdit]]:
    """The RUN with hygiene applied, the reasons for each edit, the highest risk, and the
    commands it added or edited (declared to the guard). ``wheel_dirs``: directories holding
    only wheels here; a pip install of nothing but local wheels gets no cache flag (why, in
    ``declined``)."""
    script = run_script(node)
    if node.heredocs or script is None or any(parse_mount_type(f) == "cache" for f in node.flags):
        return node, [], "none", []
    ops = top_level_operators(script)
    cmds = commands(script)
    if ops is None or cmds is None or any(op in ("||", "|", "\n") for op in ops):
        return node, [], "none", []
    data = load("hygiene")
    edits: list[tuple[int, str]] = []  # (offset, text to insert)
    declared: list[CommandEdit] = []
    reasons: list[str] = []
    risk = "none"
    seen_update = False
    commented = has_comment(script)  # nothing may follow a comment: it would be comment text
    appended: list[str] = []
    for written in cmds:
        cmd = as_installer(written)
        skip = len(written.argv) - len(cmd.argv)
        sub = _subcommand(cmd)
        added_words: list[str] = []
        if cmd.program in ("apt-get", "apt") and sub == "update":
            seen_update = True
        for rule in data["flag"]:
            if cmd.program not in rule["programs"] or sub != rule["subcommand"]:
                continue
            if rule.get("option") and not getattr(context.options, rule["option"]):
                continue
            if any(p in cmd.argv for p in rule["present"]) or set(rule.get("unless_env", ())) & env:
                continue
            if rule["add"] == "--no-cache-dir" and _local_wheels_only(written, cmds, wheel_dirs):
                if declined is not None:
                    declined.append(data["pip_local_wheels"]["note"])
                continue
            sub_index = cmd.argv.index(sub) if sub in cmd.argv else 0
            edits.append((cmd.words[sub_index][1], " " + quoting.word(rule["add"], "hygiene.toml")))
            added_words.append(rule["add"])
            reasons.append(f"{cmd.program} {sub}: {rule['add']} ({rule['reason']})")
            if rule["risk"] != "none":
                risk = rule["risk"]
        if added_words:
            at = skip + (cmd.argv.index(sub) if sub in cmd.argv else 0) + 1
            argv = (*written.argv[:at], *added_words, *written.argv[at:])
            declared.append(CommandEdit(_full(written), _full(written, argv)))
        for rule in data["cleanup"]:
            if cmd.program not in rule["programs"] or sub != rule["subcommand"]:
                continue
            if any(p in script for p in rule["present"]):
                continue
            if rule.get("needs_update_before"):
                if not seen_update and not written.assignments:  # `A=1 apt-get install`: A would move to the update
                    edits.append((cmd.words[0][0], "apt-get update && "))
                    declared.append(CommandEdit(None, ("apt-get", "update")))
                    reasons.append("apt-get update added before install (stale or missing package lists)")
                    seen_update = True
                if lists_needed_later:
                    continue
            if commented:
                continue
            text = quoting.command(rule["command"].format(program=cmd.program), "hygiene.toml")
            if text not in appended:
                appended.append(text)
                declared.append(CommandEdit(None, tuple(shlex.split(text))))
                reasons.append(f"{text} ({rule['reason']})")
    if not edits and not appended:
        return node, [], "none", []
    new = script
    merged: dict[int, str] = {}
    for offset, text in edits:  # several insertions at one place keep their rule order
        merged[offset] = merged.get(offset, "") + text
    for offset in sorted(merged, reverse=True):
        new = new[:offset] + merged[offset] + new[offset:]
    parts = None
    if all(op == "&&" for op in ops) and not commented:
        parts = and_segments_after(script, merged)
        parts = and_segments(new) if parts is None else parts
    parts = (parts or [new.strip()]) + appended
    return replace(node, command=chain(parts)), reasons, risk, declared


def _names_dir(text: str, directory: str) -> bool:
    """Whether ``text`` names ``directory`` or a path below it."""
    return re.search(re.escape(directory) + r"(?![\w.-])", text) is not None


def _inside(word: str, directory: str) -> bool:
    return word.rstrip("/") == directory or word.startswith(directory + "/")


def _local_wheels_only(written: SimpleCommand, cmds: list[SimpleCommand], wheel_dirs: frozenset[str]) -> bool:
    """Whether a pip install provably writes no cache (``[pip_local_wheels]``): no index, only
    known options, every requirement a local wheel file or a path in a wheel-only directory that
    no other command of the RUN touches: pip then downloads nothing and builds nothing."""
    spec, cmd = load("hygiene")["pip_local_wheels"], as_installer(written)
    if (cmd.program not in spec["programs"] or _subcommand(cmd) != spec["subcommand"]
            or spec["no_index"] not in cmd.argv):
        return False
    links = [f + "=" for f in spec["find_links"] if f.startswith("--")]
    argv = cmd.argv[cmd.argv.index(spec["subcommand"]) + 1:]
    used: set[str] = set()
    requirements = 0
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in spec["find_links"] or word.startswith(tuple(links)):
            value = word.split("=", 1)[1] if "=" in word else (argv[i + 1] if i + 1 < len(argv) else "")
            i += 1 if "=" in word else 2
            found = next((d for d in wheel_dirs if value.rstrip("/") == d), None)
            if found is None:
                return False
            used.add(found)
            continue
        i += 1
        if word.startswith("-"):
            if word not in spec["options"]:
                return False
            continue
        if "$" in word or "://" in word or "@" in word:
            return False
        requirements += 1
        found = next((d for d in wheel_dirs if _inside(word, d) and word.rstrip("/") != d), None)
        if found is not None and word.endswith(tuple(spec["in_dir_suffixes"])):
            used.add(found)
        elif not word.endswith(spec["wheel_suffix"]):
            return False
    if not requirements:
        return False
    return not any(c is not written and _names_dir(c.text or " ".join(c.argv), d) for c in cmds for d in used)


def _wheel_only_dirs(df: ir.Dockerfile, stage: ir.Stage) -> set[str]:
    """Absolute directories a stage (with the stages it is built FROM) fills only with a
    ``[[wheel_producer]]`` and that nothing else in it names: they hold nothing but wheels."""
    chain_: list[ir.Stage] = []
    current: ir.Stage | None = stage
    while current is not None and current not in chain_:
        chain_.append(current)
        current = df.stage_named(current.from_.image)
    producers = load("hygiene")["wheel_producer"]
    found: set[str] = set()
    for s in chain_:
        for node in s.body:
            for c in (run_commands(node) or []) if isinstance(node, ir.Run) else []:
                c = as_installer(c)
                for p in producers:
                    if c.program in p["programs"] and _subcommand(c) == p["subcommand"]:
                        for k, a in enumerate(c.argv[:-1]):
                            if a in p["dir_options"] and c.argv[k + 1].startswith("/") and "$" not in c.argv[k + 1]:
                                found.add(c.argv[k + 1].rstrip("/") or "/")
    return {d for d in found if d != "/" and all(_fills_only_with_wheels(node, d) for s in chain_ for node in s.body)}


def _fills_only_with_wheels(node: ir.Instruction, directory: str) -> bool:
    """Whether an instruction leaves ``directory`` alone or writes wheels there through a producer."""
    if not isinstance(node, ir.Run):
        return not _names_dir(instruction_text(node), directory)
    cmds = run_commands(node)
    if cmds is None:
        return not _names_dir(instruction_text(node), directory)
    producers = load("hygiene")["wheel_producer"]
    for c in cmds:
        if not _names_dir(c.text or " ".join(c.argv), directory):
            continue
        c = as_installer(c)
        if not any(c.program in p["programs"] and _subcommand(c) == p["subcommand"] for p in producers):
            return False
    return True


def _wheel_dirs_before(df: ir.Dockerfile, stage: ir.Stage) -> list[frozenset[str]]:
    """For each instruction of a stage, the directories that hold only wheels above it: the
    destination of a ``COPY --from=<stage>`` of a wheel-only directory there, as long as no
    instruction since names it."""
    out: list[frozenset[str]] = []
    dirs: frozenset[str] = frozenset()
    known: dict[int, set[str]] = {}  # producer stage index: its wheel-only directories
    for node in stage.body:
        out.append(dirs)
        dirs = frozenset(d for d in dirs if not _names_dir(instruction_text(node), d))
        if type(node) is not ir.Copy or node.heredocs:
            continue
        source = node.flag("from")
        if not source or len(node.sources) != 1 or not node.dest.startswith("/") or "$" in node.dest:
            continue
        producer = (df.stages[int(source)] if source.isdigit() and int(source) < len(df.stages)
                    else df.stage_named(source))
        if (producer is not None and producer is not stage
                and node.sources[0].rstrip("/") in known.setdefault(df.stages.index(producer),
                                                                     _wheel_only_dirs(df, producer))):
            dirs = dirs | {node.dest.rstrip("/") or "/"}
    return out


def parse_mount_type(flag: ir.Flag) -> str:
    if flag.name != "mount" or not flag.value:
        return ""
    return parse_mount(flag.value)["type"]


def _cache_mounts(node: ir.Run, user: str) -> list[str]:
    """Cache-mount targets for the installers/builds of a builder-stage RUN."""
    if user.split(":")[0] not in ("root", "0") or any(parse_mount_type(f) == "cache" for f in node.flags):
        return []
    cmds = run_commands(node)
    targets: list[str] = []
    for cmd in cmds or []:
        cmd = as_installer(cmd)
        for rule in load("hygiene")["cache_mount"]:
            if (cmd.program in rule["programs"] and _subcommand(cmd) == rule["subcommand"]
                    and not set(rule["disabled_by"]) & set(cmd.argv) and rule["target"] not in targets):
                targets.append(rule["target"])
    return targets


def _builder_stage(stage: ir.Stage, result: PassResult) -> ir.Stage:
    body = list(stage.body)
    user = "root"
    for j, node in enumerate(body):
        if isinstance(node, ir.User):
            user = node.user
        if not isinstance(node, ir.Run) or ignored(RULE, node, stage):
            continue
        targets = _cache_mounts(node, user)
        if not targets:
            continue
        mounts = tuple(ir.Flag(name="mount", value=f"type=cache,target={quoting.word(t, 'hygiene.toml')}")
                       for t in targets)
        body[j] = replace(node, flags=node.flags + mounts)
        result.changes.append(Change(
            rule=ID, pass_name=NAME, line=node.line,
            message="cache mount " + ", ".join(targets) + " for this builder step",
            reason="builder stages never ship: their download caches can live in a BuildKit cache mount "
                   "instead of being thrown away",
            effect="faster rebuilds (packages are not downloaded again); no change to any image",
            risk="none"))
    return replace(stage, body=tuple(body))


def _env_before(stage: ir.Stage) -> list[frozenset[str]]:
    """For each instruction of the stage, the ENV/ARG names set above it that a flag rule asks
    about (``unless_env``): one forward walk, and only a handful of names ever kept."""
    wanted = {n for rule in load("hygiene")["flag"] for n in rule.get("unless_env", ())}
    names: frozenset[str] = frozenset()
    out = []
    for node in stage.body:
        out.append(names)
        if isinstance(node, (ir.Env, ir.Arg)):
            found = {k for k, _ in node.pairs if k in wanted}
            if found - names:
                names = names | found
    return out


def _shipping_stage(df: ir.Dockerfile, stage: ir.Stage, context: PassContext, result: PassResult) -> ir.Stage:
    """Hygiene for every RUN, walking backwards: the apt lists are still needed when the next
    RUN that uses apt installs before it updates, judged on the later RUNs as this pass leaves
    them (one scan, and the same answer on a second rewrite, where they fetch their own lists)."""
    body = list(stage.body)
    env = _env_before(stage)
    wheels = _wheel_dirs_before(df, stage)
    lists_needed_later = False
    found: list[Change] = []
    for j in range(len(body) - 1, -1, -1):
        node = body[j]
        if not isinstance(node, ir.Run):
            continue
        if ignored(RULE, node, stage):
            new, reasons, risk, declared = node, list[str](), "none", list[CommandEdit]()
        else:
            declined: list[str] = []
            new, reasons, risk, declared = _fix(node, env[j], lists_needed_later, context, wheels[j], declined)
            result.notes.extend(Note(rule=ID, pass_name=NAME, message=m, line=node.line) for m in declined)
        step = _first_apt_step(run_commands(new))
        lists_needed_later = lists_needed_later if step is None else step == "install"
        if new is node:
            continue
        body[j] = new
        found.append(Change(
            rule=ID, pass_name=NAME, line=node.line, end_line=node.source.end_line if node.source else None,
            message="; ".join(r.split(" (")[0] for r in reasons),
            reason="; ".join(reasons),
            effect="caches and package lists stay out of the layer; no change to what is installed"
                   + (" — except recommended packages, which are no longer installed" if risk == "medium" else ""),
            risk=risk,  # type: ignore[arg-type]
            commands=tuple(declared),
        ))
    result.changes.extend(reversed(found))
    return replace(stage, body=tuple(body))


def run(df: ir.Dockerfile, context: PassContext) -> PassResult:
    result = PassResult(dockerfile=df)
    shipping = df.shipping_stages()
    stages = [_shipping_stage(df, stage, context, result) if i in shipping else _builder_stage(stage, result)
              for i, stage in enumerate(df.stages)]
    result.dockerfile = replace(df, stages=tuple(stages))
    return result
