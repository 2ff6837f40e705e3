"""Issue 11 item 7: for compiled ecosystems the runtime receives the artifact the start command
names, not the build tool's whole output folder (``data/commands.toml`` ``[[build_output]]``);
any doubt keeps the whole project tree, with a note saying why."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockerslim.rewrite import RewriteResult, rewrite

CONTEXT = {"Cargo.toml": "[package]\nname = \"service\"\n", "src/main.rs": "fn main() {}\n",
           "pom.xml": "<project/>\n", "src/main/java/App.java": "class App {}\n",
           "build.gradle": "plugins { id 'java' }\n", "run.sh": "#!/bin/sh\nexec ./target/release/service\n"}


def _rewrite(text: str, tmp_path: Path) -> RewriteResult:
    for name, body in CONTEXT.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    return rewrite(text, context_dir=tmp_path)


def _carried(result: RewriteResult) -> list[str]:
    """The sources of the COPY --from=builder lines (what leaves the builder)."""
    return [line.split()[2] for line in result.text.splitlines() if line.startswith("COPY --from=builder ")]


def _notes(result: RewriteResult) -> str:
    return "\n".join(n.message for n in result.notes)


CARGO = """FROM rust:1.80
WORKDIR /usr/src/app
COPY Cargo.toml ./
COPY src ./src
RUN cargo build --release
CMD {cmd}
"""


def test_cargo_release_binary_only(tmp_path: Path) -> None:
    result = _rewrite(CARGO.format(cmd='["/usr/src/app/target/release/service"]'), tmp_path)
    # Cargo.toml and src/*.rs feed the compiler only (test_build_inputs.py); src/main/ is not Rust
    assert _carried(result) == ["/usr/src/app/src/main", "/usr/src/app/target/release/service"]
    change = next(c for c in result.changes if c.message.startswith("cargo: the runtime receives only"))
    assert "Files./usr/src/app/target" in change.config and "Files./usr/src/app/Cargo.lock" in change.config


def test_cargo_relative_path_from_workdir(tmp_path: Path) -> None:
    result = _rewrite(CARGO.format(cmd="./target/release/service --port 3000"), tmp_path)
    assert "/usr/src/app/target/release/service" in _carried(result)
    assert "/usr/src/app" not in _carried(result)


def test_maven_jar_only(tmp_path: Path) -> None:
    text = """FROM maven:3.9-eclipse-temurin-21
WORKDIR /build
COPY pom.xml .
RUN mvn -B dependency:go-offline
COPY src ./src
RUN mvn -B package -DskipTests
ENTRYPOINT ["java", "-jar", "/build/target/app.jar"]
"""
    result = _rewrite(text, tmp_path)
    assert _carried(result) == ["/build/src/main.rs", "/build/target/app.jar"]  # pom.xml, src/main: inputs
    assert "FROM eclipse-temurin:21-jre" in result.text


def test_gradle_libs_jar_only(tmp_path: Path) -> None:
    text = """FROM gradle:8-jdk21
WORKDIR /app
COPY build.gradle .
COPY src src
RUN gradle build --no-daemon
ENTRYPOINT ["java", "-jar", "build/libs/app.jar"]
"""
    result = _rewrite(text, tmp_path)
    assert _carried(result) == ["/app/build/libs/app.jar", "/app/src/main.rs"]  # build.gradle, src/main: inputs


@pytest.mark.parametrize(("text", "why"), [
    (CARGO.format(cmd='["cargo", "run", "--release"]'), "names no file inside /usr/src/app/target"),
    (CARGO.format(cmd='["./run.sh"]').replace("COPY src ./src", "COPY src ./src\nCOPY run.sh ./"),
     "names no file inside"),
    (CARGO.format(cmd='["target/release/deps/service-1a2b"]'), "not one build artifact"),
    (CARGO.format(cmd='["sh", "-c", "$APP"]'), "whose value is not known"),
    (CARGO.format(cmd='["/usr/src/app/target/release/service"]').replace("COPY src ./src", "COPY --chmod=644 . ."),
     "COPY --exclude"),
    (CARGO.format(cmd='["/usr/src/app/target/release/service"]').replace(
        "\nCMD", "\nRUN ln -s /usr/src/app/target/release/deps/x /usr/local/bin/x\nCMD"), "inside the output folder"),
    (CARGO.format(cmd='["/tmp/x/target/release/service"]').replace("WORKDIR /usr/src/app", "WORKDIR /tmp/x"),
     "home directory or /tmp"),
])
def test_declined_keeps_the_whole_tree(tmp_path: Path, text: str, why: str) -> None:
    result = _rewrite(text, tmp_path)
    assert not any("/target/" in path for path in _carried(result)), result.text
    assert why in _notes(result)
    assert not any(c.message.startswith("cargo: the runtime receives only") for c in result.changes)


def test_maven_classpath_into_classes_declined(tmp_path: Path) -> None:
    text = """FROM maven:3.9-eclipse-temurin-21
