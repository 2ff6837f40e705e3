"""Reading an exported image: its config, its layer tars, and what each layer changed.

Two layouts are read: an OCI image layout (``index.json`` → manifest → ``blobs/sha256/…``,
what ``buildah push oci:DIR`` writes) and a ``docker save`` archive (``manifest.json`` with
``Config`` and ``Layers``). Layers are tars (compressed or not: ``tarfile`` detects it);
deletions are ``.wh.<name>`` whiteouts and ``.wh..wh..opq`` marks a directory whose earlier
contents are hidden. Whether an entry is added or changed needs the paths earlier layers
made, so the reader keeps that state across layers (base layers are read by name only).
"""

from __future__ import annotations

import json
import posixpath
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalog import load
from ..errors import DockerslimError
from .elf import ELF_MAGIC
from .record import ADDED, CHANGED, CLEARED, DELETED, FileChange

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
ACCOUNT_FILES = {"/etc/passwd": "users", "/etc/group": "groups"}


class ImageLayoutError(DockerslimError):
    """An exported image that cannot be read (neither an OCI layout nor a docker save archive)."""


@dataclass(frozen=True)
class ExportedImage:
    config: dict[str, Any]  # the image config: history, rootfs.diff_ids, config
    layers: tuple[Path, ...]  # layer tars, base layers first

    @property
    def diff_ids(self) -> tuple[str, ...]:
        return tuple((self.config.get("rootfs") or {}).get("diff_ids") or ())

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.config.get("history") or [])


def _blob(root: Path, digest: str) -> Path:
    algo, _, hexd = digest.partition(":")
    return root / "blobs" / algo / hexd


def read_export(root: Path) -> ExportedImage:
    """The config and layer tars of an image exported under ``root``."""
    if (root / "index.json").is_file() and not (root / "manifest.json").is_file():
        index = json.loads((root / "index.json").read_text())
        desc = index["manifests"][0]
        manifest = json.loads(_blob(root, desc["digest"]).read_text())
        if "manifests" in manifest:  # an index of indexes (multi-platform): take the first image
            manifest = json.loads(_blob(root, manifest["manifests"][0]["digest"]).read_text())
        config = json.loads(_blob(root, manifest["config"]["digest"]).read_text())
        return ExportedImage(config, tuple(_blob(root, layer["digest"]) for layer in manifest["layers"]))
    if (root / "manifest.json").is_file():
        entry = json.loads((root / "manifest.json").read_text())[0]
        config = json.loads((root / entry["Config"]).read_text())
        return ExportedImage(config, tuple(root / name for name in entry["Layers"]))
    raise ImageLayoutError(f"{root}: no index.json or manifest.json: not an exported image")


@dataclass
class LayerState:
    """Paths that exist after the layers read so far, and the account files' last contents."""

    paths: set[str] = field(default_factory=set)
    accounts: dict[str, set[str]] = field(default_factory=lambda: {"users": set(), "groups": set()})

    def remove_tree(self, path: str) -> None:
        prefix = path.rstrip("/") + "/"
        self.paths -= {p for p in self.paths if p == path or p.startswith(prefix)}

    def clear_children(self, path: str) -> None:
        prefix = path.rstrip("/") + "/"
        self.paths -= {p for p in self.paths if p.startswith(prefix)}


def _kind(member: tarfile.TarInfo) -> str:
    if member.isdir():
        return "d"
    if member.issym():
        return "l"
    if member.islnk():
        return "h"
    if member.isfile():
        return "f"
    return "o"


def _names(text: bytes) -> set[str]:
    """Account names in /etc/passwd or /etc/group text."""
    return {line.split(":", 1)[0] for line in text.decode(errors="replace").splitlines() if ":" in line}


def _norm(name: str) -> str:
    """A tar member name as an absolute image path ("./usr/bin/x" → "/usr/bin/x")."""
    while name.startswith("./"):
        name = name[2:]
    return posixpath.normpath("/" + name.lstrip("/")) if name not in ("", ".") else "/"


def _noise(change: FileChange) -> bool:
    """An empty mount point the builder left behind (``/etc/hosts`` of a RUN), not work."""
    noise = load("observe")["builder_noise"]["paths"]
    return change.path in noise and change.size == 0 and change.op in (ADDED, CHANGED)


def read_layer(path: Path, state: LayerState, *, record: bool = True) -> tuple[list[FileChange], dict[str, list[str]]]:
    """The changes one layer tar makes on top of ``state`` (updated in place), and the
    accounts it created. ``record=False`` only updates the state (base layers)."""
    changes: list[FileChange] = []
    created: dict[str, list[str]] = {}
    try:
        tar = tarfile.open(path, "r:*")  # noqa: SIM115  (closed by the with below, after the error check)
    except (tarfile.TarError, OSError) as exc:
        raise ImageLayoutError(f"{path}: cannot read layer: {exc}") from None
    with tar:
        for member in tar:
            full = _norm(member.name)
            parent, base = posixpath.split(full)
            if base == OPAQUE:
                state.clear_children(parent)
                if record:
                    changes.append(FileChange(parent, CLEARED, "d"))
                continue
            if base.startswith(WHITEOUT):
                gone = posixpath.join(parent, base[len(WHITEOUT):])
                state.remove_tree(gone)
                if record:
                    changes.append(FileChange(gone, DELETED, ""))
                continue
            existed = full in state.paths
            state.paths.add(full)
            account = ACCOUNT_FILES.get(full)
            if account and member.isfile():
                fh = tar.extractfile(member)
                names = _names(fh.read() if fh else b"")
                new = sorted(names - state.accounts[account])
                state.accounts[account] = names
                if new and record:
                    created[account] = new
            if not record:
                continue
            elf = False
            if member.isfile() and member.size >= 4:
                fh = tar.extractfile(member)
                elf = fh is not None and fh.read(4) == ELF_MAGIC
            target = member.linkname if (member.issym() or member.islnk()) else None
            if member.islnk() and target:
                target = _norm(target)
            size = member.size if member.isfile() else 0
            change = FileChange(full, CHANGED if existed else ADDED, _kind(member), size,
                                member.mode & 0o7777, member.uid, member.gid, elf, target)
            if not _noise(change):
                changes.append(change)
    return changes, created
