"""Buildah.build retries a build that lost a layer to another build on the same storage (the
race several helpers and `verify DIR --jobs N` met), and only that failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockerslim.builders import Buildah, BuilderError

from .conftest import fake_program

FAKE = '''#!{python}
import os, sys
count = os.environ["FAKE_COUNT"]
n = int(open(count).read()) if os.path.exists(count) else 0
open(count, "w").write(str(n + 1))
if sys.argv[1] == "bud":
    print("STEP 1/1: FROM scratch")
    if n < int(os.environ["FAKE_FAILS"]):
        print(os.environ["FAKE_ERROR"])
        sys.exit(125)
sys.exit(0)
'''


def _builder(tmp_path: Path, fails: int, error: str) -> tuple[Buildah, Path]:
    count = tmp_path / "count"
    env = fake_program(tmp_path, "buildah", FAKE, FAKE_COUNT=str(count), FAKE_FAILS=str(fails), FAKE_ERROR=error)
    return Buildah(env=env), count


RACE = ("Error: checking if cached image exists from a previous build: getting top layer info: "
        "layer not known")


def test_a_storage_race_is_built_again(tmp_path: Path) -> None:
    builder, count = _builder(tmp_path, fails=1, error=RACE)
    lines: list[str] = []
    outcome = builder.build("FROM scratch\n", tmp_path, "app:1", on_line=lines.append)
    assert outcome.image == "app:1" and count.read_text() == "2"
    assert any("building app:1 again" in line for line in lines)


def test_a_real_failure_is_not_retried(tmp_path: Path) -> None:
    builder, count = _builder(tmp_path, fails=1, error="Error: building at STEP \"RUN false\": exit status 1")
    with pytest.raises(BuilderError, match="exit status 1"):
        builder.build("FROM scratch\n", tmp_path, "app:1")
    assert count.read_text() == "1"


def test_retries_are_bounded(tmp_path: Path) -> None:
    builder, count = _builder(tmp_path, fails=10, error=RACE)
    with pytest.raises(BuilderError, match="layer not known"):
        builder.build("FROM scratch\n", tmp_path, "app:1")
    assert count.read_text() == "3"
