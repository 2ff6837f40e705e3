"""``rewrite --observe``, ``rewrite --verify``, ``verify --against`` and ``verify --fix`` on the
command line. Fast tests stand a fake in for the builder or the ladder; the ``build`` tests run
buildah on the stand-in bases (tests/standins) with tiny fixtures (tests/data/verify)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

import dockerslim.cli as cli
from dockerslim import prove
from dockerslim.builders import BuilderError, BuildOutcome, ImageFacts
from dockerslim.observe import Observation, Step
from dockerslim.observe.record import FileChange
from dockerslim.options import Options
from dockerslim.rewrite import RewriteResult, rewrite
from dockerslim.verify import Check, VerifyReport

from .standins import CountingBuildah
from .test_cli import BLOATED, invoke

DATA = Path(__file__).parent / "data" / "verify"


def _dockerfile(tmp_path: Path, text: str = BLOATED) -> Path:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    return path


# --- flags that need a build ----------------------------------------------------------------

@pytest.mark.parametrize("flags, reason", [
    (["--build-arg", "A=1"], "--build-arg applies to builds: add --observe or --verify"),
    (["--target", "x"], "--target applies to builds"),
    (["--network", "host"], "--network applies to builds"),
    (["--smoke", "true"], "--smoke applies to builds"),
    (["--observe", "--smoke", "true"], "--smoke is run by --verify"),
    (["--verify", "--platform", "linux/arm64"], "--target and --platform apply to --observe alone"),
    (["--observe", "--build-arg", "novalue"], "--build-arg takes KEY=VALUE"),
])
def test_build_flags_are_checked_before_any_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 flags: list[str], reason: str) -> None:
    monkeypatch.setattr(cli, "_builder", lambda *a, **k: pytest.fail("no builder may be asked for"))
    result = invoke("rewrite", *flags, str(_dockerfile(tmp_path)))
    assert result.exit_code == 2 and reason in result.stderr and result.stdout == ""


# --- --observe with a fake builder ------------------------------------------------------------

@dataclass
class BrokenBuilder:
    """A builder whose every build fails the way buildah reports it."""

    name: str = "fake"
    builds: int = 0

    def inspect(self, image: str, *, compressed: bool = False) -> ImageFacts:
        raise BuilderError(f"{image}: image not known")

    def build(self, *args: Any, **kw: Any) -> BuildOutcome:
        self.builds += 1
        raise BuilderError("build of x failed:\nSTEP 2/3: RUN echo one\nE: Unable to locate package nosuch")


def test_observe_of_an_original_that_does_not_build_exits_2_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = BrokenBuilder()
    monkeypatch.setattr(cli, "_builder", lambda *a, **k: fake)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = _dockerfile(tmp_path)
    for flags in (["-o", str(tmp_path / "out")], ["-i"]):
        result = invoke("rewrite", "--observe", *flags, str(path))
        assert result.exit_code == 2
        assert "the original does not build" in result.stderr
        assert "E: Unable to locate package nosuch" in result.stderr  # the builder's last lines
    assert fake.builds == 2
    assert not (tmp_path / "out").exists() and path.read_text() == BLOATED


def _observation(cached: bool = True) -> Observation:
    step = Step(line=2, instruction="/bin/sh -c echo one", keyword="RUN",
                files=[FileChange(path="/opt/tool", op="added", size=3_000_000)], accounts={"users": ["app"]})
    return Observation(key="k" * 64, builder="buildah", steps={2: step, 3: Step(3, "echo two", "RUN")},
                       cached=cached, seconds=0.01)


def test_observe_passes_the_build_flags_and_hands_the_record_to_the_rewrite(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dockerslim.observe as observe_pkg

    seen: dict[str, Any] = {}
    record = _observation()

    def fake_observe(text: str, **kw: Any) -> Observation:
        seen.update(kw, text=text)
        return record

    real_rewrite = cli.rewrite_text

    def spy(text: str, **kw: Any) -> RewriteResult:
        seen["observation"] = kw.get("observation")
        return real_rewrite(text, **kw)

    monkeypatch.setattr(observe_pkg, "observe", fake_observe)
    monkeypatch.setattr(cli, "rewrite_text", spy)
    monkeypatch.setattr(cli, "_builder", lambda *a, **k: "the builder")
    (tmp_path / "extra").mkdir()
    path = _dockerfile(tmp_path)
    result = invoke("rewrite", "--observe", "--build-arg", "A=1", "--build-context", f"x={tmp_path / 'extra'}",
                    "--target", "app", "--platform", "linux/amd64", "--format", "json", "--explain", str(path))
    assert result.exit_code == 0, result.stderr
    assert seen["text"] == BLOATED and seen["observation"] is record
    assert seen["build_args"] == {"A": "1"} and seen["build_contexts"] == {"x": str(tmp_path / "extra")}
    assert (seen["target"], seen["platform"], seen["builder"]) == ("app", "linux/amd64", "the builder")
    assert seen["context_dir"] == str(tmp_path)
    entry = json.loads(result.stdout)["files"][0]
    assert entry["observation"]["cached"] is True
    assert entry["observation"]["steps"][0] == {"line": 2, "keyword": "RUN", "paths": 1, "bytes": 3_000_000,
                                                "accounts": {"users": ["app"]}}
    assert entry["text"] == rewrite(BLOATED, path=str(path), context_dir=tmp_path).text  # passes do not use it yet
    assert "observed 2 steps, 3.0 MB written; read from the cache (no build)" in result.stderr
    assert "line 2 RUN: 1 paths, 3.0 MB written; created users app" in result.stderr


def test_observe_of_stdin_needs_a_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_builder", lambda *a, **k: "the builder")
    result = invoke("rewrite", "--observe", "-", stdin=BLOATED)
    assert result.exit_code == 2 and "--stdin-filename" in result.stderr


# --- --verify with a stand-in ladder -----------------------------------------------------------

def _attempt(rung: str, ok: bool, *reasons: str, skipped: str = "",
             report: VerifyReport | None = None) -> prove.Attempt:
    return prove.Attempt(rung, ok, list(reasons), report, skipped=skipped)


def _fake_ladder(monkeypatch: pytest.MonkeyPatch, make: Any) -> None:
    import dockerslim.prove as prove_mod

    monkeypatch.setattr(cli, "_builder", lambda *a, **k: "the builder")
    monkeypatch.setattr(prove_mod, "rewrite_verified", make)


def test_verify_emits_the_rung_that_passed_and_says_why_the_others_failed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _dockerfile(tmp_path)
    smokes: list[str | None] = []

    def ladder(text: str, **kw: Any) -> prove.ProvenRewrite:
        assert kw["builder"] == "the builder"
        smokes.append(kw["smoke"])
        good = rewrite(text, options=Options(skip=frozenset({"split-stages"})))
        return prove.ProvenRewrite(original=text, text=good.text, rung="base swap only", result=good, attempts=[
            _attempt("full split", False, "USER exists: no account app"),
            _attempt("split without assembly", False, "USER exists: no account app",
                     skipped="same file as rung 'full split'"),
            _attempt("base swap only", True)])

    _fake_ladder(monkeypatch, ladder)
    result = invoke("rewrite", "--verify", "--smoke", "id -un", "-o", str(tmp_path / "out"), str(path))
    assert result.exit_code == 0, result.stderr
    assert "rung 'full split' failed verification: USER exists: no account app" in result.stderr
    assert "rung 'base swap only' verified; emitting it" in result.stderr
    from dockerslim.generated import strip_header

    assert strip_header((tmp_path / "out").read_text()) == rewrite(BLOATED).text and smokes == ["id -un"]
    data = json.loads(invoke("rewrite", "--verify", "--format", "json", str(path)).stdout)["files"][0]
    assert data["verify"] == {"rung": "base swap only", "attempts": [
        {"rung": "full split", "ok": False, "reasons": ["USER exists: no account app"], "skipped": ""},
        {"rung": "split without assembly", "ok": False, "reasons": ["USER exists: no account app"],
         "skipped": "same file as rung 'full split'"},
        {"rung": "base swap only", "ok": True, "reasons": [], "skipped": ""}]}


def test_verify_never_emits_a_failed_candidate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _dockerfile(tmp_path)
    _fake_ladder(monkeypatch, lambda text, **kw: prove.ProvenRewrite(
        original=text, text=text, rung=None, result=None,
        attempts=[_attempt(r.name, False, "smoke command runs: exit 1") for r in prove.ladder()]))
    result = invoke("rewrite", "--verify", "--check", "--explain", str(path))
    assert result.exit_code == 0 and result.stdout == ""  # the original, unchanged: nothing to rewrite
    assert "no rewrite verified; the original is emitted unchanged" in result.stderr
    assert "no rung verified: the original is kept" in result.stderr
    assert invoke("rewrite", "--verify", str(path)).stdout == BLOATED


def test_verify_of_an_original_that_does_not_build_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _dockerfile(tmp_path)
    report = VerifyReport(path=str(path), builder="fake", changed=True,
                          checks=[Check("original builds", False, "build of x failed:\nE: no such package")])
    _fake_ladder(monkeypatch, lambda text, **kw: prove.ProvenRewrite(
        original=text, text=text, rung=None, result=None,
        attempts=[_attempt("full split", False, "original builds: …", report=report)]))
    result = invoke("rewrite", "--verify", "-i", str(path))
    assert result.exit_code == 2 and "the original does not build" in result.stderr
    assert "E: no such package" in result.stderr and path.read_text() == BLOATED


# --- verify --against / --fix: where the file goes ------------------------------------------

def test_fix_needs_somewhere_to_write(tmp_path: Path) -> None:
    result = invoke("verify", "--fix", str(_dockerfile(tmp_path)))
    assert result.exit_code == 2 and "--fix writes the fixed rewrite: give -o FILE" in result.stderr


def test_against_a_missing_candidate_is_an_input_error(tmp_path: Path) -> None:
    result = invoke("verify", "--against", str(tmp_path / "nope"), str(_dockerfile(tmp_path)))
    assert result.exit_code == 2 and "nope" in result.stderr


def _fake_verify(monkeypatch: pytest.MonkeyPatch, report: VerifyReport) -> dict[str, Any]:
    import dockerslim.verify as verify_mod

    seen: dict[str, Any] = {}

    def fake(path: Path, **kw: Any) -> VerifyReport:
        seen.update(kw)
        return report

    monkeypatch.setattr(cli, "_builder", lambda *a, **k: "the builder")
    monkeypatch.setattr(verify_mod, "verify", fake)
    return seen


@pytest.mark.parametrize("ok", [True, False])
def test_fix_writes_the_candidate_in_place_only_once_it_verifies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ok: bool) -> None:
    path = _dockerfile(tmp_path)
    candidate = tmp_path / "candidate.Dockerfile"
    candidate.write_text("FROM debian:bookworm-slim\n")
    fixed = "FROM debian:bookworm-slim\nRUN apt-get install -y libsnappy1v5\n"
    report = VerifyReport(path=str(path), builder="fake", changed=True, candidate=fixed,
                          checks=[Check("runtime libraries resolve", ok)], added_packages=["libsnappy1v5"],
                          missing_libraries={} if ok else {"/usr/local/bin/snaptool": ["libsnappy.so.1"]})
    seen = _fake_verify(monkeypatch, report)
    result = invoke("verify", "--against", str(candidate), "--fix", str(path))
    assert seen["against"] == "FROM debian:bookworm-slim\n" and seen["fix"] is True
    assert result.exit_code == (0 if ok else 1)
    assert candidate.read_text() == (fixed if ok else "FROM debian:bookworm-slim\n")
    if ok:
        assert f"wrote {candidate} (installed libsnappy1v5)" in result.stderr
    else:
        assert "missing library: /usr/local/bin/snaptool needs libsnappy.so.1" in result.stdout
        assert "not written: the candidate did not verify" in result.stderr


def test_output_takes_the_verified_rewrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _dockerfile(tmp_path)
    report = VerifyReport(path=str(path), builder="fake", changed=True, candidate="FROM x\n", checks=[Check("a", True)])
    _fake_verify(monkeypatch, report)
    result = invoke("verify", "-o", str(tmp_path / "slim.Dockerfile"), str(path))
    assert result.exit_code == 0 and (tmp_path / "slim.Dockerfile").read_text() == "FROM x\n"


# --- real builds --------------------------------------------------------------------------------

@pytest.fixture
def real(buildah: CountingBuildah, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CountingBuildah:
    monkeypatch.setattr(cli, "_builder", lambda *a, **k: buildah)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return buildah


TINY = "FROM debian:bookworm-slim\nCOPY app.txt /app/\nRUN echo one > /app/one\nRUN echo two > /app/two\n"


@pytest.mark.build
def test_observe_builds_once_then_reads_the_cache(real: CountingBuildah, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "app.txt").write_text("hi\n")
    path = _dockerfile(ctx, TINY)
    before = real.builds
    first = invoke("rewrite", "--observe", "--explain", str(path))
    assert first.exit_code == 0, first.stderr
    assert real.builds == before + 1 and "built with buildah" in first.stderr
    assert "line 3 RUN: " in first.stderr
    second = invoke("rewrite", "--observe", str(path))
    assert second.exit_code == 0 and real.builds == before + 1, "a second --observe must not build"
    assert "read from the cache (no build)" in second.stderr
    assert first.stdout == second.stdout == rewrite(TINY, path=str(path), context_dir=ctx).text
    (ctx / "app.txt").write_text("changed\n")  # the context changed: the record is stale
    assert invoke("rewrite", "--observe", str(path)).exit_code == 0 and real.builds == before + 2


@pytest.mark.build
def test_verify_falls_back_past_a_broken_candidate(real: CountingBuildah, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/data/verify/missing-user: the split lost the user account (full split and
    no-assembly give the same broken file); the hygiene-only rung is the fixed file."""
    case = DATA / "missing-user"
    broken, good = (case / "candidate.Dockerfile").read_text(), (case / "fixed.Dockerfile").read_text()

    def forced(text: str, **kw: Any) -> RewriteResult:
        opts: Options = kw["options"]
        real_result = rewrite(text, path=kw.get("path"), context_dir=kw.get("context_dir"), options=opts)
        if "runtime-base" in opts.skip:
            return replace(real_result, text=good)
        return replace(real_result, text=broken if "split-stages" not in opts.skip else text)

    monkeypatch.setattr(prove, "rewrite", forced)
    out = tmp_path / "out.Dockerfile"
    result = invoke("rewrite", "--verify", "--smoke", "id -un", "-o", str(out), str(case / "Dockerfile"))
    assert result.exit_code == 0, result.stderr
    assert "rung 'full split' failed verification: USER exists" in result.stderr
    assert "rung 'hygiene only' verified; emitting it" in result.stderr
    written = out.read_text()  # -o writes the generated-file header, then the rewrite
    assert written.startswith("# Generated by dockerslim ") and written.split("\n", 1)[1] == good


