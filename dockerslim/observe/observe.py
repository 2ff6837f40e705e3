"""Observe one real build of the original Dockerfile: what each instruction's layer holds.

The builder builds with one layer per instruction; the image is exported (OCI layout or
``docker save``), and its config ``history`` is matched to the instructions of the observed
stage chain from the end backwards (the base image's own entries come first and are skipped;
its layers are read by name only, to tell added from changed files). The record is cached on
disk (see cache.py), so a second observation of an unchanged project runs no build.
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .. import ir
from ..builders import Builder, BuilderError, detect, scratch_tag
from ..errors import DockerslimError
from ..image import ImageRef
from ..image_config import stage_chain
from ..parse import parse
from ..variables import expand, global_args, resolved_image
from . import cache
from .bases import base_files, candidates, index
from .layers import ExportedImage, LayerState, read_export, read_layer
from .record import Observation, Step


class ObserveError(DockerslimError):
    """The original does not build (or its image cannot be read); carries the builder's last lines."""


def _chain(df: ir.Dockerfile, target: str | None) -> list[ir.Stage]:
    """The stages the built image is made of: the target (or last) stage and its FROM parents."""
    stage = df.stage_named(target) if target else df.stages[-1]
    if stage is None:
        raise ObserveError(f"--target {target}: no stage of that name in the Dockerfile")
    return stage_chain(df, stage)


def base_refs(df: ir.Dockerfile, build_args: dict[str, str] | None = None) -> list[str]:
    """Every image the build reads (FROM and COPY --from that name no stage), ARGs substituted."""
    declared = global_args(df)
    args = {**declared, **{k: v for k, v in (build_args or {}).items()}}
    refs: list[str] = []
    for stage in df.stages:
        candidates = [stage.from_.image] + [n.flag("from") or "" for n in stage.body if isinstance(n, ir.Copy)]
        for raw in candidates:
            if not raw or raw.isdigit():
                continue
            image = expand(raw, args) if "$" in raw else raw
            if image == "scratch" or df.stage_named(image) or image in refs:
                continue
            refs.append(image)
    return refs


def _image_ids(builder: Builder, refs: list[str]) -> dict[str, str | None]:
    """{reference: image ID as the builder has it, or None (not pulled, unresolved variable)},
    asked concurrently: a cache hit waits for these inspections and nothing else."""

    def one(ref: str) -> str | None:
        if "$" in ref or ImageRef.try_parse(ref) is None:
            return None
        try:
            return builder.inspect(ref).image_id or None
        except BuilderError:
            return None

    if not refs:
        return {}
    with ThreadPoolExecutor(max_workers=min(4, len(refs))) as pool:
        return dict(zip(refs, pool.map(one, refs), strict=True))


def _base_ids(builder: Builder, refs: list[str]) -> dict[str, str] | None:
    """Image IDs of the base images as the builder has them, or None when one is unknown
    (not pulled yet, or a reference with an unresolved variable)."""
    found = _image_ids(builder, refs)
    return None if any(v is None for v in found.values()) else {k: v for k, v in found.items() if v}


def keyword_of(created_by: str) -> str:
    """The instruction keyword of a history entry (buildah ``#(nop) ENV …``, BuildKit ``ENV …``,
    a RUN's shell command otherwise)."""
    text = created_by.strip()
    if "#(nop)" in text:
        word = text.split("#(nop)", 1)[1].split()
        return word[0].upper() if word else "RUN"
    first = text.split(" ", 1)[0]
    if first in ir.INSTRUCTION_TYPES:
        return first
    return "RUN"


def match_history(history: list[dict[str, Any]], body: list[ir.Instruction]) -> dict[int, int]:
    """{history index: body index}, matched from the end by keyword. Instructions with no
    entry of their own (ARG under BuildKit) are skipped; entries before the first matched
    instruction belong to the base image."""
    out: dict[int, int] = {}
    j = len(body) - 1
    for i in range(len(history) - 1, -1, -1):
        kw = keyword_of(history[i].get("created_by", ""))
        while j >= 0 and body[j].keyword != kw:
            j -= 1
        if j < 0:
            break
        out[i] = j
        j -= 1
    return out


