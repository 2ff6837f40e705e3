"""The one door through which a value from outside the Dockerfile — a file name from the build
context, a path or image from a data/config file, a CLI argument — reaches the output.

The IR keeps arguments as written (quotes and escapes included, as BuildKit's parser hands them
on), so a raw value must first be *written*: a value is data, never syntax. BuildKit expands
every COPY/ADD path word (JSON form too) with its shell-word lexer, so the escape character,
``$`` and quotes are escaped; a value holding a blank or a quote, or starting with ``[`` or
``--`` (read as JSON or as a flag), puts the whole instruction in JSON form. A value that
cannot be written faithfully — a control character such as a newline, which would end the
instruction and start another, or a glob character that COPY would match as a pattern — is
rejected with ``UnsafeValue`` naming where it came from (the CLI exits 2), never written
half-escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import InputError

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_GLOB = re.compile(r"[*?\[\]]")
_NEEDS_JSON = re.compile(r"[\s\"']|^\[|^--")
BLANK = re.compile(r"\s")  # BuildKit splits shell-form COPY/ADD/VOLUME arguments on blanks
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./:@-]*$")


class UnsafeValue(InputError):
    """A value that cannot be written into a Dockerfile faithfully; ``path`` names its origin."""


def _checked(value: str, origin: str, what: str) -> str:
    if not value:
        raise UnsafeValue(f"empty {what}", path=origin)
    bad = _CONTROL.search(value)
    if bad:
        raise UnsafeValue(f"{what} {value!r} holds a control character ({bad.group()!r}); "
                          "it cannot be written into a Dockerfile", path=origin)
    return value


def path_word(value: str, origin: str, escape: str = "\\") -> str:
    """One COPY/ADD path as written: the characters BuildKit's word expansion would interpret
    (escape character, ``$``, quotes) escaped; no glob characters (COPY would match a pattern)."""
    _checked(value, origin, "path")
    if _GLOB.search(value):
        raise UnsafeValue(f"path {value!r} holds a glob character (* ? [ ]); COPY would read it as a pattern",
                          path=origin)
    special = {escape, "$", '"', "'"}
    return "".join(escape + ch if ch in special else ch for ch in value)


def copy_paths(values: Iterable[str], origin: str, escape: str = "\\") -> tuple[tuple[str, ...], bool]:
    """COPY/ADD paths (sources then destination) as written, and whether the instruction must
    use JSON form (a blank, a quote, a leading ``[`` or ``--`` in any of them)."""
    written = tuple(path_word(v, origin, escape) for v in values)
    return written, any(_NEEDS_JSON.search(v) for v in values)


def name(value: str, origin: str) -> str:
    """A stage or build-context name (``COPY --from=NAME``): letters, digits, ``_ . -``."""
    _checked(value, origin, "name")
    if not _NAME.match(value):
        raise UnsafeValue(f"name {value!r} may hold only letters, digits, '_', '.' and '-'", path=origin)
    return value


def image(value: str, origin: str) -> str:
    """An image reference for ``FROM``/``COPY --from``: no blanks, quotes or variables."""
    _checked(value, origin, "image reference")
    if not _IMAGE.match(value):
        raise UnsafeValue(f"image reference {value!r} holds characters an image name cannot have", path=origin)
    return value


def word(value: str, origin: str) -> str:
    """A plain word (an option such as ``--no-cache-dir``, a mount target): no blanks, quotes,
    ``$``, escapes, commas or comment signs."""
    _checked(value, origin, "word")
    if re.search(r"[\s\"'\\$,#;&|<>`()]", value):
        raise UnsafeValue(f"{value!r} must be a single plain word", path=origin)
    return value


def command(value: str, origin: str) -> str:
    """Shell text a data file supplies on purpose (a cleanup such as ``rm -rf /var/lib/apt/lists/*``):
    one line, and no ``#``, after which everything joined to it would be comment text."""
    _checked(value, origin, "command")
    if "#" in value:
        raise UnsafeValue(f"command {value!r} holds '#': what follows it would be comment text", path=origin)
    return value
