"""User configuration: ``.dockerslim.toml`` or ``[tool.dockerslim]`` in ``pyproject.toml``,
found in the Dockerfile's folder or the nearest parent; command-line flags override it.

    [tool.dockerslim]
    skip = ["merge-runs"]          # or only = [...]
    assembly = true
    keep_base = false
    runtime_base = "python:3.12-slim"
    no_install_recommends = true
    models_context = "models"
    data = ["dockerslim-data/"]    # folders with extra base_images/packages/tools/jit.toml
"""

from __future__ import annotations

import tomllib
from dataclasses import fields, replace
from pathlib import Path

from .errors import DockerslimError
from .options import Options

KEYS = {f.name for f in fields(Options)}


def find_config(start: Path) -> tuple[Path, dict] | None:
    """The nearest configuration at or above ``start``: (file, table)."""
    folder = start if start.is_dir() else start.parent
    for d in [folder.resolve(), *folder.resolve().parents]:
        own = d / ".dockerslim.toml"
        if own.is_file():
            return own, _read(own)
        project = d / "pyproject.toml"
        if project.is_file():
            table = _read(project).get("tool", {}).get("dockerslim")
            if table is not None:
                return project, table
        if (d / ".git").exists():
            break
    return None


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DockerslimError(f"{path}: cannot read configuration: {exc}") from None


def options_from(table: dict, source: Path) -> Options:
    unknown = set(table) - KEYS
    if unknown:
        raise DockerslimError(f"{source}: unknown setting(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(KEYS))})")
    values: dict = {}
    for key, value in table.items():
        if key in ("only", "skip"):
            values[key] = frozenset(value)
        elif key == "data":
            values[key] = tuple(str((source.parent / v).resolve()) for v in value)
        else:
            values[key] = value
    return Options(**values)


def merge(base: Options, **overrides: object) -> Options:
    """``base`` with the overrides that were actually given (None means not given)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(base, **given)
