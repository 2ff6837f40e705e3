"""split-stages with an observed build (rewrite --observe): the observed outputs of a step decide
what the runtime receives where static reading declines. Observations here are written by hand
(what buildah recorded for the fixtures in fixtures/observe/); real builds are in
test_observed_split_builds.py."""

from __future__ import annotations

import tempfile
from pathlib import Path

from dockerslim.observe.record import FileChange, Observation, Step
from dockerslim.passes._runtime_packages import observed_runtime
from dockerslim.rewrite import RewriteResult
from dockerslim.rewrite import rewrite as _rewrite

CONTEXT = Path(tempfile.mkdtemp(prefix="dockerslim-observed-split-"))  # a build context with the copied files
(CONTEXT / "app.py").write_text("print('hi')\n")
(CONTEXT / "tool.cc").write_text("int main() { return 0; }\n")


def rewrite(text: str, observation: Observation | None = None) -> RewriteResult:
    return _rewrite(text, context_dir=CONTEXT, observation=observation)


def _obs(text: str, files: dict[int, list[tuple[str, str, int]]],
         accounts: dict[int, dict[str, list[str]]] | None = None,
         deleted: dict[int, list[str]] | None = None) -> Observation:
    """An observation of ``text``: per line, (path, kind, size) the step added."""
    steps: dict[int, Step] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line or line.startswith((" ", "#")):
            continue
        keyword = line.split()[0].upper()
        if keyword == "FROM":
            continue
        changes = [FileChange(path=p, op="added", kind=k, size=n) for p, k, n in files.get(number, [])]
        changes += [FileChange(path=p, op="deleted") for p in (deleted or {}).get(number, [])]
        steps[number] = Step(line=number, instruction=f"/bin/sh -c {line}", keyword=keyword, files=changes,
                             accounts=(accounts or {}).get(number, {}))
    return Observation(key="k", builder="buildah", steps=steps)


def _dirs(*paths: str) -> list[tuple[str, str, int]]:
    return [(p, "d", 0) for p in paths]


MAKE_INSTALL = """\
FROM python:3.12
COPY . /src
RUN cd /src && make && make install
CMD ["hello"]
"""
MAKE_FILES = {
    2: [*_dirs("/src"), ("/src/Makefile", "f", 300), ("/src/hello.c", "f", 120)],
    3: [("/src/hello.o", "f", 1_300), ("/src/hello", "f", 16_000), ("/usr/local/bin/hello", "f", 16_000)],
}


def test_make_install_static_declines_observed_carries_the_installed_binary() -> None:
    static = rewrite(MAKE_INSTALL)
    assert "AS builder" not in static.text
    assert any("make install" in n.message and "declined" in n.message for n in static.notes)

    observed = rewrite(MAKE_INSTALL, observation=_obs(MAKE_INSTALL, MAKE_FILES))
    text = observed.text
    assert "FROM python:3.12 AS builder" in text and "FROM python:3.12-slim" in text
    assert "COPY --from=builder /usr/local/bin/hello /usr/local/bin/hello" in text
    assert "/src" not in text.split("AS assembly", 1)[1], "the source tree compiled in stays in the builder"
    messages = [c.message for c in observed.changes if c.rule == "DS100"]
    assert any("/usr/local/bin/hello: 16.0 kB from line 3" in m and "/src: 17.3 kB left behind" in m
               for m in messages), messages
    declared = {c for change in observed.changes for c in change.config}
    assert "Files./src" in declared, "verify must know the source tree is left out on purpose"


CMAKE = """\
FROM python:3.12
RUN apt-get update && apt-get install -y --no-install-recommends cmake ninja-build && rm -rf /var/lib/apt/lists/*
COPY . /build/src
RUN cmake -S /build/src -B /build/obj -G Ninja -DCMAKE_INSTALL_PREFIX=/build/tool && ninja -C /build/obj install
RUN cmake --install /build/obj --prefix /opt/tools
CMD ["/opt/tools/bin/hello"]
"""
CMAKE_FILES = {
    2: [("/usr/bin/cmake", "f", 9_000_000), ("/var/lib/dpkg/info/cmake.list", "f", 100)],
    4: [*_dirs("/build/src", "/build/obj", "/build/obj/CMakeFiles", "/build/tool", "/build/tool/bin"),
        ("/build/src/CMakeLists.txt", "f", 100)],
    5: [*_dirs("/build/obj", "/build/obj/CMakeFiles", "/build/tool", "/build/tool/bin"),
        ("/build/obj/CMakeFiles/hello.dir/hello.c.o", "f", 2000), ("/build/obj/build.ninja", "f", 5000),
        ("/build/obj/CMakeCache.txt", "f", 20000), ("/build/obj/hello", "f", 16000),
        ("/build/tool/bin/hello", "f", 16000), ("/build/obj/install_manifest.txt", "f", 30)],
    6: [*_dirs("/opt/tools", "/opt/tools/bin"), ("/opt/tools/bin/hello", "f", 16000)],
}


