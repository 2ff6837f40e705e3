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
import posixpath
import re
import stat
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog import load
from .healthcheck import app_argv
from .image_config import config_env
from .observe.sonames import SKIP_TOP, resolve_in_root

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


def dist_key(name: str) -> str:
    """A Python distribution's name as compared (PEP 503: ``Foo_Bar.baz`` is ``foo-bar-baz``)."""
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
                    tree.dists[dist_key(m.group("name"))] = m.group("version")
            elif stat.S_ISREG(st.st_mode):
                entry = Entry("f", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_size, _hash(full))
            else:
                entry = Entry("o", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, 0, "")
            tree.entries[rel] = entry
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return tree


def group_of(path: str) -> str:
    groups: dict[str, list[str]] = load("fs_groups")["groups"]  # group name -> path patterns
    for group, patterns in groups.items():
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
            replaced_dists: AbstractSet[str] = frozenset(), system_dists: AbstractSet[str] = frozenset()) -> Comparison:
    """Compare two trees. Under ``app_paths`` every file and link must exist in the rewrite;
    ``replaced_dists`` are Python distributions a change replaced on purpose (uv from its image);
    ``system_dists`` came with a system package the rewrite's image no longer has (``os_left_dists``).
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
        elif name in system_dists and name not in rewrite.dists:
            g = dropped.setdefault("python packages of system packages left in the builder", [0, 0])
            g[0] += 1
        elif name in build_tools and rewrite.dists.get(name) != version:
            g = dropped.setdefault("python build tools (pip, setuptools, wheel: dropped or other version)", [0, 0])
            g[0] += 1
        elif name not in rewrite.dists:
            dist_problems.append(f"python package {name}=={version} missing")
        elif rewrite.dists[name] != version:
            dist_problems.append(f"python package {name} {version} -> {rewrite.dists[name]}")
    return Comparison({k: (v[0], v[1]) for k, v in sorted(dropped.items())}, problems, dist_problems)


# -- run-time checks on a mounted root file system ------------------------------------------
# Each answers one question the smoke command may never ask: does the configured USER exist,
# do the commands the entrypoint script calls exist, do the binaries' libraries resolve.

SCRIPT_KEYWORDS = {"if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac",
                   "in", "function", "select", "time", "!", "{", "}", "[[", "]]"}


def account_names(root: Path, which: str) -> set[str]:
    """Names in /etc/passwd (``which="passwd"``) or /etc/group of an image."""
    real = resolve_in_root(root, f"/etc/{which}")
    if real is None or not real.is_file():
        return set()
    return {line.split(":", 1)[0] for line in real.read_text(errors="replace").splitlines() if ":" in line}


def user_problems(root: Path, user: str | None) -> list[str]:
    """Why the image's ``USER name[:group]`` would not resolve in ``root`` (numeric ids always do)."""
    if not user:
        return []
    name, _, group = user.partition(":")
    problems = []
    if name and not name.isdigit() and "$" not in name and name not in account_names(root, "passwd"):
        problems.append(f"USER {user}: no user {name!r} in /etc/passwd")
    if group and not group.isdigit() and "$" not in group and group not in account_names(root, "group"):
        problems.append(f"USER {user}: no group {group!r} in /etc/group")
    return problems


