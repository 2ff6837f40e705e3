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
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalog import load
from ..errors import DockerslimError
from .elf import ELF_MAGIC, read_elf_stream
from .record import ADDED, CHANGED, CLEARED, DELETED, FileChange

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
ACCOUNT_FILES = {"/etc/passwd": "users", "/etc/group": "groups"}
DPKG_LIST = re.compile(r"^/var/lib/dpkg/info/(?P<pkg>[^/:]+)(:[^/]+)?\.list$")
LIBRARY = re.compile(r"(\.so(\.[0-9][^/]*)?$)|(^ld-[^/]*\.so)")  # libfoo.so, libfoo.so.1.2, ld-linux-x86-64.so.2
SCRIPT_MAX = 1_000_000  # scripts larger than this are not read for "python"


def is_library_name(name: str) -> bool:
    """A file name the dynamic loader may be asked for (``libz.so.1``, ``ld-linux-x86-64.so.2``)."""
    return bool(LIBRARY.search(name))


def _conf_dirs(text: str) -> list[str]:
    """The folders an ld.so.conf file lists (``include`` lines aside: their files are read themselves)."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith(("include", "hwcap")):
            continue
        out += [d for d in line.replace(",", " ").replace(":", " ").split() if d.startswith("/")]
    return out


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
    links: dict[str, str] = field(default_factory=dict)  # symlink -> target
    dpkg_libs: dict[str, list[str]] = field(default_factory=dict)  # Debian package -> library files it lists
    ld_conf: dict[str, list[str]] = field(default_factory=dict)  # /etc/ld.so.conf(.d/*.conf) -> folders

    def _forget(self, gone: set[str]) -> None:
        self.paths -= gone
        for path in gone:
            self.links.pop(path, None)
            self.ld_conf.pop(path, None)
            m = DPKG_LIST.match(path)
            if m:
                self.dpkg_libs.pop(m["pkg"], None)

    def remove_tree(self, path: str) -> None:
        prefix = path.rstrip("/") + "/"
        self._forget({p for p in self.paths if p == path or p.startswith(prefix)})

    def clear_children(self, path: str) -> None:
        prefix = path.rstrip("/") + "/"
        self._forget({p for p in self.paths if p.startswith(prefix)})

    def lib_owners(self) -> dict[str, list[str]]:
        """{library file name: [packages listing it]} (who owns ``libsnappy.so.1``)."""
        owners: dict[str, list[str]] = {}
        for package, names in sorted(self.dpkg_libs.items()):
            for name in names:
                owners.setdefault(name, []).append(package)
        return owners

    def ld_dirs(self) -> list[str]:
        """The folders /etc/ld.so.conf and /etc/ld.so.conf.d/*.conf list, in ld.so's order."""
        out: list[str] = []
        for conf in sorted(self.ld_conf, key=lambda c: (c != "/etc/ld.so.conf", c)):
            out += [d for d in self.ld_conf[conf] if d not in out]
        return out


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
            if member.issym():
                state.links[full] = member.linkname
            else:
                state.links.pop(full, None)
            listing = DPKG_LIST.match(full)
            if member.isfile() and (listing or full == "/etc/ld.so.conf" or (
                    full.startswith("/etc/ld.so.conf.d/") and full.endswith(".conf"))):
                fh = tar.extractfile(member)
                text = (fh.read() if fh else b"").decode(errors="replace")
                if listing:
                    state.dpkg_libs[listing["pkg"]] = sorted(
                        {posixpath.basename(n) for n in text.splitlines() if is_library_name(posixpath.basename(n))})
                else:
                    state.ld_conf[full] = _conf_dirs(text)
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
            dynamic: dict[str, Any] = {}
            if member.isfile() and member.size >= 4:
                fh = tar.extractfile(member)
                head = fh.read(4) if fh is not None else b""
                elf = head == ELF_MAGIC
                if elf and fh is not None:
                    fh.seek(0)
                    info = read_elf_stream(fh)  # type: ignore[arg-type]
                    if info is not None:
                        dynamic = {"needed": info.needed, "rpath": info.rpath, "runpath": info.runpath,
                                   "interp": info.interpreter}
                elif head[:2] == b"#!" and fh is not None:
                    fh.seek(0)
                    script = fh.read(min(member.size, SCRIPT_MAX))
                    dynamic = {"shebang": script.split(b"\n", 1)[0][:200].decode(errors="replace"),
                               "names_python": b"python" in script}
            target = member.linkname if (member.issym() or member.islnk()) else None
            if member.islnk() and target:
                target = _norm(target)
            size = member.size if member.isfile() else 0
            change = FileChange(full, CHANGED if existed else ADDED, _kind(member), size,
                                member.mode & 0o7777, member.uid, member.gid, elf, target, **dynamic)
            if not _noise(change):
                changes.append(change)
    return changes, created
