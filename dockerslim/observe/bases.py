"""The files of the runtime bases a rewrite may choose, read once from the images themselves.

The runtime-base decision resolves the final stage's libraries and programs against the base it
would run on (``python:3.12-slim``, ``debian:bookworm-slim``), not against a hand-kept list of
what such an image ships. When a build is observed, each candidate base the builder has is
exported and its layers read by name (no container runs); what the decision asks about — library
files, programs, symlinks, ld.so.conf folders, dpkg packages — is kept in the observation and
cached on disk by image ID, so a second observation reads nothing again. A candidate the builder
does not have is left out (the decision then keeps the base it cannot check).
"""

from __future__ import annotations

import json
import os
import posixpath
import tempfile
from pathlib import Path

from .. import ir
from ..builders import Builder, BuilderError
from ..catalog import lookup_base
from ..image import ImageRef
from ..image_config import stage_chain
from ..variables import resolved_image
from . import cache
from .layers import ImageLayoutError, LayerState, is_library_name, read_export, read_layer
from .record import BaseFiles
from .runtime import _cfg, candidate_bases


def candidates(df: ir.Dockerfile, target: str | None = None) -> list[str]:
    """The runtime bases the final (or target) stage of ``df`` may be given, as references."""
    stage = df.stage_named(target) if target else df.stages[-1]
    if stage is None:
        return []
    root = stage_chain(df, stage)[0]
    ref = ImageRef.try_parse(resolved_image(df, root))
    if ref is None or "$" in str(ref):
        return []
    return [str(r) for r in candidate_bases(lookup_base(ref))]


def index(state: LayerState, ref: str, image_id: str) -> BaseFiles:
    """What the decision needs of an image whose layers ``state`` has read."""
    bins = set(_cfg()["default_path"])  # type: ignore[call-overload]
    paths = {p: state.links.get(p, "") for p in state.paths
             if p in state.links or posixpath.dirname(p) in bins or is_library_name(posixpath.basename(p))}
    return BaseFiles(ref=ref, image_id=image_id, paths=paths, ld_dirs=state.ld_dirs(),
                     packages=sorted(state.dpkg_libs))


def _cached(image_id: str) -> Path:
    return cache.cache_dir() / "bases" / f"{image_id.replace(':', '_')}.json"


def base_files(builder: Builder, ref: str, *, use_cache: bool = True) -> BaseFiles | None:
    """The indexed files of ``ref`` as the builder has it; None when it does not have it."""
    try:
        image_id = builder.inspect(ref).image_id
    except BuilderError:
        return None
    if not image_id:
        return None
    path = _cached(image_id)
    if use_cache:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            found = BaseFiles.from_dict(data)
            if found.image_id == image_id:
                found.ref = ref
                return found
        except (OSError, ValueError, KeyError, TypeError):
            pass
    with tempfile.TemporaryDirectory(prefix="dockerslim-base-") as tmp:
        try:
            builder.export_oci(ref, Path(tmp, "image"))
            image = read_export(Path(tmp, "image"))
        except (BuilderError, ImageLayoutError):
            return None
        state = LayerState()
        for layer in image.layers:
            read_layer(layer, state, record=False)
    found = index(state, ref, image_id)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmpname = tempfile.mkstemp(prefix=".base-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"ref": found.ref, "image_id": found.image_id, "paths": found.paths,
                       "ld_dirs": found.ld_dirs, "packages": found.packages}, fh)
        os.replace(tmpname, path)
    return found
