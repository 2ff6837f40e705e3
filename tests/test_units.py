"""Small pieces on their own: image references, shell analysis, catalog, JIT guard, traps."""

from __future__ import annotations

import pytest

from dockerslim import Options, rewrite
from dockerslim.catalog import apt_fate, lookup_base, package_fate
from dockerslim.image import ImageRef
from dockerslim.jit import scan_source


@pytest.mark.parametrize("text,registry,repo,tag,digest", [
    ("python", None, "python", None, None),
    ("python:3.12-slim", None, "python", "3.12-slim", None),
    ("pytorch/pytorch:2.7.1-cuda11.8-cudnn9-devel", None, "pytorch/pytorch", "2.7.1-cuda11.8-cudnn9-devel", None),
    ("localhost:5000/team/img:1.0", "localhost:5000", "team/img", "1.0", None),
    ("ghcr.io/astral-sh/uv:0.7.11", "ghcr.io", "astral-sh/uv", "0.7.11", None),
    ("python@sha256:" + "a" * 64, None, "python", None, "sha256:" + "a" * 64),
])
def test_image_reference_round_trip(text: str, registry: str | None, repo: str, tag: str | None,
                                     digest: str | None) -> None:
    ref = ImageRef.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repo, tag, digest)
    assert str(ref) == text


@pytest.mark.parametrize("bad", ["Python:3", "a//b", "x:bad tag", "img@sha256:zz", ""])
def test_bad_image_references(bad: str) -> None:
    with pytest.raises(ValueError):
        ImageRef.parse(bad)


def test_dev_package_maps_to_runtime_library_per_release() -> None:
    assert apt_fate("libpq-dev", "bookworm").runtime == ("libpq5",)
    assert apt_fate("libssl-dev", "bullseye").runtime == ("libssl1.1",)
    assert apt_fate("libssl-dev", "noble").runtime == ("libssl3t64",)
    assert apt_fate("python3-dev", "jammy").runtime == ("python3",)
    unknown = apt_fate("libfrobnicate-dev", "bookworm")
    assert not unknown.known and not unknown.build_only  # kept, and reported
    assert apt_fate("build-essential", "bookworm").build_only
    assert not apt_fate("curl", "bookworm").build_only
    assert package_fate("apk", "build-base", "").build_only


def test_catalog_keeps_os_and_python() -> None:
    info = lookup_base(ImageRef.parse("python:3.11-bullseye"))
    assert info and str(info.runtime) == "python:3.11-slim-bullseye" and info.release == "bullseye"
    cuda = lookup_base(ImageRef.parse("nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04"))
    assert cuda and str(cuda.runtime) == "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04" and cuda.release == "jammy"
    alpine = lookup_base(ImageRef.parse("python:3.12-alpine"))  # known (a real Python prefix), no runtime variant
    assert alpine and alpine.runtime is None and alpine.python_env == "prefix"


@pytest.mark.parametrize("code,name", [
    ("import torch\ntorch.compile(m)\n", "torch.compile"),
    ("import torch as t\n@t.compile\ndef f(): pass\n", "torch.compile"),
    ("from torch import compile as c\nc(m)\n", "torch.compile"),
    ("from torch.utils.cpp_extension import load_inline\nload_inline('x', '')\n",
     "torch.utils.cpp_extension.load_inline"),
    ("import triton\n@triton.jit\ndef k(): pass\n", "triton.jit"),
    ("from numba import cuda\n@cuda.jit\ndef k(): pass\n", "numba.cuda.jit"),
    ("import cupy as cp\ncp.RawKernel('', 'k')\n", "cupy.RawKernel"),
    ("import pyximport\npyximport.install()\n", "pyximport"),
])
def test_jit_guard_resolves_aliases(code: str, name: str) -> None:
    assert name in {f.name for f in scan_source(code)}


def test_jit_guard_ignores_lookalikes() -> None:
    assert scan_source("def compile(x): pass\ncompile(1)\nimport re\nre.compile('x')\n") == []


