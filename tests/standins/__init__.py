"""Offline stand-ins for the base images the fixtures use, built with buildah from a
``debootstrap --variant=minbase bookworm`` root file system and tagged with the real names.

They imitate what matters to a rewrite: where Python lives, which images have compilers and
headers, which have no shell. Built once into a cached buildah storage (``DOCKERSLIM_TEST_CACHE``,
default /var/cache/dockerslim-test) and reused by later runs.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockerslim.builders import Buildah, BuildOutcome, Buildx

HERE = Path(__file__).resolve().parent
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
WHEELS = Path(os.environ.get("PIP_FIND_LINKS", "/opt/wheels"))
MIRROR = "http://deb.debian.org/debian"
# What the official debian images (debuerreotype) put in /etc/apt/apt.conf.d and every image FROM
# them inherits: apt keeps no .deb files or binary caches, no translations, gzipped indexes. Without
# docker-clean an `apt-get install` layer on a stand-in carried ~90 MB of /var/cache/apt the real
# image's layer does not.
APT_CONF = {
    "docker-autoremove-suggests": 'Apt::AutoRemove::SuggestsImportant "false";\n',
    "docker-clean": (
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb'
        ' /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb'
        ' /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'),
    "docker-gzip-indexes": 'Acquire::GzipIndexes "true";\n',
    "docker-no-languages": 'Acquire::Languages "none";\n',
}


@dataclass(frozen=True)
class Standin:
    dockerfile: str  # in this folder; "" for the debootstrap root
    tags: tuple[str, ...]


# In build order: each builds FROM a tag made earlier.
STANDINS = (
    Standin("", ("docker.io/library/debian:bookworm", "docker.io/library/debian:bookworm-slim")),
    Standin("python-slim.Dockerfile", ("docker.io/library/python:3.12-slim", "docker.io/library/python:3.11-slim")),
    Standin("python-full.Dockerfile", ("docker.io/library/python:3.12", "docker.io/library/python:3.11")),
    Standin("pytorch-runtime.Dockerfile", ("docker.io/pytorch/pytorch:2.7.1-cuda11.8-cudnn9-runtime",)),
    Standin("pytorch-devel.Dockerfile", ("docker.io/pytorch/pytorch:2.7.1-cuda11.8-cudnn9-devel",)),
    Standin("cuda-runtime.Dockerfile", ("docker.io/nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04",
                                        "docker.io/nvidia/cuda:12.4.1-base-ubuntu22.04")),
    Standin("cuda-devel.Dockerfile", ("docker.io/nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04",)),
    Standin("golang.Dockerfile", ("docker.io/library/golang:1.22",)),
    Standin("distroless-static.Dockerfile", ("gcr.io/distroless/static-debian12",)),
    Standin("uv.Dockerfile", ("ghcr.io/astral-sh/uv:0.7.11",)),
    # invented name: an in-house ML base whose Python is a virtualenv (not in the catalogue)
    Standin("torch-venv.Dockerfile", ("docker.io/mlplatform/torch-venv:2.7-cpu",)),
    # conda's layout (a self-contained /opt/conda prefix, pkgs/ cache), not conda: see the file
    Standin("conda.Dockerfile", ("docker.io/continuumio/miniconda3:24.7.1-0",)),
    # that prefix and script on miniforge's and micromamba's layouts (`mamba`, `micromamba`): see the files
    Standin("miniforge.Dockerfile", ("docker.io/condaforge/miniforge3:24.3.0-0",)),
    Standin("micromamba.Dockerfile", ("docker.io/mambaorg/micromamba:1.5.8",)),
    # Debian's Node.js 18 / rustc 1.63 under the names the fixtures use (benchmarks/experts.py)
    Standin("node.Dockerfile", ("docker.io/library/node:lts", "docker.io/library/node:20",
                                "docker.io/library/node:18")),
    Standin("node-slim.Dockerfile", ("docker.io/library/node:lts-slim", "docker.io/library/node:20-slim",
                                     "docker.io/library/node:18-slim")),
    Standin("rust.Dockerfile", ("docker.io/library/rust:1.80", "docker.io/library/rust:1")),
)
# More names for a stand-in already built (a tag, no build): tag -> existing stand-in tag.
ALIASES = {
    "docker.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04": "docker.io/nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04",
    "docker.io/library/ubuntu:jammy": "docker.io/library/debian:bookworm",  # as the cuda stand-ins: Debian for Ubuntu
    "docker.io/library/python:3.9": "docker.io/library/python:3.12",  # Debian's Python 3.11 under all these names
    "docker.io/library/python:3.9-slim": "docker.io/library/python:3.12-slim",
    "docker.io/nvidia/cuda:11.8.0-devel-ubuntu22.04": "docker.io/nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04",
    "docker.io/nvidia/cuda:11.8.0-runtime-ubuntu22.04": "docker.io/nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04",
    "docker.io/nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04": "docker.io/nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04",
    "docker.io/nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04": "docker.io/nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04",
}
UV_VERSION = "0.7.11"
# Base images the fixtures name that have no stand-in, and why (benchmarks/experts.py says so per row).
MISSING = (
    (r"-alpine", "Alpine, with musl libc and apk, has no faithful Debian imitation; its package mirror "
                 "dl-cdn.alpinelinux.org and Docker Hub are unreachable here"),
    (r"^(docker\.io/)?(library/)?maven:", "Maven Central, where mvn fetches its plugins and the project's "
                                          "dependencies, is unreachable here; Debian has no Temurin JDK 21"),
    (r"@sha256:", "a digest names one exact image, here a made-up one: no local image can be given that digest"),
    (r"^(docker\.io/)?tensorflow/tensorflow:", "TensorFlow's -devel and runtime images differ mainly in what "
     "cannot be fetched here: the -devel image's CUDA development libraries, Bazel and TensorFlow source tree "
     "from GitHub and NVIDIA's repositories, the runtime's TensorFlow with its CUDA wheels; a ratio measured "
     "without them would mean nothing"),
)


# Why an original fails on the stand-ins, by what its Dockerfile and build log say (benchmarks/experts.py).
FAILS_BECAUSE = (
    (r"Unable to locate package python3\.10", "python3.10 is Ubuntu 22.04's: the stand-ins for the "
     "*-ubuntu22.04 tags are Debian 12 with python3.11"),
    (r"bootstrap\.pypa\.io", "get-pip.py's host bootstrap.pypa.io is unreachable here"),
    (r"github\.com", "GitHub is unreachable here"),
    (r'"env use" command', "the project requires Python ^3.12; the python:3.12 stand-in is Debian's Python 3.11"),
)


def fails_because(log: str) -> str:
    """The known causes, among FAILS_BECAUSE, of a failed build (``log``: its Dockerfile and output)."""
    return "; ".join(why for pattern, why in FAILS_BECAUSE if re.search(pattern, log))


def why_missing(image: str) -> str:
    """Why ``image`` has no stand-in ("" when no reason is known: it was never made)."""
    return next((why for pattern, why in MISSING if re.search(pattern, image)), "")


def cache_dir() -> Path:
    return Path(os.environ.get("DOCKERSLIM_TEST_CACHE", "/var/cache/dockerslim-test"))


def buildah_env() -> dict[str, str]:
    """Environment pointing buildah at the cached storage and this workplace's limits."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    (root / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{root}/storage"\nrunroot = "{root}/runroot"\n')
    (root / "registries.conf").write_text(
        'unqualified-search-registries = ["docker.io"]\nshort-name-mode = "permissive"\n')
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 32768)  # buildah itself runs under 32768
    (root / "containers.conf").write_text(
        f'[containers]\ndefault_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n')
    env = dict(os.environ)
    env.update(CONTAINERS_STORAGE_CONF=str(root / "storage.conf"),
               CONTAINERS_REGISTRIES_CONF=str(root / "registries.conf"),
               CONTAINERS_CONF=str(root / "containers.conf"), BUILDAH_ISOLATION="chroot")
    return env


