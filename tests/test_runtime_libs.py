"""The -dev → runtime library map: generated from the archives' Packages indexes
(tests/gen_runtime_libs.py), hand-written entries winning, no invented package names."""

from __future__ import annotations

import tomllib
import urllib.error
from pathlib import Path

import pytest

from dockerslim.catalog import apt_fate, load

from . import gen_runtime_libs as gen

DATA = Path(__file__).resolve().parent.parent / "dockerslim" / "data"


def test_generated_table_shape() -> None:
    tables = tomllib.loads((DATA / "runtime_libs.toml").read_text(encoding="utf-8"))["apt"]
    assert set(tables) == set(gen.ARCHIVES)
    for release, table in tables.items():
        assert len(table) > 80, release
        for dev, libs in table.items():
            assert dev in gen.DEV_PACKAGES and dev.endswith("-dev"), (release, dev)
            assert libs and all(gen._KEEP.match(lib) and not gen._DROP.search(lib) for lib in libs), (release, dev)


@pytest.mark.parametrize(("release", "dev", "libs"), [
    ("jammy", "libzstd-dev", ("libzstd1",)),  # was unknown: the -dev package stayed in the runtime
    ("noble", "libaio-dev", ("libaio1t64",)),  # the t64 renames are the archive's, not guessed
    ("bookworm", "libavcodec-dev", ("libavcodec59",)),
    ("focal", "libicu-dev", ("libicu66",)),
])
def test_generated_entries_reach_package_fate(release: str, dev: str, libs: tuple[str, ...]) -> None:
    fate = apt_fate(dev, release)
    assert fate.build_only and fate.known and fate.runtime == libs


def test_hand_written_entries_win() -> None:
    hand = load("packages")["apt"]["runtime_libs"]["bookworm"]
    assert apt_fate("libkrb5-dev", "bookworm").runtime == tuple(hand["libkrb5-dev"])
    assert "libkrb5-dev" not in load("runtime_libs")["apt"]["bookworm"]  # krb5-multidev is not a runtime lib


def test_unknown_dev_package_is_still_kept() -> None:
    fate = apt_fate("libsomething-nobody-packages-dev", "bookworm")
    assert not fate.known and fate.runtime == ("libsomething-nobody-packages-dev",)


def test_runtime_libs_follows_transitional_dev_packages() -> None:
    packages = {
        "libfoo6-dev": {"Package": "libfoo6-dev", "Source": "foo", "Depends": "libfoo-dev (= 1.0)"},
        "libfoo-dev": {"Package": "libfoo-dev", "Source": "foo",
                       "Depends": "libfoo6 (= 1.0), libfoo-bin (= 1.0), zlib1g-dev, libc6"},
        "libfoo6": {"Package": "libfoo6", "Source": "foo"},
        "libfoo-bin": {"Package": "libfoo-bin", "Source": "foo"},
        "zlib1g-dev": {"Package": "zlib1g-dev", "Source": "zlib"},
        "libc6": {"Package": "libc6", "Source": "glibc"},
    }
    assert gen.runtime_libs("libfoo6-dev", packages) == ["libfoo6"]
    assert gen.runtime_libs("libfoo-dev", packages) == ["libfoo6"]  # not -bin, not another source's


@pytest.mark.slow
def test_data_matches_the_archives_and_names_exist() -> None:
    """Network: the committed table is what the archives say today, and every hand-written
    runtime package name exists in its release (a wrong name fails the rewrite's apt-get)."""
    try:
        indexes = gen.indexes(gen.default_cache())
    except (urllib.error.URLError, OSError) as exc:
        pytest.skip(f"Debian/Ubuntu archives unreachable: {exc}")
    tables = {release: {dev: libs for dev in gen.DEV_PACKAGES if (libs := gen.runtime_libs(dev, pk))}
              for release, pk in indexes.items()}
    assert (DATA / "runtime_libs.toml").read_text(encoding="utf-8") == gen.render(tables)
    hand = load("packages")["apt"]
    missing = [f"{release}: {name}" for release, table in hand["runtime_libs"].items()
               for dev, libs in table.items() for name in libs if name not in indexes[release]]
    assert not missing
