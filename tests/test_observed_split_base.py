"""The runtime base from an observed build (issue 9): the distro's plain image when nothing the
final stage runs or receives needs Python, and runtime libraries from each copied binary's
DT_NEEDED, resolved against the runtime base's recorded files. Observations are written by hand
in the shape buildah records them (fixtures/observe/); real builds: test_observed_split_builds.py."""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
from pathlib import Path

import pytest

from dockerslim.observe.layers import LayerState, read_layer
from dockerslim.observe.record import BaseFiles, FileChange, Observation, Step
from dockerslim.rewrite import RewriteResult
from dockerslim.rewrite import rewrite as _rewrite

CONTEXT = Path(tempfile.mkdtemp(prefix="dockerslim-observed-base-"))
for name in ("Makefile", "hello.c", "tool.cc", "serve.py", "run.sh"):
    (CONTEXT / name).write_text("x\n")

LIBC = ("libc.so.6",)
LOADER = "/lib64/ld-linux-x86-64.so.2"
MULTIARCH = "/usr/lib/x86_64-linux-gnu"


def _debian(ref: str, extra: dict[str, str] | None = None, packages: tuple[str, ...] = ()) -> BaseFiles:
    """A bookworm image's recorded files: merged /usr, the loader, libc, libstdc++, a shell."""
    paths = {"/lib": "usr/lib", "/lib64": "usr/lib64", "/bin": "usr/bin", "/sbin": "usr/sbin",
             "/usr/lib64/ld-linux-x86-64.so.2": f"{MULTIARCH}/ld-linux-x86-64.so.2",
             f"{MULTIARCH}/ld-linux-x86-64.so.2": "", f"{MULTIARCH}/libc.so.6": "", f"{MULTIARCH}/libm.so.6": "",
             f"{MULTIARCH}/libstdc++.so.6": "libstdc++.so.6.0.30", f"{MULTIARCH}/libstdc++.so.6.0.30": "",
             f"{MULTIARCH}/libgcc_s.so.1": "", "/usr/bin/sh": "dash", "/usr/bin/dash": "", "/usr/bin/bash": ""}
    paths.update(extra or {})
    return BaseFiles(ref=ref, image_id=f"sha256:{ref}", paths=paths,
                     ld_dirs=["/usr/local/lib", "/usr/local/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu",
                              MULTIARCH],
                     packages=["bash", "dash", "libc6", "libgcc-s1", "libstdc++6", *packages])


BASES = {
    "debian:bookworm-slim": _debian("debian:bookworm-slim"),
    "python:3.12-slim": _debian("python:3.12-slim", {"/usr/local/bin/python3": "", "/usr/local/bin/python":
                                                     "python3", "/usr/local/lib/libpython3.12.so.1.0": ""}),
}


def _obs(text: str, files: dict[int, list[FileChange]], owners: dict[str, list[str]] | None = None,
         bases: dict[str, BaseFiles] | None = None) -> Observation:
    steps: dict[int, Step] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line or line.startswith((" ", "#")) or line.split()[0].upper() == "FROM":
            continue
        steps[number] = Step(line=number, instruction=f"/bin/sh -c {line}", keyword=line.split()[0].upper(),
                             files=files.get(number, []))
    return Observation(key="k", builder="buildah", steps=steps, lib_owners=owners or {},
                       bases=BASES if bases is None else bases)


def _f(path: str, size: int = 100, **kw: object) -> FileChange:
    return FileChange(path=path, op="added", kind="f", size=size, **kw)  # type: ignore[arg-type]


def _elf(path: str, needed: tuple[str, ...] = LIBC, **kw: object) -> FileChange:
    return _f(path, 16_000, elf=True, needed=needed, interp=LOADER, **kw)


def _d(path: str) -> FileChange:
    return FileChange(path=path, op="added", kind="d")


def rewrite(text: str, observation: Observation | None) -> RewriteResult:
    return _rewrite(text, context_dir=CONTEXT, observation=observation)


def runtime_stage(result: RewriteResult) -> str:
    return result.text.rsplit("\nFROM ", 1)[1]


def notes(result: RewriteResult) -> list[str]:
    return [n.message for n in result.notes if n.rule == "DS101"]


MAKE = """\
FROM python:3.12
COPY . /src
RUN cd /src && make && make install
CMD ["hello"]
"""


def make_files(hello: FileChange | None = None) -> dict[int, list[FileChange]]:
    return {2: [_d("/src"), _f("/src/Makefile"), _f("/src/hello.c")],
            3: [_f("/src/hello.o", 1_300), _elf("/src/hello"), hello or _elf("/usr/local/bin/hello")]}


