"""Fuzzing as a habit: generated Dockerfiles — comments, heredocs, odd names, huge flags, apt
sequences, several stages — go parse → emit → re-parse → rewrite → guard, and every rewrite
must re-parse (BuildKit's parser agreeing on the instructions), change nothing the guard would
reject, and be idempotent: rewriting a rewrite changes nothing (black's stability check).

The run is derandomized (a fixed seed: CI sees the same examples every time). For a longer,
random run: ``DOCKERSLIM_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest -p no:xdist tests/test_fuzz.py``.
"""

from __future__ import annotations

import json
import os

import dockerfile as buildkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockerslim import rewrite
from dockerslim.emit import emit
from dockerslim.guard import Facts
from dockerslim.parse import parse

EXAMPLES = int(os.environ.get("DOCKERSLIM_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=EXAMPLES or 60, derandomize=not EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

PKG = st.sampled_from(["curl", "git", "gcc", "libpq-dev", "build-essential", "ffmpeg", "ca-certificates"])
PIP = st.sampled_from(["flask", "uv", "numpy==1.26.4", "-r requirements.txt", "torch", "'requests>=2'"])
WORD = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF, blacklist_characters="\\\"'#$`&|;<>()[]{}*?"),
               min_size=1, max_size=10)
ODD_NAME = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\\\"/$*?[]"),
                   min_size=1, max_size=12).filter(lambda s: s.strip() == s and s not in (".", ".."))
COMMENT = st.sampled_from(["# note", "# why: cache", "#", "# apt-get install evil", "## twice #"])


@st.composite
def run_line(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 10))
    pkg, word = draw(PKG), draw(WORD)
    tail = f" {draw(COMMENT)}" if draw(st.booleans()) and kind not in (6, 7) else ""
    match kind:
        case 0:
            return f"RUN apt-get update && apt-get install -y {pkg}{tail}"
        case 1:
            return f"RUN apt-get install -y {pkg}{tail}"
        case 2:
            return f"RUN pip install {draw(PIP)}{tail}"
        case 3:
            return f"RUN echo {word} > /tmp/out{tail}"
        case 4:
            return (f"RUN apt-get update \\\n    # an inner comment line\n"
                    f"    && apt-get install -y {pkg} \\\n    && echo done{tail}")
        case 5:
            return f"RUN cd /srv && make{tail}"
        case 6:
            return f"RUN <<EOF\nset -e\napt-get update\napt-get install -y {pkg} # inline\nEOF"
        case 7:
            return json.dumps(["sh", "-c", f"echo {word} # not a comment in JSON"]).join(["RUN ", ""])
        case 8:
            flags = " ".join(f"--mount=type=secret,id=s{i}" for i in range(draw(st.integers(1, 60))))
            return f"RUN {flags} pip install {draw(PIP)}{tail}"
        case 9:
            return f"RUN DEBIAN_FRONTEND=noninteractive apt-get install -y {pkg}{tail}"
        case _:
            return f"RUN a=1; echo $a || true{tail}"


@st.composite
def other_line(draw: st.DrawFn) -> str:
    name = draw(ODD_NAME)
    return draw(st.sampled_from([
        json.dumps([name, "/app/"]).join(["COPY ", ""]),
        "COPY requirements.txt .",
        "COPY . .",
        f"ENV NAME_{abs(hash(name)) % 97}=x",
        "WORKDIR /app",
        "USER 1000",
        "ARG VERSION=1",
        "# a comment line",
        "",
    ]))


@st.composite
def dockerfiles(draw: st.DrawFn) -> str:
    stages = []
    for i in range(draw(st.integers(1, 2))):
        base = draw(st.sampled_from(["python:3.12", "debian:bookworm", "ubuntu:22.04", "python:3.11-slim"]))
        lines = [f"FROM {base}" + (f" AS s{i}" if i == 0 else "")]
        lines += draw(st.lists(st.one_of(run_line(), other_line()), min_size=1, max_size=8))
        stages.append("\n".join(lines))
    return "\n".join(stages) + "\n" + 'CMD ["python", "app.py"]\n'


def _instructions(text: str) -> list[str]:
    return [c.cmd.upper() for c in buildkit.parse_string(text)]


@FUZZ
@given(text=dockerfiles())
def test_generated_dockerfiles_rewrite_safely_and_stably(text: str) -> None:
    df = parse(text)
    assert emit(df) == text  # untouched input comes out byte for byte
    assert parse(emit(df)) == df
    result = rewrite(text)
    assert not [n.message for n in result.notes if "rolled back" in n.message]
    out = parse(result.text)
    assert [n.keyword for n in out.instructions()] == _instructions(result.text)
    commands = [c for stage in Facts().stages(out) for c in stage]
    assert all("#" not in " ".join(c[:1]) for c in commands)  # no command begins inside a comment
    assert rewrite(result.text).text == result.text, "a second rewrite changed the first one's output"


def test_second_rewrite_adds_no_apt_cleanup() -> None:
    """Issue 10: the first rewrite gave the later install its own ``apt-get update``; the
    earlier RUN's lists are then no longer needed, and must be cleaned the first time."""
    text = ("FROM debian:bookworm\nRUN apt-get update && apt-get install -y curl\nCOPY app /app\n"
            "RUN apt-get install -y git\n")
    once = rewrite(text).text
    assert rewrite(once).text == once
    assert once.count("rm -rf /var/lib/apt/lists/*") == 2
