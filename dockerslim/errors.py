"""Errors a user can act on: each names the file and line, and the CLI maps them to exit 2."""

from __future__ import annotations


class DockerslimError(Exception):
    """Base class of every error dockerslim reports to a user (never a traceback)."""


class DockerfileSyntaxError(DockerslimError):
    """The Dockerfile cannot be read as a Dockerfile: malformed, unknown instruction, bad encoding."""

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

    def with_path(self, path: str | None) -> "DockerfileSyntaxError":
        """The same error, naming the file it came from."""
        return DockerfileSyntaxError(self.message, path=path, line=self.line)
