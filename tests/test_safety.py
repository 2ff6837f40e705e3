"""The rewrite never breaks the app at run time, and one function decides the runtime base.

Each test fails on the code before these fixes: a user made in a build RUN left in the builder,
an entrypoint script compiling at start, a base whose Python is a virtualenv, a decision taken on
a file the context lacks (or with no context at all), fully-qualified image names, and the split
and the base pass disagreeing about the runtime base."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockerslim import Options, rewrite
from dockerslim.base_decision import decide_runtime_base
from dockerslim.catalog import lookup_base
from dockerslim.image import ImageRef
from dockerslim.parse import parse
from dockerslim.pass_context import PassContext
from dockerslim.start_scripts import scan_start

from .conftest import FIXTURES

REWRITE = FIXTURES / "rewrite"


def _fixture(name: str):  # type: ignore[no-untyped-def]
    case = REWRITE / name
    return rewrite((case / "Dockerfile").read_text(), path=str(case / "Dockerfile"), context_dir=case)


def _stage(text: str, marker: str) -> str:
    return text.split(f"# dockerslim: {marker} stage")[1]


# 1. users, groups and /etc files ---------------------------------------------------------------


def test_user_made_in_a_build_run_is_recreated_in_the_runtime() -> None:
    result = _fixture("user-in-build-run")
    runtime = _stage(result.text, "runtime")
    assert "groupadd -r app" in runtime and "useradd -r -g app -d /app app" in runtime
    assert "> /etc/app.sudoers" in runtime and "pip install" not in runtime
    # before the artifacts arrive, so files the builder gave to app keep a matching owner
    assert runtime.index("useradd") < runtime.index("COPY --from=assembly")
    assert any("recreates" in c.message and c.line == 3 for c in result.changes)


def test_user_made_in_a_mixed_run_whose_packages_all_leave_is_kept(tmp_path: Path) -> None:
    text = (
        "FROM python:3.12\nRUN apt-get update && apt-get install -y build-essential && pip install x "
        '&& groupadd app && echo hi > /etc/motd\nCOPY . /app\nUSER app\nCMD ["python", "/app/a.py"]\n'
    )
    runtime = _stage(rewrite(text, context_dir=tmp_path).text, "runtime")
    assert "groupadd app && echo hi > /etc/motd" in runtime and "build-essential" not in runtime


# 2. compilers at start -----------------------------------------------------------------------


def test_entrypoint_script_running_gcc_gets_gcc_on_the_slim_runtime_and_keeps_its_packages() -> None:
    """gcc on a libc-only source needs a C compiler and libc headers, not the whole full image:
    the runtime installs gcc libc6-dev on python:3.12-slim and keeps what the original installed."""
    result = _fixture("entrypoint-compiles")
    runtime = _stage(result.text, "runtime")
    assert "\nFROM python:3.12-slim\n" in runtime
    assert "apt-get install -y --no-install-recommends gcc libc6-dev libffi-dev" in runtime
    assert any("docker-entrypoint.sh:5 runs gcc" in c.reason and "fast.c" in c.reason for c in result.changes)


@pytest.mark.parametrize(
    "script,trigger",
    [
        ('#!/bin/sh\nset -e\nmake -C native\nexec "$@"\n', "make"),
        ('#!/bin/bash\nif [ -n "$X" ]; then pip install -r extra.txt; fi\nexec python app.py\n', "pip install"),
        ('#!/bin/sh\nexec python -m pip install --user plugin && exec "$@"\n', "pip install"),
        ("#!/bin/sh\nCC=gcc nvcc -o k k.cu\n", "nvcc"),
        ("#!/bin/sh\nsh ./build.sh\n", "cmake"),
    ],
)
def test_start_script_triggers(tmp_path: Path, script: str, trigger: str) -> None:
    (tmp_path / "start.sh").write_text(script)
    (tmp_path / "build.sh").write_text("cmake -B build .\n")
    df = parse('FROM python:3.12\nWORKDIR /app\nCOPY . .\nENTRYPOINT ["/app/start.sh"]\n')
    assert trigger in {f.name for f in scan_start(df.stages[0], tmp_path)}


def test_start_script_lookalikes_are_not_triggers(tmp_path: Path) -> None:
    (tmp_path / "start.sh").write_text('#!/bin/sh\n# gcc is not needed\necho make me a sandwich\npip list\nexec "$@"\n')
    df = parse('FROM python:3.12\nCOPY start.sh /usr/local/bin/\nENTRYPOINT ["start.sh"]\nCMD python -m app\n')
    assert scan_start(df.stages[0], tmp_path) == []


def test_shell_form_cmd_compiling_keeps_packages(tmp_path: Path) -> None:
    text = (
        "FROM python:3.12\nRUN apt-get update && apt-get install -y build-essential libpq-dev\nCOPY . /app\n"
        "RUN pip install -r /app/requirements.txt\nCMD gcc -o /tmp/x /app/x.c && /tmp/x\n"
    )
    (tmp_path / "requirements.txt").write_text("tqdm\n")
    result = rewrite(text, context_dir=tmp_path)
    assert "python:3.12-slim" not in result.text and "AS builder" not in result.text


# 3. a base whose Python is a virtualenv ------------------------------------------------------


def test_unknown_base_venv_chains_the_base_environment() -> None:
    result = _fixture("venv-python-base")
    builder = result.text.split("# dockerslim: everything")[0]
    assert "--system-site-packages /opt/venv" in builder and "_base_python.pth" in builder
    assert "site.getsitepackages()" in builder


def test_catalogued_real_prefix_keeps_plain_system_site_packages(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("tqdm\n")
    text = (
        "FROM pytorch/pytorch:2.7.1-cuda11.8-cudnn9-devel\nRUN apt-get update && apt-get install -y libpq-dev "
        '&& rm -rf /var/lib/apt/lists/*\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCMD ["python"]\n'
    )
    out = rewrite(text, context_dir=tmp_path).text
    assert "python3 -m venv --system-site-packages /opt/venv\n" in out and "_base_python.pth" not in out


def test_file_that_installs_into_its_own_virtualenv_declines_the_split(tmp_path: Path) -> None:
    text = (
        "FROM python:3.12\nRUN python3 -m venv /opt/app-env\nENV PATH=/opt/app-env/bin:$PATH\n"
        'RUN apt-get update && apt-get install -y libpq-dev\nRUN pip install psycopg2\nCMD ["python"]\n'
    )
    result = rewrite(text, context_dir=tmp_path)
    assert "AS builder" not in result.text
    assert any("virtualenvs do not chain" in n.message for n in result.notes)


# 4. no decision on files it cannot read ------------------------------------------------------


def test_missing_requirements_file_declines_the_cuda_swap_and_names_it(tmp_path: Path) -> None:
    src = REWRITE / "cuda-distro-python"
    (tmp_path / "serve.py").write_text((src / "serve.py").read_text())  # requirements.txt is missing
    result = rewrite((src / "Dockerfile").read_text(), context_dir=tmp_path)
    assert "base-ubuntu" not in result.text and "-runtime-" not in result.text
    assert any(
        "requirements.txt (COPY at line 5) is not in the build context" in n.message and n.level == "warning"
        for n in result.notes
    )


def test_no_context_declines_a_torch_compile_swap_with_a_warning() -> None:
    text = (REWRITE / "pytorch-torch-compile" / "Dockerfile").read_text()
    result = rewrite(text)  # stdin, or a library call without context_dir
    assert "-runtime" not in result.text
    assert any(n.level == "warning" and "no build context" in n.message for n in result.notes)


# 5. image references -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written,runtime",
    [
        ("python:3.12", "python:3.12-slim"),
        ("docker.io/library/python:3.12", "docker.io/library/python:3.12-slim"),
        ("index.docker.io/library/python:3.12", "index.docker.io/library/python:3.12-slim"),
        ("registry-1.docker.io/library/python:3.12", "registry-1.docker.io/library/python:3.12-slim"),
        ("docker.io/python:3.12", "docker.io/python:3.12-slim"),
        (
            "docker.io/pytorch/pytorch:2.7.1-cuda11.8-cudnn9-devel",
            "docker.io/pytorch/pytorch:2.7.1-cuda11.8-cudnn9-runtime",
        ),
    ],
)
def test_fully_qualified_references_find_the_catalogue_and_keep_their_spelling(written: str, runtime: str) -> None:
    info = lookup_base(ImageRef.parse(written))
    assert info is not None and str(info.runtime) == runtime


@pytest.mark.parametrize("written", ["localhost:5000/python:3.12", "myregistry.example.com:443/library/python:3.12"])
def test_other_registries_are_not_docker_hub(written: str) -> None:
    assert lookup_base(ImageRef.parse(written)) is None


def test_digest_pinned_reference_is_kept_with_the_reason(tmp_path: Path) -> None:
    ref = ImageRef.parse("docker.io/library/python:3.12@sha256:" + "ab" * 32)
    assert ref.canonical_name == "python" and ref.tag == "3.12" and lookup_base(ref) is None
    result = rewrite(f'FROM {ref}\nCOPY . /app\nCMD ["python", "/app/a.py"]\n', context_dir=tmp_path)
    assert any("pinned by digest" in n.message for n in result.notes)


def test_fully_qualified_base_is_swapped_in_a_rewrite(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("print(1)\n")
    text = 'FROM docker.io/library/python:3.12\nCOPY a.py /app/\nCMD ["python", "/app/a.py"]\n'
    assert "FROM docker.io/library/python:3.12-slim\n" in rewrite(text, context_dir=tmp_path).text


# 6. one runtime-base decision ----------------------------------------------------------------


def test_split_never_predicts_a_base_the_base_pass_declines() -> None:
    """healthcheck-curl: the split and the base pass agree: slim, with curl installed for the HEALTHCHECK."""
    result = _fixture("healthcheck-curl")
    runtime = _stage(result.text, "runtime")
    assert runtime.startswith(" (only what the app needs to run)\nFROM python:3.12-slim\n")
    assert "apt-get install -y --no-install-recommends curl" in runtime
    assert any(c.message == "final stage installs curl on python:3.12-slim" for c in result.changes)


def test_tool_needed_at_run_time_moves_a_go_binary_from_distroless_to_slim(tmp_path: Path) -> None:
    """Distroless has no package manager: a static Go binary whose HEALTHCHECK runs curl gets the
    catalogue's Debian runtime with curl installed, not distroless and not the full golang image."""
    (tmp_path / "main.go").write_text("package main\n")
    text = (
        "FROM golang:1.22\nWORKDIR /src\nCOPY . .\nRUN CGO_ENABLED=0 go build -o /out/server .\n"
        'HEALTHCHECK CMD curl -f localhost:8080\nCMD ["/out/server"]\n'
    )
    runtime = _stage(rewrite(text, context_dir=tmp_path).text, "runtime")
    assert "FROM debian:bookworm-slim\n" in runtime and "distroless" not in runtime
    assert "apt-get install -y --no-install-recommends curl" in runtime


