"""Issue 11: toolchain -dev packages whose runtime library is Essential (libc6-dev → libc6) leave
the runtime stage without anything in their place, on every release and on an uncatalogued
base (fixtures/rewrite/venv-python-base installed libc6-dev into its runtime stage)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockerslim.catalog import package_fate
from dockerslim.rewrite import rewrite


@pytest.mark.parametrize("release", ["", "bookworm", "jammy", "noble"])
@pytest.mark.parametrize("package", ["libc6-dev", "libcrypt-dev", "linux-libc-dev"])
def test_libc_dev_needs_nothing_at_run_time(package: str, release: str) -> None:
    fate = package_fate("apt-get", package, release)
    assert fate.build_only and fate.runtime == () and fate.known


def test_uncatalogued_base_runtime_stage_installs_no_libc_dev(tmp_path: Path) -> None:
    text = """FROM example.com/team/py-base:1
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev libpq-dev && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir psycopg2
CMD ["python", "-m", "app"]
"""
    (tmp_path / "app.py").write_text("print('hi')\n")
    runtime = rewrite(text, context_dir=tmp_path).text.split("runtime stage")[-1]
    assert "libc6-dev" not in runtime
    assert "libpq-dev" in runtime  # an unknown release: libpq's runtime name is not known, it stays
