"""``dockerslim build`` (library): the rewrite goes to the builder on stdin with the user's
flags, the builder's exit code comes back, and the saving printed is only what was measured.
A fake ``buildah`` on PATH checks the hand-over; a real buildah build (marked ``build``) on
the offline stand-in bases checks the whole road."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dockerslim import parse, rewrite
from dockerslim.buildcmd import (
    BuildRequest,
    BuildSummary,
    BuildUsageError,
    build,
    buildah_argv,
    buildah_push_argv,
    buildx_argv,
    resolve_target,
)
from dockerslim.builders import Buildah, Buildx

from .conftest import fake_program

APP = """FROM python:3.12
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY app.py .
CMD ["python", "app.py"]
"""


def _project(tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "Dockerfile").write_text(APP)
    (tmp_path / "requirements.txt").write_text("")
    (tmp_path / "app.py").write_text('print("hello from the rewrite")\n')
    return tmp_path


# --- argv -------------------------------------------------------------------------------------

def test_buildah_argv_reads_stdin_and_passes_every_flag_through(tmp_path: Path) -> None:
    request = BuildRequest(dockerfile=tmp_path / "Dockerfile", context=tmp_path, tags=("app:1", "app:latest"),
                           build_args=(("B", "2"), ("A", "1")), build_contexts=(("models", "/srv/m"),),
                           platform="linux/arm64", push=True)
    argv = buildah_argv(Buildah(pull="never"), request, "runtime", "/tmp/iid")
    assert argv[:2] == ["buildah", "bud"] and argv[-1] == str(tmp_path)
    assert argv[argv.index("-f") + 1] == "-"
    assert "--pull=never" in argv and argv[argv.index("--isolation") + 1] == "chroot"
    pairs = list(itertools.pairwise(argv))
    assert [v for k, v in pairs if k == "-t"] == ["app:1", "app:latest"]
    assert [v for k, v in pairs if k == "--build-arg"] == ["B=2", "A=1"]  # order kept
    assert ("--build-context", "models=/srv/m") in pairs
    assert ("--platform", "linux/arm64") in pairs and ("--target", "runtime") in pairs
    assert ("--format", "docker") in pairs  # OCI would drop the HEALTHCHECK
    assert "--push" not in argv  # buildah pushes in a second step
    assert buildah_push_argv("registry.example/app:1") == ["buildah", "push", "registry.example/app:1",
                                                            "docker://registry.example/app:1"]


def test_buildx_argv_pushes_or_loads(tmp_path: Path) -> None:
    request = BuildRequest(dockerfile=tmp_path / "Dockerfile", context=tmp_path, tags=("app:1",), push=True)
    argv = buildx_argv(Buildx(builder="k8s"), request, None, "/tmp/iid")
    assert argv[:3] == ["docker", "buildx", "build"] and argv[argv.index("-f") + 1] == "-"
    assert "--push" in argv and "--load" not in argv and ("--builder", "k8s") in list(itertools.pairwise(argv))
    loaded = buildx_argv(Buildx(), BuildRequest(dockerfile=tmp_path, context=tmp_path), None, "/tmp/iid")
    assert "--load" in loaded and "--push" not in loaded and "--target" not in loaded


# --- --target ---------------------------------------------------------------------------------

MULTI = """FROM python:3.12 AS deps
RUN pip install flask
FROM deps AS app
RUN apt-get update && apt-get install -y gcc
COPY . /app
CMD ["python", "/app/main.py"]
"""


def test_target_naming_the_final_stage_means_the_rewrites_final_stage(tmp_path: Path) -> None:
    named = APP.replace("FROM python:3.12", "FROM python:3.12 AS app")
    original = parse(named)
    rewritten = parse(rewrite(named, context_dir=_project(tmp_path)).text)
    assert len(rewritten.stages) > 1 and rewritten.stages[-1].name == "app"  # the rewrite keeps the name
    assert resolve_target(original, rewritten, "app") == "app"
    assert resolve_target(original, rewritten, None) is None
    unnamed = parse("FROM python:3.12 AS builder\nRUN true\nFROM python:3.12-slim\nCMD [\"python\"]\n")
    assert resolve_target(original, unnamed, "app") is None  # the final stage, whatever its name


def test_target_naming_an_earlier_stage_is_kept_or_refused() -> None:
    original = parse(MULTI)
    assert resolve_target(original, original, "deps") == "deps"
    renamed = parse(MULTI.replace("AS deps", "AS base").replace("FROM deps", "FROM base"))
    with pytest.raises(BuildUsageError, match="the rewrite has no stage"):
        resolve_target(original, renamed, "deps")
    with pytest.raises(BuildUsageError, match="named stages: deps, app"):
        resolve_target(original, original, "nope")


# --- what is said about the saving ------------------------------------------------------------

def test_saving_line_says_only_what_was_measured() -> None:
    assert BuildSummary(exit_code=1).saving_line() == ""
    alone = BuildSummary(exit_code=0, image="app:1", size=458_400_000).saving_line()
    assert alone.startswith("built app:1 from the rewrite: 458.4 MB") and "dockerslim verify" in alone
    before = BuildSummary(exit_code=0, image="app:1", size=458_400_000, previous_size=1_029_900_000).saving_line()
    assert "was 1029.9 MB: 571.5 MB smaller (55.5%)" in before
    larger = BuildSummary(exit_code=0, image="app:1", size=200, previous_size=100).saving_line()
    assert "larger (100.0%)" in larger
    same = BuildSummary(exit_code=0, image="app:1", size=5, previous_size=5, previous_same=True).saving_line()
    assert "the same layers" in same


# --- the hand-over, with a fake buildah -------------------------------------------------------

FAKE_BUILDAH = r'''#!{python}
import json, os, sys
log = os.environ["FAKE_LOG"]
args = sys.argv[1:]
with open(log, "a") as fh:
    fh.write(json.dumps(args) + "\n")
if args[0] == "bud":
    with open(log + ".stdin", "w") as fh:
        fh.write(sys.stdin.read())
    code = int(os.environ.get("FAKE_BUD_EXIT", "0"))
    if code == 0:
        with open(args[args.index("--iidfile") + 1], "w") as fh:
            fh.write("sha256:feed")
    print("STEP 1/1: fake build")
    sys.exit(code)
if args[0] == "inspect":
    name = args[-1]
    known = {{"sha256:feed": 458400000, "app:1": int(os.environ.get("FAKE_PREVIOUS", "0"))}}
    if not known.get(name):
        sys.exit(125)
    size = known[name]
    manifest = json.dumps({{"layers": [{{"size": size}}]}})
    print(json.dumps({{"Docker": {{"config": {{}}}}, "OCIv1": {{"rootfs": {{"diff_ids": ["sha256:" + name]}}}},
                      "Manifest": manifest}}))
    sys.exit(0)
if args[0] == "push":
    sys.exit(int(os.environ.get("FAKE_PUSH_EXIT", "0")))
sys.exit(0)
'''


@pytest.fixture
def fake_buildah(tmp_path: Path) -> tuple[Buildah, Path]:
    log = tmp_path / "calls.log"
    return Buildah(env=fake_program(tmp_path, "buildah", FAKE_BUILDAH, FAKE_LOG=str(log))), log


def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_build_sends_the_rewrite_on_stdin_and_reports_the_size(fake_buildah: tuple[Buildah, Path],
                                                              tmp_path: Path) -> None:
    builder, log = fake_buildah
    project = _project(tmp_path / "p")
    said: list[str] = []
    with open(tmp_path / "out.txt", "w") as out:
        summary = build(BuildRequest(dockerfile=project / "Dockerfile", context=project, tags=("app:1",)),
                        builder, stdout=out, stderr=out, say=said.append)
    assert summary.exit_code == 0
    assert Path(str(log) + ".stdin").read_text() == rewrite(APP, context_dir=project).text != APP
    assert "STEP 1/1: fake build" in (tmp_path / "out.txt").read_text()  # the builder's output is passed on
    assert summary.size == 458_400_000 and summary.previous_size is None
    assert said[-1].startswith("built app:1 from the rewrite: 458.4 MB")
    assert not any(c[0] == "push" for c in _calls(log))


def test_build_compares_with_the_image_the_tag_named_before(fake_buildah: tuple[Buildah, Path], tmp_path: Path) -> None:
    builder, log = fake_buildah
    builder.env["FAKE_PREVIOUS"] = "1029900000"
    project = _project(tmp_path / "p")
    said: list[str] = []
    summary = build(BuildRequest(dockerfile=project / "Dockerfile", context=project, tags=("app:1",)),
                    builder, stdout=subprocess.DEVNULL, say=said.append)  # type: ignore[arg-type]
    assert summary.previous_size == 1_029_900_000
    assert "571.5 MB smaller (55.5%)" in said[-1]
    inspected = [c[-1] for c in _calls(log) if c[0] == "inspect"]
    assert inspected == ["app:1", "sha256:feed"]  # the old image looked at before the build moved the tag


@pytest.mark.parametrize("stage,env", [("bud", {"FAKE_BUD_EXIT": "3"}), ("push", {"FAKE_PUSH_EXIT": "4"})])
def test_builder_exit_code_is_returned(fake_buildah: tuple[Buildah, Path], tmp_path: Path, stage: str,
                                       env: dict[str, str]) -> None:
    builder, log = fake_buildah
    builder.env.update(env)
    project = _project(tmp_path / "p")
    said: list[str] = []
    summary = build(BuildRequest(dockerfile=project / "Dockerfile", context=project, tags=("reg.example/app:1",),
                                 push=True), builder, stdout=subprocess.DEVNULL, say=said.append)  # type: ignore[arg-type]
    assert summary.exit_code == int(next(iter(env.values())))
    pushes = [c for c in _calls(log) if c[0] == "push"]
    assert pushes == ([] if stage == "bud" else [["push", "reg.example/app:1", "docker://reg.example/app:1"]])
    assert not any("built " in line for line in said)


# --- a real build -----------------------------------------------------------------------------

@pytest.mark.build
def test_real_build_of_the_rewrite_with_buildah(buildah: Buildah, tmp_path: Path) -> None:
    """Build the original under a tag, then ``build`` the rewrite under the same tag: the
    rewrite runs the app, is smaller, and the saving printed is the measured difference."""
    project = _project(tmp_path / "p")
    tag = "localhost/dockerslim-build-test:latest"
    try:
        original = subprocess.run(["buildah", "bud", "--isolation", "chroot", "--layers", "--pull=never", "-t", tag,
                                   str(project)], env=buildah.env, capture_output=True, text=True)
        assert original.returncode == 0, original.stderr[-2000:]
        before = buildah.inspect(tag).size
        said: list[str] = []
        with open(tmp_path / "build.log", "w") as out:
            summary = build(BuildRequest(dockerfile=project / "Dockerfile", context=project, tags=(tag,)),
                            buildah, stdout=out, stderr=out, say=said.append)
        log = (tmp_path / "build.log").read_text()
        assert summary.exit_code == 0, log[-3000:]
        assert "FROM python:3.12-slim" in log  # the rewrite is what was built
        after = buildah.inspect(tag)
        assert after.config.get("Cmd") == ["python", "app.py"]
        assert summary.size == after.size < before == summary.previous_size
        assert f"{(before - after.size) / 1e6:.1f} MB smaller" in said[-1]
        ran = buildah.run(tag, ["python", "app.py"])
        assert ran.exit_code == 0 and "hello from the rewrite" in ran.output
    finally:
        buildah.remove(tag)


def test_build_command_passes_flags_and_returns_the_builders_exit_code(fake_buildah: tuple[Buildah, Path],
                                                                      tmp_path: Path) -> None:
    builder, log = fake_buildah
    project = _project(tmp_path / "p")
    env = dict(builder.env, NO_COLOR="1")
    env.pop("DOCKERSLIM_DEBUG", None)
    argv = [sys.executable, "-m", "dockerslim", "build", "--builder", "buildah", "-t", "app:1",
            "--build-arg", "A=1", "--platform", "linux/amd64", str(project)]
    ok = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    bud = next(c for c in _calls(log) if c[0] == "bud")
    assert bud[bud.index("-f") + 1] == "-" and ("--build-arg", "A=1") in list(itertools.pairwise(bud))
    assert ("--platform", "linux/amd64") in list(itertools.pairwise(bud)) and bud[-1] == str(project)
    assert Path(str(log) + ".stdin").read_text() == rewrite(APP, context_dir=project).text
    assert "dockerslim: built app:1 from the rewrite: 458.4 MB" in ok.stderr
    failed = subprocess.run(argv, env=dict(env, FAKE_BUD_EXIT="3"), capture_output=True, text=True, timeout=120)
    assert failed.returncode == 3
    missing = subprocess.run([*argv[:-1], str(tmp_path / "nowhere")], env=env, capture_output=True, text=True)
    assert missing.returncode == 2 and "nowhere" in missing.stderr
