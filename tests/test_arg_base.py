"""A base named by a global ARG (``FROM ${BASE}``, ``FROM ${REGISTRY}/${IMAGE}:${TAG}``) gets the
treatment a literal base gets (split, runtime variant), and ``--build-arg`` keeps its meaning:
given alone, the builder and the final stage run on the same image (base_decision.ArgSplit)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dockerslim import rewrite
from dockerslim.base_decision import VariableSwap, variable_swap
from dockerslim.builders import Buildah
from dockerslim.parse import parse
from dockerslim.report import explain
from dockerslim.variables import expand, resolved_image, substitute

from .conftest import FIXTURES

CASE = FIXTURES / "rewrite" / "global-arg-from"


def _swap(text: str, runtime: str, shared: bool = True) -> VariableSwap | str:
    df = parse(text)
    stage = df.stages[-1]
    return variable_swap(df, stage, resolved_image(df, stage), runtime, shared)


def bases(text: str, build_args: dict[str, str]) -> list[str]:
    """Each stage's base as a builder resolves it given ``build_args``: global ARGs in order, a
    --build-arg replaces a declared ARG's default, an ARG default reads the ARGs before it."""
    df = parse(text)
    values: dict[str, str] = {}
    for node in df.preamble:
        for name, default in getattr(node, "pairs", ()):
            if name in build_args:
                values[name] = build_args[name]
            elif default is not None:
                values[name] = expand(default, values)
    return [substitute(stage.from_.image, values) for stage in df.stages]


@pytest.mark.parametrize("text", [
    "ARG BASE=python:3.12\nFROM ${BASE}\n",
    "ARG BASE=python:3.12\nFROM $BASE\n",
    "ARG BASE=python:3.12\nARG BASE\nFROM ${BASE}\n",  # redeclared without default: the first one's value
])
def test_whole_image_arg_shared_with_a_builder(text: str) -> None:
    swap = _swap(text, "python:3.12-slim")
    assert isinstance(swap, VariableSwap) and swap.arg is None and swap.split is not None
    assert swap.from_text == "${RUNTIME_BASE}"
    assert (swap.split.name, swap.split.value, swap.split.runtime_value) == ("BASE", "python:3.12", "python:3.12-slim")
    assert swap.split.runtime_default == "${BASE:-python:3.12-slim}"
    assert "--build-arg BASE=X alone runs the builder and the final stage on the same X" in swap.assumes
    assert "--build-arg RUNTIME_BASE=" in swap.assumes


def test_two_stages_naming_the_arg_split_it_too() -> None:
    swap = _swap("ARG BASE=python:3.12\nFROM ${BASE} AS build\nRUN true\nFROM ${BASE}\n", "python:3.12-slim",
                 shared=False)
    assert isinstance(swap, VariableSwap) and swap.split is not None and swap.from_text == "${RUNTIME_BASE}"


def test_part_of_the_reference() -> None:
    swap = _swap("ARG REG=docker.io/library\nARG IMG=python\nARG TAG=3.12\nFROM ${REG}/${IMG}:${TAG}\n",
                 "docker.io/library/python:3.12-slim")
    assert isinstance(swap, VariableSwap) and swap.split is not None
    assert swap.from_text == "${REG}/${IMG}:${RUNTIME_TAG}"
    assert (swap.split.name, swap.split.runtime_default) == ("TAG", "${TAG:-3.12-slim}")
    assert "IMG, REG name a tag whose runtime variant is spelt the same way" in swap.assumes


def test_a_taken_name_is_not_reused() -> None:
    swap = _swap("ARG RUNTIME_BASE=x\nARG BASE=python:3.12\nFROM ${BASE}\n", "python:3.12-slim")
    assert isinstance(swap, VariableSwap) and swap.from_text == "${RUNTIME_BASE_2}"


def test_default_read_from_another_arg() -> None:
    """``ARG BASE=python:${PY}``: the literal part of the default is edited, PY stays a variable, so
    --build-arg PY moves the builder and the runtime together."""
    text = "ARG PY=3.12\nARG BASE=python:${PY}\nFROM ${BASE}\n"
    swap = _swap(text, "python:3.12-slim")
    assert isinstance(swap, VariableSwap) and swap.split is not None and swap.from_text == "${RUNTIME_BASE}"
    assert (swap.split.value, swap.split.runtime_default) == ("python:${PY}", "${BASE:-python:${PY}-slim}")
    assert "--build-arg PY moves both stages alike" in swap.assumes
    single = _swap(text, "python:3.12-slim", shared=False)  # no builder: the default itself names the runtime
    assert isinstance(single, VariableSwap) and single.arg is not None and single.arg.after == "python:${PY}-slim"


def test_quoted_default() -> None:
    swap = _swap('ARG BASE="python:3.12"\nFROM ${BASE}\n', "python:3.12-slim")
    assert isinstance(swap, VariableSwap) and swap.split is not None
    assert swap.split.runtime_default == "${BASE:-python:3.12-slim}"


