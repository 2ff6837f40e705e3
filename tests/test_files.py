"""Files treated as careful tools treat them: symlinks, FIFOs, devices, owners, modes, hard
links, fsync, umask; non-regular inputs refused at once; errors name the path they are about."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from dockerslim import InputError, OutputError
from dockerslim import files as files_mod
from dockerslim.files import read_text, write_text

from .test_cli import BLOATED, invoke

NEW = "FROM alpine:3.20\nRUN echo new\n"


def _rewritten() -> str:
    from dockerslim import rewrite

    return rewrite(BLOATED).text


def test_symlink_is_kept_and_its_target_replaced(tmp_path: Path) -> None:
    real = tmp_path / "real" / "Dockerfile"
    real.parent.mkdir()
    real.write_text(BLOATED)
    link = tmp_path / "Dockerfile"
    link.symlink_to(real)
    assert invoke("rewrite", "-i", str(link)).exit_code == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == _rewritten()
    assert not list(tmp_path.glob(".Dockerfile.*")) and not list(real.parent.glob(".Dockerfile.*"))


def test_output_through_a_relative_symlink_chain(tmp_path: Path) -> None:
    (tmp_path / "target.Dockerfile").write_text("old\n")
    (tmp_path / "mid").symlink_to("target.Dockerfile")
    (tmp_path / "out").symlink_to("mid")
    write_text(str(tmp_path / "out"), NEW)
    assert (tmp_path / "out").is_symlink() and (tmp_path / "mid").is_symlink()
    assert (tmp_path / "target.Dockerfile").read_text() == NEW


def test_fifo_output_is_written_to_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_text(str(fifo), NEW)
    reader.join(timeout=10)
    assert got == [NEW.encode()]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_device_output_is_written_to(tmp_path: Path) -> None:
    write_text("/dev/null", NEW)  # would need root to replace; must not even try
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not list(Path("/dev").glob(".null.*"))


def test_in_place_keeps_mode_and_hard_links(tmp_path: Path) -> None:
    f = tmp_path / "Dockerfile"
    f.write_text(BLOATED)
    os.chmod(f, 0o640)
    twin = tmp_path / "twin"
    os.link(f, twin)
    inode = f.stat().st_ino
    assert invoke("rewrite", "-i", str(f)).exit_code == 0
    assert f.stat().st_ino == inode and twin.read_text() == _rewritten()
    assert stat.S_IMODE(f.stat().st_mode) == 0o640


def test_in_place_keeps_mode_when_renaming(tmp_path: Path) -> None:
    f = tmp_path / "Dockerfile"
    f.write_text(BLOATED)
    os.chmod(f, 0o604)
    assert invoke("rewrite", "-i", str(f)).exit_code == 0
    assert stat.S_IMODE(f.stat().st_mode) == 0o604 and f.read_text() == _rewritten()


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_in_place_keeps_owner_and_group(tmp_path: Path) -> None:
    f = tmp_path / "Dockerfile"
    f.write_text(BLOATED)
    os.chown(f, 1234, 2345)
    assert invoke("rewrite", "-i", str(f)).exit_code == 0
    st = f.stat()
    assert (st.st_uid, st.st_gid) == (1234, 2345) and f.read_text() == _rewritten()


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_new_file_honours_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        write_text(str(tmp_path / "new"), NEW)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == mode


def test_fsync_before_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(files_mod.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(files_mod.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    target = tmp_path / "Dockerfile"
    target.write_text("old\n")
    write_text(str(target), NEW)
    assert events[:2] == ["fsync", "replace"] and target.read_text() == NEW


def test_fifo_input_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "Dockerfile"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="is a FIFO, not a regular file"):
        read_text(str(fifo))  # would block forever if it opened the FIFO
    result = invoke("rewrite", str(fifo))
    assert result.exit_code == 2
    assert result.stderr == f"dockerslim: error: {fifo}: is a FIFO, not a regular file: refusing to read it\n"


def test_device_input_is_refused() -> None:
    with pytest.raises(InputError, match="is a device"):
        read_text("/dev/zero")


def test_output_error_names_the_output(tmp_path: Path) -> None:
    src = tmp_path / "Dockerfile"
    src.write_text(BLOATED)
    out = tmp_path / "missing-folder" / "out.Dockerfile"
    result = invoke("rewrite", str(src), "-o", str(out))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"dockerslim: error: {out}: cannot write: ") and str(src) + ":" not in result.stderr
    with pytest.raises(OutputError) as info:
        write_text(str(tmp_path), NEW)
    assert info.value.path == str(tmp_path) and "is a directory" in str(info.value)


def test_failed_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "Dockerfile"
    target.write_text("old\n")

    def boom(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files_mod.os, "fsync", boom)
    with pytest.raises(OutputError, match="No space left on device"):
        write_text(str(target), NEW)
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["Dockerfile"]


def test_dockerignore_write_goes_through_the_symlink_and_keeps_mode(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.12-slim\nCOPY . /app\n")
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / "i.js").write_text("1")
    shared = tmp_path / "shared.dockerignore"
    shared.write_text("*.log\n")
    os.chmod(shared, 0o664)
    (tmp_path / ".dockerignore").symlink_to(shared.name)
    result = invoke("dockerignore", str(tmp_path), "--write")
    assert result.exit_code == 0
    assert (tmp_path / ".dockerignore").is_symlink()
    assert shared.read_text().startswith("*.log\n") and "node_modules" in shared.read_text()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o664


def test_missing_dockerfile_for_dockerignore_is_an_input_error(tmp_path: Path) -> None:
    result = invoke("dockerignore", str(tmp_path), "-f", str(tmp_path / "nope"))
    assert result.exit_code == 2 and result.stderr == f"dockerslim: error: {tmp_path / 'nope'}: no such file\n"
