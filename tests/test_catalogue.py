"""Catalogue coverage (issue 10 item 3): every image a catalogue rule names as a runtime (or
static, or CUDA-free) base is a real tag pattern of its repository (data/known_tags.toml, each
written from the publisher's naming), and every rule is exercised by a real example tag."""

from __future__ import annotations

import re
import tomllib
from importlib import resources

import pytest

from dockerslim.catalog import _canonical, load, lookup_base
from dockerslim.image import ImageRef

KNOWN = tomllib.loads(resources.files("dockerslim.data").joinpath("known_tags.toml").read_text(encoding="utf-8"))
BY_NAME = {ImageRef.parse(r["name"]).canonical_name: r for r in KNOWN["repository"]}
EXAMPLES = [f"{r['name']}:{tag}" for r in KNOWN["repository"] for tag in r["examples"]]


def real(ref: ImageRef) -> bool:
    entry = BY_NAME.get(ref.canonical_name)
    return entry is not None and any(re.match(p, ref.tag or "latest") for p in entry["patterns"])


def test_every_entry_names_its_source() -> None:
    assert all(r["source"] and r["patterns"] for r in KNOWN["repository"])


def test_examples_are_real_by_their_own_patterns() -> None:
    assert [e for e in EXAMPLES if not real(ImageRef.parse(e))] == []


@pytest.mark.parametrize("example", EXAMPLES)
def test_runtime_variants_are_real_tags(example: str) -> None:
    info = lookup_base(ImageRef.parse(example))
    if info is None:
        return
    for produced in (info.runtime, info.static_runtime, info.cuda_free_runtime):
        if produced is not None:
            assert real(produced), f"{example} -> {produced}: not a known tag pattern of {produced.name}"


def test_every_rule_that_names_a_runtime_is_exercised_by_an_example() -> None:
    """A rule no example reaches would escape the check above."""
    untested = []
    for rule in load("base_images")["rule"]:
        if not any(k in rule for k in ("runtime", "runtime_image", "static_runtime_image", "cuda_free_runtime")):
            continue
        name = _canonical(rule["repository"])
        hit = any(ImageRef.parse(e).canonical_name == name
                  and re.match(rule["match"], ImageRef.parse(e).tag or "latest")
                  for e in EXAMPLES)
        if not hit:
            untested.append((rule["repository"], rule["match"]))
    assert untested == []


def test_an_invented_tag_is_caught() -> None:
    """The check has teeth: node's slim tags are 20-bookworm-slim, never 20-slim-bookworm."""
    assert not real(ImageRef.parse("node:20-slim-bookworm"))
    assert real(ImageRef.parse("node:20-bookworm-slim"))


@pytest.mark.parametrize(("image", "runtime"), [
    ("golang:1.21-alpine3.18", "alpine:3.18"),
    ("golang:1.20-alpine", "alpine:3"),
    ("python:latest", "python:slim"),
    ("python:3.9-buster", "python:3.9-slim-buster"),
    ("python:3.13-trixie", "python:3.13-slim-trixie"),
    ("node:18-bullseye", "node:18-bullseye-slim"),
    ("node:lts", "node:lts-slim"),
    ("nvidia/cuda:10.2-cudnn7-devel", "nvidia/cuda:10.2-cudnn7-runtime"),
    ("tensorflow/tensorflow:latest-devel-gpu", "tensorflow/tensorflow:latest-gpu"),
    ("debian:bookworm", "debian:bookworm-slim"),
])
def test_coverage_from_issue_10(image: str, runtime: str) -> None:
    info = lookup_base(ImageRef.parse(image))
    assert info is not None and str(info.runtime) == runtime


@pytest.mark.parametrize("image", ["node:20-alpine", "tensorflow/tensorflow:2.13.0-gpu",
                                   "continuumio/miniconda3:23.10.0-1", "mambaorg/micromamba:1.5.6",
                                   "condaforge/miniforge3:23.3.1-0", "ubuntu:22.04"])
def test_already_runtime_images_are_known_without_a_swap(image: str) -> None:
    info = lookup_base(ImageRef.parse(image))
    assert info is not None and info.runtime is None and info.family != "unknown"


def test_program_found_only_on_the_full_images_path_keeps_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """golang's PATH holds /go/bin, where `go install` puts the binary; alpine's does not."""
    from dockerslim import ir
    from dockerslim.base_decision import decide_runtime_base
    from dockerslim.options import Options
    from dockerslim.parse import parse
    from dockerslim.pass_context import PassContext

    (tmp_path / "main.go").write_text("package main\nfunc main() {}\n")
    context = PassContext(context_dir=tmp_path, options=Options())

    def decide(entry: str):  # type: ignore[no-untyped-def]
        df = parse("FROM golang:1.21-alpine3.18\nWORKDIR /src\nCOPY main.go .\nRUN go install ./...\n"
                   f"ENTRYPOINT [\"{entry}\"]\n")
        runtime_body = [n for n in df.stages[0].body if not isinstance(n, ir.Run)]  # as a split's runtime
        return decide_runtime_base(df, df.stages[0], context, body=runtime_body)

    kept = decide("syncer")
    assert not kept.swaps and any("syncer by name" in r.message for r in kept.kept)
    assert str(decide("/go/bin/syncer").runtime) == "alpine:3.18"


def test_alpine_runtime_libraries_hold_for_every_release() -> None:
    from dockerslim.catalog import package_fate

    assert package_fate("apk", "sqlite-dev", "3.19").runtime == ("sqlite-libs",)
