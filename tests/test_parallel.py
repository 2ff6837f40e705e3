"""The parallel test run keeps real-build tests together: tests/conftest.py puts every ``build``
test in one xdist group, so they run on one worker, one after another (they share buildah's
storage and a private dockerd), while the other tests spread over the workers."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.slow  # starts a pytest with two workers: seconds

SAMPLE = '''
import os
import pytest

def log(kind):
    with open(LOG, "a") as f:
        f.write(f"{kind} {os.environ['PYTEST_XDIST_WORKER']}\\n")

@pytest.mark.build
@pytest.mark.parametrize("i", range(6))
def test_build(i):
    log("build")

@pytest.mark.parametrize("i", range(12))
def test_fast(i):
    log("fast")
'''


def test_build_tests_share_one_worker(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makeini("[pytest]\nmarkers =\n    build: real builds\n")
    log = pytester.path / "workers.log"
    pytester.makepyfile(test_sample=f"LOG = {str(log)!r}\n" + SAMPLE)
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=18)
    runs = [line.split() for line in log.read_text().splitlines()]
    assert sorted(kind for kind, _ in runs) == ["build"] * 6 + ["fast"] * 12
    assert len({worker for kind, worker in runs if kind == "build"}) == 1, runs
