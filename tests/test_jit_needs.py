"""What run-time compilation needs (issue 11): the JIT guard keeps only that, not the whole
devel/full base. Triggers and start-script compilers say what they need in data/jit.toml;
numba's CPU JIT needs nothing (LLVM comes in the llvmlite wheel), pyximport and a start script's
gcc get gcc/libc6-dev on the slim runtime, the CUDA toolkit and anything unknown keep the base."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockerslim import rewrite
from dockerslim.jit import runtime_toolchain, scan_source
from dockerslim.parse import parse
from dockerslim.start_scripts import scan_start

from .conftest import FIXTURES

REWRITE = FIXTURES / "rewrite"


def _final(text: str) -> str:
    return text.rsplit("\nFROM ", 1)[-1] if "\nFROM " in text else text.removeprefix("FROM ")


@pytest.mark.parametrize(
    "code,repository,family,python,packages,held",
    [
        # numba's CPU JIT: LLVM is in the llvmlite wheel; its OpenMP layer loads the system's libgomp
        ("from numba import njit\n@njit\ndef f(): pass\n", "python", "debian", "/usr/local/bin/python",
         ("libgomp1",), False),
        ("import pyximport\npyximport.install()\n", "python", "debian", "/usr/local/bin/python",
         ("gcc", "libc6-dev"), False),
        # the distribution's Python: its headers come from python3-dev
        ("import pyximport\npyximport.install()\n", "nvidia/cuda", "ubuntu", "/usr/bin/python3",
         ("gcc", "libc6-dev", "python3-dev"), False),
        ("import torch\ntorch.compile(lambda x: x)\n", "python", "debian", "/usr/local/bin/python",
         ("g++", "libc6-dev"), False),
        # on a CUDA devel image torch.compile may generate Triton kernels: the toolkit stays
        ("import torch\ntorch.compile(lambda x: x)\n", "pytorch/pytorch", "ubuntu", "/opt/conda/bin/python", (), True),
        ("import cupy as cp\ncp.RawKernel('', 'k')\n", "nvidia/cuda", "ubuntu", "/usr/bin/python3", (), True),
        ("from numba import cuda\n@cuda.jit\ndef k(): pass\n", "python", "debian", "/usr/local/bin/python", (), True),
        # no package manager dockerslim installs with
        ("import pyximport\npyximport.install()\n", "python", "alpine", "/usr/local/bin/python", (), True),
    ],
)
def test_runtime_toolchain_from_data(code: str, repository: str, family: str, python: str,
                                     packages: tuple[str, ...], held: bool) -> None:
    toolchain = runtime_toolchain(scan_source(code, "app.py"), repository, family, python)
    assert toolchain.packages == packages
    assert bool(toolchain.held) is held
    assert toolchain.compiles is (held or "numba" not in code)


def test_numba_cpu_jit_rewrite_runs_on_slim_and_says_why() -> None:
    case = REWRITE / "numba-jit"
    result = rewrite((case / "Dockerfile").read_text(), context_dir=case)
    final = _final(result.text)
    assert final.startswith("python:3.12-slim\n") and "install -y --no-install-recommends libgomp1 " in final
    assert "gcc" not in result.text
    assert any("kernels.py:4 runs numba.njit" in n.message and "llvmlite wheel" in n.message for n in result.notes)
    assert not any(n.level == "warning" and "JIT guard" in n.message for n in result.notes)


def test_pyximport_gets_a_compiler_on_the_slim_base(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import pyximport\npyximport.install()\nimport fast\n")
    result = rewrite('FROM python:3.12\nWORKDIR /app\nCOPY app.py .\nCMD ["python", "app.py"]\n', context_dir=tmp_path)
    assert result.text.startswith("FROM python:3.12-slim\n")
    assert "apt-get install -y --no-install-recommends gcc libc6-dev" in result.text
    assert "hadolint ignore=DL3008" in result.text
    assert any("app.py:1 runs pyximport" in n.message and "(in the runtime image)" in n.message
               for n in result.notes)


@pytest.mark.parametrize(
    "script,files,needs",
    [
        ("gcc -O2 -shared -fPIC -o /tmp/f.so fast.c -lm\n", {"fast.c": "#include <math.h>\n"}, ("cc",)),
        ("g++ -o /tmp/x x.cc\n", {"x.cc": '#include <vector>\n#include "local.h"\n'}, ("c++",)),
        ("make -C native\n",
         {"native/Makefile": "all:\n\tcc -o x x.c -lpthread\n", "native/x.c": "#include <stdio.h>\n"},
         ("make", "cc", "c++")),
        # links a library of the full image, includes one, reads a variable, has no readable source
        ("gcc -o /tmp/x x.c -lssl\n", {"x.c": "int main(){}\n"}, None),
        ("gcc -o /tmp/x x.c\n", {"x.c": "#include <openssl/ssl.h>\n"}, None),
        ("gcc $CFLAGS -o /tmp/x x.c\n", {"x.c": "int main(){}\n"}, None),
        ("gcc -o /tmp/x missing.c\n", {}, None),
        ("make -C native\n", {}, None),
        ("make\n", {"Makefile": "all:\n\tcc $(shell pkg-config --libs zlib) x.c\n"}, None),
        ("pip install -r extra.txt\n", {}, None),
        ("cmake -B build .\n", {}, None),
    ],
)
def test_start_script_needs(tmp_path: Path, script: str, files: dict[str, str], needs: tuple[str, ...] | None) -> None:
    (tmp_path / "start.sh").write_text("#!/bin/sh\n" + script)
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    df = parse('FROM python:3.12\nWORKDIR /app\nCOPY . .\nENTRYPOINT ["/app/start.sh"]\n')
    [finding] = scan_start(df.stages[0], tmp_path)
    assert finding.needs == needs and finding.keeps_packages
    assert finding.needs_why


def test_start_script_whose_needs_are_unknown_keeps_the_full_base_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "start.sh").write_text("#!/bin/sh\ngcc -o /tmp/x x.c -lssl\nexec \"$@\"\n")
    (tmp_path / "x.c").write_text("int main(){return 0;}\n")
    result = rewrite('FROM python:3.12\nWORKDIR /app\nCOPY . .\nENTRYPOINT ["/app/start.sh"]\n', context_dir=tmp_path)
    assert result.text.startswith("FROM python:3.12\n")
    assert any(n.level == "warning" and "start.sh:2 runs gcc" in n.message and "-lssl" in n.message
               for n in result.notes)


def test_entrypoint_compiles_rewrite_installs_the_compiler_and_explains() -> None:
    case = REWRITE / "entrypoint-compiles"
    result = rewrite((case / "Dockerfile").read_text(), context_dir=case)
    final = _final(result.text)
    assert final.startswith("python:3.12-slim\n") and "gcc libc6-dev" in final
    assert "libffi-dev" in final  # the compile may use what the original installed: kept
    change = next(c for c in result.changes if "gcc libc6-dev" in c.message)
    assert "docker-entrypoint.sh:5 runs gcc" in change.reason and "python:3.12" in change.reason
