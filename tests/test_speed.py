"""Speed regressions: work that must not be repeated, and no step that grows quadratically
with the size of a Dockerfile (CPU time, generous bounds: the machine is shared)."""

from __future__ import annotations

import pytest

from dockerslim import jit


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = jit.cst.parse_module

    def counting(code: str) -> object:
        seen.append(code)
        return real(code)

    monkeypatch.setattr(jit.cst, "parse_module", counting)
    jit._hits.cache_clear()
    return seen


def test_jit_scan_skips_sources_without_a_trigger_module_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """A source whose text names no trigger module cannot hold a trigger: libcst is not run."""
    parsed = _count_parses(monkeypatch)
    assert jit.scan_source("import os\nimport re\nre.compile('x')\nprint(os.getcwd())\n") == []
    assert parsed == []
    found = jit.scan_source("import torch as t\nmodel = t.compile(object())\n", "app.py")
    assert [(f.path, f.line, f.name) for f in found] == [("app.py", 2, "torch.compile")]
    assert len(parsed) == 1


def test_jit_scan_reads_each_content_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same file content (several passes, many projects sharing a file) is parsed once;
    findings still carry each caller's path."""
    parsed = _count_parses(monkeypatch)
    code = "from numba import njit\n\n@njit\ndef f(x):\n    return x\n"
    first = jit.scan_source(code, "a/f.py")
    second = jit.scan_source(code, "b/f.py")
    assert len(parsed) == 1
    assert [(f.path, f.line, f.name) for f in first] == [("a/f.py", 3, "numba.njit")]
    assert [(f.path, f.line, f.name) for f in second] == [("b/f.py", 3, "numba.njit")]
