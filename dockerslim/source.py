"""Bytes → text and back, keeping what a round trip must keep: a BOM, and the newline style.

Dockerfiles are UTF-8 (BuildKit reads them so); anything else is rejected with the line of
the first undecodable byte rather than guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import DockerfileSyntaxError

BOM = "\ufeff"


@dataclass(frozen=True)
class SourceText:
    """Decoded Dockerfile text with the facts needed to write it back the same way."""

    text: str  # without the BOM
    bom: bool
    newline: str  # "\n" or "\r\n": the style new lines are written in


def newline_style(text: str) -> str:
    """The newline most lines of ``text`` end with (CRLF files stay CRLF)."""
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    return "\r\n" if crlf > lf else "\n"


def split_bom(text: str) -> SourceText:
    """Strip a leading BOM from already-decoded text, remembering it."""
    bom = text.startswith(BOM)
    if bom:
        text = text[1:]
    return SourceText(text=text, bom=bom, newline=newline_style(text))


def decode(data: bytes, path: str | None = None) -> SourceText:
    """Decode a Dockerfile's bytes; binary and non-UTF-8 input raise DockerfileSyntaxError."""
    nul = data.find(b"\x00")
    if nul != -1:
        line = data.count(b"\n", 0, nul) + 1
        raise DockerfileSyntaxError("binary file (NUL byte), not a Dockerfile", path=path, line=line)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DockerfileSyntaxError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})", path=path, line=line
        ) from None
    return split_bom(text)


def encode(text: str, bom: bool) -> bytes:
    """Text (newlines already in the file's style) → bytes, with the BOM if the input had one."""
    return ((BOM if bom else "") + text).encode("utf-8")
