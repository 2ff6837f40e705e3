"""DS203 tools-from-images: a RUN that only installs a tool which ships as an image (uv, ruff…)
becomes ``COPY --from=<image:tag> <paths> <dest>`` (catalog: ``data/tools.toml``).

Handles ``pip install uv[==X]``, the install scripts (``curl -LsSf https://astral.sh/uv/install.sh | sh``)
and apt packages the catalog names (``apt-get install ffmpeg`` → a static ffmpeg image, a
medium risk: a static build is not Debian's).
Left alone, with a note: a RUN that installs the tool together with other things (the
other installs would need the same RUN rewritten around them).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from .. import ir, quoting
from ..catalog import load
from ..changes import Change, CommandEdit, Note, PassResult
from ..classify import pip_argv
from ..pass_context import PassContext
from ..rules import ignored
from ..rules import rule as catalogue_entry
from ..shell import SimpleCommand, remove_words, run_commands, run_script

RULE = catalogue_entry("tools-from-images")  # id, name and summary: data/rules.toml
ID, NAME, SUMMARY = RULE.id, RULE.name, RULE.summary
PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?:==(?P<version>[\w.]+))?$")


def _tool_of_pip(cmd: SimpleCommand) -> tuple[dict[str, Any], str] | None:
    argv = pip_argv(cmd)
    if argv is None:
        return None
    words = [a for a in argv[1:] if not a.startswith("-")]
    if words[:1] != ["install"] or len(words) != 2:
        return None
    m = PIN.match(words[1])
    if not m:
        return None
    for tool in load("tools")["tool"]:
        if m.group("name").lower() in tool["pip"]:
            return tool, m.group("version") or tool["version"]
    return None


def _tool_of_script(cmds: list[SimpleCommand]) -> tuple[dict[str, Any], str] | None:
    """``curl … URL | sh`` (two commands of one pipeline) for a catalogued install script."""
    if len(cmds) != 2 or cmds[0].program not in ("curl", "wget") or cmds[1].program not in ("sh", "bash"):
        return None
    for tool in load("tools")["tool"]:
        for pattern in tool["scripts"]:
            rx = re.escape(pattern).replace(re.escape("{version}"), r"(?P<version>[\w.]+)")
            for word in cmds[0].argv[1:]:
                m = re.search(rx, word)
                if m:
                    return tool, (m.groupdict().get("version") or tool["version"])
    return None


def _apt_tool(node: ir.Run, cmds: list[SimpleCommand],
              script: str) -> tuple[dict[str, Any], ir.Run | None, CommandEdit | None] | None:
    """A catalogued tool installed with apt-get: (tool, the RUN without it — None when nothing
    but the package manager is left — and that edit of the install command), or None."""
    for tool in load("tools")["tool"]:
        for cmd in cmds:
            if cmd.program not in ("apt-get", "apt") or "install" not in cmd.argv:
                continue
            hits = [i for i, w in enumerate(cmd.argv) if w in tool.get("apt", ())]
            if not hits:
                continue
            packages = [w for w in cmd.argv[cmd.argv.index("install") + 1:] if not w.startswith("-")]
            if len(packages) > len(hits):
                kept = cmd.argv[:hits[0]] + cmd.argv[hits[0] + 1:]
                edit = CommandEdit(cmd.assignments + cmd.argv, cmd.assignments + kept)
                return tool, replace(node, command=remove_words(script, [cmd.words[hits[0]]])), edit
            others = [c for c in cmds if c.program not in ("apt-get", "apt", "rm")]
            return (tool, None, None) if not others else None
    return None


def _copy(tool: dict[str, Any], version: str, leading: tuple[str, ...], pin: bool, result: PassResult,
          line: int | None) -> ir.Copy:
    image = quoting.image(tool["image"].format(version=version), "tools.toml")
    if pin:
        digest = tool.get("digests", {}).get(version)
        if digest:
            image = f"{image}@{digest}"
        else:
            result.notes.append(Note(rule=ID, pass_name=NAME, level="warning", line=line, message=(
                f"--pin-digest: no digest known for {image}; resolve it (`docker buildx imagetools inspect {image}`) "
                f"and add it under digests in a tools.toml of your own data folder")))
    paths, as_json = quoting.copy_paths((*tool["paths"], tool["dest"]), "tools.toml")
    return ir.Copy(flags=(ir.Flag(name="from", value=image),), paths=paths, json=as_json, leading=leading)


def run(df: ir.Dockerfile, context: PassContext) -> PassResult:
    result = PassResult(dockerfile=df)
    stages = []
    for stage in df.stages:
        body: list[ir.Instruction] = []
        for node in stage.body:
            found = None
            script: str | None = None
            cmds: list[SimpleCommand] | None = None
            if isinstance(node, ir.Run) and not node.flags and not ignored(RULE, node, stage):
                script = run_script(node)
                cmds = run_commands(node)
                if cmds:
                    if len(cmds) == 1:
                        found = _tool_of_pip(cmds[0])
                    found = found or _tool_of_script(cmds)
                    if found is None and any(_tool_of_pip(c) for c in cmds):
                        result.notes.append(Note(rule=ID, pass_name=NAME, level="skipped", line=node.line,
                                                 message="a tool that ships as an image is installed together "
                                                         "with other commands; left as is"))
            remaining: ir.Run | None = None
            apt_edit: CommandEdit | None = None
            if (found is None and isinstance(node, ir.Run) and isinstance(node.command, str) and cmds
                    and not ignored(RULE, node, stage)):
                apt = _apt_tool(node, cmds, script or "")
                if apt:
                    found, remaining, apt_edit = (apt[0], apt[0]["version"]), apt[1], apt[2]
            if found is None:
                body.append(node)
                continue
            tool, version = found
            leading = () if remaining else node.leading
            copy = _copy(tool, version, leading, context.options.pin_digest, result, node.line)
            if remaining is not None:
                body.append(remaining)
            body.append(copy)
            result.changes.append(Change(
                rule=ID, pass_name=NAME, line=node.line, end_line=node.source.end_line if node.source else None,
                message=f"{tool['name']} {version} copied from {copy.flag('from')} instead of installed",
                reason=f"{tool['name']} ships as a static binary in an official image; copying it needs no installer, "
                       "no package index and no network in the RUN",
                effect=f"one small layer with {', '.join(tool['paths'])} in {tool['dest']}; "
                       "the tag pins the version (pin a digest for full reproducibility)",
                risk=tool.get("risk", "low"), before=str(getattr(node, "command", "")), after=" ".join(copy.paths),
                config=tuple(f"Python.{name}" for name in tool["pip"]),
                commands=(apt_edit,) if apt_edit else tuple(
                    CommandEdit(c.assignments + c.argv, None) for c in cmds or ()),
            ))
        stages.append(replace(stage, body=tuple(body)))
    result.dockerfile = replace(df, stages=tuple(stages))
    return result
