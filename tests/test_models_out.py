"""models-out reads the context files a COPY source names; a prefix is not a character set."""

from __future__ import annotations

from dockerslim.passes.models_out import _files_of

FILES = [(".cache/m.bin", 5), ("models/w.safetensors", 7), ("app.py", 1)]


def test_a_dot_folder_source_finds_its_files() -> None:
    # `lstrip("./")` once turned ".cache/m.bin" into "cache/m.bin": weights in a dot-folder went unseen
    assert _files_of(".cache/m.bin", FILES) == [(".cache/m.bin", 5)]
    assert _files_of("./.cache", FILES) == [(".cache/m.bin", 5)]


def test_spellings_of_one_path_agree() -> None:
    for src in ("models", "./models", "/models", "models/", "./models/"):
        assert _files_of(src, FILES) == [("models/w.safetensors", 7)], src
    for src in (".", "./", "/"):
        assert _files_of(src, FILES) == FILES, src
