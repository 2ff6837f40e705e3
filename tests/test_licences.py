"""dockerslim ships as MIT: every runtime dependency, followed recursively through the installed
packages' metadata, must carry a licence that allows that (MIT, BSD, Apache, PSF, ISC,
Unlicense, public domain, MPL-2.0). A GPL dependency (bashlex was one) fails this test."""

from __future__ import annotations

import importlib.metadata as md
import re
import tomllib
from collections.abc import Callable, Mapping
from email.message import Message
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

ALLOWED_SPDX = re.compile(
    r"^(MIT|MIT-0|BSD-[0-9]-Clause(-[A-Za-z]+)?|0BSD|Apache-2\.0|PSF-2\.0|Python-2\.0(\.1)?|ISC|"
    r"Unlicense|CC0-1\.0|MPL-2\.0|Zlib)$")
# Licence classifiers ("License :: OSI Approved :: MIT License") and free-text License fields.
ALLOWED_WORDS = re.compile(
    r"\b(MIT|BSD|Apache|Python Software Foundation|PSF|ISC|Unlicense|Public Domain|CC0|"
    r"Mozilla Public License 2\.0|MPL[- ]2\.0)\b", re.I)
DENIED_WORDS = re.compile(r"\b(GPL|AGPL|LGPL|General Public License|SSPL|Commons Clause|proprietary)\b", re.I)

Metadata = Callable[[str], Message]
Requires = Callable[[str], "list[str] | None"]


def runtime_closure(top: list[str], metadata: Metadata = md.metadata,  # type: ignore[assignment]
                    requires: Requires = md.requires) -> dict[str, Message]:
    """Metadata of ``top`` and of everything they require at run time (extras and markers that
    do not apply here left out), by canonical name."""
    found: dict[str, Message] = {}
    todo = [Requirement(r) for r in top]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name in found:
            continue
        found[name] = metadata(name)
        for sub in requires(name) or []:
            todo.append(Requirement(sub))
    return found


def _spdx_allowed(expression: str) -> bool:
    """A small SPDX reader: OR needs one allowed side, AND needs all, WITH keeps the licence."""
    expression = expression.replace("(", " ").replace(")", " ")
    return any(all(ALLOWED_SPDX.match(term.split(" WITH ")[0].strip()) for term in alt.split(" AND "))
               for alt in re.split(r"\s+OR\s+", expression.strip()))


def licence_problem(meta: Message) -> str | None:
    """Why this distribution's licence is not acceptable, or None when it is."""
    name = meta.get("Name", "?")
    expression = meta.get("License-Expression")
    if expression:
        return None if _spdx_allowed(expression) else f"{name}: License-Expression {expression!r}"
    classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    licence = (meta.get("License") or "").strip()
    texts = classifiers or ([licence] if licence and licence.upper() != "UNKNOWN" else [])
    if not texts:
        return f"{name}: no licence metadata"
    if any(ALLOWED_WORDS.search(t) and not DENIED_WORDS.search(t) for t in texts):
        return None  # several classifiers mean a choice of licences: one allowed one suffices
    return f"{name}: {'; '.join(t.splitlines()[0][:80] for t in texts)}"


def _runtime_dependencies() -> list[str]:
    dependencies: list[str] = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    return dependencies


def test_every_runtime_dependency_is_permissively_licensed() -> None:
    closure = runtime_closure(_runtime_dependencies())
    assert {"tree-sitter", "tree-sitter-bash", "typer", "libcst"} <= set(closure)
    assert "bashlex" not in closure
    problems = [p for p in map(licence_problem, closure.values()) if p]
    assert problems == []


def _meta(name: str, **fields: str | list[str]) -> Message:
    msg = Message()
    msg["Name"] = name
    for key, value in fields.items():
        for v in value if isinstance(value, list) else [value]:
            msg[key.replace("_", "-")] = v
    return msg


def test_checker_rejects_gpl_and_unknown_licences() -> None:
    gpl = "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)"
    assert licence_problem(_meta("bashlex", License="GPLv3+", Classifier=[gpl]))
    assert licence_problem(_meta("x", License_Expression="GPL-3.0-or-later"))
    assert licence_problem(_meta("x", License_Expression="MIT AND GPL-2.0-only"))
    assert licence_problem(_meta("x", License="GNU LGPL v2.1 or later"))
    assert licence_problem(_meta("x")) == "x: no licence metadata"
    assert licence_problem(_meta("x", License="UNKNOWN"))


def test_checker_accepts_permissive_licences() -> None:
    assert licence_problem(_meta("x", License_Expression="MIT")) is None
    assert licence_problem(_meta("x", License_Expression="Apache-2.0 OR GPL-2.0-only")) is None
    assert licence_problem(_meta("x", License_Expression="(BSD-3-Clause AND PSF-2.0)")) is None
    assert licence_problem(_meta("x", Classifier="License :: OSI Approved :: BSD License")) is None
    assert licence_problem(_meta("x", License="Mozilla Public License 2.0 (MPL 2.0)")) is None


def test_closure_follows_requirements_and_skips_extras() -> None:
    graph: Mapping[str, list[str]] = {"app": ["lib", "test-only; extra == 'test'", "old; python_version < '3'"],
                                      "lib": ["gpl-thing>=1"], "gpl-thing": []}
    licences = {"app": "MIT", "lib": "MIT", "gpl-thing": "GPL-3.0-only"}
    closure = runtime_closure(["app"], metadata=lambda n: _meta(n, License_Expression=licences[n]),
                              requires=lambda n: graph[n])
    assert set(closure) == {"app", "lib", "gpl-thing"}
    assert [p for p in map(licence_problem, closure.values()) if p] == ["gpl-thing: License-Expression 'GPL-3.0-only'"]
