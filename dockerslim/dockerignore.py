"""``.dockerignore`` reading and matching (Docker's rules: Go ``filepath.Match`` patterns plus
``**``, paths relative to the context root, a leading ``!`` re-includes, the last match wins),
and proposals for what a context should ignore.

Note: .dockerignore filters the build context only; ``COPY --from=<stage|image|context>`` is
not affected by it.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ir import Dockerfile

# What a context should usually not send: (pattern, why). Data kept beside the code that uses it.
SUGGESTIONS: tuple[tuple[str, str], ...] = (
    (".git", "version control history"),
    ("**/__pycache__", "Python bytecode caches"),
    ("**/*.py[cod]", "compiled Python files"),
    (".venv", "a local virtualenv (the image builds its own)"),
    ("venv", "a local virtualenv (the image builds its own)"),
    ("**/.ipynb_checkpoints", "notebook checkpoints"),
    ("node_modules", "installed Node packages (the image installs its own)"),
    (".pytest_cache", "test caches"),
    (".mypy_cache", "type-checker caches"),
    ("dist", "build outputs"),
    ("build", "build outputs"),
    ("*.egg-info", "build metadata"),
    ("data", "datasets"),
    ("datasets", "datasets"),
    ("**/*.safetensors", "model weights"),
    ("**/*.ckpt", "model checkpoints"),
    ("**/*.pt", "model weights"),
    ("**/*.pth", "model weights"),
    ("**/*.gguf", "model weights"),
    ("**/*.onnx", "model weights"),
    ("**/*.h5", "model weights"),
    ("checkpoints", "model checkpoints"),
    (".env", "local secrets"),
)


@dataclass(frozen=True)
class Rule:
    pattern: str
    negate: bool
    regex: re.Pattern[str]


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            if i < len(pattern) and pattern[i] == "/":
                i += 1
                out = out[:-2] + "(?:.*/)?"
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = pattern.find("]", i)
            if j == -1:
                out += re.escape(c)
            else:
                body = pattern[i + 1:j].replace("\\", "\\\\")
                out += "[" + ("^" + body[1:] if body.startswith("^") else body) + "]"
                i = j
        else:
            out += re.escape(c)
        i += 1
    return re.compile(f"^{out}(?:/.*)?$")


def parse_rules(text: str) -> list[Rule]:
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line[1:].strip() if negate else line).lstrip("/")
        if pattern in (".", ""):
            continue
        rules.append(Rule(pattern, negate, _compile(pattern)))
    return rules


def ignored(path: str, rules: list[Rule]) -> bool:
    """Whether a context-relative path is excluded (a folder's exclusion covers its files)."""
    verdict = False
    for rule in rules:
        if rule.regex.match(path):
            verdict = not rule.negate
    return verdict


def load(context: Path) -> list[Rule]:
    f = context / ".dockerignore"
    return parse_rules(f.read_text(encoding="utf-8", errors="replace")) if f.is_file() else []


def context_files(context: Path) -> list[tuple[str, int]]:
    """(relative path, size) of every file the build would send, after .dockerignore."""
    rules = load(context)
    out = []
    for root, dirs, files in os.walk(context):
        rel_root = os.path.relpath(root, context)
        rel_root = "" if rel_root == "." else rel_root
        dirs[:] = [d for d in dirs
                   if not (ignored(os.path.join(rel_root, d), rules) and not any(r.negate for r in rules))]
        for name in files:
            rel = os.path.join(rel_root, name)
            if not ignored(rel, rules):
                with contextlib.suppress(OSError):
                    out.append((rel, os.path.getsize(os.path.join(root, name))))
    return sorted(out)


def _needed(df: Dockerfile) -> list[str]:
    """Context paths COPY/ADD name explicitly: a proposal must never ignore these."""
    from . import ir

    needed: list[str] = []
    for node in df.instructions():
        if isinstance(node, ir.Copy) and node.flag("from") is None and not node.heredocs:
            needed += [os.path.normpath(s).lstrip("/") for s in node.sources if s not in (".", "./") and "://" not in s]
    return needed


def propose(context: Path, df: Dockerfile | None = None) -> list[tuple[str, str, int]]:
    """(pattern, why, bytes it saves) for suggestions that match something in the context and
    exclude nothing a COPY/ADD names."""
    current = load(context)
    needed = _needed(df) if df is not None else []
    out = []
    all_files: list[tuple[str, int]] = []
    for root, _dirs, files in os.walk(context):
        rel_root = os.path.relpath(root, context)
        for name in files:
            rel = os.path.normpath(os.path.join(rel_root, name))
            with contextlib.suppress(OSError):
                all_files.append((rel, os.path.getsize(os.path.join(root, name))))
    for pattern, why in SUGGESTIONS:
        rule = parse_rules(pattern)
        hits = [(p, n) for p, n in all_files if ignored(p, rule) and not ignored(p, current)]
        if not hits:
            continue
        if any(ignored(p, rule) or any(h.startswith(p.rstrip("/") + "/") for h, _ in hits) for p in needed):
            continue
        if any(pattern == r.pattern for r in current):
            continue
        out.append((pattern, why, sum(n for _, n in hits)))
    return out


def proposed_text(context: Path, df: Dockerfile | None = None) -> tuple[str, str]:
    """(current .dockerignore text, proposed text) — the proposal appends to the current file."""
    f = context / ".dockerignore"
    before = f.read_text(encoding="utf-8", errors="replace") if f.is_file() else ""
    additions = propose(context, df)
    if not additions:
        return before, before
    lines = [before.rstrip("\n")] if before.strip() else []
    lines.append("# added by dockerslim dockerignore")
    last_why = None
    for pattern, why, _size in additions:
        if why != last_why:
            lines.append(f"# {why}")
            last_why = why
        lines.append(pattern)
    return before, "\n".join(lines) + "\n"
