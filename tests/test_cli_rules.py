"""The rule catalogue on the command line (``rules``, ``rule ID``, ``--select/--ignore``),
``--version`` with the data catalogue's version, and ``--format github`` annotations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockerslim.rules import catalogue

from .test_cli import BLOATED, invoke


def test_rules_lists_every_rule_of_the_catalogue() -> None:
    result = invoke("rules")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "KIND", "SUMMARY"]
    assert [line.split()[:3] for line in lines[1:]] == [[r.id, r.name, r.kind] for r in catalogue()]
    assert all(r.summary in result.stdout for r in catalogue())


def test_rules_as_json() -> None:
    data = json.loads(invoke("rules", "--format", "json").stdout)
    assert [(d["id"], d["name"], d["help"]) for d in data] == [(r.id, r.name, r.help) for r in catalogue()]


@pytest.mark.parametrize("spelling", ["DS201", "ds201", "merge-runs"])
def test_rule_prints_its_help(spelling: str) -> None:
    result = invoke("rule", spelling)
    entry = next(r for r in catalogue() if r.id == "DS201")
    assert result.exit_code == 0
    assert result.stdout.startswith("# merge-runs (DS201)\n")
    assert entry.help in result.stdout and "--ignore DS201" in result.stdout


def test_a_parse_rule_says_it_changes_nothing() -> None:
    result = invoke("rule", "DS001")
    assert result.exit_code == 0 and "changes nothing" in result.stdout and "--ignore" not in result.stdout


def test_unknown_rule_exits_2_with_a_suggestion() -> None:
    result = invoke("rule", "DS21")
    assert result.exit_code == 2 and result.stdout == ""
    assert "unknown rule 'DS21' (did you mean 'DS201'?)" in result.stderr


@pytest.mark.parametrize("flags, merged", [
    (["--ignore", "DS201"], False),
    (["--ignore", "merge-runs"], False),
    (["--select", "DS202"], False),
    (["--select", "DS201"], True),
])
def test_select_and_ignore_take_rule_ids(tmp_path: Path, flags: list[str], merged: bool) -> None:
    (tmp_path / "Dockerfile").write_text(BLOATED)
    result = invoke("rewrite", *flags, str(tmp_path / "Dockerfile"))
    assert result.exit_code == 0
    assert ("&& echo two" in result.stdout) is merged


def test_ignore_of_an_unknown_id_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(BLOATED)
    result = invoke("rewrite", "--ignore", "DS299", str(tmp_path / "Dockerfile"))
    assert result.exit_code == 2 and "DS299" in result.stderr


def test_version_names_the_data_catalogue() -> None:
    from dockerslim.data import version

    data, digest = version()
    assert data and len(digest) == 64
    assert f"data catalogue {data} (sha256 {digest[:12]})" in invoke("--version").stdout


def test_data_digest_follows_the_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The digest is of the files as shipped: a changed data file changes it."""
    import shutil
    from importlib import resources

    import dockerslim.data as data

    copy = tmp_path / "data"
    shutil.copytree(Path(str(resources.files("dockerslim.data"))), copy)
    monkeypatch.setattr(data.resources, "files", lambda name: copy)
    before = data.version()
    (copy / "jit.toml").write_text((copy / "jit.toml").read_text() + "\n# changed\n")
    assert data.version()[0] == before[0] and data.version()[1] != before[1]


# --- --format github ------------------------------------------------------------------------

def test_github_annotations(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(BLOATED)
    result = invoke("rewrite", "--format", "github", str(tmp_path / "Dockerfile"))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    merge = next(line for line in lines if "DS201" in line)
    path = str(tmp_path / "Dockerfile")
    assert merge.startswith(f"::notice file={path},line=2,endLine=3,title=DS201 merge-runs::")
    assert "FROM alpine" not in result.stdout  # annotations only, not the rewritten file
    assert all(line.startswith(("::notice ", "::warning ")) for line in lines)


def test_github_annotations_escape_commas_colons_and_newlines() -> None:
    from dockerslim.changes import Note
    from dockerslim.report import to_github
    from dockerslim.rewrite import RewriteResult

    note = Note(rule="DS205", pass_name="context-hygiene", level="warning", line=3, message="50% of it\nis: here")
    result = RewriteResult(original="", text="", notes=(note,))
    out = to_github([("a,b:c/Dockerfile", result)], errors=[("bad/Dockerfile", "line 1: oops")])
    assert out.splitlines() == [
        "::warning file=a%2Cb%3Ac/Dockerfile,line=3,title=DS205 context-hygiene::50%25 of it%0Ais: here",
        "::error file=bad/Dockerfile,line=1,title=dockerslim::line 1: oops",
    ]


def test_github_lists_files_that_could_not_be_read(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine\nRUN <<EOF\n")
    result = invoke("rewrite", "--format", "github", str(tmp_path / "Dockerfile"))
    assert result.exit_code == 2
    assert result.stdout.startswith(f"::error file={tmp_path / 'Dockerfile'},line=1,title=dockerslim::")

