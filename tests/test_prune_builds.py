"""Real build of ``--aggressive`` (DS207 prune) on the bundled C-extension fixture: the pruned
rewrite builds, passes verify with the fixture's smoke command, and its final image is smaller
than the default rewrite's, because the pruned paths are really gone from it and the extension
pip compiled is stripped. Slow; marked ``build``; buildah on the stand-ins."""

from __future__ import annotations

import subprocess

import pytest

from dockerslim import Options, rewrite
from dockerslim.builders import Buildah
from dockerslim.verify import Session, declared_by

from .conftest import FIXTURES

pytestmark = pytest.mark.build
CASE = FIXTURES / "rewrite" / "c-extension-pip-install"


def _failed(report) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(f"{c.name}: {c.detail}" for c in report.checks if not c.ok) + "\n" + (
        report.rewrite.smoke.output[-2000:] if report.rewrite and report.rewrite.smoke else "")


def _debug_sections(path: str) -> bool:
    out = subprocess.run(["readelf", "-S", "-W", path], capture_output=True, text=True, check=True).stdout
    return ".debug_info" in out or ".symtab" in out


def test_aggressive_builds_verifies_and_is_smaller(buildah: Buildah) -> None:
    text = (CASE / "Dockerfile").read_text()
    smoke = (CASE / "smoke.txt").read_text().strip()
    default = rewrite(text, path=str(CASE / "Dockerfile"), context_dir=CASE)
    aggressive = rewrite(text, path=str(CASE / "Dockerfile"), context_dir=CASE, options=Options(aggressive=True))
    assert "DS207" in {c.rule for c in aggressive.changes} and "DS207" not in {c.rule for c in default.changes}
    with Session(text, path=str(CASE / "Dockerfile"), context=CASE, builder=buildah, smoke=smoke,
                 compressed=False) as session:
        declared, replaced, moved_out = declared_by(default)
        plain = session.verify(default.text, declared=declared, replaced=replaced, moved_out=moved_out)
        assert plain.ok, _failed(plain)
        declared, replaced, moved_out = declared_by(aggressive)
        pruned = session.verify(aggressive.text, declared=declared, replaced=replaced, moved_out=moved_out)
        assert pruned.ok, _failed(pruned)
        assert plain.rewrite is not None and pruned.rewrite is not None and pruned.original is not None
        print(f"\nsizes (uncompressed): original {pruned.original.size / 1e6:.1f} MB, "
              f"default {plain.rewrite.size / 1e6:.1f} MB, aggressive {pruned.rewrite.size / 1e6:.1f} MB "
              f"(saved {(plain.rewrite.size - pruned.rewrite.size) / 1e6:.2f} MB)")
        assert pruned.rewrite.size < plain.rewrite.size
        with buildah.rootfs(plain.rewrite.image) as before, buildah.rootfs(pruned.rewrite.image) as after:
            site_before = next(before.glob("opt/venv/lib/python3*/site-packages"))
            site_after = next(after.glob("opt/venv/lib/python3*/site-packages"))
            # on python:* bases the virtualenv has no pip of its own (split-stages): nothing of pip to prune
            assert not (site_before / "pip").exists() and not (site_after / "pip").exists()
            ext_before = next(site_before.glob("fastsum*.so"))
            ext_after = next(site_after.glob("fastsum*.so"))
            assert _debug_sections(str(ext_before)) and not _debug_sections(str(ext_after))
            assert ext_after.stat().st_size < ext_before.stat().st_size
