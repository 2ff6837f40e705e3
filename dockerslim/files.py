"""Finding Dockerfiles, reading them strictly, writing them back the way careful tools do.

Writing (``write_text``) never leaves a half-written file and never changes what the path *is*:

- a symlink stays a symlink: its final target is replaced, not the link;
- a FIFO or device (``-o /dev/stdout``) is written to, as a shell redirection would, never
  replaced by a regular file;
- a regular file keeps its mode, owner and group; its content goes to a temporary file in the
  same folder, is fsynced, renamed over the target, and the folder is fsynced;
- a file with several hard links is rewritten in place (truncate, write, fsync): a rename
  would detach it from its other names. This one case is not atomic, which we prefer to
  silently splitting the links;
- a file whose owner we cannot keep (not root, someone else's file in a folder we may write)
  is also rewritten in place rather than handed over to us;
- a new file gets the mode ``0o666 & ~umask``, like any file a shell creates.

Errors name the path they are about (``InputError`` for reading, ``OutputError`` for writing).
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from pathlib import Path

from .errors import InputError, OutputError
from .source import decode

SKIP_DIRS = {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache"}
STDIN = "-"


def is_dockerfile_name(name: str) -> bool:
    return name == "Dockerfile" or name.endswith(".Dockerfile") or name.startswith("Dockerfile.") or (
        name.lower() == "containerfile"
    )


def expand_paths(paths: list[str]) -> list[str]:
    """Files as given; directories searched for Dockerfile, *.Dockerfile, Dockerfile.*."""
    out: list[str] = []
    for p in paths:
        if p != STDIN and os.path.isdir(p):
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
                found += [os.path.join(root, f) for f in sorted(files) if is_dockerfile_name(f)]
            if not found:
                raise InputError("no Dockerfile found in this directory", path=p)
            out += found
        else:
            out.append(p)
    return out


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def read_bytes(path: str) -> bytes:
    """A regular file's bytes (stdin for "-"). Checked with ``stat`` before opening, so a FIFO
    or device given as input is refused at once instead of blocking the run."""
    if path == STDIN:
        return sys.stdin.buffer.read()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError("is a directory", path=path)
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"is {_kind(st.st_mode)}, not a regular file: refusing to read it", path=path)
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from None


def read_text(path: str, label: str | None = None) -> str:
    """The file's text (BOM kept). Binary and non-UTF-8 input raise DockerfileSyntaxError naming
    ``label`` (default: the path, ``<stdin>`` for "-"); missing or unreadable files InputError."""
    data = read_bytes(path)
    decode(data, label or ("<stdin>" if path == STDIN else path))
    return data.decode("utf-8")


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (/proc), else set-and-restore."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a folder; the rename itself is still atomic
    finally:
        os.close(fd)


def _write_into(path: str, data: bytes, *, truncate: bool) -> None:
    """Write into the existing file (FIFO, device, or a hard-linked file), keeping its inode."""
    flags = os.O_WRONLY | (os.O_TRUNC if truncate else 0)
    fd = os.open(path, flags)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if truncate:
            os.fsync(fd)
    finally:
        os.close(fd)


def _replace(target: str, data: bytes, st: os.stat_result | None) -> None:
    """Temporary file beside ``target`` → fsync → rename; mode and owner copied from ``st``."""
    folder = os.path.dirname(target) or "."
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder)
    try:
        if st is not None:
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
            if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
                os.fchown(fd, st.st_uid, st.st_gid)
            # fchown may clear setuid/setgid bits: set the mode again
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
        else:
            os.fchmod(fd, 0o666 & ~current_umask())
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, target)
    except BaseException:
        if fd != -1:
            os.close(fd)
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` as described in the module docstring; OSError → OutputError."""
    try:
        try:
            st: os.stat_result | None = os.stat(path)  # through any symlink
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise OutputError("is a directory", path=path)
        if st is not None and not stat.S_ISREG(st.st_mode):
            # FIFO, device, pipe (/dev/stdout is a link to one): write to it, as `>` would
            _write_into(path, data, truncate=False)
            return
        target = os.path.realpath(path) if os.path.islink(path) else path
        if st is not None and st.st_nlink > 1:
            _write_into(target, data, truncate=True)  # keep the hard links (not atomic)
            return
        try:
            _replace(target, data, st)
        except PermissionError as exc:
            # cannot keep the owner (fchown refused): rewrite in place so the file stays theirs
            if st is None or exc.errno not in (errno.EPERM, errno.EACCES) or not os.access(target, os.W_OK):
                raise
            _write_into(target, data, truncate=True)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", path=path) from None


def write_text(path: str, text: str) -> None:
    """Write ``text`` as UTF-8 (see ``write_bytes``)."""
    write_bytes(path, text.encode("utf-8"))


