"""Image builders behind one small interface: buildah (daemonless; the default) and BuildKit
through ``docker buildx`` (where a Docker daemon or a remote/Kubernetes builder exists: the way
to run verification at scale). ``verify`` only talks to this interface.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from .errors import DockerslimError

INSTALL_HINT = (
    "no image builder found: install buildah (Debian/Ubuntu: apt-get install buildah) "
    "or Docker with buildx (a daemon or a remote builder: docker buildx create --driver kubernetes …)"
)


SETUP_FAILURES = ("sealing memfd copy",)  # container set-up errors, not the command's
HEREDOC_BUILDAH = (1, 33)  # first buildah release whose Dockerfile parser reads heredocs


def _uses_heredocs(dockerfile: str) -> bool:
    from .parse import parse

    try:
        return any(getattr(n, "heredocs", ()) for n in parse(dockerfile).instructions())
    except DockerslimError:
        return False


LineSink = Callable[[str], None]  # receives each line of a build's output as it is printed
STEP = re.compile(r"^(?:\[\d+/\d+\] )?STEP (\d+)/(\d+): (.*)")  # buildah ("[2/3] STEP 1/4: …" in a multi-stage file)
BUILDKIT_STEP = re.compile(r"^#\d+ \[(?:(\S+) )?(\d+)/(\d+)\] (.*)")  # BuildKit --progress=plain
LOG_LINES = 2000  # a build's log kept for its error message and BuildOutcome.log: the last lines


def build_step(line: str) -> str | None:
    """``STEP 3/7: RUN …`` when ``line`` starts a build step (buildah's ``STEP 3/7: RUN …``, with
    ``[2/3] `` before it in a multi-stage file; BuildKit's plain ``#9 [builder 3/7] RUN …``),
    else None: what a progress display shows."""
    m = STEP.match(line)
    if m:
        return line.rstrip()
    m = BUILDKIT_STEP.match(line)
    if m:
        stage = f"{m.group(1)} " if m.group(1) and m.group(1) != "stage-0" else ""
        return f"STEP {stage}{m.group(2)}/{m.group(3)}: {m.group(4).rstrip()}"
    return None


def stream(argv: list[str], *, env: dict[str, str] | None = None, input: bytes | None = None,
           on_line: LineSink | None = None) -> tuple[int, str]:
    """Run a build: its output (stdout and stderr as one stream, in the order printed) goes to
    ``on_line`` line by line as it comes, and its last ``LOG_LINES`` lines are returned with
    the exit code (for the error message). A build is never silent for minutes when watched."""
    try:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except FileNotFoundError:
        raise BuilderError(f"{argv[0]} is not installed. {INSTALL_HINT}") from None
    if input is not None:  # written beside the reader: a builder may print before it has read it all
        def feed() -> None:
            with contextlib.suppress(OSError), proc.stdin:  # type: ignore[union-attr]
                proc.stdin.write(input)  # type: ignore[union-attr]

        threading.Thread(target=feed, daemon=True).start()
    kept: deque[str] = deque(maxlen=LOG_LINES)
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.decode(errors="replace").rstrip("\r\n")
        kept.append(line)
        if on_line is not None:
            on_line(line)
    return proc.wait(), "\n".join(kept) + ("\n" if kept else "")


class BuilderError(DockerslimError):
    """A build tool is missing or failed; the message carries the tail of its output."""


@dataclass(frozen=True)
class BuildOutcome:
    image: str  # tag
    seconds: float
    log: str


@dataclass(frozen=True)
class ImageFacts:
    config: dict[str, Any]  # Docker-style config: Cmd, Entrypoint, Env, WorkingDir, User, …
    layers: int
    size: int  # uncompressed bytes
    compressed: int | None = None  # bytes of gzip-compressed layers, when measured
    image_id: str = ""  # the config digest: what identifies a base image in observation cache keys
    diff_ids: tuple[str, ...] = ()  # uncompressed layer digests, base layers first
    history: tuple[dict[str, Any], ...] = ()  # image-config history entries (created_by, empty_layer)
    layer_sizes: tuple[int, ...] = ()  # uncompressed bytes of each layer tar, base layers first (buildah)


@dataclass(frozen=True)
class RunOutcome:
    exit_code: int
    output: str


class Builder(Protocol):
    name: str

    def build(self, dockerfile: str, context: Path, tag: str, *, build_args: dict[str, str] | None = None,
              build_contexts: dict[str, str] | None = None, target: str | None = None,
              platform: str | None = None, on_line: LineSink | None = None) -> BuildOutcome:
        """Build ``tag``; ``on_line`` receives each output line as the builder prints it."""
        ...

    def inspect(self, image: str, *, compressed: bool = False) -> ImageFacts: ...

    def export_oci(self, image: str, dest: Path) -> None:
        """Write ``image`` under ``dest`` as an OCI layout (``index.json`` + ``blobs/``) or a
        ``docker save`` archive (``manifest.json``), layers as tars: what observation reads."""
        ...

    def run(self, image: str, argv: list[str], *, timeout: float = 300) -> RunOutcome: ...

    def rootfs(self, image: str) -> contextlib.AbstractContextManager[Path]: ...

    def remove(self, image: str) -> None: ...


def _run(argv: list[str], *, env: dict[str, str] | None = None, timeout: float | None = None,
         input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(argv, capture_output=True, env=env, timeout=timeout, input=input)
    except FileNotFoundError:
        raise BuilderError(f"{argv[0]} is not installed. {INSTALL_HINT}") from None


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def build_flags(tags: tuple[str, ...] | list[str] = (), build_args: dict[str, str] | None = None,
                build_contexts: dict[str, str] | None = None, target: str | None = None,
                platform: str | None = None) -> list[str]:
    """``-t``, ``--build-arg``, ``--build-context``, ``--platform``, ``--target``: spelled the
    same for buildah and buildx, written once (``verify`` and ``dockerslim build`` use it)."""
    argv: list[str] = []
    for tag in tags:
        argv += ["-t", tag]
    for k, v in (build_args or {}).items():
        argv += ["--build-arg", f"{k}={v}"]
    for k, v in (build_contexts or {}).items():
        argv += ["--build-context", f"{k}={v}"]
    return argv + (["--platform", platform] if platform else []) + (["--target", target] if target else [])


def scratch_tag(purpose: str, path: str) -> str:
    """``dockerslim-<purpose>-<12 hex>``: a tag for images a run builds and removes itself,
    unique per process and moment, so two runs on one file never remove each other's images."""
    unique = f"{path}\0{os.getpid()}\0{time.time_ns()}"
    return f"dockerslim-{purpose}-" + hashlib.sha256(unique.encode()).hexdigest()[:12]


def buildah_facts(data: dict[str, Any]) -> ImageFacts:
    """The facts ``buildah inspect --type image`` prints (its JSON, parsed): the one reader of
    that output, for ``Buildah.inspect`` and the report's per-layer sizes alike."""
    docker = data.get("Docker") or {}
    config = dict(docker.get("config") or {})
    oci_image = data.get("OCIv1") or {}
    oci = oci_image.get("config") or {}
    for key in ("Cmd", "Entrypoint", "Env", "WorkingDir", "User", "ExposedPorts", "Labels", "Volumes",
                "StopSignal"):
        config.setdefault(key, oci.get(key))
    diff_ids = tuple((oci_image.get("rootfs") or {}).get("diff_ids") or ())
    manifest = json.loads(data.get("Manifest") or "{}")
    sizes = tuple(int(layer.get("size", 0)) for layer in manifest.get("layers", []))  # uncompressed layer tars
    return ImageFacts(config=config, layers=len(diff_ids), size=sum(sizes), image_id=data.get("FromImageID") or "",
                      diff_ids=diff_ids, history=tuple(oci_image.get("history") or ()), layer_sizes=sizes)


# Builds sharing one buildah storage (verify DIR --jobs N, several tools at once) can see a
# layer vanish between buildah's cache lookup and its use; the build itself was fine: again.
STORAGE_RACE_MESSAGES = ("layer not known", "identifier is not a layer")
STORAGE_RACE_RETRIES = 2


def _storage_race(log: str) -> bool:
    tail = log[-4000:]
    return any(message in tail for message in STORAGE_RACE_MESSAGES)


@dataclass
class Buildah:
    """buildah with chroot isolation (works as root without a daemon or user namespaces)."""

    pull: str = "missing"  # buildah --pull policy: missing | never | always
    isolation: str = "chroot"
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    name: str = "buildah"
    slots: threading.Semaphore | None = field(default=None, compare=False, repr=False)  # at most N builds at once

    def bud_argv(self, dockerfile: str) -> list[str]:
        """``buildah bud`` as dockerslim always runs it, reading ``dockerfile`` ('-': stdin);
        the build's own flags and the context follow (``build_flags``)."""
        # Docker format: buildah's default (OCI) drops HEALTHCHECK, SHELL and STOPSIGNAL from the image
        return ["buildah", "bud", "--isolation", self.isolation, "--layers", "--format", "docker",
                f"--pull={self.pull}", "-f", dockerfile]

    def _buildah(self, *args: str, timeout: float | None = None,
                 check: bool = True) -> subprocess.CompletedProcess[bytes]:
        proc = _run(["buildah", *args], env=self.env, timeout=timeout)
        if check and proc.returncode != 0:
            raise BuilderError(f"buildah {args[0]} failed:\n{_tail(proc.stderr.decode(errors='replace'))}")
        return proc

    def version(self) -> tuple[int, ...]:
        out = self._buildah("--version").stdout.decode()
        m = re.search(r"version (\d+)\.(\d+)", out)
        return (int(m.group(1)), int(m.group(2))) if m else (0, 0)

    def build(self, dockerfile: str, context: Path, tag: str, *, build_args: dict[str, str] | None = None,
              build_contexts: dict[str, str] | None = None, target: str | None = None,
              platform: str | None = None, on_line: LineSink | None = None) -> BuildOutcome:
        if _uses_heredocs(dockerfile) and self.version() < HEREDOC_BUILDAH:
            raise BuilderError(
                f"buildah {'.'.join(map(str, self.version()))} does not understand heredocs (RUN <<EOF); "
                f"buildah {'.'.join(map(str, HEREDOC_BUILDAH))} or newer does (Debian 13 ships 1.39), "
                "or use --builder buildx")
        if build_contexts and self.version() < (1, 29):
            raise BuilderError(
                "this buildah does not support --build-context (1.29 or newer does); use --builder buildx")
        with tempfile.NamedTemporaryFile("w", suffix=".Dockerfile", delete=False) as fh:
            fh.write(dockerfile)
        argv = [*self.bud_argv(fh.name), *build_flags((tag,), build_args, build_contexts, target, platform),
                str(context)]
        try:
            with self.slots or contextlib.nullcontext():
                for attempt in range(1 + STORAGE_RACE_RETRIES):
                    start = time.monotonic()
                    code, log = stream(argv, env=self.env, on_line=on_line)
                    seconds = time.monotonic() - start
                    if code == 0 or attempt == STORAGE_RACE_RETRIES or not _storage_race(log):
                        break
                    if on_line is not None:
                        on_line(f"dockerslim: another build changed buildah's layer cache under this one; "
                                f"building {tag} again")
        finally:
            os.unlink(fh.name)
        if code != 0:
            raise BuilderError(f"build of {tag} failed:\n{_tail(log)}")
        return BuildOutcome(tag, seconds, log)

    def inspect(self, image: str, *, compressed: bool = False) -> ImageFacts:
        facts = buildah_facts(json.loads(self._buildah("inspect", "--type", "image", image).stdout))
        return replace(facts, compressed=self._compressed_size(image)) if compressed else facts

    def export_oci(self, image: str, dest: Path) -> None:
        """``buildah push -D IMG oci:DEST``: uncompressed layer tars, read in place."""
        self._buildah("push", "--disable-compression", "--format", "oci", image, f"oci:{dest}")

    def _compressed_size(self, image: str) -> int:
        with tempfile.TemporaryDirectory(prefix="dockerslim-push-") as tmp:
            self._buildah("push", "--compression-format", "gzip", "--format", "oci", image, f"oci:{tmp}/img")
            index = json.loads(Path(tmp, "img", "index.json").read_text())
            digest = index["manifests"][0]["digest"].split(":", 1)[1]
            manifest = json.loads(Path(tmp, "img", "blobs", "sha256", digest).read_text())
            return sum(int(layer["size"]) for layer in manifest["layers"])

    def run(self, image: str, argv: list[str], *, timeout: float = 300) -> RunOutcome:
        """Run ``argv`` in a fresh container of ``image``. A failure of the container set-up
        itself (not of the command) is retried twice: chroot isolation occasionally loses a
        race sealing its memfd copy ("Device or resource busy")."""
        for _attempt in range(3):
            outcome = self._run_once(image, argv, timeout)
            if outcome.exit_code == 0 or not any(m in outcome.output for m in SETUP_FAILURES):
                return outcome
        return outcome

    def _run_once(self, image: str, argv: list[str], timeout: float) -> RunOutcome:
        ctr = self._buildah("from", "--pull=never", "-q", image).stdout.decode().strip()
        try:
            proc = _run(["buildah", "run", "--isolation", self.isolation, ctr, "--", *argv],
                        env=self.env, timeout=timeout)
            return RunOutcome(proc.returncode, (proc.stdout + proc.stderr).decode(errors="replace"))
        except subprocess.TimeoutExpired:
            return RunOutcome(124, f"timed out after {timeout:.0f} s")
        finally:
            self._buildah("rm", ctr, check=False)

    @contextlib.contextmanager
    def rootfs(self, image: str) -> Iterator[Path]:
        ctr = self._buildah("from", "--pull=never", "-q", image).stdout.decode().strip()
        try:
            mount = self._buildah("mount", ctr).stdout.decode().strip()
            yield Path(mount)
        finally:
            self._buildah("umount", ctr, check=False)
            self._buildah("rm", ctr, check=False)

    def remove(self, image: str) -> None:
        self._buildah("rmi", "-f", image, check=False)


@dataclass
class Buildx:
    """BuildKit through Docker: ``docker buildx build`` where the buildx plugin is installed
    (a local daemon, or any remote/Kubernetes buildx builder), else the daemon's built-in
    BuildKit (``DOCKER_BUILDKIT=1 docker build``)."""

    builder: str | None = None  # docker buildx --builder NAME
    docker: str = "docker"  # the docker client to call
    network: str | None = None  # --network for RUN steps (e.g. host where the daemon has no bridge)
    run_network: str | None = None  # --network for smoke runs (e.g. none)
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))  # DOCKER_HOST…
    name: str = "buildx"
    slots: threading.Semaphore | None = field(default=None, compare=False, repr=False)  # at most N builds at once

    def buildx_argv(self) -> list[str]:
        """``docker buildx build`` with this builder's own flags (``--builder``, ``--network``);
        the Dockerfile, the build's flags, the output and the context follow."""
        return [self.docker, "buildx", "build", *self._builder_flags()]

    def _builder_flags(self) -> list[str]:
        return (["--builder", self.builder] if self.builder else []) + (
            ["--network", self.network] if self.network else [])

    def _docker(self, *args: str, timeout: float | None = None, check: bool = True,
                input: bytes | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        proc = _run([self.docker, *args], timeout=timeout, input=input, env={**self.env, **(env or {})})
        if check and proc.returncode != 0:
            raise BuilderError(f"docker {args[0]} failed:\n{_tail(proc.stderr.decode(errors='replace'))}")
        return proc

    def has_buildx(self) -> bool:
        return self._docker("buildx", "version", check=False).returncode == 0

    def build(self, dockerfile: str, context: Path, tag: str, *, build_args: dict[str, str] | None = None,
              build_contexts: dict[str, str] | None = None, target: str | None = None,
              platform: str | None = None, on_line: LineSink | None = None) -> BuildOutcome:
        env = self.env
        if self.has_buildx():
            argv = [*self.buildx_argv(), "--load"]
        else:
            if build_contexts:
                raise BuilderError("--build-context needs the buildx plugin (docker buildx); install it or use buildah")
            if self.builder:
                raise BuilderError(f"--buildx-builder {self.builder} needs the buildx plugin (docker buildx); "
                                   "this docker has only the daemon's built-in BuildKit")
            argv = [self.docker, "build", *self._builder_flags()]
            env = {**self.env, "DOCKER_BUILDKIT": "1"}
        argv += ["--progress=plain", "-f", "-", *build_flags((tag,), build_args, build_contexts, target, platform),
                 str(context)]
        with self.slots or contextlib.nullcontext():
            start = time.monotonic()
            code, log = stream(argv, env=env, input=dockerfile.encode(), on_line=on_line)
            seconds = time.monotonic() - start
        if code != 0:
            raise BuilderError(f"build of {tag} failed:\n{_tail(log)}")
        return BuildOutcome(tag, seconds, log)

    def inspect(self, image: str, *, compressed: bool = False) -> ImageFacts:
        data = json.loads(self._docker("image", "inspect", image).stdout)[0]
        packed = None
        if compressed:  # counted as it streams: an image is never held in memory (several at once in a fleet)
            save = subprocess.Popen([self.docker, "save", image], stdout=subprocess.PIPE, env=self.env)
            gz = subprocess.Popen(["gzip", "-c"], stdin=save.stdout, stdout=subprocess.PIPE)
            save.stdout.close()  # type: ignore[union-attr]  # gzip holds the pipe now
            packed = 0
            for chunk in iter(lambda: gz.stdout.read(1 << 20), b""):  # type: ignore[union-attr]
                packed += len(chunk)
            gz.wait()
            save.wait()
        return ImageFacts(config=data.get("Config") or {}, layers=len(data["RootFS"]["Layers"]),
                          size=int(data.get("Size", 0)), compressed=packed, image_id=data.get("Id") or "",
                          diff_ids=tuple(data["RootFS"].get("Layers") or ()))  # history: read from export_oci

    def export_oci(self, image: str, dest: Path) -> None:
        """``docker save`` unpacked into ``dest``: its ``manifest.json`` lists the config and the
        layer tars in order (Docker 25+ also writes an OCI layout beside it)."""
        dest.mkdir(parents=True, exist_ok=True)
        save = subprocess.Popen([self.docker, "save", image], stdout=subprocess.PIPE, env=self.env)
        proc = subprocess.run(["tar", "-x", "-C", str(dest)], stdin=save.stdout, capture_output=True)
        if save.wait() != 0 or proc.returncode != 0:
            raise BuilderError(f"docker save {image} failed:\n{_tail(proc.stderr.decode(errors='replace'))}")

    def run(self, image: str, argv: list[str], *, timeout: float = 300) -> RunOutcome:
        args = ["run", "--rm", "--entrypoint", argv[0]]
        if self.run_network:
            args += ["--network", self.run_network]
        try:
            proc = self._docker(*args, image, *argv[1:], timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return RunOutcome(124, f"timed out after {timeout:.0f} s")
        return RunOutcome(proc.returncode, (proc.stdout + proc.stderr).decode(errors="replace"))

    @contextlib.contextmanager
    def rootfs(self, image: str) -> Iterator[Path]:
        ctr = self._docker("create", image, "true").stdout.decode().strip()
        tmp = Path(tempfile.mkdtemp(prefix="dockerslim-rootfs-"))
        try:
            export = subprocess.Popen([self.docker, "export", ctr], stdout=subprocess.PIPE, env=self.env)
            subprocess.run(["tar", "-x", "--numeric-owner", "-C", str(tmp)], stdin=export.stdout, check=True)
            export.wait()
            yield tmp
        finally:
            self._docker("rm", ctr, check=False)
            shutil.rmtree(tmp, ignore_errors=True)

    def remove(self, image: str) -> None:
        self._docker("rmi", "-f", image, check=False)


def detect(choice: str | None = None, **options: object) -> Builder:
    """The builder to use: the one asked for, else buildx where a daemon answers, else buildah."""
    if choice == "buildah":
        if not shutil.which("buildah"):
            raise BuilderError(INSTALL_HINT)
        return Buildah(**options)  # type: ignore[arg-type]
    if choice == "buildx":
        if not shutil.which("docker") or _run(["docker", "info"], timeout=10).returncode != 0:
            raise BuilderError("no Docker daemon answers (docker info). " + INSTALL_HINT)
        return Buildx(**options)  # type: ignore[arg-type]
    if choice not in (None, "auto"):
        raise BuilderError(f"unknown builder {choice!r}: use buildah or buildx")
    if shutil.which("docker") and _run(["docker", "info"], timeout=10).returncode == 0:
        return Buildx()
    if shutil.which("buildah"):
        return Buildah(**options)  # type: ignore[arg-type]
    raise BuilderError(INSTALL_HINT)
