"""ARG and ENV resolved where Docker resolves them (issue 10 item 5): WORKDIR, COPY, USER, ADD,
ENV — with Docker's scoping rules, each checked against what the builder does."""

from __future__ import annotations

import pytest

from dockerslim.parse import parse
from dockerslim.variables import StageValues


def values_after(text: str) -> StageValues:
    df = parse(text)
    values = StageValues(df)
    for node in df.stages[-1].body:
        values.visit(node)
    return values


@pytest.mark.parametrize(("body", "text", "expected"), [
    # ENV referencing an earlier ENV
    ("ENV APP_HOME=/srv/app\nENV DATA=$APP_HOME/data\n", "$DATA", "/srv/app/data"),
    # the pairs of one ENV see the values from before it (Docker docs: def=$abc gets the old abc)
    ("ENV abc=hello\nENV abc=bye def=$abc\n", "$def", "hello"),
    ("ENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n", "$ghi", "bye"),
    # an ENV wins over a later ARG of the same name
    ("ENV CONT_IMG_VER=v1.0.0\nARG CONT_IMG_VER=v2.0.0\n", "$CONT_IMG_VER", "v1.0.0"),
    # a global ARG is seen only where the stage declares it again
    ("ARG VERSION\n", "/opt/$VERSION", "/opt/1.2"),
    ("ARG VERSION=3.0\n", "/opt/$VERSION", "/opt/3.0"),
])
def test_resolved_like_docker(body: str, text: str, expected: str) -> None:
    assert values_after("ARG VERSION=1.2\nFROM alpine:3.19\n" + body).resolve(text) == expected


@pytest.mark.parametrize(("body", "text"), [
    ("", "/opt/$VERSION"),  # a global ARG not declared in the stage: empty in Docker, not 1.2
    ("ARG LOCAL\n", "$LOCAL"),  # no default: only a --build-arg gives it one
    ("", "${PYTHON_VERSION:-3}"),  # may come from the base image's ENV: the default may not apply
    ("ENV A=$HOME/x\n", "$A"),  # built from a base-image value
])
def test_unknown_stays_unknown(body: str, text: str) -> None:
    assert values_after("ARG VERSION=1.2\nFROM alpine:3.19\n" + body).resolve(text) is None
