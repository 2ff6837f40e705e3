"""Issue 11 item 7: where the runtime runs the compiled artifact, the project's sources and build
files (``[[build_inputs]]`` in data/commands.toml) stay in the builder; every other file the
COPYs brought is still carried, and so is an input anything at run time names. What stays
behind is declared (``Files.``) for verify, which accepts exactly that."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from dockerslim.builders import ImageFacts
from dockerslim.fscompare import walk
from dockerslim.rewrite import RewriteResult, rewrite
from dockerslim.verify import Session, declared_by, left_out_by_rewrite

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rewrite"

RUST = {"Cargo.toml": "[package]\nname = \"service\"\n", "src/main.rs": "fn main() {}\n",
        "config/app.toml": "port = 3000\n"}
GO = {"go.mod": "module example.com/s\n", "cmd/server/main.go": "package main\nfunc main() {}\n",
      "static/index.html": "<p>hi</p>\n"}


def _rewrite(text: str, tmp_path: Path, files: dict[str, str]) -> RewriteResult:
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    return rewrite(text, context_dir=tmp_path)


def _carried(result: RewriteResult) -> list[str]:
    return [line.split()[2] for line in result.text.splitlines() if line.startswith("COPY --from=builder ")]


def _notes(result: RewriteResult) -> str:
    return "\n".join(n.message for n in result.notes)


def _left(result: RewriteResult) -> list[str]:
    return declared_by(result)[2]


CARGO = """FROM rust:1.80
WORKDIR /usr/src/app
COPY . .
RUN cargo build --release
CMD {cmd}
"""
SERVICE = '["/usr/src/app/target/release/service"]'


@pytest.mark.parametrize(("case", "left", "carried"), [
    ("rust-service", ["/usr/src/app/Cargo.toml", "/usr/src/app/src"], ["/usr/src/app/target/release/service"]),
    ("java-maven", ["/build/pom.xml", "/build/src"], ["/build/target/app.jar"]),
    ("go-static", ["/src/go.mod", "/src/.dockerignore", "/src/Dockerfile", "/src/cmd", "/src/go.sum"],
     ["/out/server"]),
    ("go-cgo", ["/src/.dockerignore", "/src/Dockerfile", "/src/cmd", "/src/go.mod", "/src/go.sum"],
     ["/usr/local/bin/server"]),
])
def test_fixtures_ship_only_the_artifact(case: str, left: list[str], carried: list[str]) -> None:
    folder = FIXTURES / case
    result = rewrite((folder / "Dockerfile").read_text(), path=str(folder / "Dockerfile"), context_dir=folder)
    assert _carried(result) == carried
    change = next(c for c in result.changes if "sources and build files stay in the builder" in c.message)
    assert [c.removeprefix("Files.") for c in change.config] == left


def test_files_the_app_reads_stay(tmp_path: Path) -> None:
    """config/ came with the same `COPY . .`: not a Rust input, so it is carried, path by path."""
    result = _rewrite(CARGO.format(cmd=SERVICE), tmp_path, RUST)
    assert _carried(result) == ["/usr/src/app/config", "/usr/src/app/target/release/service"]
    assert "/usr/src/app/Cargo.toml" in _left(result) and "/usr/src/app/src" in _left(result)
    assert "/usr/src/app/config" not in _left(result)
    change = next(c for c in result.changes if c.message.startswith("cargo: the project's sources"))
    assert "still carried, not build inputs: /usr/src/app/config" in change.effect


@pytest.mark.parametrize(("text", "files", "kept", "why"), [
    (CARGO.format(cmd='["/usr/src/app/target/release/service", "--manifest", "Cargo.toml"]'), {},
     "/usr/src/app/Cargo.toml", "line 5 names /usr/src/app/Cargo.toml"),
    (CARGO.format(cmd=SERVICE).replace("CMD", "RUN ls src/\nCMD"), {}, "/usr/src/app/src", "line 5 names"),
    (CARGO.format(cmd=SERVICE).replace("CMD", 'ENTRYPOINT ["./start.sh"]\nCMD'),
     {"start.sh": "#!/bin/sh\ngrep version \"$APP/Cargo.toml\"\nexec \"$@\"\n"},
     "/usr/src/app/Cargo.toml", "start.sh (a start script) names `$APP/Cargo.toml`"),
])
def test_an_input_named_at_run_time_stays(tmp_path: Path, text: str, files: dict[str, str], kept: str,
                                          why: str) -> None:
    result = _rewrite(text, tmp_path, {**RUST, **files})
    assert kept in _carried(result) and kept not in _left(result)
    assert f"{kept} stays in the runtime although it is a build input: {why}" in _notes(result)


GOFILE = """FROM golang:1.22
WORKDIR /src
COPY . .
RUN {build}
CMD {cmd}
"""


def test_go_leaves_sources_and_keeps_static(tmp_path: Path) -> None:
    result = _rewrite(GOFILE.format(build="go build -o /usr/local/bin/server ./cmd/server", cmd='["server"]'),
                      tmp_path, GO)
    assert _carried(result) == ["/src/static", "/usr/local/bin/server"]
    assert set(_left(result)) == {"/src/go.mod", "/src/cmd", "/src/go.sum"}


@pytest.mark.parametrize(("build", "cmd", "why"), [
    ("go build ./cmd/server", '["./server"]', "names no -o: it writes its program into /src"),
    ("go generate ./... && go build -o /out/server ./cmd/server", '["/out/server"]', "may write into /src"),
    ("go build -o /out/server ./cmd/server && cp static/index.html x.html", '["/out/server"]', "also runs `cp"),
    ("go build -o /out/server ./cmd/server", '["/out/other"]', "the start command runs no file `go build -o`"),
    ("GOFLAGS=-mod=mod go build -o /out/server ./cmd/server", '["/out/server"]', "moves the project"),
])
def test_go_tree_carried_whole_when_the_build_may_write_into_it(tmp_path: Path, build: str, cmd: str,
                                                                why: str) -> None:
    result = _rewrite(GOFILE.format(build=build, cmd=cmd), tmp_path, GO)
    assert "/src" in _carried(result) and not _left(result)
    assert "go: the sources in /src are carried: " in _notes(result) and why in _notes(result), _notes(result)


def test_copies_after_the_build_and_odd_contexts_are_left_alone(tmp_path: Path) -> None:
    after = GOFILE.format(build="go build -o /out/server ./cmd/server", cmd='["/out/server"]').replace(
        "COPY . .\nRUN go build -o /out/server ./cmd/server",
        "COPY go.mod ./\nCOPY cmd ./cmd\nRUN go build -o /out/server ./cmd/server\nCOPY cmd/server/main.go ./")
    result = _rewrite(after, tmp_path, GO)
    assert "/src/main.go" in _carried(result) and "/src/cmd" in _left(result)
    excluded = GOFILE.format(build="go build -o /out/server ./cmd/server", cmd='["/out/server"]').replace(
        "COPY . .", "COPY --exclude=static . .")
    assert not _left(_rewrite(excluded, tmp_path, GO))  # --exclude: the files that land are not the list's
    (tmp_path / "linked").symlink_to(tmp_path / "static")  # a COPY brings the link, which no file list shows
    result = rewrite(GOFILE.format(build="go build -o /out/server ./cmd/server", cmd='["/out/server"]'),
                     context_dir=tmp_path)
    assert "/src" in _carried(result) and not _left(result)


def test_given_candidate_may_leave_out_only_what_the_rewrite_declares() -> None:
    folder = FIXTURES / "rust-service"
    left = left_out_by_rewrite((folder / "Dockerfile").read_text(), str(folder / "Dockerfile"), folder)
    assert {"/usr/src/app/Cargo.toml", "/usr/src/app/src", "/usr/src/app/target"} <= set(left)


class _FakeBuilder:
    """Images are folders: ``original`` and ``candidate`` under ``root``."""

    name = "fake"

    def __init__(self, root: Path) -> None:
        self.root = root

    def inspect(self, image: str, compressed: bool = False) -> ImageFacts:
        size = 100 if image.endswith(":original") else 10
        return ImageFacts(config={"Cmd": ["/usr/src/app/target/release/service"]}, layers=1, size=size)

    @contextlib.contextmanager
    def rootfs(self, image: str):  # type: ignore[no-untyped-def]
        yield self.root / "candidate"

    def remove(self, image: str) -> None:
        pass


def _image(root: Path, files: list[str]) -> None:
    for name in files:
        path = root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
        os.chmod(path, 0o755)


def test_verify_accepts_declared_build_inputs_and_nothing_else(tmp_path: Path) -> None:
    """The rewrite's declared build inputs may be missing; a dropped file it did not declare fails."""
    context = tmp_path / "context"
    files = {**RUST, "Cargo.toml": "[package]\n"}
    text = CARGO.format(cmd=SERVICE)
    result = _rewrite(text, context, files)
    declared, replaced, moved_out = declared_by(result)
    binary = "/usr/src/app/target/release/service"
    _image(tmp_path / "original", [binary, "/usr/src/app/target/release/deps/x.o",
                                   *(f"/usr/src/app/{n}" for n in files)])
    builder = _FakeBuilder(tmp_path)
    reports = {}
    for name, image in (("declared", [binary, "/usr/src/app/config/app.toml"]), ("undeclared", [binary])):
        (tmp_path / "candidate").mkdir(exist_ok=True)
        for f in (tmp_path / "candidate").rglob("*"):
            if f.is_file():
                f.unlink()
        _image(tmp_path / "candidate", image)
        session = Session(text, path="Dockerfile", context=context, builder=builder)  # type: ignore[arg-type]
        original = SimpleNamespace(side=SimpleNamespace(size=100, smoke=None), facts=builder.inspect("x:original"),
                                   base_config=None, tree=walk(tmp_path / "original"), dists=None)
        session.original = lambda report, original=original: original  # type: ignore[method-assign,misc]
        session._build = lambda text, image: (1.0, "1.0 s")  # type: ignore[method-assign]
        session._original_root = tmp_path / "original"
        reports[name] = session.verify(result.text, declared=declared, replaced=replaced, moved_out=moved_out)
    check = {n: next(c for c in r.checks if c.name == "app files kept") for n, r in reports.items()}
    assert check["declared"].ok, check["declared"].detail
    assert not check["undeclared"].ok and check["undeclared"].detail == "missing /usr/src/app/config/app.toml"


