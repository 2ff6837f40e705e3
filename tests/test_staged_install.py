"""Issue 11: an install that names no prefix is staged under DESTDIR (``make install
DESTDIR=/staging``, the runtime receiving the staging root whole) only when the build context
proves the build system honours DESTDIR (``[[destdir]]`` in ``data/commands.toml``); otherwise
the split still declines, and a note says why the install was not staged."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockerslim.builders import Buildah
from dockerslim.rewrite import RewriteResult, rewrite
from dockerslim.verify import verify

MAKE = """FROM debian:bookworm
RUN apt-get update && apt-get install -y build-essential
WORKDIR /src
COPY . .
RUN {run}
CMD ["hello"]
"""

GOOD = ("all:\n\tcc -o hello hello.c\ninstall: all install-bin\ninstall-bin:\n\t@echo installing\n"
        "\tinstall -d $(DESTDIR)$(PREFIX)/bin\n\tinstall -m 755 hello $(DESTDIR)/usr/local/bin/hello\n")


def _rewrite(files: dict[str, str], tmp_path: Path, run: str = "make && make install") -> RewriteResult:
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    return rewrite(MAKE.format(run=run), context_dir=tmp_path)


def _notes(result: RewriteResult) -> str:
    return "\n".join(n.message for n in result.notes)


def test_makefile_honouring_destdir_is_staged(tmp_path: Path) -> None:
    result = _rewrite({"Makefile": GOOD}, tmp_path)
    assert "RUN mkdir -p /staging && make && make install DESTDIR=/staging" in result.text
    assert "COPY --from=builder /staging/ /" in result.text
    assert "FROM debian:bookworm-slim" in result.text
    change = next(c for c in result.changes if "DESTDIR=/staging" in c.message)
    assert "install recipes write only under $(DESTDIR)" in change.reason
    assert change.commands  # the builder's RUN is declared as changed on purpose


@pytest.mark.parametrize(("makefile", "why"), [
    ("install:\n\tinstall -m 755 hello /usr/local/bin/hello\n", "writes /usr/local/bin/hello, outside $(DESTDIR)"),
    ("install:\n\t./install.sh\n", "runs ./install.sh, whose effects are not known"),
    ("install:\n\tcp hello $(DESTDIR)/bin/hello\n", "writes /bin/hello, a symlink on merged-/usr systems"),
    ("install:\n\techo x > /etc/hello.conf\n", "redirects into a file"),
    ("install: /usr/local/bin/hello\n", "is a file rule that can write anywhere"),
    ("override DESTDIR =\ninstall:\n\tcp hello $(DESTDIR)/usr/bin/\n", "it overrides DESTDIR"),
    ("include rules.mk\n", "it includes another makefile"),
    ("all:\n\techo built\n", "has no install rule"),
    ("install:\n\tinstall -t $(DESTDIR)/usr/bin hello\n", "names its destination with -t"),
    ("install:\n\techo x | tee /etc/hello.conf\n", "runs tee, whose effects are not known"),
    ("install:\n\tcp hello $(DESTDIR)/usr/bin/ 2>/var/log/x\n", "redirects into a file"),
    ("install:\n\t$(MAKE) -C sub install\n", "runs commands dockerslim does not read"),
])
def test_makefile_that_may_escape_destdir_is_not_staged(tmp_path: Path, makefile: str, why: str) -> None:
    result = _rewrite({"Makefile": makefile}, tmp_path)
    assert "/staging" not in result.text and "AS builder" not in result.text
    assert why in _notes(result)
    assert "installs to the default prefix" in _notes(result)  # the split's own decline stands


def test_no_makefile_in_context_is_not_staged(tmp_path: Path) -> None:
    result = _rewrite({"hello.c": "int main(void) { return 0; }\n"}, tmp_path)
    assert "AS builder" not in result.text and "no Makefile found in the build context" in _notes(result)


def test_automake_is_staged_unless_it_has_install_hooks(tmp_path: Path) -> None:
    run = "./configure && make && make install"
    files = {"configure.ac": "AC_INIT([hello], [1])\n", "Makefile.am": "bin_PROGRAMS = hello\n",
             "configure": "#!/bin/sh\n"}
    result = _rewrite(files, tmp_path, run)
    assert "make install DESTDIR=/staging" in result.text and "COPY --from=builder /staging/ /" in result.text
    files["src/Makefile.am"] = "install-exec-hook:\n\tln -sf hello /usr/bin/hi\n"
    result = _rewrite(files, tmp_path, run)
    assert "/staging" not in result.text
    assert "src/Makefile.am has `install-exec-hook`" in _notes(result)


def test_cmake_ninja_install_gets_destdir_from_the_environment(tmp_path: Path) -> None:
    run = "cmake -S . -B build -G Ninja && cmake --build build && ninja -C build install"
    result = _rewrite({"CMakeLists.txt": "project(hello C)\ninstall(TARGETS hello)\n"}, tmp_path, run)
    assert "DESTDIR=/staging ninja -C build install" in result.text  # ninja takes no variables
    result = _rewrite({"CMakeLists.txt": "project(hello C)\ninstall(CODE \"execute_process(x)\")\n"}, tmp_path, run)
    assert "/staging" not in result.text and "has `install(CODE`" in _notes(result)


def test_a_file_using_the_staging_path_is_not_staged(tmp_path: Path) -> None:
    result = _rewrite({"Makefile": GOOD}, tmp_path, "make && make install && ls /staging")
    assert "already uses /staging" in _notes(result)


@pytest.mark.parametrize("run", [
    "make && sed -i 's/DESTDIR//' Makefile && make install",
    "make && make -f other.mk install",
])
def test_install_whose_makefile_is_not_the_contexts_is_not_staged(tmp_path: Path, run: str) -> None:
    result = _rewrite({"Makefile": GOOD}, tmp_path, run)
    assert "/staging" not in result.text and "install not staged under DESTDIR" in _notes(result)


def test_earlier_run_in_the_tree_is_not_staged(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text(GOOD)
    text = MAKE.format(run="make && make install").replace("COPY . .\n", "COPY . .\nRUN ./gen-makefile.sh\n")
    result = rewrite(text, context_dir=tmp_path)
    assert "/staging" not in result.text


@pytest.mark.build
def test_staged_install_builds_and_the_program_runs(buildah: Buildah, tmp_path: Path) -> None:
    """Built with buildah: the staged install lands at the paths the install wrote (the program
    runs from /usr/local/bin on the slim runtime), and the rewrite verifies and is smaller."""
    (tmp_path / "hello.c").write_text('#include <stdio.h>\nint main(void) { puts("staged"); return 0; }\n')
    (tmp_path / "Makefile").write_text(
        "PREFIX ?= /usr/local\nall: hello\nhello: hello.c\n\tcc -O2 -o hello hello.c\n"
        "install: all\n\tmkdir -p $(DESTDIR)$(PREFIX)/bin\n\tinstall -m 755 hello $(DESTDIR)$(PREFIX)/bin/hello\n")
    (tmp_path / "Dockerfile").write_text('FROM python:3.12\nWORKDIR /src\nCOPY . .\nRUN make && make install\n'
                                         'CMD ["hello"]\n')
    assert "COPY --from=builder /staging/ /" in rewrite((tmp_path / "Dockerfile").read_text(),
                                                        context_dir=tmp_path).text
    report = verify(tmp_path / "Dockerfile", builder=buildah, smoke="hello | grep -x staged", compressed=False)
    failed = [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]
    assert report.ok, "\n".join(failed)
    assert report.rewrite is not None and report.original is not None
    assert report.rewrite.size < report.original.size
