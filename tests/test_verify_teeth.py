"""verify's teeth, with real builds on the stand-in bases: the three run-time breakages a
rewrite can cause (a USER with no account, a compiler the entrypoint needs, a venv that does
not chain to the base's venv), a library the binaries load that the candidate lacks, and
``fix`` installing the package that owns it. Candidates are given with ``against``.
Fixtures: tests/data/verify/<case>/{Dockerfile,candidate.Dockerfile,smoke.txt}."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockerslim.builders import Buildah
from dockerslim.verify import Check, VerifyReport, add_packages, render, verify

DATA = Path(__file__).parent / "data" / "verify"


def check(report: VerifyReport, name: str) -> Check:
    return next(c for c in report.checks if c.name == name)


def against(case: str, buildah: Buildah, candidate: str = "candidate.Dockerfile", **kw) -> VerifyReport:  # type: ignore[no-untyped-def]
    folder = DATA / case
    return verify(folder / "Dockerfile", builder=buildah, against=(folder / candidate).read_text(),
                  smoke=(folder / "smoke.txt").read_text().strip(), compressed=False, **kw)


def test_add_packages_goes_after_the_final_from() -> None:
    text = "FROM a AS b\nRUN x\n\nFROM debian:bookworm-slim\nUSER app\nCMD [\"t\"]"
    out = add_packages(text, ["libz1", "libsnappy1v5"], "apt")
    assert out.splitlines()[4] == ("RUN apt-get update && apt-get install -y --no-install-recommends "
                                   "libsnappy1v5 libz1 && rm -rf /var/lib/apt/lists/*")
    assert out.splitlines()[5] == "USER app" and out.replace(out.splitlines()[4] + "\n", "") == text
    assert add_packages("FROM alpine\n", ["libpq"], "apk") == "FROM alpine\nRUN apk add --no-cache libpq\n"


@pytest.mark.build
def test_missing_user_is_caught(buildah: Buildah) -> None:
    report = against("missing-user", buildah)
    users = check(report, "USER exists")
    assert not users.ok and "no user 'app'" in users.detail and not report.ok
    assert not check(report, "smoke command runs").ok
    assert check(report, "rewrite builds").ok and check(report, "image config kept").ok
    assert "USER exists" in render(report) and report.against


@pytest.mark.build
def test_compiler_needed_by_the_entrypoint_is_caught(buildah: Buildah) -> None:
    report = against("entrypoint-compiler", buildah)
    programs = check(report, "entrypoint programs present")
    assert not programs.ok and "gcc" in programs.detail, programs.detail
    assert not check(report, "smoke command runs").ok and not report.ok
    assert check(report, "app files kept").ok  # the files are all there: only running shows it


@pytest.mark.build
def test_venv_that_does_not_chain_to_the_base_venv_is_caught(buildah: Buildah) -> None:
    report = against("nested-venv", buildah)
    seen = check(report, "python sees the same packages")
    assert not seen.ok and "basepkg" in seen.detail, seen.detail
    assert check(report, "python packages kept").ok  # basepkg's files are still in the image
    assert not check(report, "smoke command runs").ok and not report.ok


@pytest.mark.build
def test_missing_library_reported_by_file_then_fixed(buildah: Buildah) -> None:
    """A C++ tool linked to libsnappy (no map lists it): the candidate's runtime lacks it."""
    report = against("cpp-lib", buildah)
    libs = check(report, "runtime libraries resolve")
    assert not libs.ok and "/usr/local/bin/snaptool: libsnappy.so.1" in libs.detail, libs.detail
    assert report.missing_libraries == {"/usr/local/bin/snaptool": ["libsnappy.so.1"]}
    fixed = against("cpp-lib", buildah, fix=True)
    assert fixed.added_packages == ["libsnappy1v5"]
    assert "apt-get install -y --no-install-recommends libsnappy1v5" in fixed.candidate
    assert fixed.ok, [f"{c.name}: {c.detail}" for c in fixed.checks if not c.ok]
    assert fixed.rewrite.smoke and "snappy: 1000 ->" in fixed.rewrite.smoke.output  # type: ignore[union-attr]
