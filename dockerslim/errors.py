"""Errors a user can act on: each names the file (and line) it is about; the CLI maps them to exit 2.

- ``InputError``: a file that cannot be read (missing, a folder, a FIFO, no permission).
- ``OutputError``: a file that cannot be written; names the *output* path.
- ``DockerfileSyntaxError``: text that is not a valid Dockerfile (with the line).
- ``SettingsError``: a configuration file or flag with an unknown key or a bad value.
"""

from __future__ import annotations


class DockerslimError(Exception):
    """Base class of every error dockerslim reports to a user (never a traceback)."""


class _PathError(DockerslimError):
    """An error about one path, printed as ``PATH: message``."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.message = message
        self.path = path
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InputError(_PathError):
    """An input file (or folder) cannot be read: missing, unreadable, not a regular file."""


class OutputError(_PathError):
    """An output file cannot be written; the message names the output, not the input."""


class SettingsError(DockerslimError, ValueError):
    """A configuration key or value (file or flag) that dockerslim does not accept.

    A ``ValueError`` too, so ``Options(skip={"mrege-runs"})`` fails the way Python code expects."""


class DockerfileSyntaxError(DockerslimError):
    """The text is not a valid Dockerfile: malformed, unknown instruction, bad encoding."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "<string>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"

    def with_path(self, path: str | None) -> DockerfileSyntaxError:
        """The same error, naming the file it came from."""
        return DockerfileSyntaxError(self.message, path=path, line=self.line)
