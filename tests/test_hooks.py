"""Ecosystem hooks: the pre-commit manifest (pre-commit's own schema, and both hooks run by
pre-commit on a sample git repository), the GitHub Action (SchemaStore's action metadata
schema as vendored by check-jsonschema, and its check step run for real) and the CI snippets
in docs/ci.md (SchemaStore's GitLab CI and GitHub workflow schemas)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from dockerslim import rewrite
from dockerslim.files import is_dockerfile_name

from .conftest import ROOT

try:
    from pre_commit import clientlib
except ModuleNotFoundError:  # the test extra installs it; without it only the pre-commit tests skip
    clientlib = None  # type: ignore[assignment]
needs_pre_commit = pytest.mark.skipif(clientlib is None, reason="pre-commit is not installed (pip install pre-commit)")

BLOATED = """FROM python:3.12
RUN apt-get update && apt-get install -y gcc
COPY . /app
RUN pip install /app
CMD ["python", "-m", "app"]
"""


def _vendored_schema(name: str) -> dict:
    try:
        folder = resources.files("check_jsonschema.builtin_schemas.vendor")
    except ModuleNotFoundError:
        pytest.skip("check-jsonschema (ships SchemaStore's schemas) is not installed")
    return json.loads(folder.joinpath(f"{name}.json").read_text(encoding="utf-8"))


def _validate(instance: object, schema: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


# --- pre-commit -------------------------------------------------------------------------------

@needs_pre_commit
def test_manifest_is_valid_for_pre_commit() -> None:
    hooks = {h["id"]: h for h in clientlib.load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))}
    assert hooks["dockerslim-check"]["entry"] == "dockerslim rewrite --check"
    assert hooks["dockerslim-fix"]["entry"] == "dockerslim rewrite -i"
    assert {h["language"] for h in hooks.values()} == {"python"}


@needs_pre_commit
def test_manifest_schema_rejects_a_broken_hook(tmp_path: Path) -> None:
    broken = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    del broken[0]["entry"]
    path = tmp_path / ".pre-commit-hooks.yaml"
    path.write_text(yaml.safe_dump(broken))
    with pytest.raises(clientlib.InvalidManifestError):
        clientlib.load_manifest(str(path))


@needs_pre_commit
@pytest.mark.parametrize("name", [
    "Dockerfile", "sub/dir/Dockerfile", "Dockerfile.dev", "app.Dockerfile", "Containerfile", "containerfile",
    "README.md", "Dockerfile/notes.txt", "dockerfile", "MyDockerfile", "docs/Dockerfile.md",
])
def test_hooks_see_the_files_dockerslim_looks_for(name: str) -> None:
    """The hooks' ``files`` pattern agrees with the names ``dockerslim rewrite DIR`` finds."""
    hooks = clientlib.load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
    for hook in hooks:
        assert bool(re.search(hook["files"], name)) == is_dockerfile_name(name.rsplit("/", 1)[-1]), (hook["id"], name)


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A git repository holding this checkout's package and manifest (working tree, so the test
    covers uncommitted edits too), as pre-commit would clone it from a tag."""
    repo = tmp_path_factory.mktemp("hook-repo")
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(ROOT / name, repo / name)
    for folder in ("dockerslim", "templates"):
        shutil.copytree(ROOT / folder, repo / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _git("init", "-q", ".", cwd=repo)
    _git("add", "-A", cwd=repo)
    _git("commit", "-q", "-m", "hooks", cwd=repo)
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True,
                         check=True).stdout.strip()
    return repo, rev


def _pre_commit(project: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), NO_COLOR="1", PRE_COMMIT_COLOR="never")
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=project, env=env, capture_output=True,
                          text=True, timeout=600)


@needs_pre_commit
@pytest.mark.slow
def test_pre_commit_runs_both_hooks_on_a_sample_repo(hook_repo: tuple[Path, str], tmp_path: Path) -> None:
    """pre-commit installs the hook repository (pip install of this package into its own
    virtualenv) and runs: check fails on a bloated Dockerfile, fix rewrites it, check passes."""
    repo, rev = hook_repo
    project = tmp_path / "project"
    (project / "svc").mkdir(parents=True)
    (project / "Dockerfile").write_text(BLOATED)
    (project / "svc" / "Dockerfile").write_text(BLOATED.replace("python:3.12", "python:3.11"))
    (project / "notes.txt").write_text("RUN this is not a Dockerfile\n")
    (project / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{
        "repo": str(repo), "rev": rev, "hooks": [{"id": "dockerslim-check"}, {"id": "dockerslim-fix"}]}]}))
    _git("init", "-q", ".", cwd=project)
    _git("add", "-A", cwd=project)
    home = tmp_path / "pre-commit-home"

    check = _pre_commit(project, home, "run", "dockerslim-check", "--all-files")
    assert check.returncode == 1, check.stdout + check.stderr
    assert "would rewrite Dockerfile" in check.stdout and "would rewrite svc/Dockerfile" in check.stdout
    assert "notes.txt" not in check.stdout

    expected = rewrite(BLOATED, path="Dockerfile", context_dir=project).text  # as the CLI rewrites it
    fix = _pre_commit(project, home, "run", "dockerslim-fix", "--all-files")
    assert fix.returncode == 1 and "files were modified by this hook" in fix.stdout, fix.stdout + fix.stderr
    assert (project / "Dockerfile").read_text() == expected != BLOATED

    _git("add", "-A", cwd=project)
    again = _pre_commit(project, home, "run", "dockerslim-check", "--all-files")
    assert again.returncode == 0, again.stdout + again.stderr


# --- GitHub Action ----------------------------------------------------------------------------

def _action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text())


def test_action_metadata_is_valid() -> None:
    action = _action()
    assert _validate(action, _vendored_schema("github-actions")) == []
    assert action["runs"]["using"] == "composite"
    uses = [s.get("uses", "") for s in action["runs"]["steps"]]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    upload = next(s for s in action["runs"]["steps"]
                  if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert upload["with"]["sarif_file"] == "dockerslim.sarif"


def test_action_schema_catches_a_run_step_without_shell() -> None:
    """Composite run steps must name their shell; the schema test would notice if we forgot."""
    action = _action()
    step = next(s for s in action["runs"]["steps"] if "run" in s)
    del step["shell"]
    assert _validate(action, _vendored_schema("github-actions")) != []


def test_action_check_step_writes_sarif_and_the_exit_code(tmp_path: Path) -> None:
    """Run the action's own check script with bash, as the runner would."""
    step = next(s for s in _action()["runs"]["steps"] if s.get("id") == "check")
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "Dockerfile").write_text(BLOATED)
    output = tmp_path / "github_output"
    output.write_text("")
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ, DOCKERSLIM_PATHS="svc", GITHUB_OUTPUT=str(output),
               PATH=bindir + os.pathsep + os.environ["PATH"])
    if not shutil.which("dockerslim", path=env["PATH"]):
        pytest.skip("the dockerslim console script is not installed in this environment")
    proc = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert outputs == {"exit-code": "1", "sarif-file": "dockerslim.sarif"}
    sarif = json.loads((tmp_path / "dockerslim.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"] for loc in r["locations"]}
    assert uris == {"svc/Dockerfile"}


# --- docs/ci.md snippets ----------------------------------------------------------------------

def _yaml_blocks(title: str) -> list[object]:
    """YAML code blocks under the ``##`` section of docs/ci.md whose title contains ``title``."""
    text = (ROOT / "docs" / "ci.md").read_text()
    section = next(s for s in re.split(r"^## ", text, flags=re.M) if s.split("\n", 1)[0].find(title) >= 0)
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, flags=re.S)]


def test_gitlab_snippet_is_valid_gitlab_ci() -> None:
    blocks = _yaml_blocks("GitLab")
    assert blocks
    for block in blocks:
        assert _validate(block, _vendored_schema("gitlab-ci")) == []
    assert "dockerslim rewrite --check" in json.dumps(blocks)


def test_github_workflow_snippet_is_valid() -> None:
    blocks = _yaml_blocks("GitHub")
    assert blocks
    for block in blocks:
        assert isinstance(block, dict)
        block["on"] = block.pop(True)  # YAML 1.1 (PyYAML) reads the key `on` as true; GitHub does not
        assert _validate(block, _vendored_schema("github-workflows")) == []