WORKDIR /build
COPY pom.xml .
COPY src ./src
RUN mvn -B package
CMD ["java", "-cp", "target/classes:target/app.jar", "App"]
"""
    result = _rewrite(text, tmp_path)
    assert "/build" in _carried(result)
    assert "/build/target/classes, which is not one build artifact" in _notes(result)


def test_rewrite_of_the_rewrite_changes_nothing(tmp_path: Path) -> None:
    first = _rewrite(CARGO.format(cmd='["/usr/src/app/target/release/service"]'), tmp_path)
    assert "/usr/src/app/target/release/service" in _carried(first)
    assert _rewrite(first.text, tmp_path).text == first.text


COPY_ALL = """FROM rust:1.80
WORKDIR /usr/src/app
COPY . .
RUN cargo build --release
CMD ["./target/release/service"]
"""


def _assembly(result: RewriteResult) -> list[str]:
    lines = result.text.split("AS assembly\n", 1)[1].split("\n\n", 1)[0]
    return lines.splitlines()


def test_copy_all_replayed_from_a_context_without_target(tmp_path: Path) -> None:
    for n in range(9):  # more files that are not Rust than are carried one by one: the COPY is replayed whole
        (tmp_path / f"notes{n}.txt").write_text("x")
    result = _rewrite(COPY_ALL, tmp_path)
    assert _assembly(result) == [
        "COPY . /usr/src/app/",
        "COPY --from=builder /usr/src/app/target/release/service /usr/src/app/target/release/service"]
    assert "line 3 is carried whole: it brings 13 paths that are not build inputs of cargo" in _notes(result)


def test_copy_all_without_target_carries_what_is_not_rust(tmp_path: Path) -> None:
    result = _rewrite(COPY_ALL, tmp_path)
    assert _assembly(result) == [f"COPY --from=builder /usr/src/app/{p} /usr/src/app/{p}" for p in (
        "build.gradle", "pom.xml", "run.sh", "src/main", "target/release/service")]


def test_copy_all_with_target_in_dockerignore(tmp_path: Path) -> None:
    (tmp_path / "target").mkdir()
    (tmp_path / ".dockerignore").write_text("target\n")
    result = _rewrite(COPY_ALL, tmp_path)
    assert "/usr/src/app/target/release/service" in _carried(result)
    assert not any(p in ("/usr/src/app", "/usr/src/app/target") for p in _carried(result))


def test_copy_all_declined_when_the_context_holds_target(tmp_path: Path) -> None:
    (tmp_path / "target" / "release").mkdir(parents=True)
    result = _rewrite(COPY_ALL, tmp_path)
    assert _carried(result) == ["/usr/src/app"]
    assert "the build context holds target/ and .dockerignore does not leave it out" in _notes(result)


MAVEN = """FROM maven:3.9-eclipse-temurin-21
WORKDIR /build
COPY pom.xml .
COPY src ./src
RUN mvn -B package
ENTRYPOINT ["java", "-jar", "target/app.jar"]
"""


def test_maven_manifest_classpath_declined(tmp_path: Path) -> None:
    """A jar whose manifest puts target/lib on its class path needs more than itself."""
    result = _rewrite(MAVEN, tmp_path)
    assert "/build/target/app.jar" in _carried(result)
    (tmp_path / "pom.xml").write_text("<project><plugin><artifactId>maven-dependency-plugin</artifactId>"
                                      "<goal>copy-dependencies</goal></plugin></project>")
    result = rewrite(MAVEN, context_dir=tmp_path)
    assert _carried(result) == ["/build"]
    assert "pom.xml mentions `copy-dependencies`" in _notes(result)


def test_no_project_file_in_the_context_declined(tmp_path: Path) -> None:
    result = _rewrite(MAVEN.replace("COPY pom.xml .", "COPY build.gradle ."), tmp_path)
    assert _carried(result) == ["/build"]
    assert "no pom.xml of the project was found in the build context" in _notes(result)


@pytest.mark.parametrize(("text", "why"), [
    (CARGO.format(cmd='["/out/release/service"]').replace("RUN cargo", "ENV CARGO_TARGET_DIR=/out\nRUN cargo"),
     "split declined: line 5 sets CARGO_TARGET_DIR, which moves the output folder of cargo"),
    (CARGO.format(cmd='["/out/release/service"]').replace(
        "RUN cargo build --release", "RUN cargo build --release --target-dir /out"),
     "split declined: `--target-dir` moves the project or the output folder of cargo"),
])
def test_moved_output_folder_declines_the_split(tmp_path: Path, text: str, why: str) -> None:
    """Carrying the project tree would lose the binary built elsewhere (it did before)."""
    result = _rewrite(text, tmp_path)
    assert result.text == text
    assert why in _notes(result)
