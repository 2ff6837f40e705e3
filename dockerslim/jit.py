"""The JIT guard: find Python code in the build context that compiles at run time.

Runtime-only images lack compilers and headers; an app calling ``torch.compile``, Triton, Numba,
``cpp_extension.load`` or pyximport needs them while it runs. The scan reads every ``.py`` file
with libcst, whose ``QualifiedNameProvider`` resolves imports and scopes (``import torch as t``,
``from torch import compile``), so ``t.compile(model)`` is found as ``torch.compile`` and a
local function named ``compile`` is not. The triggers live in ``data/jit.toml``.

Each trigger also says what it needs at run time (``needs``: toolchains of ``[toolchain.*]``):
:func:`runtime_toolchain` turns the findings into the packages a runtime image installs
(``gcc libc6-dev`` for pyximport on python:3.12-slim), nothing (numba's CPU JIT brings LLVM in
its wheel), or the reasons the devel/full base stays (the CUDA toolkit, an unknown need).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider, QualifiedNameProvider, QualifiedNameSource

from .catalog import load

SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "site-packages", ".tox", "build", "dist"}
MAX_FILE_BYTES = 2_000_000


@dataclass(frozen=True)
class JitFinding:
    path: str  # relative to the context
    line: int
    name: str  # the trigger, fully qualified
    reason: str
    needs: tuple[str, ...] | None = None  # toolchains it needs at run time; None: unknown (keep the base)
    needs_why: str = ""  # why it needs those (or why they are unknown)
    cuda_needs: tuple[str, ...] = ()  # added when the base is a CUDA devel image
    keeps_packages: bool = False  # the compile may use what the Dockerfile installed (start scripts)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.name}: {self.reason}"


@dataclass(frozen=True)
class RuntimeToolchain:
    """What the findings need in the runtime image: packages to install there, or the findings
    that keep the devel/full base (each with why)."""

    packages: tuple[str, ...] = ()
    held: tuple[tuple[JitFinding, str], ...] = ()
    met: tuple[tuple[JitFinding, str], ...] = ()  # findings the runtime serves: what it does for each
    compiles_with_image: bool = False  # a met finding compiles with the image's tools (not only its wheels')

    @property
    def compiles(self) -> bool:
        """Some finding compiles with the image's tools (or needs what is not known)."""
        return bool(self.held) or self.compiles_with_image


def runtime_toolchain(
    findings: list[JitFinding] | tuple[JitFinding, ...],
    repository: str,
    family: str,
    python: str,
) -> RuntimeToolchain:
    """What ``findings`` need on the runtime variant of a base (its catalogue ``repository``,
    distribution ``family`` and interpreter path ``python``): ``[toolchain.*]`` of data/jit.toml.

    A toolchain the runtime ships needs nothing; one apt gives is installed (Debian/Ubuntu
    runtimes only); the CUDA toolkit, an unknown need or another family keeps the base."""
    tables: dict[str, dict[str, Any]] = load("jit").get("toolchain", {})
    cuda_base = repository in tables.get("cuda-toolkit", {}).get("devel_images", ())
    packages: list[str] = []
    held: list[tuple[JitFinding, str]] = []
    met: list[tuple[JitFinding, str]] = []
    compiler = False
    for finding in findings:
        if finding.needs is None:
            held.append((finding, f"what it needs at run time is not known ({finding.needs_why or 'no data'})"))
            continue
        needs = finding.needs + (finding.cuda_needs if cuda_base else ())
        mine: list[str] = []
        said: list[str] = []
        why_held = ""
        for name in needs:
            table = tables.get(name)
            what = str(table.get("what", name)) if table else name
            if table is None or table.get("keep"):
                why_held = f"it needs {what}"
                break
            if repository in table.get("in_runtime_of", ()):
                said.append(f"{what} (in the runtime image)")
                continue
            apt = table.get("distro_python_apt") if python == "/usr/bin/python3" else None
            apt = apt or table.get("apt")
            if not apt or family not in ("debian", "ubuntu"):
                why_held = f"it needs {what}, which dockerslim cannot install on a {family or 'unknown'} runtime image"
                break
            mine += [p for p in apt if p not in mine]
            said.append(f"{what} ({' '.join(apt)})")
        if why_held:
            held.append((finding, f"{why_held} ({finding.needs_why})" if finding.needs_why else why_held))
            continue
        packages += [p for p in mine if p not in packages]
        compiler = compiler or any(tables.get(n, {}).get("compiler", True) for n in needs)
        met.append((finding, (f"needs {', '.join(said)}" if said else "needs nothing of the image")
                    + (f": {finding.needs_why}" if finding.needs_why else "")))
    return RuntimeToolchain(tuple(packages), tuple(held), tuple(met), compiler)