@pytest.mark.build
def test_built_runtime_has_the_binary_and_the_config_it_reads_not_the_sources(buildah, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Real build on the rust stand-in: the binary reads config/app.toml at run time (the smoke
    command fails without it); Cargo.toml and src/ stay in the builder; verify passes."""
    from dockerslim.verify import verify

    files = {"Cargo.toml": (FIXTURES / "rust-service" / "Cargo.toml").read_text(),
             "src/main.rs": 'fn main() { print!("{}", std::fs::read_to_string("config/app.toml").unwrap()); }\n',
             "config/app.toml": "port = 3000\n"}
    text = CARGO.format(cmd='["./target/release/service"]')
    _rewrite(text, tmp_path, files)
    (tmp_path / "Dockerfile").write_text(text)
    report = verify(tmp_path / "Dockerfile", builder=buildah, smoke='["./target/release/service"]',
                    compressed=False, keep=True)
    try:
        assert report.ok, [c for c in report.checks if not c.ok]
        assert report.rewrite is not None and report.rewrite.smoke is not None
        assert "port = 3000" in report.rewrite.smoke.output
        with buildah.rootfs(report.rewrite.image) as root:
            app = root / "usr/src/app"
            assert (app / "config/app.toml").is_file() and (app / "target/release/service").is_file()
            assert not (app / "Cargo.toml").exists() and not (app / "src").exists()
    finally:
        for side in (report.original, report.rewrite):
            if side is not None:
                buildah.remove(side.image)
