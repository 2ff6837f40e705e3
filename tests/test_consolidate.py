"""Package installs of a stage consolidated (merge-runs, ``passes/_consolidate.py``): one index
refresh per RUN that installs, one sorted and deduplicated install, and the guard reading every
edit as declared. The inputs it must leave alone are fixtures (``fixtures/passes/merge-runs/keeps-*``)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockerslim import Options, rewrite
from dockerslim.changes import CommandEdit
from dockerslim.parse import parse
from dockerslim.passes._consolidate import consolidate, declared
from dockerslim.shell import run_commands

MANY_APT = """FROM debian:bookworm
RUN apt-get update
RUN apt-get install -y curl
RUN apt-get update && apt-get install -y git ca-certificates
RUN apt-get install -y curl jq
CMD ["bash"]
"""


def _run_lines(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(("FROM", "CMD")))


def test_many_apt_runs_become_one_update_and_one_install() -> None:
    result = rewrite(MANY_APT, options=Options(only=frozenset({"package-hygiene", "merge-runs"})))
    body = _run_lines(result.text)
    assert body.count("apt-get update") == 1, result.text
    assert body.count("apt-get install") == 1, result.text
    assert "ca-certificates curl git jq" in body  # sorted, curl once
    assert body.count("rm -rf /var/lib/apt/lists/*") == 1
    assert not [n for n in result.notes if "rolled back" in n.message], result.notes
    assert any(c.commands for c in result.changes if c.pass_name == "merge-runs")


def test_pip_consolidation_is_reported_as_a_behaviour_change() -> None:
    text = "FROM python:3.12-slim\nRUN pip install --no-cache-dir flask\nRUN pip install --no-cache-dir gunicorn\n"
    result = rewrite(text, options=Options(only=frozenset({"merge-runs"})))
    assert "pip install --no-cache-dir flask gunicorn" in result.text
    change = next(c for c in result.changes if c.commands)
    assert change.risk == "medium" and "resolver" in change.effect and change.message.startswith("pip installs")


def test_whole_pipeline_keeps_one_update_in_the_runtime() -> None:
    result = rewrite(MANY_APT)
    runtime = result.text.split("FROM ")[-1]
    assert runtime.count("apt-get update") == 1, result.text
    assert not [n for n in result.notes if "rolled back" in n.message], result.notes


@pytest.mark.parametrize(
    "script,consolidated",
    [
        ("apt-get update && apt-get install -y b && apt-get install -y a b", "apt-get install -y a b"),
        ("apk add --no-cache b && apk add --no-cache a", "apk add --no-cache a b"),
        (  # options change half-way: each half made one
            "apt-get install -y b && apt-get install -y a && apt-get install -qq -y d && apt-get install -qq -y c",
            "apt-get install -y a b && apt-get install -qq -y c d",
        ),
        ("dnf install -y b && dnf install -y a && dnf clean all", "dnf install -y a b"),
        (
            "python -m pip install --no-cache-dir flask && python -m pip install --no-cache-dir -r req.txt",
            "python -m pip install --no-cache-dir flask -r req.txt",
        ),
        ("uv pip install --system flask && uv pip install --system gunicorn", "uv pip install --system flask gunicorn"),
    ],
)
def test_consolidates(script: str, consolidated: str) -> None:
    df = parse(f"FROM debian:bookworm\nRUN {script}\n")
    stage = df.stages[0]
    node = stage.body[0]
    made = consolidate(node, stage)
    assert made is not None and made.commands
    assert consolidated in str(made.run.command)


@pytest.mark.parametrize(
    "script",
    [
        "apt-get install -y a && a-tool setup && apt-get install -y b",  # a step between
        "apt-get install -y a && apt-get install -y --no-install-recommends b",  # options differ
        "apt-get install -y -o Dpkg::Options::=--force-confold a && apt-get install -y -o Dpkg::Options::=--force-confold b",  # noqa: E501
        "apt-get install -y $PKGS && apt-get install -y b",  # not a plain package word
        "apt-get install -y a && rm -rf /var/lib/apt/lists/* && apt-get install -y b",  # failed before: lists gone
        "apk add --virtual .deps gcc && apk add --virtual .deps musl-dev",
        "pip install -i https://example.com/simple a && pip install -i https://example.com/simple b",
        "pip install -c c.txt a && pip install -c c.txt b",
        "pip install -e . && pip install b",
        "pip install cython && pip install b",  # a later sdist build may import it
        "pip install a && pip3 install b",  # two spellings: maybe two interpreters
        "apt-get install -y a | tee log && apt-get install -y b",
    ],
)
def test_leaves_alone(script: str) -> None:
    df = parse(f"FROM debian:bookworm\nRUN {script}\n")
    stage = df.stages[0]
    assert consolidate(stage.body[0], stage) is None


def test_declared_edits_align_as_the_guard_walks() -> None:
    df = parse(
        "FROM debian:bookworm\nRUN apt-get update && apt-get install -y b && rm -rf /var/lib/apt/lists/* "
        "&& apt-get update && apt-get install -y a && rm -rf /var/lib/apt/lists/*\n"
        "RUN apt-get update && apt-get install -y a b && rm -rf /var/lib/apt/lists/*\n"
    )
    old, new = df.stages[0].body
    edits = declared(old, new)  # type: ignore[arg-type]
    assert CommandEdit(("apt-get", "install", "-y", "b"), ("apt-get", "install", "-y", "a", "b")) in edits
    assert CommandEdit(("apt-get", "install", "-y", "a"), None) in edits
    assert sum(e.after is None for e in edits) == 3  # the second update, install and cleanup


STEPS = {
    "update": "apt-get update",
    "clean": "rm -rf /var/lib/apt/lists/*",
    "other": "mkdir -p /srv",
}


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(sorted(STEPS)),
            st.tuples(
                st.sampled_from(["-y", "-qq -y"]),
                st.lists(st.sampled_from(["a", "b", "c", "d=1.0"]), min_size=1, max_size=3),
            ),
        ),
        min_size=1,
        max_size=7,
    )
)
def test_consolidation_keeps_packages_and_the_final_state_of_the_lists(
    steps: list[str | tuple[str, list[str]]],
) -> None:
    """Whatever the order of refreshes, installs, cleanups and other steps: the same packages
    are installed, installs never move across another step, and the lists end as they did."""
    parts = [STEPS[s] if isinstance(s, str) else f"apt-get install {s[0]} " + " ".join(s[1]) for s in steps]
    df = parse("FROM debian:bookworm\nRUN " + " && ".join(parts) + "\n")
    stage = df.stages[0]
    made = consolidate(stage.body[0], stage)  # type: ignore[arg-type]
    if made is None:
        return
    new = [" ".join(c.argv) for c in run_commands(made.run) or []]

    def installed(cmds: list[str]) -> set[str]:
        return {
            (w, c.count("-qq"))
            for c in cmds
            if c.startswith("apt-get install")
            for w in c.split()[2:]
            if not w.startswith("-")
        }

    def lists_at_end(cmds: list[str]) -> bool:
        state = True
        for c in cmds:
            state = True if c == "apt-get update" else False if c == STEPS["clean"] else state
        return state

    assert installed(parts) == installed(new)
    assert lists_at_end(parts) == lists_at_end(new)
    between = [i for i, c in enumerate(parts) if c == STEPS["other"]]
    assert [c for c in new if c == STEPS["other"]] == [parts[i] for i in between]  # other steps all stay
    old_segments = " && ".join(parts).split(STEPS["other"])
    new_segments = " && ".join(new).split(STEPS["other"])
    assert [installed(s.split(" && ")) for s in old_segments] == [installed(s.split(" && ")) for s in new_segments]