def test_a_c_program_runs_on_the_plain_distro_image_with_the_evidence() -> None:
    result = rewrite(MAKE, _obs(MAKE, make_files()))
    assert runtime_stage(result).startswith("debian:bookworm-slim\n"), result.text
    assert "FROM python:3.12 AS builder" in result.text
    why = " ".join(notes(result))
    assert "CMD: /usr/local/bin/hello is an ELF program" in why and "resolve there" in why
    change = next(c for c in result.changes if c.rule == "DS101" and c.after == "debian:bookworm-slim")
    assert "runs no Python" in change.reason and "Python path" not in change.reason


def test_without_the_runtime_bases_files_the_family_is_kept() -> None:
    """An observation that did not record the runtime bases cannot check them: the static choice."""
    result = rewrite(MAKE, _obs(MAKE, make_files(), bases={}))
    assert runtime_stage(result).startswith("python:3.12-slim\n")
    assert rewrite(MAKE, None).text == _rewrite(MAKE, context_dir=CONTEXT).text


def test_python_in_the_command_keeps_the_family() -> None:
    text = 'FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN make\nCMD ["python", "serve.py"]\n'
    files = {3: [_d("/app"), _f("/app/serve.py"), _f("/app/Makefile")], 4: [_f("/app/dist/index.html")]}
    result = rewrite(text, _obs(text, files))
    assert runtime_stage(result).startswith("python:3.12-slim\n"), result.text
    assert any("not debian:bookworm-slim" in n and "CMD runs python" in n for n in notes(result))


@pytest.mark.parametrize(("script", "why"), [
    (_f("/usr/local/bin/hello", shebang="#!/usr/bin/env python3"), "is a script run by python3"),
    (_f("/usr/local/bin/hello", shebang="#!/bin/sh", names_python=True), "mentions python"),
])
def test_a_start_script_that_runs_python_keeps_the_family(script: FileChange, why: str) -> None:
    result = rewrite(MAKE, _obs(MAKE, make_files(script)))
    assert runtime_stage(result).startswith("python:3.12-slim\n"), result.text
    assert any(why in n for n in notes(result)), notes(result)


def test_a_shell_start_script_without_python_runs_on_the_distro_image() -> None:
    result = rewrite(MAKE, _obs(MAKE, make_files(_f("/usr/local/bin/hello", shebang="#!/bin/sh"))))
    assert runtime_stage(result).startswith("debian:bookworm-slim\n"), result.text
    assert any("is a sh script that does not mention python" in n for n in notes(result))


def test_a_library_the_runtime_base_lacks_is_installed_from_its_owning_package() -> None:
    """libpq.so.5 came with the builder's base (no step installed it): no map or -dev names it."""
    files = make_files(_elf("/usr/local/bin/hello", (*LIBC, "libpq.so.5")))
    result = rewrite(MAKE, _obs(MAKE, files, owners={"libpq.so.5": ["libpq-dev", "libpq5"]}))
    runtime = runtime_stage(result)
    assert runtime.startswith("debian:bookworm-slim\n"), result.text
    assert "apt-get install -y --no-install-recommends libpq5" in runtime and "libpq-dev" not in runtime
    change = next(c for c in result.changes if c.rule == "DS101" and "libpq5" in c.message)
    assert "/usr/local/bin/hello needs libpq.so.5" in change.reason


def test_a_soname_nothing_provides_keeps_the_base_and_names_the_file() -> None:
    files = make_files(_elf("/usr/local/bin/hello", (*LIBC, "libinhouse.so.2")))
    result = rewrite(MAKE, _obs(MAKE, files))
    assert runtime_stage(result).startswith("python:3.12\n"), result.text
    assert any("/usr/local/bin/hello needs libinhouse.so.2" in n for n in notes(result)), notes(result)


def test_libpython_resolves_on_the_family_runtime_only() -> None:
    files = make_files(_elf("/usr/local/bin/hello", (*LIBC, "libpython3.12.so.1.0")))
    result = rewrite(MAKE, _obs(MAKE, files))
    assert runtime_stage(result).startswith("python:3.12-slim\n"), result.text
    assert any("not debian:bookworm-slim: /usr/local/bin/hello needs libpython3.12.so.1.0" in n
               for n in notes(result))


CMAKE = """\
FROM python:3.12
COPY . /build/src
RUN cmake -S /build/src -B /build/obj -DCMAKE_INSTALL_PREFIX=/opt/tools && make -C /build/obj install
CMD ["/opt/tools/bin/hello"]
"""


