"""What one real build showed: per instruction, the files its layer added, changed or deleted.

Plain data that round-trips through JSON (the on-disk cache), plus the questions the passes
ask of it: what a step wrote, whether it only filled package-manager caches, which accounts
it created. Paths are absolute image paths ("/usr/local/bin/tool").
"""

from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass, field
from typing import Any

from ..catalog import load

ADDED, CHANGED, DELETED, CLEARED = "added", "changed", "deleted", "cleared"  # cleared: opaque directory


@dataclass(frozen=True)
class FileChange:
    path: str
    op: str  # added | changed | deleted | cleared
    kind: str = "f"  # f file, d directory, l symlink, h hard link, o other (device, fifo)
    size: int = 0
    mode: int = 0
    uid: int = 0
    gid: int = 0
    elf: bool = False
    target: str | None = None  # symlink or hard-link target
    # an ELF file's dynamic linking (DT_NEEDED, DT_RPATH, DT_RUNPATH, PT_INTERP): what it loads at run time
    needed: tuple[str, ...] = ()
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    interp: str | None = None
    shebang: str | None = None  # a script's first line ("#!/bin/sh")
    names_python: bool = False  # a script whose text mentions python (a start script that runs it)

    @property
    def written(self) -> bool:
        return self.op in (ADDED, CHANGED)


@dataclass
class Step:
    """One instruction of the observed stage chain and what its layer held."""

    line: int  # the instruction's first line in the Dockerfile
    instruction: str  # created_by as the builder recorded it
    keyword: str  # RUN, COPY, ENV, …
    files: list[FileChange] = field(default_factory=list)
    accounts: dict[str, list[str]] = field(default_factory=dict)  # users/groups this step created

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files if f.written)


@dataclass
class BaseFiles:
    """What one runtime base image holds that the runtime-base decision asks about: its
    libraries and programs (path -> symlink target, "" for a file), the folders ld.so searches
    (/etc/ld.so.conf and its includes) and its Debian packages. Read from the image's layers."""

    ref: str
    image_id: str
    paths: dict[str, str] = field(default_factory=dict)
    ld_dirs: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaseFiles:
        return cls(ref=data["ref"], image_id=data.get("image_id", ""), paths=dict(data.get("paths") or {}),
                   ld_dirs=list(data.get("ld_dirs") or []), packages=list(data.get("packages") or []))


@dataclass
class Observation:
    key: str  # cache key (Dockerfile, args, context, base images)
    builder: str
    steps: dict[int, Step] = field(default_factory=dict)  # by instruction line
    base_images: dict[str, str] = field(default_factory=dict)  # reference -> image id
    seconds: float = 0.0  # time the build and the layer reading took
    cached: bool = False  # True when read back from the cache (no build ran)
    notes: list[str] = field(default_factory=list)
    # library file name -> Debian packages of the built image whose dpkg .list names it (who owns libfoo.so.1)
    lib_owners: dict[str, list[str]] = field(default_factory=dict)
    # the runtime bases the final stage may run on (catalogue runtime variant, distro slim), by reference
    bases: dict[str, BaseFiles] = field(default_factory=dict)

    # -- questions the passes ask -------------------------------------------------------
    def step(self, line: int) -> Step:
        try:
            return self.steps[line]
        except KeyError:
            raise KeyError(f"no observed step at line {line} (observed: {sorted(self.steps)})") from None

    def step_outputs(self, line: int) -> list[FileChange]:
        """Files, links and directories the step added or changed (deletions left out)."""
        return [f for f in self.step(line).files if f.written]

    def written_paths(self, line: int) -> list[str]:
        """Paths of the files and links the step wrote (directories left out: every write
        also touches its parents)."""
        return [f.path for f in self.step_outputs(line) if f.kind != "d"]

    def deleted_paths(self, line: int) -> list[str]:
        return [f.path for f in self.step(line).files if f.op in (DELETED, CLEARED)]

    def size_under(self, line: int, folder: str) -> tuple[int, int]:
        """(files, bytes) the step wrote below ``folder``: the observed size a change reports
        ("/opt/tools: 3.1 MB from step 7")."""
        prefix = folder.rstrip("/") + "/"
        hits = [f for f in self.step_outputs(line) if f.kind != "d" and (f.path == folder or f.path.startswith(prefix))]
        return len(hits), sum(f.size for f in hits)

    def steps_writing(self, folder: str) -> list[int]:
        """Lines of the steps that wrote files below ``folder``, in order."""
        return [line for line in sorted(self.steps) if self.size_under(line, folder)[0]]

    def is_cache_only(self, line: int) -> bool:
        """True when everything the step wrote lies in package-manager or cache paths (apt
        lists, pip/npm caches, logs, /tmp): a build-only step whose output nothing reads.
        A step that wrote nothing is not cache-only (it is simply empty)."""
        written = self.written_paths(line)
        return bool(written) and all(is_cache_path(p) for p in written)

    def created_accounts(self, line: int) -> dict[str, list[str]]:
        """{"users": [...], "groups": [...]} the step added to /etc/passwd and /etc/group."""
        return {k: list(v) for k, v in self.step(line).accounts.items()}

    # -- JSON ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["steps"] = {str(k): v for k, v in out["steps"].items()}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Observation:
        steps = {}
        for k, v in data.get("steps", {}).items():
            files = [FileChange(**{k: tuple(x) if isinstance(x, list) else x  # type: ignore[arg-type]
                                   for k, x in f.items()}) for f in v.get("files", [])]
            steps[int(k)] = Step(line=v["line"], instruction=v["instruction"], keyword=v["keyword"], files=files,
                                 accounts={a: list(b) for a, b in (v.get("accounts") or {}).items()})
        return cls(key=data["key"], builder=data.get("builder", ""), steps=steps,
                   base_images=dict(data.get("base_images") or {}), seconds=float(data.get("seconds", 0.0)),
                   cached=bool(data.get("cached", False)), notes=list(data.get("notes") or []),
                   lib_owners={k: list(v) for k, v in (data.get("lib_owners") or {}).items()},
                   bases={k: BaseFiles.from_dict(v) for k, v in (data.get("bases") or {}).items()})


def is_cache_path(path: str) -> bool:
    """Package-manager state and caches (``data/observe.toml``)."""
    for pattern in load("observe")["cache_paths"]["patterns"]:
        if pattern.endswith("/"):
            if path.startswith(pattern) or path == pattern.rstrip("/"):
                return True
        elif fnmatch.fnmatchcase(path, pattern):
            return True
    return False