def _cmake_obs() -> Observation:
    files = {3: CMAKE_FILES[4], 4: CMAKE_FILES[5], 5: CMAKE_FILES[6], 2: CMAKE_FILES[2]}
    return _obs(CMAKE, files)


def test_cmake_install_prefixes_are_the_artifacts_not_the_build_tree() -> None:
    static = rewrite(CMAKE)
    assert "AS builder" not in static.text and any("too broad" in n.message for n in static.notes)
    observed = rewrite(CMAKE, observation=_cmake_obs())
    assembly = observed.text.split("AS assembly", 1)[1].split("\nFROM ", 1)[0]
    assert "COPY --from=builder /build/tool /build/tool" in assembly
    assert "COPY --from=builder /opt/tools /opt/tools" in assembly
    assert "/build/obj" not in assembly and "/build/src" not in assembly
    assert "cmake" not in observed.text.split("AS assembly", 1)[1].split("FROM python:3.12-slim", 1)[1]
    messages = " ".join(c.message for c in observed.changes)
    assert "/opt/tools: 16.0 kB from line 5" in messages and "/build/obj" in messages and "left behind" in messages


def test_a_step_that_wrote_only_caches_is_build_only() -> None:
    text = ("FROM python:3.12\nCOPY app.py /app/app.py\nRUN ./warm-cache.sh\nRUN cc -o /opt/t/bin/t t.c\n"
            'CMD ["python", "/app/app.py"]\n')
    files = {2: [*_dirs("/app"), ("/app/app.py", "f", 10)],
             3: [("/root/.cache/pip/x", "f", 5_000_000), ("/var/cache/apt/y", "f", 10)],
             4: [*_dirs("/opt/t", "/opt/t/bin"), ("/opt/t/bin/t", "f", 9000)]}
    result = rewrite(text, observation=_obs(text, files))
    runtime = result.text.split("FROM python:3.12-slim", 1)[1]
    assert "warm-cache" not in runtime and "/opt/t" in result.text
    assert any("line 3" in c.message and "nothing the runtime needs" in c.message for c in result.changes)


def test_a_step_that_made_accounts_or_wrote_etc_keeps_the_static_reading() -> None:
    text = "FROM python:3.12\nRUN ./setup.sh\nRUN cc -o /opt/t/bin/t t.c\nCMD [\"/opt/t/bin/t\"]\n"
    files = {2: [("/etc/passwd", "f", 900), ("/opt/app/x", "f", 10)],
             3: [*_dirs("/opt/t", "/opt/t/bin"), ("/opt/t/bin/t", "f", 9000)]}
    result = rewrite(text, observation=_obs(text, files, accounts={2: {"users": ["app"]}}))
    assert any("not carried as files" in n.message and "users or groups" in n.message for n in result.notes)
    assert result.text == rewrite(text).text, "the unknown step is read as statically: it still runs in the image"


def test_a_step_that_deleted_base_files_keeps_the_static_reading() -> None:
    text = "FROM python:3.12\nRUN ./prune.sh\nRUN cc -o /opt/t/bin/t t.c\nCMD [\"/opt/t/bin/t\"]\n"
    files = {2: [("/opt/app/x", "f", 10)], 3: [*_dirs("/opt/t", "/opt/t/bin"), ("/opt/t/bin/t", "f", 9000)]}
    result = rewrite(text, observation=_obs(text, files, deleted={2: ["/usr/share/doc"]}))
    assert any("deleted /usr/share/doc" in n.message for n in result.notes)
    assert result.text == rewrite(text).text


def test_a_compiled_tree_the_command_runs_from_is_kept_without_its_objects() -> None:
    text = ("FROM python:3.12\nENV APP_HOME=/srv/app\nWORKDIR $APP_HOME\nCOPY . .\n"
            'RUN make hello && mkdir -p bin && mv hello bin/\nCMD ["/srv/app/bin/hello"]\n')
    files = {3: _dirs("/srv", "/srv/app"), 4: [("/srv/app/Makefile", "f", 100), ("/srv/app/hello.c", "f", 100)],
             5: [*_dirs("/srv/app/bin"), ("/srv/app/hello.o", "f", 3000000), ("/srv/app/bin/hello", "f", 16000)]}
    static = rewrite(text)
    assert "COPY --from=builder /srv/app /srv/app" in static.text
    observed = rewrite(text, observation=_obs(text, files))
    assembly = observed.text.split("AS assembly", 1)[1].split("\nFROM ", 1)[0]
    assert "/srv/app/bin /srv/app/bin" in assembly and "/srv/app/hello.c" in assembly
    assert "COPY --from=builder /srv/app /srv/app" not in assembly


def test_no_observation_changes_nothing() -> None:
    for text in (MAKE_INSTALL, CMAKE):
        assert rewrite(text).text == rewrite(text, observation=None).text


