"""Does the app use CUDA at run time? The scan behind the nvidia/cuda ``base`` tag choice.

An app whose Python sources import none of the CUDA-using modules (``data/base_images.toml``
``[cuda]``) and whose requirement files name none of them can run on the small ``base`` tag
instead of ``runtime``. Any file that cannot be read counts as a user (the safe answer). The
result is cached per folder and modification times, since the decision is asked more than once.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from .jit import MAX_FILE_BYTES, SKIP_DIRS, module_name

REQUIREMENT_FILES = ("pyproject.toml", "Pipfile", "environment.yml")


def _stamp(context: Path) -> tuple[tuple[str, int], ...]:
    out = []
    for root, dirs, files in os.walk(context):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        out += [(str(Path(root, f)), Path(root, f).stat().st_mtime_ns) for f in sorted(files)]
    return tuple(out)


def uses_modules(context: Path, modules: set[str]) -> list[str]:
    """Where the context's Python sources import or its requirement files name one of
    ``modules`` ("path:line: module"); empty when none does."""
    return list(_uses(str(context), frozenset(modules), _stamp(Path(context))))


@lru_cache(maxsize=64)
def _uses(context_str: str, modules: frozenset[str], stamp: tuple[tuple[str, int], ...]) -> tuple[str, ...]:
    context = Path(context_str)
    found: list[str] = []
    for root, dirs, files in os.walk(context):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            full = Path(root, name)
            rel = str(full.relative_to(context))
            try:
                if full.stat().st_size > MAX_FILE_BYTES:
                    continue
                if name.endswith(".py"):
                    module = cst.parse_module(full.read_text(encoding="utf-8"))
                    wrapper = MetadataWrapper(module)
                    visitor = _ImportCollector()
                    wrapper.visit(visitor)
                    found += [f"{rel}:{line}: {top}" for line, top in visitor.imports if top in modules]
                elif (name.startswith("requirements") and name.endswith(".txt")) or name in REQUIREMENT_FILES:
                    for i, line in enumerate(full.read_text(encoding="utf-8").splitlines(), 1):
                        word = line.strip().split("#")[0].strip().strip("\"',").lower()
                        top = re.split(r"[\s=<>!~\[;@-]", word, maxsplit=1)[0] if word else ""
                        if top in modules:
                            found.append(f"{rel}:{i}: {top}")
            except (OSError, UnicodeDecodeError, cst.ParserSyntaxError):
                found.append(f"{rel}: could not be read (assuming it may use CUDA)")
    return tuple(found)


class _ImportCollector(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self) -> None:
        self.imports: list[tuple[int, str]] = []

    def visit_Import(self, node: cst.Import) -> None:
        line = self.get_metadata(PositionProvider, node).start.line
        self.imports += [(line, module_name(a.name).split(".")[0]) for a in node.names]

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.module is not None and not node.relative:
            self.imports.append(
                (self.get_metadata(PositionProvider, node).start.line, module_name(node.module).split(".")[0])
            )
