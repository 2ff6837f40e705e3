"""Shared test helpers: the fixture corpus, and running the CLI as a user would."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from dockerslim import RewriteResult

    from .standins import CountingBuildah, Dockerd

# Two shared cores and parallel workers make wall-clock timing noise, and timing is not what any
# property test here is about: no per-example deadline (a test's own @settings may still set one).
# Fixed examples in CI (derandomize: the same seed every run, so a red build is reproducible);
# DOCKERSLIM_HYPOTHESIS_RANDOM=1 explores new examples on a contributor's machine.
settings.register_profile("dockerslim", deadline=None,
                          derandomize=not os.environ.get("DOCKERSLIM_HYPOTHESIS_RANDOM"))
settings.load_profile("dockerslim")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def dockerfiles(under: Path = FIXTURES) -> list[Path]:
    """Every input Dockerfile below ``under`` (expected outputs excluded)."""
    out = []
    for p in sorted(under.rglob("*")):
        if not p.is_file() or p.name.startswith("expected"):
            continue
        if p.name == "Dockerfile" or p.name.endswith(".Dockerfile") or p.name.startswith("Dockerfile."):
            out.append(p)
    return out


def fixture_id(p: Path) -> str:
    return str(p.relative_to(FIXTURES))


@functools.cache
def rewritten(path: Path) -> RewriteResult:
    """A fixture's rewrite, its folder as the build context; computed once per test process,
    as several test modules check the same rewrites (results are frozen, safe to share)."""
    from dockerslim import rewrite  # here, not at the top: a broken package must not stop every module

    return rewrite(path.read_bytes().decode("utf-8"), path=str(path), context_dir=path.parent)


def fake_program(folder: Path, name: str, source: str, **env: str) -> dict[str, str]:
    """An environment whose PATH finds ``name`` first: a Python script (``source``, with
    ``{python}`` for this interpreter) standing in for a builder in tests that need no build;
    ``env`` adds variables the script reads."""
    bindir = folder / "bin"
    bindir.mkdir(exist_ok=True)
    script = bindir / name
    script.write_text(source.format(python=sys.executable))
    script.chmod(0o755)
    return dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}", **env)


def run_cli(*args: str, stdin: bytes | None = None, cwd: Path | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m dockerslim`` in a subprocess: real exit codes, real streams.

    ``timeout`` bounds a hang; commands that build images pass a larger one (two builds on a
    loaded 2-core machine took over 120 s)."""
    env = dict(os.environ, NO_COLOR="1")
    env.pop("DOCKERSLIM_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "dockerslim", *args],
        input=stdin, capture_output=True, cwd=cwd, env=env, timeout=timeout,
    )


@pytest.fixture
def corpus() -> list[Path]:
    return dockerfiles()


@pytest.fixture(scope="session")
def buildah() -> CountingBuildah:
    """buildah on the offline stand-in bases (tests/standins), built or found once per session;
    skips, saying why, where they cannot be built."""
    from . import standins  # here: it imports dockerslim, which must not stop every module

    why = standins.available()
    if why:
        pytest.skip(why)
    return standins.CountingBuildah(pull="never", env=standins.ensure())


@pytest.fixture(scope="module")
def dockerd(buildah: CountingBuildah) -> Iterator[Dockerd]:
    """A private dockerd for a module's BuildKit tests, stopped after them; skips, saying why,
    where one cannot be started. Tests load the stand-ins they need with ``dockerd.load``."""
    from . import standins

    why = standins.docker_available()
    if why:
        pytest.skip(why)
    try:
        proc, env = standins.start_dockerd()
    except RuntimeError as exc:  # the machine, not dockerslim: say so and skip
        pytest.skip(str(exc))
    try:
        yield standins.Dockerd(env=env, buildah_env=buildah.env)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.hookimpl(tryfirst=True)  # before xdist's loadgroup reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Real-build tests share buildah's storage, the stand-in images and a private dockerd: one
    xdist group runs them all on one worker, one after the other, while the fast tests spread
    over the other workers."""
    for item in items:
        if item.get_closest_marker("build"):
            item.add_marker(pytest.mark.xdist_group("build"))


@pytest.hookimpl(tryfirst=True)  # before any fixture of the test is set up
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a grouped test rather than run builds side by side when xdist's loadgroup silently
    stops grouping (pytest-xdist 3.8 on pytest 9.2, pytest-xdist#1386): a group shows as a
    ``@name`` suffix of the node id."""
    if getattr(item.config.option, "loadgroup", False) and item.get_closest_marker("xdist_group") \
            and "@" not in item.nodeid:
        pytest.fail("--dist loadgroup is not grouping tests on this pytest/pytest-xdist pair "
                    "(pytest-xdist#1386): pin pytest<9.2 or run with -n 0", pytrace=False)