def test_split_and_base_pass_ask_the_same_function() -> None:
    case = REWRITE / "python-psycopg2"
    result = _fixture("python-psycopg2")
    df = parse((case / "Dockerfile").read_text())
    final = parse(result.text).stages[-1]
    decision = decide_runtime_base(parse(result.text), final, PassContext(context_dir=case))
    assert f"FROM {final.from_.image}" in result.text and not decision.swaps  # already decided, nothing left
    first = decide_runtime_base(df, df.stages[0], PassContext(context_dir=case), body=())
    assert str(first.runtime) == final.from_.image


def test_inference_file_on_a_devel_base_gets_only_the_swap() -> None:
    result = _fixture("pytorch-train")
    assert "AS builder" not in result.text and "/opt/venv" not in result.text
    assert result.text.startswith("FROM pytorch/pytorch:2.7.1-cuda11.8-cudnn9-runtime\n")
    assert any(
        n.message.startswith("no split: swapping the base") and "6.66 GB → 3.03 GB" in n.message for n in result.notes
    )


def test_split_change_states_the_size_estimate() -> None:
    result = _fixture("python-psycopg2")
    split = next(c for c in result.changes if c.message.startswith("split into"))
    assert "1.02 GB → 125 MB" in split.effect


# 7. ARG/ENV values where Docker substitutes them ---------------------------------------------


