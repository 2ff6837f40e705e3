"""Real build of an editable install from a cloned repository
(fixtures/rewrite/setup-develop-clone: ``git clone --depth 1 … && python3 setup.py develop`` on a
CUDA devel base): the original and its rewrite (builder on -devel with a virtualenv, runtime on
-runtime with /opt/venv and the clone copied) are built, run and compared by ``verify``.

GitHub is not reachable here, so the test makes the repository at test time and serves it from
127.0.0.1 (builds run in the host network namespace). Stand-in adaptations, all of them:
- the repository ``tinyext`` is written by this test: a setup.py with one C extension module
  ``tinyext`` (what the fixture's run.py imports), so ``setup.py develop`` compiles it in place
  in the clone and the runtime needs the clone, not only the venv;
- it is served by ``git http-backend`` (git's smart HTTP protocol) behind a small Python HTTP
  server, not by a plain file server: ``git clone --depth 1`` refuses git's dumb HTTP protocol
  ("dumb http transport does not support shallow capabilities");
- in a copy of the fixture the URL ``https://github.com/example/tinyext.git`` becomes
  ``http://127.0.0.1:PORT/tinyext.git``; nothing else in the Dockerfile changes, and the rewrite
  is computed from that copy;
- the CUDA 11.8.0 tags are aliases of the 12.4.1 stand-ins (tests/standins ALIASES), which are
  Debian 12 (Python 3.11), not Ubuntu 22.04 (Python 3.10), with no CUDA inside.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockerslim import rewrite
from dockerslim.builders import Buildah
from dockerslim.verify import verify

from .conftest import FIXTURES
from .localhttp import serve

pytestmark = pytest.mark.build
CASE = FIXTURES / "rewrite" / "setup-develop-clone"
URL = "https://github.com/example/tinyext.git"
SETUP_PY = '''from setuptools import Extension, setup

setup(name="tinyext", version="0.1", ext_modules=[Extension("tinyext", ["tinyext.c"])])
'''
TINYEXT_C = '''#include <Python.h>

static struct PyModuleDef tinyext = {PyModuleDef_HEAD_INIT, "tinyext", "dockerslim test extension", -1, NULL};

PyMODINIT_FUNC PyInit_tinyext(void) { return PyModule_Create(&tinyext); }
'''


def _git(*args: str, cwd: Path) -> None:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.com", GIT_CONFIG_NOSYSTEM="1", HOME=str(cwd))
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def _http_backend(project_root: Path) -> Callable[..., http.server.BaseHTTPRequestHandler]:
    """A handler that runs ``git http-backend`` as a CGI for each request (smart HTTP)."""

    class GitHandler(http.server.BaseHTTPRequestHandler):
        def _cgi(self) -> None:
            path, _, query = self.path.partition("?")
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            env = dict(os.environ, GIT_PROJECT_ROOT=str(project_root), GIT_HTTP_EXPORT_ALL="1",
                       REQUEST_METHOD=self.command, PATH_INFO=path, QUERY_STRING=query,
                       CONTENT_TYPE=self.headers.get("Content-Type", ""), CONTENT_LENGTH=str(len(body)),
                       REMOTE_ADDR="127.0.0.1", GIT_PROTOCOL=self.headers.get("Git-Protocol", ""),
                       HTTP_CONTENT_ENCODING=self.headers.get("Content-Encoding", ""))
            out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
            head, _, payload = out.partition(b"\r\n\r\n")
            headers = [line.split(":", 1) for line in head.decode("latin-1").split("\r\n") if ":" in line]
            status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
            self.send_response(status)
            for key, value in headers:
                if key.lower() != "status":
                    self.send_header(key, value.strip())
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _cgi

    return GitHandler


@pytest.fixture()
def git_server(tmp_path: Path) -> Iterator[str]:
    """http://127.0.0.1:PORT/tinyext.git: a bare clone of a repository made here."""
    work = tmp_path / "tinyext"
    work.mkdir()
    (work / "setup.py").write_text(SETUP_PY)
    (work / "tinyext.c").write_text(TINYEXT_C)
    _git("init", "-q", "-b", "main", cwd=work)
    _git("add", ".", cwd=work)
    _git("commit", "-q", "-m", "tinyext", cwd=work)
    served = tmp_path / "git"
    served.mkdir()
    _git("clone", "-q", "--bare", str(work), str(served / "tinyext.git"), cwd=tmp_path)
    _git("update-server-info", cwd=served / "tinyext.git")
    with serve(_http_backend(served)) as url:
        yield f"{url}/tinyext.git"


def test_server_supports_shallow_clone(git_server: str, tmp_path: Path) -> None:
    """The server itself, without a build: the fixture's ``--depth 1`` clone works against it."""
    _git("clone", "-q", "--depth", "1", git_server, str(tmp_path / "out"), cwd=tmp_path)
    assert (tmp_path / "out" / "tinyext.c").is_file()


def test_setup_develop_from_clone_rewrite_builds_and_runs(buildah: Buildah, git_server: str, tmp_path: Path) -> None:
    case = tmp_path / "case"
    shutil.copytree(CASE, case, ignore=shutil.ignore_patterns("expected*"))
    original = (case / "Dockerfile").read_text()
    assert URL in original
    (case / "Dockerfile").write_text(original.replace(URL, git_server))

    text = rewrite((case / "Dockerfile").read_text(), context_dir=case).text
    assert "FROM nvidia/cuda:11.8.0-runtime-ubuntu22.04" in text  # the devel base swapped
    runtime = text.rsplit("\nFROM ", 1)[1]
    assert "git clone" not in runtime and "python3-dev" not in runtime  # the clone and headers stay in the builder
    assert "COPY --from=builder /opt/tinyext /opt/tinyext" in text  # the editable install's source goes along
    report = verify(case / "Dockerfile", builder=buildah, smoke="python3 run.py", compressed=False)
    failed = [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]
    assert report.ok, "\n".join(failed) + "\n" + "\n".join(
        (s.smoke.output[-2000:] if s and s.smoke else "") for s in (report.original, report.rewrite))
    assert report.rewrite is not None and report.original is not None
    assert report.rewrite.smoke is not None and "tinyext" in report.rewrite.smoke.output
    assert report.rewrite.size < report.original.size
