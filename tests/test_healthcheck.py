"""The HEALTHCHECK probe: the script runs for real under this machine's /bin/sh, against a
real server started as the app (what verify runs inside each image)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from dockerslim.builders import Buildah
from dockerslim.healthcheck import ANSWERED_ALREADY, APP_EXITED, app_argv, check_argv, probe_argv, wait_seconds

NS = 1_000_000_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(port: int, *, cmd: list[str] | None = None, interval: int = 30, retries: int = 3) -> dict:
    probe = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=2)"
    check = {"Test": ["CMD", sys.executable, "-c", probe], "Interval": interval * NS, "Retries": retries}
    return {"Healthcheck": check,
            "Cmd": cmd if cmd is not None else
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]}


def _run(config: dict, budget: float = 20) -> subprocess.CompletedProcess[str]:
    argv = probe_argv(config, budget=budget)
    assert argv is not None
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_the_check_passes_against_the_started_app() -> None:
    port = _free_port()
    config = _config(port)
    alone = subprocess.run(check_argv(config), capture_output=True)  # what verify ran before: nothing listens
    assert alone.returncode != 0
    proc = _run(config)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with socket.socket() as s:  # the app was stopped afterwards
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_an_app_that_exits_fails_with_its_output() -> None:
    config = _config(_free_port(), cmd=[sys.executable, "-c", "print('cannot start: no config'); raise SystemExit(3)"])
    proc = _run(config)
    assert proc.returncode == APP_EXITED
    assert "the app exited before the healthcheck passed" in proc.stdout and "cannot start: no config" in proc.stdout


def test_a_check_that_never_passes_stops_at_the_bound() -> None:
    config = _config(_free_port(), cmd=["sleep", "60"], interval=1, retries=2)
    assert wait_seconds(config) == 2
    proc = _run(config)
    assert proc.returncode == 1 and "did not pass within 2 s" in proc.stdout


def test_something_else_answering_is_not_taken_for_the_app() -> None:
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        config = _config(port, cmd=["sleep", "60"])
        for _ in range(50):
            if subprocess.run(check_argv(config), capture_output=True).returncode == 0:
                break
        proc = _run(config)
        assert proc.returncode == ANSWERED_ALREADY and "something else answers it" in proc.stdout
    finally:
        server.kill()


@pytest.mark.parametrize(("config", "check", "app"), [
    ({"Healthcheck": {"Test": ["CMD-SHELL", "curl -f localhost || exit 1"]}, "Entrypoint": ["tini", "--"],
      "Cmd": ["serve"]}, ["/bin/sh", "-c", "curl -f localhost || exit 1"], ["tini", "--", "serve"]),
    ({"Healthcheck": {"Test": ["NONE"]}, "Cmd": ["serve"]}, None, ["serve"]),
    ({"Cmd": None}, None, []),
])
def test_docker_config_reading(config: dict, check: list[str] | None, app: list[str]) -> None:
    assert check_argv(config) == check and app_argv(config) == app


def test_budget_bounds_dockers_wait() -> None:
    assert wait_seconds({"Healthcheck": {"Test": ["CMD", "x"]}}) == 60  # Docker: 3 x 30 s, bounded
    assert wait_seconds({"Healthcheck": {"Test": ["CMD", "x"]}}, budget=10) == 10
    assert probe_argv({"Healthcheck": {"Test": ["CMD", "x"]}}) == ["x"]  # nothing to start


def test_verify_uses_the_probe_for_a_healthcheck_only() -> None:
    from dockerslim.verify import smoke_argv

    config = {"Healthcheck": {"Test": ["CMD-SHELL", "curl -f http://localhost:8000/ || exit 1"]},
              "Cmd": ["python", "-m", "http.server", "8000"]}
    argv = smoke_argv(None, config, budget=5)
    assert argv is not None and argv[:2] == ["/bin/sh", "-c"]
    assert "python -m http.server 8000 >" in argv[2] and "curl -f http://localhost:8000/ || exit 1" in argv[2]
    assert smoke_argv("curl --version", config) == ["/bin/sh", "-c", "curl --version"]  # --smoke runs as given


@pytest.mark.build
def test_verify_runs_the_fixtures_healthcheck_against_its_server(buildah: Buildah) -> None:
    """fixtures/rewrite/healthcheck-curl: `curl -f http://localhost:8000/` only passes once the
    CMD (python -m http.server 8000) is listening; both images must pass it."""
    from pathlib import Path

    from dockerslim.verify import verify

    case = Path(__file__).resolve().parent.parent / "fixtures" / "rewrite" / "healthcheck-curl"
    steps: list[str] = []
    report = verify(case / "Dockerfile", builder=buildah, compressed=False,
                    timeout=30, progress=steps.append)
    smoke = next(c for c in report.checks if c.name == "smoke command runs")
    assert smoke.ok, smoke.detail
    assert smoke.detail.startswith("HEALTHCHECK /bin/sh -c 'curl -f http://localhost:8000/ || exit 1' against")
    assert report.ok, [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]
    assert any("running the HEALTHCHECK" in s for s in steps) and any(s.startswith("building ") for s in steps)
    for side in (report.original, report.rewrite):
        assert side is not None and sum(e["size"] for e in side.layer_sizes) == side.size
