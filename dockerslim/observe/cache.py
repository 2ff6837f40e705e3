"""The on-disk cache of observations, so a second rewrite of an unchanged project needs no build.

The key covers everything that can change what the build does: the Dockerfile text, build
args, named build contexts (their files when they are folders), target, platform, the content
and executable bit of every file the build context sends (after ``.dockerignore``), and the
IDs of the base images as the builder has them now. Any change gives another key, so a stale
record is never read; a base image the builder does not have yet gives no key at all (the
build runs, pulls it, and the record is stored under the key computed afterwards).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from ..dockerignore import context_files
from .record import Observation

FORMAT = 2  # bump when the record's meaning changes: older records then miss


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/dockerslim/observe`` (``~/.cache/...`` by default)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root, "dockerslim", "observe")


def hash_tree(root: Path) -> str:
    """Digest of the files a build sends from ``root``: relative path, executable bit, content."""
    h = hashlib.sha256()
    for rel, _size in context_files(root):
        full = root / rel
        try:
            executable = os.access(full, os.X_OK)
            with open(full, "rb") as fh:
                content = hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError:
            continue
        h.update(f"{rel}\0{int(executable)}\0{content}\n".encode())
    return h.hexdigest()


def key(text: str, *, context_dir: Path, build_args: dict[str, str] | None, build_contexts: dict[str, str] | None,
        target: str | None, platform: str | None, base_ids: dict[str, str], builder: str) -> str:
    """The cache key of one observation."""
    contexts = {}
    for name, value in sorted((build_contexts or {}).items()):
        local = Path(value)
        contexts[name] = hash_tree(local) if "://" not in value and local.is_dir() else value
    doc = {
        "format": FORMAT,
        "dockerfile": text,
        "build_args": dict(sorted((build_args or {}).items())),
        "build_contexts": contexts,
        "target": target,
        "platform": platform,
        "context": hash_tree(context_dir),
        "base_images": dict(sorted(base_ids.items())),
        "builder": builder,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def load(cache_key: str) -> Observation | None:
    """The stored observation for ``cache_key``, or None (missing or unreadable)."""
    path = cache_dir() / f"{cache_key}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        record = Observation.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if record.key != cache_key:
        return None
    record.cached = True
    return record


def store(record: Observation) -> Path:
    """Write ``record`` atomically (a reader never sees half a file)."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    data = record.to_dict()
    data["cached"] = False
    fd, tmp = tempfile.mkstemp(prefix=".obs-", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    final = folder / f"{record.key}.json"
    os.replace(tmp, final)
    return final