def test_trap_dev_package_runtime_library_survives(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = ("FROM python:3.12\nRUN apt-get update && apt-get install -y gcc libpq-dev && rm -rf /var/lib/apt/lists/*\n"
            "COPY . /app\nRUN pip install -r /app/requirements.txt\nCMD [\"python\", \"/app/app.py\"]\n")
    out = rewrite(text, context_dir=tmp_path).text
    runtime = out.split("# dockerslim: runtime stage")[1]
    assert "libpq5" in runtime and "libpq-dev" not in runtime and "gcc" not in runtime


def test_trap_run_writing_outside_known_paths_declines_the_split() -> None:
    text = "FROM python:3.12\nCOPY . /src\nRUN cd /src && make install\n"
    result = rewrite(text)
    assert "AS builder" not in result.text
    assert any("split declined" in n.message and n.line == 3 for n in result.notes)


def test_trap_absolute_python_in_cmd_declines_the_venv_split() -> None:
    text = ("FROM python:3.12\nCOPY . /app\nRUN pip install -r /app/requirements.txt\n"
            "CMD [\"/usr/local/bin/python\", \"/app/a.py\"]\n")
    result = rewrite(text)
    assert "AS builder" not in result.text
    assert any("bypass the virtualenv" in n.message for n in result.notes)


def test_trap_arg_used_in_run_is_declared_in_both_stages(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = ("FROM python:3.12\nARG VERSION=1\nCOPY . /app\nRUN pip install \"app==$VERSION\" -r /app/r.txt\n"
            "CMD [\"python\", \"-m\", \"app\"]\n")
    out = rewrite(text, context_dir=tmp_path).text
    builder, runtime = out.split("# dockerslim: runtime stage")
    assert "ARG VERSION=1" in builder and "ARG VERSION=1" in runtime


def test_no_assembly_copies_from_builder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = "FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN pip install .\nCMD [\"python\", \"-m\", \"app\"]\n"
    out = rewrite(text, context_dir=tmp_path, options=Options(assembly=False)).text
    assert "AS assembly" not in out and "COPY --from=builder /app /app" in out
    assert "COPY --from=builder /opt/venv /opt/venv" in out


def test_keep_base_and_runtime_base_options(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = "FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN pip install .\nCMD [\"python\", \"-m\", \"app\"]\n"
    assert "python:3.12-slim" not in rewrite(text, context_dir=tmp_path, options=Options(keep_base=True)).text
    forced = Options(runtime_base="python:3.12-slim-bookworm")
    assert "FROM python:3.12-slim-bookworm" in rewrite(text, context_dir=tmp_path, options=forced).text


def test_cuda_base_tag_only_when_nothing_uses_cuda() -> None:
    from .conftest import FIXTURES

    free = FIXTURES / "rewrite" / "cuda-distro-python"
    used = FIXTURES / "rewrite" / "cuda-cupy"
    free_out = rewrite((free / "Dockerfile").read_text(), context_dir=free).text
    assert "FROM nvidia/cuda:12.4.1-base-ubuntu22.04" in free_out
    result = rewrite((used / "Dockerfile").read_text(), context_dir=used)
    assert "FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04" in result.text
    assert any("infer.py:1: cupy uses them" in n.message for n in result.notes)
    # without a build context nothing can be checked (JIT guard, CUDA scan): the devel base stays, with a warning
    blind = rewrite((free / "Dockerfile").read_text())
    assert "-cudnn-devel-" in blind.text and "-base-" not in blind.text and "-runtime-" not in blind.text
    assert any(n.level == "warning" and "no build context" in n.message for n in blind.notes)


def test_pin_digest_uses_catalog_digests_and_says_when_it_has_none(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = "FROM python:3.12-slim\nRUN pip install uv==0.7.11\n"
    plain = rewrite(text, options=Options(only=frozenset({"tools-from-images"}), pin_digest=True))
    assert "ghcr.io/astral-sh/uv:0.7.11 /uv" in plain.text
    assert any("no digest known for ghcr.io/astral-sh/uv:0.7.11" in n.message for n in plain.notes)
    digest = "sha256:" + "ab" * 32
    (tmp_path / "tools.toml").write_text(f'[[tool]]\nname = "uv"\nimage = "ghcr.io/astral-sh/uv:{{version}}"\n'
                                         f'version = "0.7.11"\npaths = ["/uv", "/uvx"]\ndest = "/bin/"\npip = ["uv"]\n'
                                         f'scripts = []\ndigests = {{ "0.7.11" = "{digest}" }}\n')
    pinned = rewrite(text, options=Options(only=frozenset({"tools-from-images"}), pin_digest=True,
                                           data=(str(tmp_path),)))
    assert f"COPY --from=ghcr.io/astral-sh/uv:0.7.11@{digest} /uv /uvx /bin/" in pinned.text


def test_trap_install_mixed_with_unknown_commands_declines_the_split() -> None:
    text = ("FROM python:3.12\nWORKDIR /app\nCOPY . .\n"
            "RUN pip install -r requirements.txt && python -m spacy download en_core_web_sm\n"
            "CMD [\"python\", \"a.py\"]\n")
    result = rewrite(text)
    assert "AS builder" not in result.text
    assert any("dependency install is mixed" in n.message and n.line == 4 for n in result.notes)
