"""The declared pipeline (``passes.PIPELINE``) is the one list of passes: every pass module is
in it once, named like its module and its fixture folder, documented; a module nobody lists
fails here instead of silently never running."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from dockerslim import passes
from dockerslim.guard import Policy
from dockerslim.passes import PIPELINE

from .conftest import FIXTURES

PASSES_DIR = Path(passes.__file__).parent


def _pass_modules() -> list[str]:
    """Modules under passes/ that define a pass (a top-level ``run`` function); ``_private``
    helper modules are not passes."""
    out = []
    for path in sorted(PASSES_DIR.glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text())
        if any(isinstance(n, ast.FunctionDef) and n.name == "run" for n in tree.body):
            out.append(path.stem)
    return out


def test_every_pass_module_is_listed_once() -> None:
    listed = [p.run.__module__.rsplit(".", 1)[-1] for p in PIPELINE]
    assert sorted(listed) == sorted(set(listed)), "a pass is listed twice"
    assert sorted(listed) == _pass_modules(), "passes/ holds a pass module PIPELINE does not list (it would never run)"


def test_ids_and_names_are_unique_and_well_formed() -> None:
    ids = [p.id for p in PIPELINE]
    names = [p.name for p in PIPELINE]
    assert len(set(ids)) == len(ids) and len(set(names)) == len(names)
    for p in PIPELINE:
        assert p.id[:2] == "DS" and p.id[2:].isdigit() and len(p.id) == 5, p.id
        assert p.name == p.name.lower() and " " not in p.name and "_" not in p.name


def test_name_matches_module_and_fixture_folder() -> None:
    for p in PIPELINE:
        module = inspect.getmodule(p.run)
        assert module is not None
        assert module.__name__.rsplit(".", 1)[-1] == p.name.replace("-", "_")
        assert (p.id, p.name, p.summary) == (module.ID, module.NAME, module.SUMMARY)
        folder = FIXTURES / "passes" / p.name
        assert folder.is_dir() and any(folder.glob("*/Dockerfile")), f"no per-pass fixtures in {folder}"


def test_every_pass_is_documented_and_guarded() -> None:
    for p in PIPELINE:
        module = inspect.getmodule(p.run)
        assert module is not None and module.__doc__ and len(module.__doc__.strip()) > 80, p.name
        assert p.summary and p.help.startswith(module.__doc__.strip()[:20])
        assert isinstance(p.commands, Policy)


def test_every_position_has_its_reason() -> None:
    """Each entry of PIPELINE is preceded by a comment line saying why it runs there."""
    source = inspect.getsource(passes)
    body = source[source.index("PIPELINE: tuple[Pass, ...] = ("):].splitlines()[1:]
    entries = [i for i, line in enumerate(body) if line.strip().startswith("Pass.of(")]
    assert len(entries) == len(PIPELINE)
    for i in entries:
        assert body[i - 1].strip().startswith("# "), body[i]


def test_unlisted_module_is_detected(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The registry check itself can fail: a new passes/x.py with a run() nobody lists."""
    for path in PASSES_DIR.glob("*.py"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "x.py").write_text('"""DS299 x: a pass nobody lists."""\n\ndef run(df, context):\n    return None\n')
    monkeypatch.setattr("tests.test_pipeline.PASSES_DIR", tmp_path)
    listed = sorted(p.run.__module__.rsplit(".", 1)[-1] for p in PIPELINE)
    assert listed != _pass_modules()
    assert "x" in _pass_modules()


def test_package_hygiene_reads_each_run_a_bounded_number_of_times(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Linear time: "does a later RUN need the apt lists" is one backward scan, not a re-read
    of every later RUN for each apt RUN (quadratic: 320 s for 10,000 lines before)."""
    from dockerslim import Options, rewrite
    from dockerslim.passes import package_hygiene

    calls = 0
    real = package_hygiene.run_commands

    def counting(node, *args):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return real(node, *args)

    monkeypatch.setattr(package_hygiene, "run_commands", counting)
    runs = 300
    text = "FROM debian:bookworm\n" + "".join(f"RUN apt-get install -y p{i}\nCOPY f{i} /f{i}\n" for i in range(runs))
    rewrite(text, options=Options(only=frozenset({"package-hygiene"})))
    assert calls <= 2 * runs


def test_the_diff_is_computed_only_when_asked(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    rw = sys.modules["dockerslim.rewrite"]  # the package's `rewrite` attribute is the function

    asked = []
    real = rw.unified_diff
    monkeypatch.setattr(rw, "unified_diff", lambda *a: asked.append(a) or real(*a))
    result = rw.rewrite("FROM debian:bookworm\nRUN apt-get install -y curl\n", path="x/Dockerfile")
    assert asked == []
    assert result.diff.startswith("--- a/x/Dockerfile\n+++ b/x/Dockerfile\n")
    assert result.diff and len(asked) == 1  # computed once, then cached