def test_workdir_and_copy_from_env_are_resolved() -> None:
    result = _fixture("workdir-from-env")
    assembly = result.text.split("FROM scratch AS assembly")[1].split("# dockerslim: runtime")[0]
    assert "COPY --from=builder /srv/app/src /srv/app/src" in assembly
    assert "WORKDIR $APP_HOME" in _stage(result.text, "runtime")  # kept as written


@pytest.mark.parametrize(
    "text,values,out",
    [
        ("${BASE:-python:3.12}", {}, "python:3.12"),
        ("${BASE:-python:3.12}", {"BASE": "pypy:3"}, "pypy:3"),
        ("${TAG:+-slim}", {"TAG": "x"}, "-slim"),
        ("$HOME/app", {"HOME": "/srv"}, "/srv/app"),
        ('"/srv/${NAME}"', {"NAME": "a b"}, "/srv/a b"),
    ],
)
def test_variable_substitution_as_docker_does(text: str, values: dict[str, str], out: str) -> None:
    from dockerslim.variables import expand

    assert expand(text, values) == out


@pytest.mark.parametrize(
    "requirements,outcome",
    [
        ("tqdm==4.66.0\nrequests  # http\n", "swap only"),
        ("tqdm\n-e ./plugins/fast\n", "split"),  # builds from source: in the builder, with the compiler
        ("git+https://github.com/org/lib.git@v1\n", "split"),
        (None, "kept"),  # not in the context: nothing can be said about it
    ],
)
def test_swap_only_when_the_requirements_install_from_an_index(
    tmp_path: Path, requirements: str | None, outcome: str
) -> None:
    if requirements is not None:
        (tmp_path / "requirements.txt").write_text(requirements)
    (tmp_path / "serve.py").write_text("print('ok')\n")
    text = (
        "FROM pytorch/pytorch:2.7.1-cuda11.8-cudnn9-devel\nWORKDIR /srv\nCOPY requirements.txt* ./\n"
        'RUN pip install -r requirements.txt\nCOPY serve.py .\nCMD ["python", "serve.py"]\n'
    )
    out = rewrite(text, context_dir=tmp_path).text
    found = (
        "split"
        if "AS builder" in out
        else "swap only"
        if out.startswith("FROM pytorch/pytorch:2.7.1-cuda11.8-cudnn9-runtime\n")
        else "kept"
        if out.startswith("FROM pytorch/pytorch:2.7.1-cuda11.8-cudnn9-devel\n")
        else out
    )
    assert found == outcome


