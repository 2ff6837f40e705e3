"""File-level comparison of two image root file systems (as mounted by a builder).

Walks both trees, hashing regular files, and answers what ``verify`` needs: which files the
rewrite left out (grouped: compilers/toolchains, headers, package caches, docs, other), which
files under the app's paths are missing or differ, and which Python distributions (name and
version, from ``*.dist-info``) are missing or changed wherever they are installed.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .catalog import load

SKIP_TOP = {"proc", "sys", "dev", "run", "tmp"}
DIST_INFO = re.compile(r"^(?P<name>[^/]+?)-(?P<version>[^-/]+)\.(dist|egg)-info$")


@dataclass(frozen=True)
class Entry:
    kind: str  # f (file), d, l (symlink), o (other)
    mode: int
    uid: int
    gid: int
    size: int
    digest: str  # sha256 of a file, target of a link, "" else


@dataclass
class Tree:
    entries: dict[str, Entry] = field(default_factory=dict)
    dists: dict[str, str] = field(default_factory=dict)  # normalised name -> version

    @property
    def bytes(self) -> int:
        return sum(e.size for e in self.entries.values() if e.kind == "f")


def _hash(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def walk(root: Path) -> Tree:
    tree = Tree()
    base = str(root)
    for dirpath, dirnames, filenames in os.walk(base):
        rel_dir = dirpath[len(base):] or "/"
        if rel_dir == "/":
            dirnames[:] = [d for d in dirnames if d not in SKIP_TOP]
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.join(rel_dir, name)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                entry = Entry("l", 0, st.st_uid, st.st_gid, 0, os.readlink(full))
            elif stat.S_ISDIR(st.st_mode):
                entry = Entry("d", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, 0, "")
                m = DIST_INFO.match(name)
                if m and "__pycache__" not in rel:
                    tree.dists[_norm(m.group("name"))] = m.group("version")
            elif stat.S_ISREG(st.st_mode):
                entry = Entry("f", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_size, _hash(full))
            else:
                entry = Entry("o", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, 0, "")
            tree.entries[rel] = entry
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return tree


def group_of(path: str) -> str:
    for group, patterns in load("fs_groups")["groups"].items():
        for pat in patterns:
            if pat.startswith("*"):
                if path.endswith(pat[1:]):
                    return group
            elif "*" in pat:
                if fnmatch.fnmatchcase(path, pat + "*"):
                    return group
            elif path.startswith(pat):
                return group
    return "other"


@dataclass
class Comparison:
    dropped: dict[str, tuple[int, int]]  # group -> (files, bytes)
    app_problems: list[str]  # "missing /app/x", "differs /app/y", …
    dist_problems: list[str]


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def compare(original: Tree, rewrite: Tree, app_paths: list[str], context_files: set[str] | None = None,
            replaced_dists: set[str] = frozenset()) -> Comparison:  # type: ignore[assignment]
    """Compare two trees. Under ``app_paths`` every file and link must exist in the rewrite;
    ``replaced_dists`` are Python distributions a change replaced on purpose (uv from its image).
    files that came from the build context (``context_files``) must also be identical in
    content, owner and mode. Build outputs may differ in bytes (builds are rarely
    reproducible), and directories are not compared."""
    strict = context_files or set()
    dropped: dict[str, list[int]] = {}
    problems: list[str] = []
    for path, entry in original.entries.items():
        other = rewrite.entries.get(path)
        in_app = _under(path, app_paths) and "/__pycache__" not in path and not path.endswith(".pyc")
        if other is None:
            if in_app and entry.kind != "d":
                problems.append(f"missing {path}")
            elif entry.kind != "d":
                g = dropped.setdefault(group_of(path), [0, 0])
                g[0] += 1
                g[1] += entry.size
            continue
        if not in_app or entry.kind == "d":
            continue
        if entry.kind != other.kind:
            problems.append(f"type differs {path}")
        elif path in strict:
            if entry.digest != other.digest:
                problems.append(f"differs {path}")
            elif (entry.uid, entry.gid) != (other.uid, other.gid):
                problems.append(f"owner differs {path} ({entry.uid}:{entry.gid} -> {other.uid}:{other.gid})")
            elif entry.mode != other.mode:
                problems.append(f"mode differs {path} ({oct(entry.mode)} -> {oct(other.mode)})")
    dist_problems = []
    build_tools = set(load("fs_groups")["python"]["build_tools"])
    for name, version in sorted(original.dists.items()):
        if name in replaced_dists and rewrite.dists.get(name) != version:
            g = dropped.setdefault("python packages replaced on purpose (see the changes)", [0, 0])
            g[0] += 1
        elif name in build_tools and rewrite.dists.get(name) != version:
            g = dropped.setdefault("python build tools (pip, setuptools, wheel: dropped or other version)", [0, 0])
            g[0] += 1
        elif name not in rewrite.dists:
            dist_problems.append(f"python package {name}=={version} missing")
        elif rewrite.dists[name] != version:
            dist_problems.append(f"python package {name} {version} -> {rewrite.dists[name]}")
    return Comparison({k: (v[0], v[1]) for k, v in sorted(dropped.items())}, problems, dist_problems)