def observe(
    text: str,
    *,
    path: str | None = None,
    context_dir: str | Path,
    build_args: dict[str, str] | None = None,
    build_contexts: dict[str, str] | None = None,
    target: str | None = None,
    platform: str | None = None,
    builder: Builder | None = None,
    use_cache: bool = True,
) -> Observation:
    """Build ``text`` once and record what each instruction's layer added, changed and
    deleted; read back from the cache when nothing that could change the build changed.
    Raises ObserveError (with the builder's last lines) when the original does not build."""
    where = path or "Dockerfile"
    df = parse(text, path)
    context = Path(context_dir)
    builder = builder or detect()
    refs = base_refs(df, build_args)
    runtimes = candidates(df, target)  # the runtime bases the rewrite may choose: their files are recorded
    known = _image_ids(builder, list(dict.fromkeys(refs + runtimes)))
    runtime_ids = {f"runtime:{r}": i for r in runtimes if (i := known.get(r))}

    def cache_key(ids: dict[str, str]) -> str:
        return cache.key(text, context_dir=context, build_args=build_args, build_contexts=build_contexts,
                         target=target, platform=platform, base_ids={**ids, **runtime_ids}, builder=builder.name)

    ids = None if any(known.get(r) is None for r in refs) else {r: str(known[r]) for r in refs}
    if use_cache and ids is not None:
        hit = cache.load(cache_key(ids))
        if hit is not None:
            return hit

    start = time.monotonic()
    tag = scratch_tag("observe", str(Path(where).resolve()))
    try:
        builder.build(text, context, tag, build_args=build_args, build_contexts=build_contexts,
                      target=target, platform=platform)
    except BuilderError as exc:
        raise ObserveError(f"{where}: the original does not build, so it cannot be observed "
                           f"(the static rewrite is unaffected):\n{exc}") from None
    try:
        chain = _chain(df, target)
        body = [node for stage in chain for node in stage.body]
        with tempfile.TemporaryDirectory(prefix="dockerslim-observe-") as tmp:
            try:
                builder.export_oci(tag, Path(tmp, "image"))
            except BuilderError as exc:
                raise ObserveError(f"{where}: cannot export the built image to read its layers:\n{exc}") from None
            root = ImageRef.try_parse(resolved_image(df, chain[0]))
            record = _record(read_export(Path(tmp, "image")), body, str(root) if root is not None else None)
    finally:
        builder.remove(tag)
    ids = _base_ids(builder, refs) or {}
    record.key = cache_key(ids)
    record.builder = builder.name
    record.base_images = ids
    for ref in runtimes:
        found = base_files(builder, ref, use_cache=use_cache)
        if found is not None:
            record.bases[ref] = found
    record.seconds = time.monotonic() - start
    shipped = {id(s) for s in chain}
    skipped = [s.name or str(i) for i, s in enumerate(df.stages) if id(s) not in shipped]
    if skipped:
        record.notes.append(f"stages {', '.join(skipped)} are not in the built image: not observed")
    if use_cache and len(ids) == len(refs):
        cache.store(record)
    return record


def _record(image: ExportedImage, body: list[ir.Instruction], base: str | None = None) -> Observation:
    """Steps from an exported image and the instructions of its stage chain. ``base``: the
    reference the chain starts FROM, whose files (its layers, read anyway) are kept too."""
    history = image.history
    layer_of: dict[int, int] = {}
    n = 0
    for i, entry in enumerate(history):
        if not entry.get("empty_layer"):
            layer_of[i] = n
            n += 1
    if n != len(image.layers):
        raise ObserveError(f"image history lists {n} layers but the image has {len(image.layers)}: cannot map steps")
    matched = match_history(history, body)
    ours = sorted(layer_of[i] for i in matched if i in layer_of)
    first_own = ours[0] if ours else len(image.layers)
    state = LayerState()
    for layer in image.layers[:first_own]:
        read_layer(layer, state, record=False)
    record = Observation(key="", builder="")
    if base is not None:
        record.bases[base] = index(state, base, "")
    by_body = {j: i for i, j in matched.items()}
    for j, node in enumerate(body):
        line = node.line or 0
        at = by_body.get(j)
        step = Step(line=line, instruction=history[at].get("created_by", "") if at is not None else "",
                    keyword=node.keyword)
        if at is not None and at in layer_of:
            step.files, step.accounts = read_layer(image.layers[layer_of[at]], state)
        record.steps[line] = step
    record.lib_owners = state.lib_owners()
    return record
