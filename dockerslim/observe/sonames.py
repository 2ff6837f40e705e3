"""Runtime libraries from the binaries, not from a map: resolve every ELF file's DT_NEEDED
against a root file system the way ld.so would, and name the package that owns a missing one.

Search order (glibc ld.so(8)): DT_RPATH (only when there is no DT_RUNPATH), LD_LIBRARY_PATH,
DT_RUNPATH, the directories of /etc/ld.so.conf (with its ``include`` globs), then the trusted
defaults; ``$ORIGIN`` is the ELF file's own directory. musl reads /etc/ld-musl-<arch>.path
instead. A candidate file of another ELF class or machine is skipped, as ld.so does.
Symlinks are followed inside the root (an absolute link target means the image's /, not ours).

Owners come from the package database's files, read directly (no container): Debian
``/var/lib/dpkg/info/*.list``, Alpine ``/lib/apk/db/installed``.
"""

from __future__ import annotations

import glob
import hashlib
import os
import posixpath
import re
import stat
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from ..catalog import load
from .elf import ELF_MAGIC, ElfInfo, elf_kind, read_elf

SKIP_TOP = {"proc", "sys", "dev", "run", "tmp"}
DEV_SUFFIXES = ("-dev", "-dbg", "-dbgsym", "-doc")
PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9.+_-]*")  # Debian policy / apk names: safe to write into a RUN


def resolve_in_root(root: Path, path: str, *, limit: int = 40) -> Path | None:
    """The real file ``path`` (an image path) names inside ``root``, symlinks followed within
    the root; None when it does not exist."""
    parts = [p for p in path.split("/") if p and p != "."]
    current = "/"
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            current = posixpath.dirname(current.rstrip("/")) or "/"
            continue
        candidate = posixpath.join(current, part)
        full = root / candidate.lstrip("/")
        try:
            st = os.lstat(full)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > limit:
                return None
            target = os.readlink(full)
            if target.startswith("/"):
                current = "/"
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        current = candidate
    return root / current.lstrip("/")


def ld_so_dirs(root: Path) -> tuple[str, ...]:
    """The directories ld.so searches after the ELF's own paths, in order."""
    musl = sorted(glob.glob(str(root / "etc" / "ld-musl-*.path")))
    if musl:
        text = Path(musl[0]).read_text(errors="replace")
        return tuple(d for d in text.replace(":", "\n").split() if d)
    dirs: list[str] = []
    _read_conf(root, "/etc/ld.so.conf", dirs, set())
    if any(Path(p).exists() for p in glob.glob(str(root / "lib" / "ld-musl-*"))):
        dirs += ["/lib", "/usr/local/lib", "/usr/lib"]
    for d in load("observe")["ld_so"]["default_dirs"]:
        if d not in dirs:
            dirs.append(d)
    return tuple(dirs)


def _read_conf(root: Path, conf: str, dirs: list[str], seen: set[str]) -> None:
    if conf in seen:
        return
    seen.add(conf)
    real = resolve_in_root(root, conf)
    if real is None or not real.is_file():
        return
    for line in real.read_text(errors="replace").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("include"):
            pattern = line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else ""
            if not pattern.startswith("/"):
                pattern = posixpath.join(posixpath.dirname(conf), pattern)
            for found in sorted(glob.glob(str(root) + pattern)):
                _read_conf(root, "/" + os.path.relpath(found, root), dirs, seen)
        elif line.startswith("hwcap"):
            continue
        else:
            for d in line.replace(",", " ").replace(":", " ").split():
                if d.startswith("/") and d not in dirs:
                    dirs.append(d)


def _expand(entry: str, origin: str) -> list[str]:
    """An RPATH/RUNPATH entry with $ORIGIN and $LIB substituted."""
    out = entry.replace("${ORIGIN}", origin).replace("$ORIGIN", origin)
    if "$LIB" in out or "${LIB}" in out:
        return [out.replace("${LIB}", lib).replace("$LIB", lib) for lib in ("lib64", "lib")]
    return [out]


class Resolver:
    """Resolves sonames inside one root file system, remembering what it found."""

    def __init__(self, root: Path, *, library_path: str = "") -> None:
        self.root = root
        self.default_dirs = ld_so_dirs(root)
        self.library_path = tuple(d for d in library_path.split(":") if d)
        self._found: dict[tuple[str, str, int, str], bool] = {}

    def _in_dir(self, directory: str, soname: str, kind: tuple[int, str]) -> bool:
        key = (directory, soname, *kind)
        if key not in self._found:
            real = resolve_in_root(self.root, posixpath.join(directory, soname))
            self._found[key] = bool(real and real.is_file() and elf_kind(real) == kind)
        return self._found[key]

    def search_dirs(self, image_path: str, info: ElfInfo) -> list[str]:
        origin = posixpath.dirname(image_path)
        dirs: list[str] = []
        if not info.runpath:
            dirs += [d for e in info.rpath for d in _expand(e, origin)]
        dirs += list(self.library_path)
        dirs += [d for e in info.runpath for d in _expand(e, origin)]
        dirs += list(self.default_dirs)
        return dirs

    def missing(self, image_path: str, info: ElfInfo) -> list[str]:
        """The sonames of ``info`` that no search directory provides."""
        kind = (info.elfclass, info.machine)
        dirs = self.search_dirs(image_path, info)
        out = []
        for soname in info.needed:
            if "/" in soname:
                real = resolve_in_root(self.root, soname if soname.startswith("/") else
                                       posixpath.join(posixpath.dirname(image_path), soname))
                if not (real and real.is_file()):
                    out.append(soname)
            elif not any(self._in_dir(d, soname, kind) for d in dirs):
                out.append(soname)
        return out