def _dotted(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    if isinstance(node, cst.Call):
        return _dotted(node.func)
    return None


def module_name(node: cst.BaseExpression | None) -> str:
    """The dotted name of an import target (``torch.utils``), "" for none."""
    return _dotted(node) or "" if node is not None else ""


class _Scanner(cst.CSTVisitor):
    """Calls and decorators whose fully qualified name is a trigger (libcst resolves imports and
    scopes, so ``import torch as t; t.compile`` is found and a local ``compile`` or a parameter
    named ``t`` is not), and imports of trigger modules (``import pyximport``)."""

    METADATA_DEPENDENCIES = (PositionProvider, QualifiedNameProvider)

    def __init__(self, triggers: dict[str, str]) -> None:
        self.triggers = triggers
        self.hits: list[tuple[int, str]] = []

    def _hit(self, node: cst.CSTNode, name: str) -> None:
        for trigger in self.triggers:
            if name == trigger or name.startswith(trigger + "."):
                self.hits.append((self.get_metadata(PositionProvider, node).start.line, trigger))
                return

    def _qualified(self, at: cst.CSTNode, expr: cst.BaseExpression) -> None:
        for qualified in self.get_metadata(QualifiedNameProvider, expr, set()):
            if qualified.source is QualifiedNameSource.IMPORT:
                self._hit(at, qualified.name)

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            self._hit(node, module_name(alias.name))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None:
            return
        self._hit(node, module_name(node.module))  # importing a trigger module (pyximport, op builders)

    def visit_Call(self, node: cst.Call) -> None:
        self._qualified(node, node.func)

    def visit_Decorator(self, node: cst.Decorator) -> None:
        decorator = node.decorator
        self._qualified(node, decorator.func if isinstance(decorator, cst.Call) else decorator)


def scan_source(code: str, path: str = "<string>") -> list[JitFinding]:
    """JIT triggers in one Python source; a file that does not parse yields nothing."""
    triggers = {t["name"]: t for t in load("jit")["trigger"]}
    return [
        JitFinding(path, line, name, t["reason"], tuple(t["needs"]) if "needs" in t else None, t.get("needs_why", ""),
                   tuple(t.get("needs_on_cuda_base", ())))
        for line, name in _hits(code, tuple(triggers))
        for t in (triggers[name],)
    ]


@lru_cache(maxsize=4096)
def _hits(code: str, names: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    """(line, trigger) pairs in ``code``, first occurrence each, cached by content: a build
    context is scanned by several passes and many projects share the same files.

    Every qualified name the scanner can match is built from the names an ``import`` spells
    out, so a source whose text holds no trigger's top-level module name ("torch", "numba")
    cannot match and is not parsed (libcst set-up dominates a scan)."""
    if not any(name.split(".")[0] in code for name in names):
        return ()
    try:
        module = cst.parse_module(code)
    except cst.ParserSyntaxError:
        return ()
    scanner = _Scanner(dict.fromkeys(names, ""))
    MetadataWrapper(module).visit(scanner)
    return tuple(dict.fromkeys(scanner.hits))


def scan_context(context: Path) -> list[JitFinding]:
    """JIT triggers in every Python file of a build context, in path order (cached per folder
    and the files' modification times and sizes, since several passes ask)."""
    return list(_scan(str(context), _stamp(str(context))))


def _stamp(context: str) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime, size) of the Python files ``_scan`` reads; the folders it skips (a
    ``node_modules`` or ``.venv`` may hold most of a context) are not walked."""
    out = []
    for root, dirs, files in os.walk(context):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for name in files:
            if name.endswith(".py"):
                try:
                    st = os.stat(os.path.join(root, name))
                except OSError:
                    continue
                out.append((os.path.join(root, name), st.st_mtime_ns, st.st_size))
    return tuple(sorted(out))


@lru_cache(maxsize=64)
def _scan(context_str: str, stamp: tuple[tuple[str, int, int], ...]) -> tuple[JitFinding, ...]:
    context = Path(context_str)
    findings: list[JitFinding] = []
    for root, dirs, files in os.walk(context):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            full = Path(root, name)
            try:
                if full.stat().st_size > MAX_FILE_BYTES:
                    continue
                code = full.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            findings += scan_source(code, str(full.relative_to(context)))
    return tuple(findings)
