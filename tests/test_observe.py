"""Observation without a real build: layer tars made here with tarfile, an OCI layout around
them, a fake builder that counts builds (the cache), and ELF reading on this host's binaries."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dockerslim.builders import BuilderError, BuildOutcome, ImageFacts
from dockerslim.observe import ObserveError, cache, observe
from dockerslim.observe.elf import read_elf
from dockerslim.observe.layers import LayerState, read_export, read_layer
from dockerslim.observe.observe import base_refs, keyword_of, match_history
from dockerslim.observe.record import Observation, is_cache_path
from dockerslim.observe.sonames import ElfInfo, Resolver, ld_so_dirs, missing_sonames, owning_packages, resolve_in_root
from dockerslim.parse import parse

ELF_HEAD = b"\x7fELF\x02\x01\x01" + b"\0" * 57

# -- synthetic images -----------------------------------------------------------------------


def _tar(entries: list[tuple]) -> bytes:
    """A layer tar from (name, kind, data_or_target, mode, uid) tuples."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, data, mode, uid in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.gid = mode, uid, uid
            if kind == "d":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "l":
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            elif kind == "h":
                info.type, info.linkname = tarfile.LNKTYPE, data
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _blob(root: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (root / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def write_oci(root: Path, layers: list[bytes], history: list[dict]) -> None:
    """An OCI image layout as ``buildah push oci:DIR`` writes it."""
    descs = [dict(_blob(root, layer), mediaType="application/vnd.oci.image.layer.v1.tar") for layer in layers]
    config = {"history": history, "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descs]},
              "config": {}}
    manifest = {"schemaVersion": 2, "config": _blob(root, json.dumps(config).encode()), "layers": descs}
    index = {"schemaVersion": 2, "manifests": [_blob(root, json.dumps(manifest).encode())]}
    (root / "index.json").write_text(json.dumps(index))


BASE_LAYER = _tar([
    ("etc", "d", b"", 0o755, 0),
    ("etc/passwd", "f", b"root:x:0:0:root:/root:/bin/bash\n", 0o644, 0),
    ("etc/group", "f", b"root:x:0:\n", 0o644, 0),
    ("usr/bin/tool", "f", b"#!/bin/sh\n", 0o755, 0),
    ("old/file", "f", b"x", 0o644, 0),
    ("opt/x/keep", "f", b"y", 0o644, 0),
])
STEP_LAYER = _tar([
    ("app", "d", b"", 0o755, 0),
    ("app/bin", "f", ELF_HEAD + b"rest", 0o755, 1000),
    ("app/link", "l", "/app/bin", 0o777, 0),
    ("app/hard", "h", "app/bin", 0o755, 0),
    ("./.hidden", "f", b"dot", 0o600, 0),
    ("usr/bin/tool", "f", b"#!/bin/sh\necho v2\n", 0o755, 0),
    (".wh.old", "f", b"", 0, 0),
    ("opt/x/.wh..wh..opq", "f", b"", 0, 0),
    ("etc/passwd", "f", b"root:x:0:0:root:/root:/bin/bash\napp:x:999:999::/home/app:/bin/sh\n", 0o644, 0),
    ("etc/group", "f", b"root:x:0:\napp:x:999:\n", 0o644, 0),
    ("etc/hosts", "f", b"", 0o644, 0),  # the builder's mount point, not the step's work
    ("var/lib/apt/lists/x_Packages", "f", b"p", 0o644, 0),
])
DOCKERFILE = "FROM debian:bookworm\nENV A=1\nCOPY . /app/\nRUN apt-get update && make\nCMD [\"x\"]\n"
HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
    {"created_by": "/bin/sh -c #(nop) CMD [\"bash\"]", "empty_layer": True},
    {"created_by": "/bin/sh -c #(nop) ENV A=1", "empty_layer": True},
    {"created_by": "/bin/sh -c #(nop) COPY dir:abc in /app/ "},
    {"created_by": "/bin/sh -c apt-get update && make"},
    {"created_by": "/bin/sh -c #(nop) CMD [\"x\"]", "empty_layer": True},
]
CACHE_LAYER = _tar([("var/lib/apt/lists/y", "f", b"q", 0o644, 0), ("var/cache/apt/z", "f", b"r", 0o644, 0)])


def test_layer_reading_whiteouts_kinds_and_accounts() -> None:
    state = LayerState()
    base_changes, _ = _read(BASE_LAYER, state, record=False)
    assert base_changes == [] and "/usr/bin/tool" in state.paths and state.accounts["users"] == {"root"}
    changes, accounts = _read(STEP_LAYER, state)
    by = {c.path: c for c in changes}
    assert by["/app/bin"].op == "added" and by["/app/bin"].elf and by["/app/bin"].uid == 1000
    assert by["/app/bin"].mode == 0o755 and by["/app/bin"].size == len(ELF_HEAD) + 4
    assert by["/app/link"].kind == "l" and by["/app/link"].target == "/app/bin"
    assert by["/app/hard"].kind == "h" and by["/app/hard"].target == "/app/bin"
    assert "/.hidden" in by  # "./.hidden": the leading dot of a name is kept
    assert by["/usr/bin/tool"].op == "changed" and not by["/usr/bin/tool"].elf
    assert by["/old"].op == "deleted" and by["/opt/x"].op == "cleared"
    assert "/etc/hosts" not in by
    assert "/opt/x/keep" not in state.paths and "/old/file" not in state.paths
    assert accounts == {"users": ["app"], "groups": ["app"]}


def _read(layer: bytes, state: LayerState, record: bool = True):  # type: ignore[no-untyped-def]
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".tar") as fh:
        fh.write(layer)
        fh.flush()
        return read_layer(Path(fh.name), state, record=record)


