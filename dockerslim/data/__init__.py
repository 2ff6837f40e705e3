"""The knowledge dockerslim acts on, as TOML files (loaded by ``dockerslim.catalog``)."""

from __future__ import annotations

import hashlib
import tomllib
from importlib import resources


def version() -> tuple[str, str]:
    """(the catalogue's version from ``version.toml``, sha256 of every bundled ``*.toml`` by name)."""
    folder = resources.files(__name__)
    h = hashlib.sha256()
    for item in sorted((f for f in folder.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name):
        h.update(item.name.encode() + b"\0" + item.read_bytes() + b"\0")
    return tomllib.loads(folder.joinpath("version.toml").read_text(encoding="utf-8"))["version"], h.hexdigest()
