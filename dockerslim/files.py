"""Finding Dockerfiles, reading them strictly, writing atomically (never a half-written file)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from .errors import DockerfileSyntaxError
from .source import decode

SKIP_DIRS = {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache"}


def is_dockerfile_name(name: str) -> bool:
    return name == "Dockerfile" or name.endswith(".Dockerfile") or name.startswith("Dockerfile.") or (
        name.lower() == "containerfile"
    )


def expand_paths(paths: list[str]) -> list[str]:
    """Files as given; directories searched for Dockerfile, *.Dockerfile, Dockerfile.*."""
    out: list[str] = []
    for p in paths:
        if p != "-" and os.path.isdir(p):
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
                found += [os.path.join(root, f) for f in sorted(files) if is_dockerfile_name(f)]
            if not found:
                raise DockerfileSyntaxError("no Dockerfile found in this directory", path=p)
            out += found
        else:
            out.append(p)
    return out


def read_text(path: str) -> str:
    """The file's text (BOM kept); stdin for "-". Binary, non-UTF-8 and missing files raise."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except FileNotFoundError:
        raise DockerfileSyntaxError("no such file", path=path) from None
    except IsADirectoryError:
        raise DockerfileSyntaxError("is a directory", path=path) from None
    except OSError as exc:
        raise DockerfileSyntaxError(f"cannot read: {exc.strerror or exc}", path=path) from None
    decode(data, "<stdin>" if path == "-" else path)  # raises on binary / non-UTF-8 input
    return data.decode("utf-8")


def write_atomic(path: str, text: str) -> None:
    """Write via a temporary file in the same folder and rename it over the target."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    mode = target.stat().st_mode & 0o7777 if target.exists() else None
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