def test_history_matched_to_instructions_from_the_end() -> None:
    body = list(parse(DOCKERFILE).stages[-1].body)
    assert match_history(HISTORY, body) == {5: 3, 4: 2, 3: 1, 2: 0}  # the base's CMD is not ours
    buildkit = [{"created_by": "ADD file:x in /"}, {"created_by": "ENV A=1", "empty_layer": True},
                {"created_by": "COPY . /app/ # buildkit"}, {"created_by": "RUN /bin/sh -c make # buildkit"},
                {"created_by": "CMD [\"x\"]", "empty_layer": True}]
    assert [keyword_of(h["created_by"]) for h in buildkit] == ["ADD", "ENV", "COPY", "RUN", "CMD"]
    assert keyword_of("|1 X=1 /bin/sh -c make") == "RUN"


def test_record_from_an_oci_layout(tmp_path: Path) -> None:
    from dockerslim.observe.observe import _record

    # three layers: the base's, COPY's, and a RUN that wrote only caches
    write_oci(tmp_path, [BASE_LAYER, STEP_LAYER, CACHE_LAYER], HISTORY)
    image = read_export(tmp_path)
    assert len(image.layers) == 3 and len(image.diff_ids) == 3
    record = _record(image, list(parse(DOCKERFILE).stages[-1].body))
    assert sorted(record.steps) == [2, 3, 4, 5]
    assert record.steps[2].files == [] and record.steps[2].keyword == "ENV"
    assert "/app/bin" in record.written_paths(3) and "/app" not in record.written_paths(3)
    assert record.created_accounts(3) == {"users": ["app"], "groups": ["app"]}
    assert not record.is_cache_only(3) and record.is_cache_only(4) and not record.is_cache_only(5)
    assert record.deleted_paths(3) == ["/old", "/opt/x"]
    assert record.size_under(3, "/app") == (3, len(ELF_HEAD) + 4)  # bin, link, hard link (links: 0 bytes)
    assert record.steps_writing("/var/lib/apt") == [3, 4] and record.steps_writing("/nowhere") == []
    again = Observation.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again.steps[3].files == record.steps[3].files and again.created_accounts(3) == record.created_accounts(3)


def test_cache_paths() -> None:
    assert is_cache_path("/var/lib/apt/lists/deb.debian.org_Packages") and is_cache_path("/root/.cache/pip/x")
    assert is_cache_path("/app/pkg/__pycache__/m.cpython-311.pyc")
    assert not is_cache_path("/usr/lib/x86_64-linux-gnu/libpq.so.5") and not is_cache_path("/var/lib/dpkg/status")


def test_docker_save_layout(tmp_path: Path) -> None:
    (tmp_path / "l1.tar").write_bytes(BASE_LAYER)
    (tmp_path / "cfg.json").write_text(json.dumps({"history": HISTORY[:1], "rootfs": {"diff_ids": ["sha256:1"]}}))
    (tmp_path / "manifest.json").write_text(json.dumps([{"Config": "cfg.json", "Layers": ["l1.tar"]}]))
    image = read_export(tmp_path)
    assert image.layers == (tmp_path / "l1.tar",) and image.history == HISTORY[:1]


# -- the cache, with a builder that counts its builds ---------------------------------------