def test_runtime_library_of_an_unmapped_dev_package_from_the_observed_install() -> None:
    assert observed_runtime("libsnappy-dev", {"libsnappy-dev", "libsnappy1v5", "libc6-dev"}) == ["libsnappy1v5"]
    assert observed_runtime("libboost-program-options-dev", {
        "libboost-program-options1.74-dev", "libboost-program-options1.74.0", "libboost1.74-dev"}) == [
        "libboost-program-options1.74.0"]
    assert observed_runtime("libfoo-dev", {"libfoobar2"}) == []
    # libcmark-dev: a -dev package the generated map (data/runtime_libs.toml) does not list
    text = ("FROM python:3.12\nRUN apt-get update && apt-get install -y --no-install-recommends libcmark-dev "
            "&& rm -rf /var/lib/apt/lists/*\nCOPY tool.cc /src/tool.cc\n"
            "RUN g++ -O2 -o /usr/local/bin/snaptool /src/tool.cc -lcmark\nCMD [\"snaptool\"]\n")
    files = {2: [("/var/lib/dpkg/info/libcmark-dev:amd64.list", "f", 100),
                 ("/var/lib/dpkg/info/libcmark0.30.0:amd64.list", "f", 100),
                 ("/usr/lib/x86_64-linux-gnu/libcmark.so.0.30.0", "f", 40_000)],
             3: [*_dirs("/src"), ("/src/tool.cc", "f", 300)],
             4: [("/usr/local/bin/snaptool", "f", 17_000)]}
    result = rewrite(text, observation=_obs(text, files))
    runtime = result.text.rsplit("\nFROM ", 1)[1]
    assert "libcmark0.30.0" in runtime and "libcmark-dev" not in runtime
    assert "COPY --from=builder /usr/local/bin/snaptool /usr/local/bin/snaptool" in result.text
    assert "/src/tool.cc" not in result.text.split("AS assembly", 1)[1], "the compiled source stays behind"
    assert "Files./src/tool.cc" in {c for change in result.changes for c in change.config}
    assert any("the observed install brought them" in c.reason for c in result.changes)


EDITABLE = """\
FROM python:3.12
WORKDIR /app
RUN pip install --no-cache-dir six==1.16.0
RUN pip install --no-cache-dir idna==3.7
COPY . .
RUN pip install --no-cache-dir -e .
CMD ["python", "-c", "import myapp; myapp.main()"]
"""


def test_an_editable_install_keeps_the_tree_it_points_into() -> None:
    """pip install -e . reads /app at run time (the .pth points there), and its build leaves
    objects in /app/build: the tree is not a source tree to leave behind."""
    files = {2: _dirs("/app"), 3: [("/opt/venv/lib/python3.12/site-packages/six.py", "f", 30_000)],
             4: [("/opt/venv/lib/python3.12/site-packages/idna/core.py", "f", 30_000)],
             5: [("/app/app.py", "f", 20), ("/app/pyproject.toml", "f", 200), ("/app/myapp/__init__.py", "f", 100)],
             6: [("/app/build/temp/x.o", "f", 2_000_000), ("/app/myapp.egg-info/PKG-INFO", "f", 300),
                 ("/opt/venv/lib/python3.12/site-packages/__editable__.myapp.pth", "f", 20),
                 ("/opt/venv/lib/python3.12/site-packages/__pycache__/six.cpython-312.pyc", "f", 20_000)]}
    static = rewrite(EDITABLE)
    observed = rewrite(EDITABLE, observation=_obs(EDITABLE, files))
    assembly = observed.text.split("AS assembly", 1)[1].split("\nFROM ", 1)[0]
    assert "/opt/venv" in assembly and "/app/myapp" in assembly and "/app/build" not in assembly
    assert "COPY --from=builder /app /app" in static.text


def test_a_few_kilobytes_of_objects_do_not_take_a_folder_apart() -> None:
    text = "FROM python:3.12\nWORKDIR /srv/app\nCOPY . .\nRUN make hello\nCMD [\"/srv/app/hello\"]\n"
    files = {2: _dirs("/srv", "/srv/app"), 3: [("/srv/app/Makefile", "f", 100), ("/srv/app/hello.c", "f", 100)],
             4: [("/srv/app/hello.o", "f", 2_000), ("/srv/app/hello", "f", 16_000)]}
    observed = rewrite(text, observation=_obs(text, files))
    assert "COPY --from=builder /srv/app /srv/app" in observed.text
    assert observed.text == rewrite(text).text


def test_a_step_whose_files_are_scattered_keeps_the_static_reading() -> None:
    text = "FROM python:3.12\nRUN ./install-into-system.sh\nRUN cc -o /opt/t/bin/t t.c\nCMD [\"/opt/t/bin/t\"]\n"
    site = "/usr/local/lib/python3.12/site-packages"
    files = {2: [*_dirs(*(f"{site}/pkg{i}" for i in range(30))), *((f"{site}/pkg{i}/__init__.py", "f", 10)
                                                                    for i in range(30))],
             3: [*_dirs("/opt/t", "/opt/t/bin"), ("/opt/t/bin/t", "f", 9_000)]}
    result = rewrite(text, observation=_obs(text, files))
    assert any("30 places" in n.message for n in result.notes), [n.message for n in result.notes]
    assert result.text == rewrite(text).text
