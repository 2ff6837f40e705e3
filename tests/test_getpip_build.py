"""Real build of get-pip.py on a CUDA devel base (fixtures/rewrite/getpip-cuda-devel): the
original and its rewrite (builder on -devel, runtime on -runtime) are built, run and compared
by ``verify``.

bootstrap.pypa.io is not reachable here, so the test serves a get-pip equivalent from
127.0.0.1 (builds run in the host network namespace): a script that carries pip's wheel,
downloaded from PyPI at test time (cached under the stand-in cache dir), and installs pip from
it, as get-pip.py does. What the test changes in a copy of the fixture, and why:
- the URL ``https://bootstrap.pypa.io/get-pip.py`` -> ``http://127.0.0.1:PORT/get-pip.py``
  (the rewrite is computed from that copy: the classifier sees the same ``curl … get-pip.py |
  python`` pipe);
- ``python3.10`` -> ``python3.11``: the CUDA stand-ins are Debian 12 under the Ubuntu 22.04
  names, and Debian's mirror has 3.11 only;
- requirements ``torch==2.1.2`` (2.5 GB of CUDA wheels) -> ``numpy==1.26.4`` alone, and
  serve.py imports numpy.
The CUDA 12.1.1 tags of the fixture are given to the 12.4.1 stand-ins.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockerslim import rewrite
from dockerslim.builders import Buildah
from dockerslim.verify import verify

from . import standins
from .conftest import FIXTURES
from .localhttp import serve_directory

pytestmark = pytest.mark.build
CASE = FIXTURES / "rewrite" / "getpip-cuda-devel"
PIP_VERSION = "24.2"
URL = "https://bootstrap.pypa.io/get-pip.py"
TAGS = {"docker.io/nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04": "docker.io/nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04",
        "docker.io/nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04":
            "docker.io/nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04"}
GET_PIP = '''#!/usr/bin/env python
"""get-pip.py equivalent (dockerslim tests): pip {version}'s wheel from PyPI, embedded, installs itself."""
import base64, os, sys, tempfile

DATA = b"{data}"


def main() -> None:
    wheel = os.path.join(tempfile.mkdtemp(), "pip-{version}-py3-none-any.whl")
    with open(wheel, "wb") as f:
        f.write(base64.b85decode(DATA))
    sys.path.insert(0, wheel)
    from pip._internal.cli.main import main as pip_main
    sys.exit(pip_main(["install", "--upgrade", "--force-reinstall", "--no-index", wheel, *sys.argv[1:]]))


main()
'''


def _get_pip_script() -> bytes:
    cache = standins.cache_dir() / "get-pip"
    wheel = cache / f"pip-{PIP_VERSION}-py3-none-any.whl"
    if not wheel.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(cache),
                        f"pip=={PIP_VERSION}"], check=True)
    data = base64.b85encode(wheel.read_bytes()).decode()
    return GET_PIP.format(version=PIP_VERSION, data=data).encode()


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[str]:
    """http://127.0.0.1:PORT serving get-pip.py; stopped after the test."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "get-pip.py").write_bytes(_get_pip_script())
    with serve_directory(root) as url:
        yield url


def test_getpip_on_cuda_devel_rewrite_builds_and_runs(buildah: Buildah, server: str, tmp_path: Path) -> None:
    for tag, existing in TAGS.items():
        subprocess.run(["buildah", "tag", existing, tag], env=buildah.env, check=True, capture_output=True)
    case = tmp_path / "case"
    shutil.copytree(CASE, case, ignore=shutil.ignore_patterns("expected*"))
    original = (case / "Dockerfile").read_text()
    assert URL in original and "python3.10" in original
    (case / "Dockerfile").write_text(original.replace(URL, f"{server}/get-pip.py").replace("python3.10", "python3.11"))
    (case / "requirements.txt").write_text("numpy==1.26.4\n")
    (case / "serve.py").write_text("import numpy\nprint('ok', numpy.__version__)\n")

    text = rewrite((case / "Dockerfile").read_text(), context_dir=case).text
    assert "FROM nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04" in text  # the devel base swapped
    assert text.count("get-pip.py") == 1  # get-pip runs in the builder only
    runtime = text.rsplit("\nFROM ", 1)[1]
    assert "build-essential" not in runtime and "python3.11-dev" not in runtime  # compilers stay in the builder
    report = verify(case / "Dockerfile", builder=buildah, smoke="python serve.py", compressed=False)
    failed = [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]
    assert report.ok, "\n".join(failed) + "\n" + "\n".join(
        (s.smoke.output[-2000:] if s and s.smoke else "") for s in (report.original, report.rewrite))
    assert report.rewrite is not None and report.original is not None
    assert report.rewrite.size < report.original.size