def elf_files(root: Path, under: list[str] | None = None) -> list[str]:
    """Image paths of the regular ELF files in ``root`` (or below the image paths ``under``)."""
    out: list[str] = []
    starts = [root / u.lstrip("/") for u in under] if under else [root]
    for start in starts:
        candidates: Iterable[tuple[str, list[str], list[str]]]
        if start.is_file() and not start.is_symlink():
            candidates = [(str(start.parent), [], [start.name])]
        else:
            candidates = os.walk(start)
        for dirpath, dirnames, filenames in candidates:
            if Path(dirpath) == root:
                dirnames[:] = [d for d in dirnames if d not in SKIP_TOP]
            for name in filenames:
                full = os.path.join(dirpath, name)
                try:
                    st = os.lstat(full)
                    if not stat.S_ISREG(st.st_mode) or st.st_size < 64:
                        continue
                    with open(full, "rb") as fh:
                        if fh.read(4) != ELF_MAGIC:
                            continue
                except OSError:
                    continue
                out.append("/" + os.path.relpath(full, root))
    return sorted(set(out))


def _library_path(env: dict[str, str] | list[str] | None) -> str:
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env if "=" in item)
    return (env or {}).get("LD_LIBRARY_PATH", "")


_INFOS: dict[tuple[int, str], ElfInfo | None] = {}  # by (size, sha256): images share most files


def elf_info(path: Path) -> ElfInfo | None:
    """``read_elf`` remembered by content: parsing is the slow part (about 10 ms a file with
    pyelftools), hashing is not, and an original and its rewrite share most binaries."""
    try:
        with open(path, "rb") as fh:
            key = (os.fstat(fh.fileno()).st_size, hashlib.file_digest(fh, "sha256").hexdigest())
    except OSError:
        return None
    if key not in _INFOS:
        if len(_INFOS) > 200_000:
            _INFOS.clear()
        _INFOS[key] = read_elf(path)
    return _INFOS[key]


def missing_sonames(rootfs: Path, *, paths: list[str] | None = None,
                    env: dict[str, str] | list[str] | None = None) -> dict[str, list[str]]:
    """{ELF image path: [sonames ld.so would not find]} over every ELF file in ``rootfs``
    (or only ``paths``: files or folders). ``env`` is the image's Env (for LD_LIBRARY_PATH)."""
    resolver = Resolver(rootfs, library_path=_library_path(env))
    out: dict[str, list[str]] = {}
    for image_path in elf_files(rootfs, paths):
        info = elf_info(rootfs / image_path.lstrip("/"))
        if info is None or not info.needed:
            continue
        missing = resolver.missing(image_path, info)
        if missing:
            out[image_path] = missing
    return out


def package_manager(rootfs: Path) -> str | None:
    """"apt" (dpkg database), "apk", "rpm", or None for an image without one (distroless, scratch)."""
    if (rootfs / "var/lib/dpkg/info").is_dir():
        return "apt"
    if (rootfs / "lib/apk/db/installed").is_file():
        return "apk"
    if (rootfs / "var/lib/rpm").is_dir() or (rootfs / "usr/lib/sysimage/rpm").is_dir():
        return "rpm"
    return None


@lru_cache(maxsize=8)
def _dpkg_owners(info_dir: str, mtime: float) -> dict[str, list[str]]:
    """{file basename: [packages listing a file of that name]} from dpkg's *.list files."""
    owners: dict[str, list[str]] = {}
    for listing in sorted(Path(info_dir).glob("*.list")):
        package = listing.name[: -len(".list")].split(":", 1)[0]
        for line in listing.read_text(errors="replace").splitlines():
            owners.setdefault(posixpath.basename(line), []).append(package)
    return owners


def _apk_owners(db: Path) -> dict[str, list[str]]:
    owners: dict[str, list[str]] = {}
    package = ""
    for line in db.read_text(errors="replace").splitlines():
        if line.startswith("P:"):
            package = line[2:]
        elif line.startswith("R:") and package:
            owners.setdefault(line[2:], []).append(package)
    return owners


def owning_packages(builder_rootfs: Path, sonames: list[str] | set[str]) -> dict[str, str]:
    """{soname: package} for the sonames a package of ``builder_rootfs`` ships (the runtime
    package, never its -dev twin: libpq5, not libpq-dev). Sonames no package owns are left out."""
    manager = package_manager(builder_rootfs)
    if manager == "apt":
        info = builder_rootfs / "var/lib/dpkg/info"
        owners = _dpkg_owners(str(info), info.stat().st_mtime)
    elif manager == "apk":
        owners = _apk_owners(builder_rootfs / "lib/apk/db/installed")
    else:
        return {}
    out: dict[str, str] = {}
    for soname in sorted(set(sonames)):
        packages = [p for p in owners.get(soname, []) if PACKAGE_NAME.fullmatch(p)]
        runtime = [p for p in packages if not p.endswith(DEV_SUFFIXES)]
        if runtime or packages:
            out[soname] = (runtime or packages)[0]
    return out


def install_command(manager: str, packages: list[str]) -> str:
    """The RUN line that installs ``packages`` with the image's package manager."""
    names = " ".join(sorted(set(packages)))
    if manager == "apk":
        return f"RUN apk add --no-cache {names}"
    if manager == "rpm":
        return f"RUN (dnf install -y {names} || microdnf install -y {names} || yum install -y {names})" \
               " && (dnf clean all || microdnf clean all || yum clean all || true)"
    return ("RUN apt-get update && apt-get install -y --no-install-recommends "
            f"{names} && rm -rf /var/lib/apt/lists/*")
