"""Bad input: one clear message naming file and line, exit 2, no traceback, no partial file."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockerslim import DockerfileSyntaxError, parse, rewrite

from .conftest import FIXTURES, dockerfiles
from .test_cli import invoke

CASES = {
    "unknown instruction": (b"FROM alpine\nFOO bar\n", 2, "unknown instruction: FOO"),
    "unterminated heredoc": (b"FROM alpine\nRUN <<EOF\necho hi\n", 2, "unterminated heredoc <<EOF"),
    "binary": (b"FROM alpine\n\x00\x01\x02", 2, "binary file"),
    "not utf-8": (b"FROM alpine\nRUN echo \xff\xfe\n", 2, "not UTF-8"),
    "no FROM": (b"RUN echo hi\n", 1, "only ARG may come before FROM"),
    "empty": (b"", 1, "no FROM instruction"),
    "unknown flag": (b"FROM alpine\nCOPY --bogus=1 a b\n", 2, "unknown flag --bogus for COPY"),
    "bad mount type": (b"FROM alpine\nRUN --mount=type=nfs echo\n", 2, "unsupported mount type"),
    "shell not json": (b"FROM alpine\nSHELL /bin/bash -c\n", 2, "SHELL requires the arguments to be in JSON form"),
    "copy one arg": (b"FROM alpine\nCOPY onlyone\n", 2, "COPY requires at least two arguments"),
    "run no args": (b"FROM alpine\nRUN\n", 2, "RUN requires at least one argument"),
    "bad env": (b"FROM alpine\nENV A=1 B\n", 2, "can't find = in 'B'"),
    "duplicate directive": (b"# escape=`\n# escape=\\\nFROM alpine\n", 2, "only one escape parser directive"),
    "bad escape": (b"# escape=x\nFROM alpine\n", 1, "invalid escape token"),
    "onbuild from": (b"FROM alpine\nONBUILD FROM alpine\n", 2, "FROM isn't allowed as an ONBUILD trigger"),
    "healthcheck junk": (b"FROM alpine\nHEALTHCHECK curl\n", 2, "HEALTHCHECK takes NONE or CMD"),
    "from junk": (b"FROM a b c d\n", 1, "FROM takes an image"),
    # What BuildKit rejects beyond its parser (probed with dockerd 20.10's built-in BuildKit):
    "stage name": (b"FROM alpine AS 1abc\n", 1, "invalid name for build stage: '1abc'"),
    "stage name symbol": (b"FROM alpine AS a$b\n", 1, "invalid name for build stage"),
    "healthcheck duration": (b"FROM alpine\nHEALTHCHECK --interval=abc CMD true\n", 2,
                             "HEALTHCHECK --interval=abc: not a duration"),
    "healthcheck no unit": (b"FROM alpine\nHEALTHCHECK --interval=10 CMD true\n", 2, "--interval=10: not a duration"),
    "healthcheck under 1ms": (b"FROM alpine\nHEALTHCHECK --timeout=0.5ms CMD true\n", 2, "cannot be less than 1ms"),
    "healthcheck negative": (b"FROM alpine\nHEALTHCHECK --interval=-1s CMD true\n", 2, "cannot be less than 1ms"),
    "healthcheck retries": (b"FROM alpine\nHEALTHCHECK --retries=x CMD true\n", 2, "--retries=x: not an integer"),
    "healthcheck retries negative": (b"FROM alpine\nHEALTHCHECK --retries=-1 CMD true\n", 2, "cannot be negative"),
    "expose junk": (b"FROM alpine\nEXPOSE abc/xyz\n", 2, "EXPOSE abc/xyz: invalid protocol 'xyz'"),
    "expose name": (b"FROM alpine\nEXPOSE 80 abc\n", 2, "EXPOSE abc: invalid port 'abc'"),
    "expose too big": (b"FROM alpine\nEXPOSE 70000\n", 2, "invalid port '70000'"),
    "expose range": (b"FROM alpine\nEXPOSE 8010-8000\n", 2, "invalid port '8010-8000'"),
    "no-break space": ("FROM\u00a0alpine\n".encode(), 1, "U+00A0 is not a blank to BuildKit"),
    "no-break space in RUN": ("FROM alpine\nRUN\u00a0echo\n".encode(), 2, "unknown instruction: 'RUN\\xa0ECHO'"),
    # BuildKit warns (DuplicateStageName); dockerslim declines: a later FROM or COPY --from is ambiguous
    "duplicate stage": (b"FROM alpine AS a\nRUN true\nFROM alpine AS A\n", 3,
                        "duplicate stage name 'A' (first at line 1)"),
}

# What BuildKit accepts (same probe) must parse, with the words BuildKit sees.
ACCEPTED = {
    "FROM scratch\nEXPOSE 80/TCP 8000-8010/udp 127.0.0.1:8080:80 0 $P/tcp\n":
        ("ports", ("80/TCP", "8000-8010/udp", "127.0.0.1:8080:80", "0", "$P/tcp")),
    "FROM scratch\nHEALTHCHECK --interval=0 --retries=0 --start-period=1h2m3.5s --timeout=1ms CMD true\n":
        ("command", "true"),
    "FROM scratch\nHEALTHCHECK --interval=${I} CMD true\n": ("command", "true"),
    "FROM scratch\nLABEL a=b\u00a0c=d\n": ("pairs", (("a", "b\u00a0c=d"),)),
    "FROM scratch\nCOPY a\u00a0b c /x/\n": ("paths", ("a\u00a0b", "c", "/x/")),
    "FROM scratch\nHEALTHCHECK CMD\tcurl -f localhost\n": ("command", "curl -f localhost"),
    "FROM scratch\nENV A\tb c\n": ("pairs", (("A", "b c"),)),
    "FROM scratch\nONBUILD\tRUN\techo hi\n": ("inner", None),
}


@pytest.mark.parametrize("name", CASES)
def test_library_raises_syntax_error_with_line(name: str) -> None:
    data, line, message = CASES[name]
    with pytest.raises(DockerfileSyntaxError) as info:
        parse(data, "Dockerfile")
    assert info.value.line == line
    assert message in str(info.value)
    assert str(info.value).startswith(f"Dockerfile:{line}: ")


@pytest.mark.parametrize("text", ACCEPTED)
def test_what_buildkit_accepts_parses_as_buildkit_reads_it(text: str) -> None:
    field, value = ACCEPTED[text]
    node = parse(text).stages[0].body[-1]
    if field == "inner":
        assert node.inner.keyword == "RUN" and node.inner.command == "echo hi"  # type: ignore[attr-defined]
        return
    assert getattr(node, field) == value
    assert parse("FROM scratch AS a.b_c-d\nFROM scratch AS Builder\n").stages[1].name == "Builder"


def test_broken_json_form_is_a_warning_with_the_line() -> None:
    text = 'FROM alpine\nRUN [ -f /etc/os-release ] && echo ok\nCMD ["python", "main.py"\n'
    result = rewrite(text, path="Dockerfile")
    warned = [n for n in result.notes if n.rule == "DS001"]
    assert [(n.line, n.level) for n in warned] == [(3, "warning")]
    assert "not valid JSON" in warned[0].message and "shell form" in warned[0].message
    assert result.text.endswith('CMD ["python", "main.py"\n')  # warned, never "fixed"
    clean = rewrite('FROM alpine\nRUN [ "$X" = y ] || true\nCMD ["python", "main.py"]\n')
    assert not [n for n in clean.notes if n.rule == "DS001"]


def test_broken_json_form_warning_reaches_the_cli(tmp_path: Path) -> None:
    f = tmp_path / "Dockerfile"
    f.write_text('FROM alpine\nCMD ["python", "main.py"\n')
    result = invoke("rewrite", str(f))
    assert result.exit_code == 0 and f"dockerslim: warning: {f}:2: CMD looks like JSON" in result.stderr


def test_missing_file_is_an_input_error_not_a_syntax_error(tmp_path: Path) -> None:
    from dockerslim import InputError
    from dockerslim.parse import parse_file

    with pytest.raises(InputError) as info:
        parse_file(tmp_path / "nope")
    assert not isinstance(info.value, DockerfileSyntaxError) and str(info.value) == f"{tmp_path / 'nope'}: no such file"
    with pytest.raises(InputError, match="is a directory"):
        parse_file(tmp_path)


@pytest.mark.parametrize("name", ["unknown instruction", "unterminated heredoc", "binary", "not utf-8",
                                  "duplicate stage", "healthcheck duration", "expose junk", "no-break space"])
def test_cli_reports_file_and_line_and_exits_2(name: str, tmp_path: Path) -> None:
    data, line, message = CASES[name]
    f = tmp_path / "Dockerfile"
    f.write_bytes(data)
    out = tmp_path / "out.Dockerfile"
    result = invoke("rewrite", str(f), "-o", str(out))
    err = result.stderr
    assert result.exit_code == 2
    assert err.strip().splitlines() == [f"dockerslim: error: {f}:{line}: {err.split(': ', 3)[-1].strip()}"]
    assert message in err and "Traceback" not in err
    assert not out.exists()
    assert not list(tmp_path.glob(".out.Dockerfile.*"))  # no temp file left behind


def test_in_place_never_touches_a_file_it_cannot_parse(tmp_path: Path) -> None:
    f = tmp_path / "Dockerfile"
    f.write_bytes(CASES["unterminated heredoc"][0])
    assert invoke("rewrite", "--in-place", str(f)).exit_code == 2
    assert f.read_bytes() == CASES["unterminated heredoc"][0]


def test_missing_file(tmp_path: Path) -> None:
    result = invoke("rewrite", str(tmp_path / "nope"))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"dockerslim: error: {tmp_path / 'nope'}: no such file"


SEEDS = [p.read_bytes().decode("utf-8") for p in dockerfiles(FIXTURES)]


PIECES = ["\\\n", "<<EOF", "\n", "[", '"', "--x=1 ", "#", "`", "\r", "EOF\n", "FROM", " "]


def _mutate(seed: str, data: st.DataObject) -> str:
    text = seed
    for _ in range(data.draw(st.integers(0, 4))):
        if not text:
            break
        i = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["insert", "delete", "duplicate"]))
        if op == "insert":
            piece = data.draw(st.sampled_from(PIECES))
            text = text[:i] + piece + text[i:]
        elif op == "delete":
            j = data.draw(st.integers(i, min(len(text), i + 20)))
            text = text[:i] + text[j:]
        else:
            text = text[:i] + text[i: i + 15] * 2 + text[i + 15:]
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_library_on_mutated_input_rewrites_or_raises_syntax_error(data: st.DataObject) -> None:
    text = _mutate(data.draw(st.sampled_from(SEEDS)), data)
    try:
        result = rewrite(text, path="Dockerfile")
    except DockerfileSyntaxError as exc:
        assert exc.path == "Dockerfile" and exc.line is not None and "\n" not in exc.message
        return
    assert rewrite(result.text).text == result.text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_library_on_random_text(text: str) -> None:
    try:
        rewrite(text)
    except DockerfileSyntaxError as exc:
        assert exc.line is not None


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data(), raw=st.binary(max_size=64))
def test_cli_on_mutated_and_random_input_exits_0_or_2_with_one_line(data: st.DataObject, raw: bytes,
                                                                     tmp_path: Path) -> None:
    text = _mutate(data.draw(st.sampled_from(SEEDS)), data).encode("utf-8")
    payload = data.draw(st.sampled_from([text, raw, text + raw]))
    out = tmp_path / "out"
    if out.exists():
        out.unlink()
    result = invoke("rewrite", "-q", "-", "-o", str(out), stdin=payload)
    assert result.exit_code in (0, 2)
    err = result.stderr
    assert "Traceback" not in err
    if result.exit_code == 2:
        assert len(err.strip().splitlines()) == 1 and err.startswith("dockerslim: error: <stdin>:")
        assert not out.exists()