@dataclass
class FakeBuilder:
    """Builds nothing: 'exports' the synthetic image; counts builds; base image IDs settable."""

    name: str = "fake"
    builds: int = 0
    base_id: str = "sha256:base1"
    fail: bool = False
    removed: list[str] = field(default_factory=list)

    def build(self, dockerfile, context, tag, **kw):  # type: ignore[no-untyped-def]
        if self.fail:
            raise BuilderError("build of x failed:\nE: Unable to locate package nosuchpkg")
        self.builds += 1
        return BuildOutcome(tag, 0.0, "")

    def inspect(self, image, *, compressed=False):  # type: ignore[no-untyped-def]
        return ImageFacts(config={}, layers=1, size=0, image_id=self.base_id)

    def export_oci(self, image, dest):  # type: ignore[no-untyped-def]
        dest.mkdir(parents=True)
        write_oci(dest, [BASE_LAYER, STEP_LAYER, CACHE_LAYER], HISTORY)

    def remove(self, image):  # type: ignore[no-untyped-def]
        self.removed.append(image)

    def run(self, image, argv, *, timeout=300):  # type: ignore[no-untyped-def]
        raise AssertionError("observe never runs containers")

    def rootfs(self, image):  # type: ignore[no-untyped-def]
        return contextlib.nullcontext(Path("/nonexistent"))


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "app.py").write_text("print(1)\n")
    (context / ".dockerignore").write_text("ignored/\n")
    return context


def test_second_observe_makes_no_build_and_stale_records_are_not_used(ctx: Path) -> None:
    fake = FakeBuilder()
    first = observe(DOCKERFILE, context_dir=ctx, builder=fake)
    assert fake.builds == 1 and not first.cached and fake.removed  # the observed image is not kept
    assert (cache.cache_dir() / f"{first.key}.json").is_file()
    assert str(cache.cache_dir()).startswith(str(ctx.parent / "xdg"))
    second = observe(DOCKERFILE, context_dir=ctx, builder=fake)
    assert fake.builds == 1 and second.cached and second.steps[3].files == first.steps[3].files
    (ctx / "ignored").mkdir()
    (ctx / "ignored" / "big.bin").write_bytes(b"0" * 100)  # .dockerignore'd: not sent, same key
    observe(DOCKERFILE, context_dir=ctx, builder=fake)
    assert fake.builds == 1
    changes = [
        lambda: (ctx / "app.py").write_text("print(2)\n"),  # a context file
        lambda: setattr(fake, "base_id", "sha256:base2"),  # the base image was re-pulled
    ]
    for n, change in enumerate(changes, start=2):
        change()
        observe(DOCKERFILE, context_dir=ctx, builder=fake)
        assert fake.builds == n
    observe(DOCKERFILE, context_dir=ctx, builder=fake, build_args={"V": "2"})
    observe(DOCKERFILE + "LABEL a=b\n", context_dir=ctx, builder=fake)
    observe(DOCKERFILE, context_dir=ctx, builder=fake, target=None, platform="linux/arm64")
    assert fake.builds == 6


def test_cache_key_covers_executable_bit(ctx: Path) -> None:
    before = cache.hash_tree(ctx)
    (ctx / "app.py").chmod(0o755)
    assert cache.hash_tree(ctx) != before


def test_original_that_does_not_build_raises_with_the_builders_lines(ctx: Path) -> None:
    with pytest.raises(ObserveError) as err:
        observe(DOCKERFILE, path="proj/Dockerfile", context_dir=ctx, builder=FakeBuilder(fail=True))
    assert "proj/Dockerfile" in str(err.value) and "Unable to locate package nosuchpkg" in str(err.value)


def test_base_refs_resolve_args_and_skip_stages() -> None:
    df = parse("ARG PY=3.11\nFROM python:${PY}-slim AS b\nRUN x\nFROM b\nCOPY --from=golang:1.22 /x /x\n"
               "COPY --from=b /y /y\nFROM scratch\n")
    assert base_refs(df) == ["python:3.11-slim", "golang:1.22"]
    assert base_refs(df, {"PY": "3.12"}) == ["python:3.12-slim", "golang:1.22"]


# -- ELF files and sonames ------------------------------------------------------------------


def _host_lib(name: str) -> Path:
    for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"):
        if Path(d, name).exists():
            return Path(d, name).resolve()
    pytest.skip(f"no {name} on this host")


def test_read_elf_on_host_binaries() -> None:
    ls = read_elf(Path("/bin/ls").resolve())
    assert ls is not None and "libc.so.6" in ls.needed and ls.elfclass in (32, 64)
    assert ls.interpreter and "ld-" in ls.interpreter
    sos = sorted(Path(__file__).resolve().parent.parent.glob(".venv/lib/python3*/site-packages/**/*.so"))
    if not sos:
        pytest.skip("no compiled extension in the venv")
    ext = read_elf(sos[0])
    assert ext is not None and ext.interpreter is None  # a library names no loader
    assert read_elf(Path(__file__)) is None