@pytest.mark.parametrize("runpath", [("$ORIGIN/../lib",), ()])
def test_a_library_of_the_artifacts_resolves_through_runpath(runpath: tuple[str, ...]) -> None:
    files = {2: [_d("/build"), _d("/build/src"), _f("/build/src/hello.c")],
             3: [_d("/build/obj"), _f("/build/obj/hello.o"), _d("/opt/tools"), _d("/opt/tools/bin"),
                 _d("/opt/tools/lib"), _elf("/opt/tools/bin/hello", (*LIBC, "libgreet.so"), runpath=runpath),
                 _elf("/opt/tools/lib/libgreet.so")]}
    result = rewrite(CMAKE, _obs(CMAKE, files))
    if runpath:
        assert runtime_stage(result).startswith("debian:bookworm-slim\n"), result.text
    else:  # /opt/tools/lib is on no search path: ld.so would not find it
        assert runtime_stage(result).startswith("python:3.12\n"), result.text
        assert any("/opt/tools/bin/hello needs libgreet.so" in n for n in notes(result))


def _layer(entries: list[tuple[str, bytes]]) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    fh = tempfile.NamedTemporaryFile(suffix=".tar", delete=False)  # noqa: SIM115
    fh.write(buf.getvalue())
    fh.close()
    return Path(fh.name)


def test_layers_record_dt_needed_shebangs_library_owners_and_ld_conf() -> None:
    true = shutil.which("true")
    if true is None:
        pytest.skip("no true on this host")
    binary = Path(true).resolve().read_bytes()
    base = _layer([("var/lib/dpkg/info/libpq5:amd64.list", b"/usr/lib/x86_64-linux-gnu/libpq.so.5\n/usr/share/doc\n"),
                   ("etc/ld.so.conf.d/x86_64-linux-gnu.conf", b"# multiarch\n/usr/lib/x86_64-linux-gnu\n")])
    step = _layer([("usr/local/bin/tool", binary), ("usr/local/bin/run", b"#!/bin/sh\nexec python3 -m app\n")])
    state = LayerState()
    read_layer(base, state, record=False)
    changes, _ = read_layer(step, state)
    by = {c.path: c for c in changes}
    assert "libc.so.6" in by["/usr/local/bin/tool"].needed and by["/usr/local/bin/tool"].interp
    assert by["/usr/local/bin/run"].shebang == "#!/bin/sh" and by["/usr/local/bin/run"].names_python
    assert state.lib_owners() == {"libpq.so.5": ["libpq5"]}
    assert state.ld_dirs() == ["/usr/lib/x86_64-linux-gnu"]
    again = Observation.from_dict(Observation(key="k", builder="b", steps={
        1: Step(1, "x", "RUN", changes)}, lib_owners=state.lib_owners(), bases=BASES).to_dict())
    assert again.steps[1].files == changes and again.bases == BASES


def test_a_split_whose_binary_loads_a_library_left_in_the_builder_is_declined() -> None:
    """The binary's RUNPATH points into the source tree it was built in (/src), which stays in
    the builder with libgreet.so; no package ships it and python:3.12 lacks it."""
    hello = _elf("/usr/local/bin/hello", (*LIBC, "libgreet.so"), runpath=("/src",))
    files = make_files(hello)
    files[3].append(_elf("/src/libgreet.so"))
    bases = {**BASES, "python:3.12": _debian("python:3.12", {"/usr/local/bin/python3": ""})}
    result = rewrite(MAKE, _obs(MAKE, files, bases=bases))
    assert "AS builder" not in result.text, result.text
    assert any("split declined: /usr/local/bin/hello needs libgreet.so" in n.message for n in result.notes), \
        [n.message for n in result.notes]
    files[3].append(_elf("/usr/local/lib/libgreet.so"))  # make install put it on the loader's path too
    assert "AS builder" in rewrite(MAKE, _obs(MAKE, files, bases=bases)).text


def test_a_healthcheck_tool_the_stage_installs_does_not_keep_the_family() -> None:
    text = MAKE.replace('CMD ["hello"]', 'HEALTHCHECK CMD curl -f http://localhost:8080/ || exit 1\nCMD ["hello"]')
    result = rewrite(text, _obs(text, make_files()))
    runtime = runtime_stage(result)
    assert runtime.startswith("debian:bookworm-slim\n"), result.text
    assert "--no-install-recommends curl" in runtime
    assert any("HEALTHCHECK: curl is installed by the final stage" in n for n in notes(result)), notes(result)