@pytest.mark.parametrize(("text", "why"), [
    ("ARG IMG=python:3.12\nARG BASE=${IMG}\nFROM ${BASE}\n", "BASE's default ${IMG} reads another ARG and the change"),
    ("ARG BASE=python:3.12\nFROM ${BASE}\nARG BASE\nLABEL base=$BASE\n", "declared again inside a stage"),
    ("ARG BASE=python:3.12\nARG SEEN=${BASE}\nFROM ${BASE}\n", "another ARG's default reads BASE"),
    ("ARG BASE=python:3.12\nFROM ${BASE:-python:3.11}\n", "a FROM gives BASE a default of its own"),
])
def test_declined_with_the_reason(text: str, why: str) -> None:
    swap = _swap(text, "python:3.12-slim")
    assert isinstance(swap, str) and why in swap


def _fixture_rewrite(tmp_path: Path, dockerfile: str | None = None) -> tuple[str, str]:
    ctx = tmp_path / "ctx"
    shutil.copytree(CASE, ctx)
    text = dockerfile if dockerfile is not None else (ctx / "Dockerfile").read_text()
    result = rewrite(text, context_dir=ctx)
    return result.text, explain("Dockerfile", result)


def test_build_args_keep_their_meaning(tmp_path: Path) -> None:
    original = (CASE / "Dockerfile").read_text()
    text, why = _fixture_rewrite(tmp_path)
    builder, assembly, final = bases(text, {})
    assert (builder, assembly, final) == ("python:3.12", "scratch", "python:3.12-slim")
    # --build-arg BASE alone: both stages on it, the base the original ran on (never 3.11 + 3.12-slim)
    assert bases(original, {"BASE": "python:3.11"}) == ["python:3.11"]
    assert bases(text, {"BASE": "python:3.11"})[::2] == ["python:3.11", "python:3.11"]
    assert bases(text, {"BASE": "python:3.11", "RUNTIME_BASE": "python:3.11-slim"})[::2] == [
        "python:3.11", "python:3.11-slim"]
    assert "ARG BASE\n" in text and "ARG RUNTIME_BASE=${BASE:-python:3.12-slim}\n" in text
    assert "ARG BASE declares no default: python:3.12 moves into the FROMs that name it" in why
    assert "assumes --build-arg BASE is not given: the base checked is its default python:3.12" in why
    assert rewrite(text, context_dir=tmp_path / "ctx").text == text  # idempotent


def test_derived_default_keeps_build_args_meaning(tmp_path: Path) -> None:
    original = "ARG PY=3.12\nARG BASE=python:${PY}\n" + (CASE / "Dockerfile").read_text().split("\n", 1)[1]
    text, why = _fixture_rewrite(tmp_path, original)
    assert "FROM ${BASE:-python:${PY}} AS builder" in text
    assert bases(text, {})[::2] == ["python:3.12", "python:3.12-slim"]
    assert bases(text, {"PY": "3.11"})[::2] == ["python:3.11", "python:3.11-slim"]
    assert bases(text, {"BASE": "python:3.11"})[::2] == ["python:3.11", "python:3.11"]
    assert "its default python:${PY} (python:3.12)" in why
    assert rewrite(text, context_dir=tmp_path / "ctx").text == text


def test_nested_default_is_read_as_the_builder_reads_it() -> None:
    assert substitute("${BASE:-python:${PY}-slim}", {"PY": "3.11"}) == "python:3.11-slim"
    assert substitute("${BASE:-python:${PY}-slim}", {"PY": "3.11", "BASE": "x"}) == "x"
    assert substitute("a${B:-$C}", {"C": "c"}) == "ac"


def test_redeclared_global_loses_every_default(tmp_path: Path) -> None:
    original = "ARG BASE=python:3.12\nARG BASE\n" + (CASE / "Dockerfile").read_text().split("\n", 1)[1]
    text, _ = _fixture_rewrite(tmp_path, original)
    assert text.startswith("ARG BASE\nARG BASE\n")
    assert bases(text, {})[::2] == ["python:3.12", "python:3.12-slim"]
    assert bases(text, {"BASE": "python:3.11"})[::2] == ["python:3.11", "python:3.11"]


@pytest.mark.build
def test_override_builds_a_matching_pair(buildah: Buildah) -> None:
    """A real build of the rewrite with --build-arg BASE=python:3.11: the final stage runs on the
    full python:3.11 the builder used (as the original did), and the app runs."""
    from dockerslim.verify import verify

    report = verify(CASE / "Dockerfile", builder=buildah, smoke=(CASE / "smoke.txt").read_text().strip(),
                    build_args={"BASE": "python:3.11"}, compressed=False)
    failed = {c.name: c.detail for c in report.checks if not c.ok}
    assert set(failed) <= {"rewrite is smaller"}, failed
    assert report.original and report.rewrite
    assert report.rewrite.size > 0.9 * report.original.size  # the full base: the pair was not split