def test_missing_sonames_in_a_small_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    shutil.copy(Path("/bin/ls").resolve(), root / "usr/bin/ls")
    info = read_elf(root / "usr/bin/ls")
    assert info is not None
    assert "libc.so.6" in missing_sonames(root)["/usr/bin/ls"]
    # libc in a folder ld.so.conf.d names, reached through an absolute symlink (inside the root)
    libdir = root / "opt/libs"
    libdir.mkdir(parents=True)
    shutil.copy(_host_lib("libc.so.6"), libdir / "libc-2.x.so")
    (libdir / "libc.so.6").symlink_to("/opt/libs/libc-2.x.so")
    (root / "etc/ld.so.conf.d").mkdir(parents=True)
    (root / "etc/ld.so.conf").write_text("include /etc/ld.so.conf.d/*.conf\n")
    (root / "etc/ld.so.conf.d/opt.conf").write_text("# comment\n/opt/libs\n")
    assert "/opt/libs" in ld_so_dirs(root)
    assert resolve_in_root(root, "/opt/libs/libc.so.6") == libdir / "libc-2.x.so"
    still = missing_sonames(root).get("/usr/bin/ls", [])
    assert "libc.so.6" not in still
    # $ORIGIN in RUNPATH is the ELF file's own folder
    (root / "opt/bin").mkdir()
    (root / "srv").mkdir()
    resolver = Resolver(root)
    kind = (info.elfclass, info.machine)
    origin = ElfInfo(("libc.so.6",), (), ("$ORIGIN/../libs",), *kind, None)
    assert resolver.missing("/opt/bin/tool", origin) == []
    (root / "etc/ld.so.conf.d/opt.conf").unlink()
    assert Resolver(root).missing("/opt/bin/tool", origin) == []
    assert Resolver(root).missing("/srv/tool", origin) == ["libc.so.6"]
    rpath_ignored = ElfInfo(("libc.so.6",), ("/opt/libs",), ("/nowhere",), *kind, None)
    assert Resolver(root).missing("/x", rpath_ignored) == ["libc.so.6"]  # RUNPATH present: RPATH unused
    assert Resolver(root, library_path="/opt/libs").missing("/x", rpath_ignored) == []


def test_a_library_of_another_class_does_not_count(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "lib").mkdir(parents=True)
    (root / "lib/libc.so.6").write_bytes(b"\x7fELF\x01\x01\x01" + b"\0" * 100)  # 32-bit, truncated
    info = read_elf(Path("/bin/ls").resolve())
    assert info is not None
    assert Resolver(root).missing("/bin/ls", info)[:1] != [] and "libc.so.6" in Resolver(root).missing("/bin/ls", info)


def test_owning_packages_from_dpkg_and_apk(tmp_path: Path) -> None:
    info = tmp_path / "deb/var/lib/dpkg/info"
    info.mkdir(parents=True)
    (info / "libsnappy1v5:amd64.list").write_text("/.\n/usr/lib/x86_64-linux-gnu/libsnappy.so.1.1.9\n"
                                                 "/usr/lib/x86_64-linux-gnu/libsnappy.so.1\n")
    (info / "libsnappy-dev:amd64.list").write_text("/usr/lib/x86_64-linux-gnu/libsnappy.so\n"
                                                  "/usr/lib/x86_64-linux-gnu/libsnappy.so.1\n")
    (info / "evil.list").write_text("/usr/lib/libevil.so.1\n")
    (info / "bad;rm -rf.list").write_text("/usr/lib/libbad.so.1\n")
    assert owning_packages(tmp_path / "deb", ["libsnappy.so.1", "libnothing.so.2", "libbad.so.1"]) == \
        {"libsnappy.so.1": "libsnappy1v5"}
    apk = tmp_path / "apk/lib/apk/db"
    apk.mkdir(parents=True)
    (apk / "installed").write_text("C:Q1\nP:libpq\nV:16\nF:usr/lib\nR:libpq.so.5\nR:libpq.so.5.16\n\n"
                                   "P:musl\nF:lib\nR:libc.musl-x86_64.so.1\n")
    assert owning_packages(tmp_path / "apk", {"libpq.so.5"}) == {"libpq.so.5": "libpq"}
    assert owning_packages(tmp_path, ["libpq.so.5"]) == {}  # no package database
