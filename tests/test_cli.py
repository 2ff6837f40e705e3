"""Every CLI exit code and write-back mode, in-process through typer's CliRunner (fast), plus
exactly one subprocess smoke test of the real console entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from dockerslim import __version__
from dockerslim.cli import app

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PLAIN = "FROM alpine:3.20\nRUN echo hi\n"  # nothing to rewrite
# A file the rewrite changes (two RUNs merge); no COPY, so no build-context warning either.
BLOATED = "FROM alpine:3.20\nRUN echo one\nRUN echo two\n"
TORCH = FIXTURES / "rewrite" / "pytorch-torch-compile"


def invoke(*args: str, stdin: bytes | str | None = None, env: dict[str, str] | None = None) -> Result:
    """Run the CLI in this process: real exit codes, stdout and stderr kept apart."""
    base = {"NO_COLOR": "1", "FORCE_COLOR": None, "DOCKERSLIM_DEBUG": None}
    return CliRunner().invoke(app, list(args), input=stdin, env={**base, **(env or {})}, catch_exceptions=False)


def _file(folder: Path, text: str = PLAIN, name: str = "Dockerfile") -> Path:
    f = folder / name
    f.write_text(text)
    return f


def _one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dockerslim: error: "), result.stderr
    return lines[0]


def test_rewrite_changes_the_bloated_sample() -> None:
    from dockerslim import rewrite

    assert rewrite(BLOATED).changed and not rewrite(PLAIN).changed


# --- help, version, choices -----------------------------------------------------------------

def test_version() -> None:
    from dockerslim.data import version as data_version

    result = invoke("--version")
    data, digest = data_version()
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [f"dockerslim {__version__}", f"data catalogue {data} (sha256 {digest[:12]})"]


def _commands() -> list[str]:
    import typer

    return sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_every_command_is_listed() -> None:
    assert {"rewrite", "verify", "dockerignore", "config-schema"} <= set(_commands())


@pytest.mark.parametrize("command", _commands())
def test_help_is_tidy(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0
    for noise in ("<str>", "<bool>", "<list[str]>", "<text|json|sarif>"):
        assert noise not in result.stdout
    assert invoke(command, "-h").stdout == result.stdout
    assert "{" not in result.stdout.splitlines()[0]  # usage line: PATH..., not {PATH}...


def test_help_keeps_brackets_in_text() -> None:
    assert "[tool.dockerslim]" in invoke("rewrite", "--help").stdout


def test_root_help_lists_commands_and_completion() -> None:
    out = invoke("--help").stdout
    assert "rewrite" in out and "verify" in out and "config-schema" in out and "--install-completion" in out


@pytest.mark.parametrize("args", [
    ("verify", "--builder", "podman"), ("verify", "--pull", "sometimes"), ("rewrite", "--format", "xml", "x"),
])
def test_choices_are_enums(args: tuple[str, ...]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2 and "Invalid value" in result.stderr


def test_unknown_option_is_usage_error(tmp_path: Path) -> None:
    assert invoke("rewrite", "--bogus", str(_file(tmp_path))).exit_code == 2


# --- write-back modes -----------------------------------------------------------------------

def test_stdout_mode(tmp_path: Path) -> None:
    result = invoke("rewrite", str(_file(tmp_path)))
    assert result.exit_code == 0 and result.stdout == PLAIN


def test_stdout_mode_with_several_files_labels_each(tmp_path: Path) -> None:
    a, b = _file(tmp_path, name="a.Dockerfile"), _file(tmp_path, name="b.Dockerfile")
    out = invoke("rewrite", str(a), str(b)).stdout
    assert out == f"==> {a} <==\n{PLAIN}==> {b} <==\n{PLAIN}"


def test_stdin() -> None:
    result = invoke("rewrite", "-", stdin=PLAIN)
    assert result.exit_code == 0 and result.stdout == PLAIN


def test_check_exits_1_when_a_file_would_change_and_writes_nothing(tmp_path: Path) -> None:
    bloated, plain = _file(tmp_path, BLOATED, "a.Dockerfile"), _file(tmp_path, PLAIN, "b.Dockerfile")
    result = invoke("rewrite", "--check", str(bloated), str(plain))
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"would rewrite {bloated}" and lines[1].startswith("1 of 2 files would be rewritten (3 → ")
    assert len(lines) == 2
    assert bloated.read_text() == BLOATED


def test_check_exits_0_when_nothing_would_change(tmp_path: Path) -> None:
    result = invoke("rewrite", "--check", str(_file(tmp_path)))
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == "0 of 1 file would be rewritten\n"


def test_diff_prints_a_unified_diff_and_writes_nothing(tmp_path: Path) -> None:
    f = _file(tmp_path, BLOATED)
    result = invoke("rewrite", "--diff", str(f))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"--- a/{str(f).lstrip('/')}" and lines[1] == f"+++ b/{str(f).lstrip('/')}"
    assert "-RUN echo one" in lines and any(line.startswith("+RUN echo one") for line in lines)
    assert f.read_text() == BLOATED


def test_check_with_diff_shows_the_diff_and_exits_1(tmp_path: Path) -> None:
    result = invoke("rewrite", "--check", "--diff", str(_file(tmp_path, BLOATED)))
    assert result.exit_code == 1 and result.stdout.startswith("--- a/")


def test_in_place_rewrites_changed_files_only(tmp_path: Path) -> None:
    bloated, plain = _file(tmp_path, BLOATED, "a.Dockerfile"), _file(tmp_path, PLAIN, "b.Dockerfile")
    os.utime(plain, (1_000_000, 1_000_000))
    result = invoke("rewrite", "-i", str(bloated), str(plain))
    assert result.exit_code == 0 and result.stdout == ""
    from dockerslim import rewrite

    slim = rewrite(BLOATED).text
    size = f"3 → {len(slim.splitlines())} lines, {len(BLOATED)} → {len(slim)} bytes"
    assert result.stderr.splitlines() == [f"rewrote {bloated}", f"rewrote 1 of 2 files ({size})"]

    assert bloated.read_text() == rewrite(BLOATED).text
    assert plain.stat().st_mtime == 1_000_000  # an unchanged file is not touched


def test_output_file_carries_the_generated_header(tmp_path: Path) -> None:
    from dockerslim import generated

    (tmp_path / "out").mkdir()
    src, out = _file(tmp_path), tmp_path / "out" / "Dockerfile.slim"
    result = invoke("rewrite", str(src), "-o", str(out))
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""
    header = f"# Generated by dockerslim {__version__} from ../Dockerfile (sha256 {generated.source_digest(PLAIN)}); " \
             "edit the source, not this file\n"
    assert out.read_text() == header + PLAIN
    assert invoke("rewrite", str(src)).stdout == PLAIN  # stdout stays header-free


def test_output_file_from_stdin_is_headed_only_with_a_name(tmp_path: Path) -> None:
    out = tmp_path / "Dockerfile.slim"
    assert invoke("rewrite", "-", "-o", str(out), stdin=PLAIN).exit_code == 0
    assert out.read_text() == PLAIN  # nothing to name: no header
    named = invoke("rewrite", "-", "--stdin-filename", str(tmp_path / "Dockerfile"), "-o", str(out), stdin=PLAIN)
    assert named.exit_code == 0 and out.read_text().startswith("# Generated by dockerslim ")


def test_check_output_means_file_is_up_to_date(tmp_path: Path) -> None:
    src, out = _file(tmp_path, BLOATED), tmp_path / "generated.Dockerfile"
    missing = invoke("rewrite", "--check", "-o", str(out), str(src))
    assert missing.exit_code == 1 and not out.exists()
    assert missing.stderr == f"{out}: does not exist; generate it with dockerslim rewrite SOURCE -o {out}\n"
    assert invoke("rewrite", "-o", str(out), str(src)).exit_code == 0
    assert invoke("rewrite", "--check", "-o", str(out), str(src)).exit_code == 0
    assert invoke("check-generated", str(out)).exit_code == 0  # the same file check-generated accepts
    out.write_text(out.read_text() + "# hand edit\n")
    stale = invoke("rewrite", "--check", "--diff", "-o", str(out), str(src))
    assert stale.exit_code == 1 and "-# hand edit" in stale.stdout
    assert stale.stderr.startswith(f"{out}: differs from the rewrite of Dockerfile at line ")
    assert out.read_text().endswith("# hand edit\n")  # --check writes nothing


def test_check_output_names_a_changed_source_and_a_missing_header(tmp_path: Path) -> None:
    src, out = _file(tmp_path, BLOATED), tmp_path / "Dockerfile.slim"
    assert invoke("rewrite", "-o", str(out), str(src)).exit_code == 0
    src.write_text(BLOATED + "RUN echo three\n")
    changed = invoke("rewrite", "--check", "-o", str(out), str(src))
    assert changed.exit_code == 1 and len(changed.stderr.splitlines()) == 1
    assert changed.stderr.startswith(f"{out}: source Dockerfile changed since it was generated")
    out.write_text(PLAIN)
    bare = invoke("rewrite", "--check", "-o", str(out), str(src))
    assert bare.exit_code == 1 and "no dockerslim header" in bare.stderr
    assert invoke("rewrite", "-o", str(out), str(src)).exit_code == 0
    other = _file(tmp_path, BLOATED + "RUN echo three\n", "other.Dockerfile")
    wrong = invoke("rewrite", "--check", "-o", str(out), str(other))
    assert wrong.exit_code == 1
    assert wrong.stderr.startswith(f"{out}: generated from Dockerfile, not from other.Dockerfile")


@pytest.mark.parametrize(("flags", "reason"), [
    (["--check", "-i"], "--check writes nothing; it cannot be combined with --in-place"),
    (["-i", "-o", "OUT"], "--in-place and --output cannot be combined"),
    (["--diff", "-i"], "--diff writes nothing"),
    (["--diff", "-o", "OUT"], "with --output it needs --check"),
    (["--diff", "--format", "json"], "--diff prints a text diff"),
    (["-o", "OUT", "SECOND"], "--output takes exactly one input file (got 2)"),
    (["-i", "-"], "--in-place cannot rewrite stdin"),
    (["-", "-"], "stdin ('-') can be read only once"),
    (["--stdin-filename", "x/Dockerfile"], "--stdin-filename names the file read from stdin"),
    (["--config", "CFG", "--isolated"], "--config and --isolated cannot be combined"),
    (["-q", "-v"], "--quiet and --verbose cannot be combined"),
    (["-", "--jobs", "2"], "--jobs runs the static rewrite of files in parallel"),
    (["--context", "NOWHERE"], "--context NOWHERE: not a folder"),
    (["--runtime-base", "Not An Image"], "--runtime-base: not an image reference"),
    (["--skip", "mrege-runs"], "--skip: unknown pass 'mrege-runs' (did you mean 'merge-runs'?)"),
])
def test_contradictions_exit_2_with_one_line(tmp_path: Path, flags: list[str], reason: str) -> None:
    f = _file(tmp_path, BLOATED)
    second = _file(tmp_path, name="b.Dockerfile")
    args = [str(second) if a == "SECOND" else str(tmp_path / "o") if a == "OUT" else a for a in flags]
    result = invoke("rewrite", str(f), *args, stdin=PLAIN)
    assert result.exit_code == 2 and reason in _one_error_line(result)
    assert f.read_text() == BLOATED and not (tmp_path / "o").exists()


def test_a_bad_configuration_stops_the_run_with_one_line(tmp_path: Path) -> None:
    (tmp_path / ".dockerslim.toml").write_text("skip = 5\n")
    files = [str(_file(tmp_path, BLOATED, f"{i}.Dockerfile")) for i in range(3)]
    result = invoke("rewrite", "--check", *files)
    assert result.exit_code == 2 and result.stdout == ""
    reason = "skip: expected a name or a list of names (got 5)"
    assert result.stderr == f"dockerslim: error: {tmp_path / '.dockerslim.toml'}: {reason}\n"


# --- formats and --explain ------------------------------------------------------------------

def test_json_format(tmp_path: Path) -> None:
    result = invoke("rewrite", "--format", "json", str(_file(tmp_path)))
    entry = json.loads(result.stdout)["files"][0]
    assert result.exit_code == 0 and entry["text"] == PLAIN and entry["changed"] is False and entry["diff"] == ""
    assert set(entry) >= {"path", "changes", "notes", "layers", "passes"}


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_every_format_honours_explain(tmp_path: Path, fmt: str) -> None:
    f = _file(tmp_path, BLOATED)
    result = invoke("rewrite", "--explain", "--format", fmt, str(f))
    assert result.exit_code == 0
    assert f"{f}: 1 change(s)" in result.stderr and "merge-runs" in result.stderr
    if fmt != "text":
        json.loads(result.stdout)  # stdout stays a clean document


def test_directory_finds_all_dockerfile_names(tmp_path: Path) -> None:
    _file(tmp_path, name="Dockerfile")
    _file(tmp_path, name="api.Dockerfile")
    (tmp_path / "sub").mkdir()
    _file(tmp_path / "sub", name="Dockerfile.worker")
    _file(tmp_path, name="README.md")
    result = invoke("rewrite", "--format", "json", str(tmp_path))
    names = sorted(Path(e["path"]).name for e in json.loads(result.stdout)["files"])
    assert names == ["Dockerfile", "Dockerfile.worker", "api.Dockerfile"]


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    result = invoke("rewrite", str(tmp_path))
    assert result.exit_code == 2 and "no Dockerfile found" in _one_error_line(result)


def test_one_bad_file_among_good_ones_exits_2_but_reports_the_good(tmp_path: Path) -> None:
    good = _file(tmp_path, name="a.Dockerfile")
    bad = _file(tmp_path, "FROM alpine\nNOPE\n", name="b.Dockerfile")
    result = invoke("rewrite", "--format", "json", str(good), str(bad))
    assert result.exit_code == 2
    assert [e["path"] for e in json.loads(result.stdout)["files"]] == [str(good)]
    assert f"{bad}:2: unknown instruction: NOPE" in result.stderr


def test_check_with_a_bad_file_exits_2_and_says_so(tmp_path: Path) -> None:
    good = _file(tmp_path, BLOATED, name="a.Dockerfile")
    bad = _file(tmp_path, "FROM alpine\nNOPE\n", name="b.Dockerfile")
    result = invoke("rewrite", "--check", str(good), str(bad))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith("1 of 2 files would be rewritten (")
    assert result.stderr.splitlines()[-1].endswith("; 1 could not be rewritten")


def _fleet(folder: Path) -> list[Path]:
    """Seven files in sub-folders: bloated, plain, and one that is not a Dockerfile."""
    files = []
    for i in range(7):
        (folder / f"svc{i}").mkdir()
        text = "FROM alpine\nNOPE\n" if i == 3 else BLOATED if i % 2 == 0 else PLAIN
        files.append(_file(folder / f"svc{i}", text))
    return files


@pytest.mark.parametrize("mode", [[], ["--check", "--diff"], ["--format", "json"]])
def test_jobs_do_not_change_the_output(tmp_path: Path, mode: list[str]) -> None:
    _fleet(tmp_path)
    serial = invoke("rewrite", *mode, "--jobs", "1", str(tmp_path))
    parallel = invoke("rewrite", *mode, "--jobs", "2", str(tmp_path))
    assert serial.exit_code == parallel.exit_code == 2  # the broken file, after all the others
    assert (serial.stdout, serial.stderr) == (parallel.stdout, parallel.stderr)
    assert f"{tmp_path / 'svc3' / 'Dockerfile'}:2: unknown instruction: NOPE" in parallel.stderr
    assert parallel.stdout.count("==> ") in (0, 6)  # every good file, none half-printed


def test_jobs_in_place_writes_the_good_files_and_names_the_bad_one(tmp_path: Path) -> None:
    files = _fleet(tmp_path)
    result = invoke("rewrite", "-i", "--jobs", "2", str(tmp_path))
    from dockerslim import rewrite

    assert result.exit_code == 2
    assert [f.read_text() for f in files if "NOPE" not in f.read_text()] == \
        [rewrite(BLOATED).text, PLAIN, rewrite(BLOATED).text, rewrite(BLOATED).text, PLAIN, rewrite(BLOATED).text]
    slim = rewrite(BLOATED).text
    size = f"{4 * 3} → {4 * len(slim.splitlines())} lines, {4 * len(BLOATED)} → {4 * len(slim)} bytes"
    assert result.stderr.splitlines()[-1] == f"rewrote 4 of 7 files ({size}); 1 could not be rewritten"


def test_verbose_fleet_prints_one_summary_table(tmp_path: Path) -> None:
    _fleet(tmp_path)
    result = invoke("rewrite", "--check", "-v", "--jobs", "2", str(tmp_path))
    assert result.exit_code == 2 and result.stderr.count("dockerslim rewrite") == 1
    assert "total: 4 of 7 changed" in result.stderr and "12 → " in result.stderr
    assert invoke("rewrite", "--check", "--jobs", "2", str(tmp_path)).stderr.count("total:") == 0


# --- verbosity and colour -------------------------------------------------------------------

def test_quiet_prints_nothing_but_keeps_the_exit_code(tmp_path: Path) -> None:
    result = invoke("rewrite", "--check", "-q", str(_file(tmp_path, BLOATED)))
    assert result.exit_code == 1 and result.stderr == "" and result.stdout == ""


def test_verbose_names_unchanged_files_and_passes(tmp_path: Path) -> None:
    f = _file(tmp_path)
    result = invoke("rewrite", "--check", "-v", str(f))
    assert f"unchanged {f}" in result.stderr and f"{f}: passes run: " in result.stderr


def test_warning_notes_reach_stderr_and_quiet_hides_them() -> None:
    text = (TORCH / "Dockerfile").read_text()
    loud = invoke("rewrite", "-", stdin=text)
    assert "dockerslim: warning: <stdin>:" in loud.stderr and "no build context" in loud.stderr
    assert invoke("rewrite", "-q", "-", stdin=text).stderr == ""


def test_coloured_diff_keeps_tabs_and_text(tmp_path: Path) -> None:
    from dockerslim.report import colour_diff

    diff = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-RUN\techo one\n+RUN\techo two\n context\n"
    coloured = colour_diff(diff)
    assert "\x1b[32m+RUN\techo two\x1b[0m\n" in coloured and "\x1b[31m-RUN\techo one\x1b[0m\n" in coloured
    assert coloured.endswith(" context\n") and __import__("re").sub(r"\x1b\[[0-9;]*m", "", coloured) == diff


@pytest.mark.parametrize(("env", "flag", "coloured"), [
    ({"NO_COLOR": "1"}, None, False),
    ({"NO_COLOR": None, "FORCE_COLOR": "1"}, None, True),
    ({"NO_COLOR": "1"}, "--color", True),
    ({"NO_COLOR": None, "FORCE_COLOR": "1"}, "--no-color", False),
    ({"NO_COLOR": None}, None, False),  # not a terminal
])
def test_colour_follows_flags_and_environment(tmp_path: Path, env: dict, flag: str | None, coloured: bool) -> None:
    args = ["rewrite", "--diff", *([flag] if flag else []), str(_file(tmp_path, BLOATED))]
    result = invoke(*args, env=env)
    assert result.exit_code == 0 and ("\x1b[" in result.stdout) is coloured


# --- stdin with a file name -----------------------------------------------------------------

def test_stdin_filename_gives_context_and_label() -> None:
    text = (TORCH / "Dockerfile").read_text()
    result = invoke("rewrite", "-", "--stdin-filename", str(TORCH / "Dockerfile"), stdin=text)
    assert result.exit_code == 0
    assert result.stdout == (TORCH / "expected.Dockerfile").read_text()
    assert "serve.py:8" in result.stderr  # the JIT guard read the sources beside that path
    assert "no build context" not in result.stderr and f"{TORCH / 'Dockerfile'}:" in result.stderr


def test_stdin_filename_finds_configuration_from_that_path(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".dockerslim.toml").write_text('skip = "merge-runs"\n')
    plain = invoke("rewrite", "-", stdin=BLOATED)
    configured = invoke("rewrite", "-", "--stdin-filename", str(tmp_path / "sub" / "Dockerfile"), stdin=BLOATED)
    assert plain.stdout != BLOATED and configured.stdout == BLOATED


def test_stdin_filename_context_flag_wins(tmp_path: Path) -> None:
    text = (TORCH / "Dockerfile").read_text()
    result = invoke("rewrite", "-", "--stdin-filename", str(tmp_path / "Dockerfile"), "--context", str(TORCH),
                    stdin=text)
    assert "serve.py:8" in result.stderr


# --- the one subprocess test ----------------------------------------------------------------

def test_console_entry_point_smoke(tmp_path: Path) -> None:
    """The real process: `python -m dockerslim`, a non-UTF-8 locale, a non-ASCII Dockerfile.
    The output is the file's UTF-8 bytes and no traceback reaches the user."""
    f = tmp_path / "Dockerfile"
    f.write_bytes("FROM alpine:3.20\nLABEL author=\"Zoë Ångström\"\nRUN echo héllo\n".encode())
    env = dict(os.environ, PYTHONIOENCODING="ascii", LC_ALL="C", NO_COLOR="1")
    env.pop("DOCKERSLIM_DEBUG", None)
    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "dockerslim", *args], capture_output=True, env=env, timeout=120)

    proc = run("rewrite", str(f))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f.read_bytes()
    to_device = run("rewrite", str(f), "-o", "/dev/stdout")
    # written to, not replaced; a device gets the bare rewrite (no generated-file header)
    assert to_device.returncode == 0 and to_device.stdout == f.read_bytes()
    bad = run("rewrite", str(tmp_path / "nö"))
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr and bad.stderr.startswith(b"dockerslim: error: ")