@pytest.mark.build
def test_verify_against_reports_the_missing_library_and_fix_installs_its_package(
        real: CountingBuildah, tmp_path: Path) -> None:
    shutil.copytree(DATA / "cpp-lib", tmp_path / "case")
    case = tmp_path / "case"
    candidate = case / "candidate.Dockerfile"
    original_candidate = candidate.read_text()
    result = invoke("verify", "--against", str(candidate), "--smoke", "snaptool", str(case / "Dockerfile"))
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "missing library: /usr/local/bin/snaptool needs libsnappy.so.1" in result.stdout, result.stdout
    assert candidate.read_text() == original_candidate  # no --fix: nothing written
    fixed = invoke("verify", "--against", str(candidate), "--fix", "--smoke", "snaptool", str(case / "Dockerfile"))
    assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
    assert "fixed: installed libsnappy1v5 in the final stage" in fixed.stdout
    assert "apt-get install -y --no-install-recommends libsnappy1v5" in candidate.read_text()


def _sized_report(path: Path, ok: bool = True) -> VerifyReport:
    from dockerslim.verify import Side

    return VerifyReport(path=str(path), builder="fake", changed=True, candidate="FROM x\n",
                        original=Side(image="orig", size=1_200_000_000, compressed=500_000_000, layers=9),
                        rewrite=Side(image="slim", size=300_000_000, compressed=120_000_000, layers=5),
                        checks=[Check("config kept", True), Check("smoke run", ok, "exit 7 | no listener")])


