"""Every CLI flag and exit code, through a real subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from dockerslim import __version__

from .conftest import run_cli

PLAIN = "FROM alpine:3.20\nRUN echo hi\n"


def _file(tmp_path: Path, text: str = PLAIN, name: str = "Dockerfile") -> Path:
    f = tmp_path / name
    f.write_text(text)
    return f


def test_version() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.decode().strip() == f"dockerslim {__version__}"


def test_help_lists_rewrite() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0 and "rewrite" in proc.stdout.decode()


def test_prints_rewrite_to_stdout(tmp_path: Path) -> None:
    proc = run_cli("rewrite", str(_file(tmp_path)))
    assert proc.returncode == 0 and proc.stdout.decode() == PLAIN


def test_stdin(tmp_path: Path) -> None:
    proc = run_cli("rewrite", "-", stdin=PLAIN.encode())
    assert proc.returncode == 0 and proc.stdout.decode() == PLAIN


def test_output_file(tmp_path: Path) -> None:
    out = tmp_path / "out.Dockerfile"
    proc = run_cli("rewrite", str(_file(tmp_path)), "-o", str(out))
    assert proc.returncode == 0 and out.read_text() == PLAIN and proc.stdout == b""


def test_unknown_option_is_usage_error(tmp_path: Path) -> None:
    proc = run_cli("rewrite", "--bogus", str(_file(tmp_path)))
    assert proc.returncode == 2


def test_in_place_and_output_conflict(tmp_path: Path) -> None:
    f = _file(tmp_path)
    proc = run_cli("rewrite", str(f), "--in-place", "-o", str(tmp_path / "x"))
    assert proc.returncode == 2 and "cannot be combined" in proc.stderr.decode()


def test_output_needs_one_input(tmp_path: Path) -> None:
    a, b = _file(tmp_path, name="a.Dockerfile"), _file(tmp_path, name="b.Dockerfile")
    proc = run_cli("rewrite", str(a), str(b), "-o", str(tmp_path / "x"))
    assert proc.returncode == 2


def test_check_unchanged_exits_0(tmp_path: Path) -> None:
    proc = run_cli("rewrite", "--check", str(_file(tmp_path)))
    assert proc.returncode == 0 and proc.stdout == b""


def test_json_format(tmp_path: Path) -> None:
    proc = run_cli("rewrite", "--format", "json", str(_file(tmp_path)))
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    entry = doc["files"][0]
    assert entry["text"] == PLAIN and entry["changed"] is False and entry["diff"] == ""
    assert set(entry) >= {"path", "changes", "notes", "layers", "passes"}


def test_directory_finds_all_dockerfile_names(tmp_path: Path) -> None:
    _file(tmp_path, name="Dockerfile")
    _file(tmp_path, name="api.Dockerfile")
    (tmp_path / "sub").mkdir()
    _file(tmp_path / "sub", name="Dockerfile.worker")
    _file(tmp_path, name="README.md")
    proc = run_cli("rewrite", "--format", "json", str(tmp_path))
    names = sorted(Path(e["path"]).name for e in json.loads(proc.stdout)["files"])
    assert names == ["Dockerfile", "Dockerfile.worker", "api.Dockerfile"]


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    proc = run_cli("rewrite", str(tmp_path))
    assert proc.returncode == 2 and "no Dockerfile found" in proc.stderr.decode()


def test_one_bad_file_among_good_ones_exits_2_but_reports_the_good(tmp_path: Path) -> None:
    good = _file(tmp_path, name="a.Dockerfile")
    bad = _file(tmp_path, "FROM alpine\nNOPE\n", name="b.Dockerfile")
    proc = run_cli("rewrite", "--format", "json", str(good), str(bad))
    assert proc.returncode == 2
    assert [e["path"] for e in json.loads(proc.stdout)["files"]] == [str(good)]
    assert f"{bad}:2: unknown instruction: NOPE" in proc.stderr.decode()


def test_explain_goes_to_stderr(tmp_path: Path) -> None:
    proc = run_cli("rewrite", "--explain", str(_file(tmp_path)))
    assert proc.stdout.decode() == PLAIN
    assert "change(s)" in proc.stderr.decode()