def available() -> str | None:
    """None when stand-ins can be built here, else why not."""
    for tool in ("buildah", "debootstrap"):
        if not shutil.which(tool):
            return f"{tool} is not installed (.ci/install-build-tools installs it)"
    if os.geteuid() != 0:
        return "building images with buildah --isolation chroot needs root"
    return None


def _buildah(env: dict[str, str], *args: str, **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run(["buildah", *args], env=env, capture_output=True, check=True, **kw)


def _exists(env: dict[str, str], tag: str) -> bool:
    return subprocess.run(["buildah", "inspect", "--type", "image", tag], env=env, capture_output=True).returncode == 0


def _debian_root(env: dict[str, str], tags: tuple[str, ...]) -> None:
    with tempfile.TemporaryDirectory(prefix="dockerslim-rootfs-", dir=cache_dir()) as tmp:
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", tmp, MIRROR], check=True, capture_output=True)
        shutil.rmtree(Path(tmp, "var/cache/apt/archives"), ignore_errors=True)
        for name, text in APT_CONF.items():
            Path(tmp, "etc/apt/apt.conf.d", name).write_text(text)
        for leftover in Path(tmp, "var/cache/apt").glob("*.bin"):
            leftover.unlink()
        ctr = _buildah(env, "from", "scratch").stdout.decode().strip()
        mount = _buildah(env, "mount", ctr).stdout.decode().strip()
        subprocess.run(["cp", "-a", f"{tmp}/.", mount], check=True)
        _buildah(env, "umount", ctr)
        _buildah(env, "config", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                 "--cmd", "bash", ctr)
        _buildah(env, "commit", "-q", ctr, tags[0])
        _buildah(env, "rm", ctr)
    for extra in tags[1:]:
        _buildah(env, "tag", tags[0], extra)


def _uv_binaries(dest: Path) -> None:
    """uv and uvx from the manylinux wheel on PyPI."""
    import sys
    import zipfile

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--platform", "manylinux_2_17_x86_64", "-d", tmp, f"uv=={UV_VERSION}"], check=True)
        wheel = next(Path(tmp).glob("uv-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            for name in ("uv", "uvx"):
                member = next(n for n in zf.namelist() if n.endswith(f".data/scripts/{name}"))
                target = dest / name
                target.write_bytes(zf.read(member))
                target.chmod(0o755)


FAILED: dict[str, str] = {}  # stand-in Dockerfile -> the tail of its failed build (this process)


def ensure() -> dict[str, str]:
    """Build the stand-ins that are missing; returns the buildah environment to use. A stand-in
    that fails twice is reported (``FAILED``, a warning) instead of failing every build test."""
    env = buildah_env()
    with open(cache_dir() / "standins.lock", "w") as lock:  # pytest-xdist workers and helpers share one storage
        fcntl.flock(lock, fcntl.LOCK_EX)
        _ensure(env)
    return env


def _recipes() -> dict[str, str]:
    """Each stand-in's recipe digest, by its first tag: its Dockerfile and the files its build
    copies in, and the digests of the stand-ins it is built FROM, so a changed recipe rebuilds it
    and everything built on it (a cached image is kept only while its recipe is unchanged)."""
    import inspect

    digests: dict[str, str] = {}
    by_tag: dict[str, str] = {}
    for standin in STANDINS:
        h = hashlib.sha256()
        if not standin.dockerfile:
            h.update(inspect.getsource(_debian_root).encode() + json.dumps(APT_CONF).encode() + MIRROR.encode())
        else:
            text = (HERE / standin.dockerfile).read_text()
            h.update(text.encode())
            if standin.dockerfile.startswith("conda"):
                h.update((HERE / "conda-stand-in.sh").read_bytes())
            for parent in re.findall(r"(?im)^FROM\s+(?:--\S+\s+)*(\S+)", text):
                h.update(by_tag.get(_qualified(parent), "").encode())
        digests[standin.tags[0]] = h.hexdigest()[:16]
        for tag in standin.tags:
            by_tag[tag] = digests[standin.tags[0]]
    return digests


def _qualified(name: str) -> str:
    """docker.io/library/NAME for a short image name, as the STANDINS tags are written."""
    first = name.split("/", 1)[0]
    if "/" in name and ("." in first or ":" in first):
        return name
    return f"docker.io/{name}" if "/" in name else f"docker.io/library/{name}"


def _image_id(env: dict[str, str], tag: str) -> str:
    proc = subprocess.run(["buildah", "inspect", "--type", "image", "--format", "{{.FromImageID}}", tag],
                          env=env, capture_output=True)
    return proc.stdout.decode().strip() if proc.returncode == 0 else ""


def _ensure(env: dict[str, str]) -> None:
    record_file = cache_dir() / "standins.json"
    try:
        record: dict[str, dict[str, str]] = json.loads(record_file.read_text())
    except (OSError, ValueError):
        record = {}
    recipes = _recipes()
    for standin in STANDINS:
        first = standin.tags[0]
        built = record.get(first, {})
        if (built.get("recipe") == recipes[first] and all(_exists(env, t) for t in standin.tags)
                and built.get("id") == _image_id(env, first)):
            continue
        _build(env, standin)
        record[first] = {"recipe": recipes[first], "id": _image_id(env, first)}
        record_file.write_text(json.dumps(record, indent=1, sort_keys=True))
    for tag, existing in ALIASES.items():
        if _image_id(env, tag) != _image_id(env, existing) and _exists(env, existing):
            _buildah(env, "tag", existing, tag)  # a failed stand-in has no aliases either


def _build(env: dict[str, str], standin: Standin) -> None:
    if not standin.dockerfile:
        _debian_root(env, standin.tags)
        return
    with tempfile.TemporaryDirectory(prefix="dockerslim-standin-") as ctx:
        shutil.copy(HOST_CA, Path(ctx, "host-ca.crt"))
        Path(ctx, "wheels").mkdir()
        for wheel in sorted(WHEELS.glob("torch-*cp311*.whl")) if "torch" in standin.dockerfile else []:
            shutil.copy(wheel, Path(ctx, "wheels", wheel.name))
        if standin.dockerfile == "uv.Dockerfile":
            _uv_binaries(Path(ctx))
        if standin.dockerfile == "conda.Dockerfile":
            shutil.copy(HERE / "conda-stand-in.sh", Path(ctx, "conda-stand-in.sh"))
        args = ["bud", "--isolation", "chroot", "--pull=never", "--format", "docker",
                "-f", str(HERE / standin.dockerfile)]
        for t in standin.tags:
            args += ["-t", t]
        for _attempt in range(2):  # once more: a stand-in's apt/pip step meets the network
            proc = subprocess.run(["buildah", *args, ctx], env=env, capture_output=True)
            if proc.returncode == 0:
                break
        if proc.returncode != 0:  # the tests on this base fail (base not found); the others run
            FAILED[standin.dockerfile] = proc.stderr.decode(errors="replace")[-3000:]
            warnings.warn(f"stand-in {standin.dockerfile} failed to build; tests on "
                          f"{', '.join(standin.tags)} will fail:\n{FAILED[standin.dockerfile]}", stacklevel=2)


DOCKER = "/usr/bin/docker"  # Debian's docker.io client: the daemon's built-in BuildKit without the buildx plugin


def docker_available() -> str | None:
    """None when a private Docker daemon can be started here, else why not."""
    if os.geteuid() != 0:
        return "starting dockerd needs root"
    for tool in ("dockerd", DOCKER):
        if not shutil.which(tool):
            return f"{tool} is not installed (.ci/install-build-tools installs docker.io)"
    return None


def start_dockerd() -> tuple[subprocess.Popen, dict[str, str]]:
    """A private dockerd (own socket and data root, no bridge or iptables: this sandbox has
    neither); returns the process and the client environment (DOCKER_HOST)."""
    import time

    root = cache_dir() / "docker"
    root.mkdir(parents=True, exist_ok=True)
    sock = root / "docker.sock"
    with open(root / "dockerd.log", "ab") as log:  # dockerd keeps its own copy of the descriptor
        proc = subprocess.Popen(
            ["dockerd", "--iptables=false", "--bridge=none", f"--data-root={root}/data", f"--exec-root={root}/exec",
             f"--pidfile={root}/docker.pid", "-H", f"unix://{sock}"], stdout=log, stderr=log)
    env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")
    for _ in range(60):
        if subprocess.run([DOCKER, "info"], env=env, capture_output=True).returncode == 0:
            return proc, env
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"dockerd did not start; see {root / 'dockerd.log'}")


@dataclass
class CountingBuildah(Buildah):
    """buildah on the stand-ins' storage that counts its builds: tests of observation's cache
    assert a second observation makes none (compare with the count before, as it is shared)."""

    builds: int = 0

    def build(self, *args: Any, **kw: Any) -> BuildOutcome:
        self.builds += 1
        return super().build(*args, **kw)


@dataclass(frozen=True)
class Dockerd:
    """A private dockerd started by ``start_dockerd``, with the buildah storage it loads from."""

    env: dict[str, str]  # the docker client's environment (DOCKER_HOST)
    buildah_env: dict[str, str]

    def load(self, *tags: str) -> None:
        load_into_docker(self.buildah_env, self.env, list(tags))

    def buildx(self) -> Buildx:
        """The BuildKit backend on this daemon: builds on the host network (the stand-ins
        install nothing from outside), runs without one."""
        return Buildx(docker=DOCKER, network="host", run_network="none", env=self.env)


def load_into_docker(buildah: dict[str, str], docker: dict[str, str], tags: list[str]) -> None:
    """Copy stand-in images from buildah's storage into the daemon (skipping those present)."""
    for tag in tags:
        if subprocess.run([DOCKER, "image", "inspect", tag], env=docker, capture_output=True).returncode == 0:
            continue
        with tempfile.TemporaryDirectory(prefix="dockerslim-load-", dir=cache_dir()) as tmp:
            archive = f"{tmp}/image.tar"  # docker-daemon: transport breaks its pipe here; an archive does not
            subprocess.run(["buildah", "push", "-q", tag, f"docker-archive:{archive}:{tag}"], env=buildah,
                           check=True, capture_output=True)
            subprocess.run([DOCKER, "load", "-i", archive], env=docker, check=True, capture_output=True)
