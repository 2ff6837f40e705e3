"""fold-permissions (DS206): ``COPY`` + ``RUN chmod/chown`` of the copied path → ``COPY
--chmod/--chown``. The golden pairs are in ``fixtures/passes/fold-permissions``; here the mode
arithmetic, and real builds showing the folded file gives the same modes and owners."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from dockerslim import Options, rewrite
from dockerslim.builders import Buildah
from dockerslim.passes.fold_permissions import apply_mode

from . import standins
from .conftest import FIXTURES
from .standins import Dockerd

CASES = FIXTURES / "passes" / "fold-permissions"


@pytest.mark.parametrize(
    "spec,before,after",
    [
        ("755", None, 0o755),
        ("0640", None, 0o640),
        ("a=rx", None, 0o555),
        ("u=rwx,go=rx", None, 0o755),
        ("+x", 0o644, 0o755),
        ("u+x", 0o644, 0o744),
        ("+w", 0o444, 0o644),  # umask 022: who-less +w is u only
        ("go-w", 0o666, 0o644),
        ("a+X", 0o644, 0o644),
        ("a+X", 0o744, 0o755),
        ("u=rw,g=r,o=", 0o777, 0o640),
    ],
)
def test_modes_computed_exactly(spec: str, before: int | None, after: int) -> None:
    assert apply_mode(spec, before) == after


@pytest.mark.parametrize(
    "spec,before",
    [
        ("4755", None),
        ("u+s", 0o755),
        ("g=u", 0o644),
        ("+x", None),
        ("=r", 0o644),
        ("u+x-w", 0o644),
        ("+t", 0o755),
    ],
)
def test_modes_that_cannot_be_written_exactly(spec: str, before: int | None) -> None:
    assert apply_mode(spec, before) is None


def test_fold_removes_the_run_and_declares_its_commands() -> None:
    case = CASES / "chmod-and-chown-file"
    result = rewrite(
        (case / "Dockerfile").read_text(), context_dir=case, options=Options(only=frozenset({"fold-permissions"}))
    )
    assert "RUN chmod" not in result.text and "--chmod=750 --chown=app:0" in result.text
    change = next(c for c in result.changes if c.pass_name == "fold-permissions")
    assert {e.before for e in change.commands} == {("chmod", "750", "start.sh"), ("chown", "app", "start.sh")}
    assert "# syntax=" not in result.text  # octal --chmod needs no frontend fetched at build time


def test_without_the_context_nothing_folds() -> None:
    case = CASES / "chmod-x-entrypoint"
    text = (case / "Dockerfile").read_text()
    result = rewrite(text, options=Options(only=frozenset({"fold-permissions"})))
    assert result.text == text
    assert any("build context is not known" in n.message for n in result.notes)


FOLDED = {  # case -> paths whose mode and owner the fold must keep
    "chmod-x-entrypoint": ["/usr/local/bin", "/usr/local/bin/entrypoint.sh"],
    "chmod-and-chown-file": ["/srv", "/srv/start.sh"],
    "chown-r-created-folder": ["/opt", "/opt/app", "/opt/app/main.py"],
}


def _probe(dockerfile: str, paths: list[str], tmp: Path) -> Path:
    probe = tmp / "Dockerfile"
    probe.write_text(dockerfile + f"USER root\nRUN stat -c 'STAT %a %U:%G %n' {' '.join(paths)}\n")
    return probe


def _stats(output: str) -> list[str]:
    return re.findall(r"STAT \d+ \S+ /\S*", output.replace("stat -c 'STAT %a %U:%G %n'", ""))


def _buildah_stats(env: dict[str, str], dockerfile: str, context: Path, paths: list[str], tmp: Path) -> list[str]:
    proc = subprocess.run(
        [
            "buildah",
            "bud",
            "--isolation",
            "chroot",
            "--pull=never",
            "--layers=false",
            "-f",
            str(_probe(dockerfile, paths, tmp)),
            str(context),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return _stats(proc.stdout)


@pytest.mark.build
@pytest.mark.parametrize("case", sorted(FOLDED))
def test_folded_copy_builds_with_buildah_and_keeps_modes_and_owners(case: str, buildah: Buildah,
                                                                    tmp_path: Path) -> None:
    """buildah 1.28 (bookworm) builds the folded file — octal --chmod, user:0 owners — and every
    path has the mode and owner the original's RUN gave it."""
    env = buildah.env
    folder = CASES / case
    original = (folder / "Dockerfile").read_text()
    folded = (folder / "expected.Dockerfile").read_text()
    assert folded != original and re.search(r"--ch(mod|own)=", folded)
    before = _buildah_stats(env, original, folder, FOLDED[case], tmp_path)
    after = _buildah_stats(env, folded, folder, FOLDED[case], tmp_path)
    assert len(before) == len(FOLDED[case]) and before == after


@pytest.mark.build
def test_folded_copy_builds_with_buildkit_and_keeps_modes_and_owners(dockerd: Dockerd, tmp_path: Path) -> None:
    """The same through a private dockerd's BuildKit (Docker's built-in Dockerfile frontend, no
    ``# syntax=`` line: that would fetch an image, which fails offline)."""
    dockerd.load("docker.io/library/debian:bookworm")
    for case, paths in sorted(FOLDED.items()):
        folder = CASES / case
        seen = []
        for name in ("Dockerfile", "expected.Dockerfile"):
            build = subprocess.run(
                [
                    standins.DOCKER,
                    "build",
                    "--progress=plain",
                    "--no-cache",
                    "--network=host",
                    "-f",
                    str(_probe((folder / name).read_text(), paths, tmp_path)),
                    str(folder),
                ],
                env=dict(dockerd.env, DOCKER_BUILDKIT="1"),
                capture_output=True,
                text=True,
            )
            assert build.returncode == 0, build.stderr[-2000:]
            seen.append(_stats(build.stdout + build.stderr))
        assert len(seen[0]) == len(paths) and seen[0] == seen[1], case
