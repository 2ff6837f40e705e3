"""``verify`` over many Dockerfiles: files verified in parallel, builds bounded by the builder's
own limit (``--max-builds``), build output streamed as it is printed, one summary at the end.
The fast tests use fake verifications and a fake buildah; the ``build`` tests run buildah."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from rich.console import Console

from dockerslim.builders import Buildah, build_step, stream
from dockerslim.fleet import VerifyOutcome, verify_exit_code, verify_many, verify_table
from dockerslim.parse import parse
from dockerslim.verify import Check, Side, VerifyReport, _context_files

from .conftest import fake_program, run_cli

# --- parsing and streaming a build's output ------------------------------------------------------


def test_build_step_reads_buildah_and_buildkit_step_lines() -> None:
    line = "STEP 3/7: RUN pip install -r requirements.txt"
    assert build_step(line) == line
    assert build_step("[1/3] STEP 6/6: RUN go build") == "[1/3] STEP 6/6: RUN go build"  # buildah, multi-stage
    assert build_step("#9 [builder 3/7] RUN pip wheel .") == "STEP builder 3/7: RUN pip wheel ."
    assert build_step("#6 [2/3] COPY app.py /app/") == "STEP 2/3: COPY app.py /app/"
    assert build_step("#6 [stage-0 2/3] COPY app.py /app/") == "STEP 2/3: COPY app.py /app/"
    for other in ("#1 [internal] load build definition from Dockerfile", "#6 0.231 Collecting flask",
                  "Successfully tagged x", "STEP: nothing", ""):
        assert build_step(other) is None


def test_stream_hands_over_each_line_before_the_process_ends() -> None:
    seen: list[tuple[float, str]] = []
    start = time.monotonic()
    code, log = stream(["sh", "-c", "echo first; echo to-stderr >&2; sleep 1; echo last; exit 3"],
                       on_line=lambda line: seen.append((time.monotonic() - start, line)))
    ended = time.monotonic() - start
    assert code == 3
    assert [line for _, line in seen] == ["first", "to-stderr", "last"]
    assert seen[0][0] < ended - 0.7, seen  # the first line came while the process still slept
    assert log == "first\nto-stderr\nlast\n"  # kept for the error message too


def test_stream_feeds_stdin_and_keeps_only_the_tail() -> None:
    code, log = stream(["sh", "-c", "cat; seq 1 5000"], input=b"FROM scratch\n")
    assert code == 0
    lines = log.splitlines()
    assert len(lines) == 2000 and lines[-1] == "5000"


# --- the builder's limit on concurrent builds ----------------------------------------------------

FAKE_BUILDAH = r'''#!{python}
import os, sys, time
args = sys.argv[1:]
if args[0] == "bud":
    with open(os.environ["FAKE_LOG"], "a") as fh:
        fh.write(f"start {{time.time()}}\n")
    print("STEP 1/1: FROM scratch", flush=True)
    time.sleep(0.5)
    with open(os.environ["FAKE_LOG"], "a") as fh:
        fh.write(f"end {{time.time()}}\n")
sys.exit(0)
'''


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    now = peak = 0
    for _, delta in events:
        now += delta
        peak = max(peak, now)
    return peak


def _intervals(log: Path) -> list[tuple[float, float]]:
    starts = [float(line.split()[1]) for line in log.read_text().splitlines() if line.startswith("start")]
    ends = [float(line.split()[1]) for line in log.read_text().splitlines() if line.startswith("end")]
    return list(zip(sorted(starts), sorted(ends), strict=True))


@pytest.mark.parametrize("limit", [None, 2])
def test_slots_bound_the_builds_running_at_once(tmp_path: Path, limit: int | None) -> None:
    log = tmp_path / "builds.log"
    env = fake_program(tmp_path, "buildah", FAKE_BUILDAH, FAKE_LOG=str(log))
    builder = Buildah(env=env, slots=threading.BoundedSemaphore(limit) if limit else None)
    threads = [threading.Thread(target=builder.build, args=("FROM scratch\n", tmp_path, f"t{i}"))
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    peak = _max_overlap(_intervals(log))
    assert peak == (limit or 4), _intervals(log)


# --- verify_many with fake verifications ---------------------------------------------------------

def _report(path: str, *, before: int = 1000, after: int = 600, failing: str | None = None,
            original_builds: bool = True, changed: bool = True) -> VerifyReport:
    report = VerifyReport(path=path, builder="fake", changed=changed)
    if not changed:
        return report
    report.checks.append(Check("original builds", original_builds, "" if original_builds else "no base"))
    if not original_builds:
        return report
    report.original, report.rewrite = Side(image="o", size=before), Side(image="r", size=after)
    report.checks += [Check("rewrite builds", True), Check("app files kept", failing != "app files kept")]
    return report


def test_verify_many_runs_jobs_at_once_and_keeps_the_order() -> None:
    running = peak = 0
    lock = threading.Lock()

    def one(path: str, say, on_line):  # type: ignore[no-untyped-def]
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.2 if path.endswith("0") else 0.05)  # the first file finishes last
        with lock:
            running -= 1
        return _report(path)

    paths = [f"svc{i}/Dockerfile{i}" for i in range(6)]
    outcomes = verify_many(paths, one, jobs=3, progress=False)
    assert [o.path for o in outcomes] == paths
    assert peak == 3
    assert all(o.status == "verified" and o.saved == 400 for o in outcomes)
    assert verify_exit_code(outcomes) == 0


def test_exit_code_is_2_for_any_error_else_1_for_any_failed_check() -> None:
    def one(path: str, say, on_line):  # type: ignore[no-untyped-def]
        if path == "broken":
            raise RuntimeError("a bug")
        if path == "nobase":
            return _report(path, original_builds=False)
        return _report(path, failing="app files kept" if path == "bad" else None, changed=path != "same")

    outcomes = verify_many(["ok", "same", "bad", "nobase", "broken"], one, jobs=2, progress=False)
    by = {o.path: o for o in outcomes}
    assert by["ok"].status == "verified" and by["ok"].exit_code == 0
    assert by["same"].status == "unchanged" and by["same"].exit_code == 0 and by["same"].saved is None
    assert by["bad"].status == "failed: app files kept" and by["bad"].exit_code == 1
    assert by["bad"].saved is None  # a failed candidate's saving is not counted
    assert by["nobase"].exit_code == 2 and by["nobase"].broken_original == "no base"
    assert by["broken"].exit_code == 2 and "internal error: RuntimeError: a bug" in (by["broken"].error or "")
    assert verify_exit_code(outcomes) == 2
    assert verify_exit_code([by["ok"], by["bad"], by["same"]]) == 1
    assert verify_exit_code([by["ok"], by["same"]]) == 0
    doc = json.loads(json.dumps([o.to_dict() for o in outcomes], default=str))
    assert [d["status"] for d in doc] == ["verified", "unchanged", "failed: app files kept",
                                          "error: the original does not build", "error"]
    assert doc[0]["size_before"] == 1000 and doc[0]["size_after"] == 600 and doc[0]["saved"] == 400


def test_summary_table_shows_each_file_and_the_total_saved() -> None:
    outcomes = [VerifyOutcome("a/Dockerfile", _report("a", before=3_000_000, after=1_000_000)),
                VerifyOutcome("b/Dockerfile", _report("b", failing="app files kept")),
                VerifyOutcome("c/Dockerfile", _report("c", before=500_000, after=250_000)),
                VerifyOutcome("d/Dockerfile", error="d/Dockerfile: buildah is not installed")]
    buf = io.StringIO()
    Console(file=buf, width=200, no_color=True).print(verify_table(outcomes))
    text = buf.getvalue()
    assert "3.0 MB → 1.0 MB" in text and "2,000,000" in text and "250,000" in text
    assert "failed: app files kept" in text and "error: d/Dockerfile: buildah is not installed" in text
    assert "2,250,000 bytes" in text and "2 of 4 verified" in text


def test_progress_shows_steps_on_a_terminal_and_log_streams_lines_with_the_label() -> None:
    def one(path: str, say, on_line):  # type: ignore[no-untyped-def]
        say("building the original")
        on_line(f"{path}:original", "STEP 1/2: FROM debian")
        on_line(f"{path}:original", "hello from RUN")
        time.sleep(0.3)  # the display refreshes ten times a second
        return _report(path)

    quiet = io.StringIO()
    verify_many(["a", "b"], one, jobs=2, console=Console(file=quiet, force_terminal=False))
    assert quiet.getvalue() == ""  # not a terminal, not -v: nothing
    logged = io.StringIO()
    verify_many(["a", "b"], one, jobs=2, console=Console(file=logged, force_terminal=False, width=200), log=True)
    lines = logged.getvalue().splitlines()
    assert "[a:original] hello from RUN" in lines and "[b:original] STEP 1/2: FROM debian" in lines
    shown = io.StringIO()
    console = Console(file=shown, force_terminal=True, width=200)
    verify_many(["a"], one, jobs=1, console=console)
    assert "a:original: STEP 1/2: FROM debian" in shown.getvalue()  # the file's current build step
    assert "hello from RUN" not in shown.getvalue()  # without -v, steps only


# --- review leftover: the context's .dockerignore --------------------------------------------------

def test_context_files_leave_out_what_dockerignore_excludes(tmp_path: Path) -> None:
    (tmp_path / "app" / "cache").mkdir(parents=True)
    (tmp_path / "app" / "main.py").write_text("print()\n")
    (tmp_path / "app" / "secret.env").write_text("X=1\n")
    (tmp_path / "app" / "cache" / "big.bin").write_text("x")
    (tmp_path / "setup.cfg").write_text("")
    (tmp_path / ".dockerignore").write_text("**/*.env\napp/cache\n")
    df = parse("FROM python:3.12\nWORKDIR /srv\nCOPY app/ /srv/app/\nCOPY setup.cfg .\n")
    assert _context_files(df, tmp_path) == {"/srv/app/main.py", "/srv/setup.cfg"}
    (tmp_path / ".dockerignore").write_text("*\n!app\n")
    assert _context_files(df, tmp_path) == {"/srv/app/main.py", "/srv/app/secret.env", "/srv/app/cache/big.bin"}


# --- the command line ------------------------------------------------------------------------------

def test_single_file_flags_are_refused_for_several_files(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM python:3.12\nRUN pip install flask\n")
    from .test_cli import invoke

    for extra in (["--against", str(tmp_path / "a" / "Dockerfile")], ["--format", "markdown"],
                  ["--report", str(tmp_path / "r.html")]):
        result = invoke("verify", str(tmp_path), *extra)
        assert result.exit_code == 2, result.stderr
        assert "takes one Dockerfile; 2 were given" in result.stderr
    result = invoke("verify", str(tmp_path), "--builder", "buildah", "--buildx-builder", "k8s")
    assert result.exit_code == 2 and "add --builder buildx" in result.stderr


def test_single_file_verify_shows_steps_on_a_terminal_and_every_line_with_v(monkeypatch: pytest.MonkeyPatch,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from dockerslim.cli import Out, _build_lines

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    steps = _build_lines(Out())
    assert steps is not None
    steps("Dockerfile:original", "STEP 2/3: RUN make")
    steps("Dockerfile:original", "gcc -O2 -c main.c")
    assert capsys.readouterr().err == "dockerslim: Dockerfile:original: STEP 2/3: RUN make\n"
    every = _build_lines(Out(verbose=True))
    assert every is not None
    every("Dockerfile:candidate1", "gcc -O2 -c main.c")
    assert capsys.readouterr().err == "[Dockerfile:candidate1] gcc -O2 -c main.c\n"
    assert _build_lines(Out(quiet=True)) is None
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert _build_lines(Out()) is None  # a CI log: the output is kept for an error message only


# --- real builds with buildah ---------------------------------------------------------------------

@pytest.mark.build
def test_buildah_streams_a_runs_output_while_it_runs(buildah: Buildah, tmp_path: Path) -> None:
    token = uuid.uuid4().hex[:8]  # a new RUN every time: never a cached layer
    dockerfile = (f"FROM docker.io/library/debian:bookworm-slim\n"
                  f"RUN echo first-{token} && sleep 2 && echo last-{token}\n")
    seen: list[tuple[float, str]] = []
    start = time.monotonic()
    outcome = buildah.build(dockerfile, tmp_path, f"dockerslim-stream-{token}",
                            on_line=lambda line: seen.append((time.monotonic() - start, line)))
    ended = time.monotonic() - start
    buildah.remove(outcome.image)
    first = next(t for t, line in seen if line.strip() == f"first-{token}")
    last = next(t for t, line in seen if line.strip() == f"last-{token}")
    assert first < last - 1.5 and first < ended - 1.5, seen
    assert any(build_step(line) == "STEP 2/2: RUN echo first-" + token + " && sleep 2 && echo last-" + token
               for _, line in seen)
    assert f"first-{token}" in outcome.log


APP = 'FROM python:3.12\nWORKDIR /app\nCOPY app.py .\n{extra}CMD ["python", "app.py"]\n'  # rewritten: -slim base


@pytest.mark.build
def test_cli_verifies_a_folder_in_parallel(buildah: Buildah, tmp_path: Path) -> None:
    for name, extra in (("ok", ""), ("broken", "RUN test -f /no-such-file\n")):  # broken: the original fails
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text("print('hello')\n")
        (tmp_path / name / "Dockerfile").write_text(APP.format(extra=extra))
    env_keys = ("CONTAINERS_STORAGE_CONF", "CONTAINERS_REGISTRIES_CONF", "CONTAINERS_CONF")
    saved = {k: os.environ.get(k) for k in env_keys}
    os.environ.update({k: buildah.env[k] for k in env_keys})
    try:
        proc = run_cli("verify", str(tmp_path), "--builder", "buildah", "--pull", "never", "--jobs", "2",
                       "--smoke", "python app.py", "--no-compressed", "--format", "json", "-v", timeout=900)
        table = run_cli("verify", str(tmp_path / "ok"), str(tmp_path / "ok" / "Dockerfile"), "--builder", "buildah",
                        "--pull", "never", "--smoke", "python app.py", "--no-compressed", timeout=900)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert proc.returncode == 2, proc.stderr.decode()[-3000:]  # one environment error: exit 2
    doc = json.loads(proc.stdout)
    by = {Path(d["path"]).parent.name: d for d in doc}
    assert by["ok"]["status"] == "verified" and by["ok"]["saved"] > 0, by["ok"]
    assert by["broken"]["status"] == "error: the original does not build"
    err = proc.stderr.decode()
    assert f"[{tmp_path / 'ok' / 'Dockerfile'}:original] STEP 1/4: FROM python:3.12" in err  # -v: streamed, labelled
    assert f"{tmp_path / 'broken' / 'Dockerfile'}: the original does not build" in err
    assert table.returncode == 0, table.stderr.decode()[-3000:]  # the same file twice: both verify
    text = table.stdout.decode()
    assert "dockerslim verify" in text and text.count("verified") >= 2 and "2 of 2 verified" in text