@pytest.mark.parametrize("ok", [True, False])
def test_verify_markdown_is_a_pull_request_comment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ok: bool) -> None:
    path = _dockerfile(tmp_path)
    _fake_verify(monkeypatch, _sized_report(path, ok))
    result = invoke("verify", "--format", "markdown", str(path))
    assert result.exit_code == (0 if ok else 1)
    lines = result.stdout.splitlines()
    assert lines[0] == "## dockerslim verify"
    assert lines[2] == f"### `{path}`: " + ("✅ verified" if ok else "❌ not verified")
    assert "| image size | 1200.0 MB | 300.0 MB | −75.0% |" in lines
    assert "| compressed (gzip layers) | 500.0 MB | 120.0 MB | −76.0% |" in lines
    assert f"Checks: {2 if ok else 1} of 2 passed" in lines
    assert f"| smoke run | {'✅' if ok else '❌'} | exit 7 \\| no listener |" in lines


def test_verify_report_writes_the_html_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _dockerfile(tmp_path)
    _fake_verify(monkeypatch, _sized_report(path))
    page = tmp_path / "report.html"
    result = invoke("verify", "--format", "json", "--report", str(page), str(path))
    assert result.exit_code == 0 and f"wrote {page}" in result.stderr
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") or html.lower().startswith("<!doctype html>")
    assert 'data-value="1200000000"' in html and 'data-value="300000000"' in html
    assert json.loads(result.stdout)["rewrite"]["size"] == 300_000_000  # stdout is still the JSON


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_verify_exits_2_when_the_original_does_not_build(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    path = _dockerfile(tmp_path)
    log = "error: creating build container: initializing source docker://nosuch/base:1: pinging registry: no such host"
    report = VerifyReport(path=str(path), builder="fake", changed=True, checks=[Check("original builds", False, log)])
    _fake_verify(monkeypatch, report)
    result = invoke("verify", "--format", fmt, "-o", str(tmp_path / "slim"), str(path))
    assert result.exit_code == 2 and not (tmp_path / "slim").exists()
    assert result.stderr.startswith(f"dockerslim: error: {path}: the original does not build")
    if fmt == "text":
        assert log in result.stdout
    else:
        assert log in result.stderr and json.loads(result.stdout)["ok"] is False


def test_verify_without_a_builder_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither buildah nor docker
    result = invoke("verify", "--builder", "buildah", str(_dockerfile(tmp_path)))
    assert result.exit_code == 2 and result.stderr.startswith("dockerslim: error: ")


def test_verify_timeout_and_progress_reach_the_verifier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _dockerfile(tmp_path)
    seen = _fake_verify(monkeypatch, _sized_report(path))
    result = invoke("verify", "--timeout", "5", str(path))
    assert result.exit_code == 0 and seen["timeout"] == 5
    seen["progress"]("building the original")
    assert invoke("verify", "--timeout", "0", str(path)).exit_code == 2  # at least one second
