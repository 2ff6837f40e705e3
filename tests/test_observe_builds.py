"""Observation with real buildah builds on the stand-in bases: per-step records, a second
observation of an unchanged project that makes no build, and the runtime library a C++ tool
needs found from its binary and owned by a package of the original image (tests/data/verify/cpp-lib)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dockerslim.observe import ObserveError, observe
from dockerslim.observe.elf import read_elf
from dockerslim.observe.sonames import Resolver, missing_sonames, owning_packages

from .standins import CountingBuildah, Dockerd

pytestmark = pytest.mark.build
DATA = Path(__file__).parent / "data" / "verify"

STEPS = """\
FROM debian:bookworm-slim
ARG TOOL=tool
WORKDIR /app
COPY app.txt ./
RUN groupadd --system app && useradd --system --gid app app && rm /etc/issue
RUN mkdir -p /opt/tools/bin /var/cache/obs && cp /bin/true /opt/tools/bin/${TOOL} && ln -s ${TOOL} /opt/tools/bin/alias
RUN echo cached > /var/cache/obs/entry
USER app
"""


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


def test_observe_records_each_step_and_the_cache_makes_no_second_build(
        buildah: CountingBuildah, tmp_path: Path, xdg: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "app.txt").write_text("hello\n")
    before = buildah.builds
    record = observe(STEPS, path="Dockerfile", context_dir=ctx, builder=buildah, build_args={"TOOL": "mytool"})
    assert buildah.builds == before + 1 and not record.cached
    assert sorted(record.steps) == [2, 3, 4, 5, 6, 7, 8]
    assert record.written_paths(4) == ["/app/app.txt"]
    assert record.created_accounts(5) == {"groups": ["app"], "users": ["app"]}
    assert "/etc/issue" in record.deleted_paths(5)
    tools = {f.path: f for f in record.step_outputs(6)}
    assert tools["/opt/tools/bin/mytool"].elf and tools["/opt/tools/bin/mytool"].mode & 0o111
    assert tools["/opt/tools/bin/alias"].kind == "l" and tools["/opt/tools/bin/alias"].target == "mytool"
    assert not record.is_cache_only(6) and record.is_cache_only(7)
    assert record.steps[8].files == [] and record.steps[3].keyword == "WORKDIR"
    assert list(xdg.glob("dockerslim/observe/*.json"))

    start = time.monotonic()
    again = observe(STEPS, path="Dockerfile", context_dir=ctx, builder=buildah, build_args={"TOOL": "mytool"})
    assert buildah.builds == before + 1, "a second observation of an unchanged project must not build"
    assert again.cached and time.monotonic() - start < 10
    assert again.steps[6].files == record.steps[6].files

    (ctx / "app.txt").write_text("changed\n")
    fresh = observe(STEPS, path="Dockerfile", context_dir=ctx, builder=buildah, build_args={"TOOL": "mytool"})
    assert buildah.builds == before + 2 and not fresh.cached and fresh.key != record.key


def test_an_original_that_does_not_build_says_why(buildah: CountingBuildah, tmp_path: Path, xdg: Path) -> None:
    text = "FROM debian:bookworm-slim\nRUN echo about to fail && exit 3\n"
    with pytest.raises(ObserveError) as err:
        observe(text, path="broken/Dockerfile", context_dir=tmp_path, builder=buildah)
    message = str(err.value)
    assert "broken/Dockerfile" in message and "does not build" in message and "exit status 3" in message, message


def test_cpp_tool_library_found_from_the_binary(buildah: CountingBuildah, xdg: Path) -> None:
    """libsnappy is in no hand-written map entry: the binary says it needs libsnappy.so.1, the slim base
    lacks it, and the original image's dpkg database says libsnappy1v5 (not -dev) owns it."""
    case = DATA / "cpp-lib"
    text = (case / "Dockerfile").read_text()
    record = observe(text, path=str(case / "Dockerfile"), context_dir=case, builder=buildah)
    built = {f.path: f for f in record.step_outputs(4)}
    assert built["/usr/local/bin/snaptool"].elf
    assert any(p.startswith("/usr/lib/x86_64-linux-gnu/libsnappy.so.1") for p in record.written_paths(2))
    tag = "dockerslim-test-observe-cpp"
    buildah.build((case / "Dockerfile").read_text(), case, tag)
    try:
        with buildah.rootfs(tag) as original, buildah.rootfs("python:3.12-slim") as slim:
            assert missing_sonames(original, paths=["/usr/local/bin"]) == {}
            info = read_elf(original / "usr/local/bin/snaptool")
            assert info is not None and "libsnappy.so.1" in info.needed
            missing = Resolver(slim).missing("/usr/local/bin/snaptool", info)
            assert missing == ["libsnappy.so.1"]
            assert owning_packages(original, missing) == {"libsnappy.so.1": "libsnappy1v5"}
    finally:
        buildah.remove(tag)


def test_hand_kept_runtime_map_agrees_with_discovery(buildah: CountingBuildah) -> None:
    """Every -dev package the bookworm maps list (hand-written, and generated from the archive's
    Packages index) and the python:3.12 stand-in has installed: the libraries its .so links name
    (DT_SONAME) are owned by the runtime packages the map says."""
    from dockerslim.catalog import load
    from dockerslim.observe.sonames import resolve_in_root

    mapping = {**load("runtime_libs")["apt"]["bookworm"], **load("packages")["apt"]["runtime_libs"]["bookworm"]}
    checked = 0
    with buildah.rootfs("python:3.12") as root:
        info = root / "var/lib/dpkg/info"
        for dev, runtime in mapping.items():
            listing = next(iter(info.glob(f"{dev}.list")), None) or next(iter(info.glob(f"{dev}:*.list")), None)
            if listing is None:
                continue
            for path in listing.read_text().splitlines():
                if not path.endswith(".so") or "/lib" not in path:
                    continue
                real = resolve_in_root(root, path)
                elf = read_elf(real) if real else None
                if elf is None or not elf.soname:
                    continue
                owner = owning_packages(root, [elf.soname]).get(elf.soname)
                assert owner in runtime, f"{dev}: {elf.soname} is owned by {owner}, the map says {runtime}"
                checked += 1
    assert checked >= 1  # libpq-dev is in the stand-in


def test_observe_with_buildkit(dockerd: Dockerd, tmp_path: Path, xdg: Path) -> None:
    """The same record through a private dockerd's BuildKit: ``docker save`` instead of an
    OCI push, BuildKit's history spelling (``RUN /bin/sh -c … # buildkit``)."""
    dockerd.load("docker.io/library/debian:bookworm-slim")
    builder = dockerd.buildx()
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "app.txt").write_text("hello\n")
    record = observe(STEPS, path="Dockerfile", context_dir=ctx, builder=builder, build_args={"TOOL": "mytool"})
    assert record.builder == "buildx" and record.written_paths(4) == ["/app/app.txt"]
    assert record.created_accounts(5) == {"groups": ["app"], "users": ["app"]}
    assert any(f.path == "/opt/tools/bin/mytool" and f.elf for f in record.step_outputs(6))
    assert record.is_cache_only(7)
    assert observe(STEPS, path="Dockerfile", context_dir=ctx, builder=builder, build_args={"TOOL": "mytool"}).cached
