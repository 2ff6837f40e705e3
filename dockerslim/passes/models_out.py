"""DS204 models-out: model weights do not belong in the image.

Finds weights entering the image — COPY/ADD of weight files or model folders (with their real
sizes when the build context is known, after .dockerignore) and build-time downloads
(``huggingface-cli download``, ``snapshot_download``, ``from_pretrained``, ``git lfs pull``,
wget/curl of weight files) — and reports each with its size.

With ``--models-context NAME`` a COPY of a model folder becomes ``COPY --from=NAME <config
files> <dest>``: the small files (config.json, tokenizer files) come from a named build
context, and the printed ``--build-context NAME=PATH`` flag supplies it; the weights are
mounted or downloaded at run time instead. ``COPY . .`` is never rewritten (use
``dockerslim dockerignore``), and neither is a folder holding nothing but weights. The context's
file names reach the COPY through ``quoting.copy_paths`` (JSON form for a blank; a newline in a
name is an error, never a new instruction).
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import ir, quoting
from ..catalog import load
from ..changes import Change, Level, Note, PassResult
from ..dockerignore import context_files
from ..pass_context import PassContext
from ..rules import ignored
from ..rules import rule as catalogue_entry
from ..shell import run_script
from ._lint import with_ignore

RULE = catalogue_entry("models-out")  # id, name and summary: data/rules.toml
ID, NAME, SUMMARY = RULE.id, RULE.name, RULE.summary


def _is_weight(path: str) -> bool:
    return path.lower().endswith(tuple(load("commands")["models"]["weight_suffixes"]))


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def _files_of(src: str, files: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The context files one COPY source brings (a file, a folder's contents, or everything)."""
    src = posixpath.normpath(src).lstrip("/") or "."  # "./x", "/x" and "x" name the same context path
    if src == ".":
        return files
    return [(p, n) for p, n in files if p == src or p.startswith(src.rstrip("/") + "/")]


def _note(message: str, line: int | None, level: Level = "warning") -> Note:
    return Note(rule=ID, pass_name=NAME, message=message, line=line, level=level)


def run(df: ir.Dockerfile, context: PassContext) -> PassResult:
    result = PassResult(dockerfile=df)
    cfg = load("commands")["models"]
    files = context_files(context.context_dir) if context.context_dir and context.context_dir.is_dir() else None
    name = context.options.models_context
    stages = []
    for stage in df.stages:
        body: list[ir.Instruction] = []
        for node in stage.body:
            new: ir.Instruction = node
            if ignored(RULE, node, stage):
                pass
            elif isinstance(node, ir.Copy) and node.flag("from") is None and not node.heredocs:
                new = _copy(node, files, cfg, name, context, result, df.escape)
            elif isinstance(node, ir.Run):
                script = run_script(node) or (node.command if isinstance(node.command, str) else " ".join(node.command))
                hits = [m for m in cfg["download_markers"] if m in script]
                weights = [w for w in script.split() if "://" in w and _is_weight(w.split("?")[0])]
                if hits or weights:
                    what = ", ".join(hits + weights[:2])
                    result.notes.append(_note(
                        f"this RUN downloads model weights at build time ({what}); they become part of the image. "
                        "Prefer downloading at container start into a mounted volume, or COPY them from a "
                        "--build-context if they must ship", node.line))
            body.append(new)
        stages.append(replace(stage, body=tuple(body)))
    result.dockerfile = replace(df, stages=tuple(stages))
    return result


def _copy(node: ir.Copy, files: list[tuple[str, int]] | None, cfg: dict[str, Any], name: str | None,
          context: PassContext, result: PassResult, escape: str = "\\") -> ir.Instruction:
    if files is None:
        suspects = [s for s in node.sources if _is_weight(s) or s.strip("/").split("/")[-1] in cfg["folders"]]
        if suspects:
            result.notes.append(_note(f"copies what looks like model weights ({', '.join(suspects)}); "
                                      "give --context to measure them", node.line))
        return node
    brought = [f for s in node.sources for f in _files_of(s, files)]
    weights = [(p, n) for p, n in brought if _is_weight(p)]
    if not weights:
        return node
    total = sum(n for _, n in weights)
    sample = ", ".join(p for p, _ in weights[:3]) + (" …" if len(weights) > 3 else "")
    result.notes.append(_note(f"brings {len(weights)} weight file(s), {_human(total)}, into the image: {sample}",
                              node.line))
    if not name:
        return node
    if len(node.sources) != 1 or node.sources[0] in (".", "./"):
        result.notes.append(_note("not rewritten for --models-context: copy the model folder on its own "
                                  "(and exclude it from COPY . . with .dockerignore)", node.line, "skipped"))
        return node
    folder = node.sources[0].rstrip("/")
    configs = sorted(os.path.relpath(p, folder) for p, _ in brought if not _is_weight(p))
    if not configs:
        result.notes.append(_note(f"{folder} holds only weights: nothing to copy from --models-context; "
                                  "remove the COPY and mount the folder at run time", node.line, "skipped"))
        return node
    dest = node.dest if node.dest.endswith("/") else node.dest + "/"  # as written in the Dockerfile
    path = (context.context_dir / folder).resolve() if context.context_dir else Path(folder)
    written, as_json = quoting.copy_paths(configs, str(path), escape)  # file names are data, never syntax
    source = ir.Flag(name="from", value=quoting.name(name, "--models-context"))
    flags = (*(f for f in node.flags if f.name != "from"), source)
    # hadolint takes a named build context for an undefined stage (DL3022)
    leading = with_ignore(node.leading, f"{name} is a build context given at build time (--build-context), "
                          "not a stage", ["DL3022"])
    new = ir.Copy(flags=flags, paths=(*written, dest), json=as_json or node.json, leading=leading,
                  source=node.source)
    result.changes.append(Change(
        rule=ID, pass_name=NAME, line=node.line, message=f"model configs come from build context {name!r}; "
                                                         f"{len(weights)} weight file(s) ({_human(total)}) stay out",
        reason="weights are data, not code: in the image they make every pull and every layer upload gigabytes larger",
        effect=f"image {_human(total)} smaller. Build with `docker buildx build --build-context {name}={path} .` or "
               f"`buildah bud --build-context {name}={path} .`; at run time mount the weights "
               f"(`-v {path}:{dest.rstrip('/')}`) or download them at start",
        risk="high",
        config=("Files." + dest.rstrip("/"),),
    ))
    return new