def test_start_script_found_through_a_workdir_from_env(tmp_path: Path) -> None:
    (tmp_path / "run.sh").write_text('#!/bin/sh\nmake -C native && exec "$@"\n')
    df = parse('FROM python:3.12\nENV APP_HOME=/srv/app\nWORKDIR $APP_HOME\nCOPY run.sh .\nENTRYPOINT ["./run.sh"]\n')
    assert [f.name for f in scan_start(df.stages[0], tmp_path, df)] == ["make"]


def test_model_download_runs_on_the_runtime_image_with_its_tool(tmp_path: Path) -> None:
    """A wget of weights is no reason to keep a devel base: the stage installs wget itself;
    without that install, wget is installed on the runtime image for it."""
    (tmp_path / "serve.py").write_text("print('ok')\n")
    body = (
        "RUN mkdir -p /w && wget -q -O /w/model.bin https://example.com/model.bin\n"
        'COPY serve.py .\nCMD ["python", "serve.py"]\n'
    )
    own = rewrite(
        "FROM pytorch/pytorch:2.7.1-cuda11.8-cudnn9-devel\nRUN apt-get update && apt-get install -y wget\n" + body,
        context_dir=tmp_path,
    ).text
    assert own.startswith("FROM pytorch/pytorch:2.7.1-cuda11.8-cudnn9-runtime\n") and own.count("apt-get install") == 1
    added = rewrite("FROM pytorch/pytorch:2.7.1-cuda11.8-cudnn9-devel\n" + body, context_dir=tmp_path).text
    assert added.startswith("FROM pytorch/pytorch:2.7.1-cuda11.8-cudnn9-runtime\n# dockerslim: wget: used at run time")
    git = rewrite(
        "FROM pytorch/pytorch:2.7.1-cuda11.8-cudnn9-devel\nRUN git clone https://example.com/r.git /r\n"
        'CMD ["python"]\n',
        context_dir=tmp_path,
    ).text
    # a clone is fetched in the builder and its folder carried: the runtime needs no git
    assert "FROM pytorch/pytorch:2.7.1-cuda11.8-cudnn9-runtime\n" in git and "COPY --from=builder /r /r" in git