def which(root: Path, program: str, path_var: str) -> str | None:
    """The image path ``program`` runs from under ``PATH`` (or itself, when it is a path)."""
    if "/" in program:
        real = resolve_in_root(root, program)
        return program if real is not None and real.is_file() else None
    for d in (path_var or "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(":"):
        candidate = f"{d.rstrip('/')}/{program}"
        real = resolve_in_root(root, candidate)
        if real is not None and real.is_file() and os.access(real, os.X_OK):
            return candidate
    return None


def script_programs(script: str) -> list[str]:
    """The programs a shell script runs: from the shell grammar where it reads the script,
    else from the first word of every command-separated piece (control flow included)."""
    from .shell import commands

    found = commands(script)
    if found is not None:
        return [c.argv[0] for c in found if c.argv and "$" not in c.argv[0]]
    out: list[str] = []
    for line in script.splitlines():
        line = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
        for piece in re.split(r"&&|\|\||[;|&()`]", line):
            words = [w for w in piece.split() if not re.match(r"^\w+=", w)]
            while words and words[0] in SCRIPT_KEYWORDS:
                words.pop(0)
            if words and "$" not in words[0] and re.match(r"^[\w./+-]+$", words[0]):
                out.append(words[0])
    return out


def start_programs(root: Path, config: dict[str, Any]) -> list[str]:
    """The programs the image runs at start: ENTRYPOINT/CMD's executable and, when that is a
    shell script in the image, every program the script calls."""
    argv = app_argv(config)
    if not argv:
        return []
    env = config_env(config)
    programs = [argv[0]]
    workdir = config.get("WorkingDir") or "/"
    shells = {"sh", "bash", "dash", "ash"}
    candidates = argv[1:] if os.path.basename(argv[0]) in shells else argv[:1]
    for word in candidates:
        if word.startswith("-"):
            continue
        image_path = word if word.startswith("/") else (which(root, word, env.get("PATH", "")) if "/" not in word
                                                        else os.path.normpath(os.path.join(workdir, word)))
        real = resolve_in_root(root, image_path) if image_path else None
        if real is None or not real.is_file():
            continue
        with real.open("rb") as fh:
            head = fh.read(2)
        if head != b"#!" and os.path.basename(argv[0]) not in shells:
            continue
        first = real.read_text(errors="replace").split("\n", 1)[0]
        if head == b"#!" and not any(s in first for s in ("sh", "bash", "dash")):
            continue  # a python/node script: its imports are the python check's business
        programs += script_programs(real.read_text(errors="replace"))
        break
    return list(dict.fromkeys(programs))


def missing_programs(original: Path, candidate: Path, orig_config: dict[str, Any], cand_config: dict[str, Any],
                     *, start_declared: bool = False) -> list[str]:
    """Programs the original image runs at start that the candidate image does not have; when
    the rewrite declares its start command changed (conda run -> the env's own python), the
    programs the candidate's own command runs instead: the original's are then left behind on
    purpose, but what the candidate starts must still be in its image."""
    env_o, env_c = config_env(orig_config), config_env(cand_config)
    if start_declared:
        return [f"{program} (the rewrite's declared start command)"
                for program in start_programs(candidate, cand_config)
                if which(candidate, program, env_c.get("PATH", "")) is None]
    out = []
    for program in start_programs(original, orig_config):
        found = which(original, program, env_o.get("PATH", ""))
        if found and which(candidate, program, env_c.get("PATH", "")) is None:
            out.append(f"{program} ({found} in the original)")
    return out


def os_left_dists(original_root: Path, rewrite_root: Path, original: Tree, named: str) -> set[str]:
    """Python distributions of the original that a system package (dpkg) installed as a dependency
    of another — ``npm`` brings Debian's python3 with gyp and six — and whose package the rewrite's
    image no longer has at all: they went with the package (the split's package plan says which
    leave), and the interpreter they belong to is often gone too. A package ``named`` (the original
    Dockerfile's text) by the user is never among them: losing it is a real loss."""
    info, other = original_root / "var/lib/dpkg/info", rewrite_root / "var/lib/dpkg/info"
    if not info.is_dir() or not other.is_dir():
        return set()
    mine = {p.name[: -len(".list")].split(":", 1)[0] for p in other.glob("*.list")}
    wanted = {posixpath.basename(path): dist_key(m.group("name")) for path, e in original.entries.items()
              if e.kind == "d" and (m := DIST_INFO.match(posixpath.basename(path)))}
    out: set[str] = set()
    for listing in info.glob("*.list"):
        package = listing.name[: -len(".list")].split(":", 1)[0]
        if package in mine or re.search(rf"(?<![\w.+-]){re.escape(package)}(?![\w.+-])", named):
            continue
        for line in listing.read_text(errors="replace").splitlines():
            key = wanted.get(posixpath.basename(line))
            if key and line in original.entries:
                out.add(key)
    return out