def test_jit_guard_is_not_fooled_by_a_shadowed_alias() -> None:
    from dockerslim.jit import scan_source

    code = "import torch as t\n\ndef f(t):\n    return t.compile(1)\n"
    assert scan_source(code) == []
    assert [f.name for f in scan_source("import torch as t\n@t.compile(mode='max')\ndef f(): pass\n")] == [
        "torch.compile"
    ]


def test_forced_runtime_base_without_context_is_used_with_a_warning() -> None:
    text = 'FROM python:3.12\nCOPY . /app\nCMD ["python", "/app/a.py"]\n'
    result = rewrite(text, options=Options(runtime_base="python:3.12-slim-bookworm"))
    assert "FROM python:3.12-slim-bookworm\n" in result.text
    assert any(n.level == "warning" and "used unchecked" in n.message for n in result.notes)
    assert "FROM python:3.12\n" in rewrite(text).text  # not forced: declined


def test_files_downloaded_in_a_builder_step_reach_the_runtime(tmp_path: Path) -> None:
    """pip + huggingface-cli --local-dir in one RUN: the weights are an artifact, not left behind."""
    (tmp_path / "main.py").write_text("print(1)\n")
    text = (
        "FROM python:3.10\nRUN pip install --no-cache-dir 'huggingface_hub[cli]' "
        "&& huggingface-cli download org/model --local-dir /models/m\n"
        'COPY main.py /app/\nCMD ["python", "/app/main.py"]\n'
    )
    out = rewrite(text, context_dir=tmp_path).text
    assert "COPY --from=builder /models/m /models/m" in out
    untracked = text.replace(" --local-dir /models/m", "")  # into the HF cache: cannot be located
    assert "AS builder" not in rewrite(untracked, context_dir=tmp_path).text


@pytest.mark.parametrize(
    "script,outputs",
    [
        ("git clone --depth 1 --branch v1 https://x.org/a/textkit.git", ["/opt/textkit"]),
        ("git clone https://x.org/a/b.git src/b", ["/opt/src/b"]),
        ("git config --global url.x.insteadOf y", []),
        ("wget -q -O /w/model.bin https://x.org/m.bin", ["/w/model.bin"]),
        ("wget https://x.org/m.bin", ["/opt/m.bin"]),
        ("curl -fsSL https://x.org/install.sh", []),
        ("curl -O https://x.org/m.bin", None),
        ("huggingface-cli download org/m", None),
        ("aws s3 cp s3://b/m /m", None),
    ],
)
def test_download_outputs(script: str, outputs: list[str] | None) -> None:
    from dockerslim.classify import download_outputs
    from dockerslim.shell import commands

    cmds = commands(script, "/opt")
    assert cmds is not None
    assert download_outputs(cmds[0], "/opt") == outputs
