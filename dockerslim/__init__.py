"""dockerslim: rewrite bloated single-stage Dockerfiles into smaller multi-stage ones.

Public API: ``parse``, ``emit``, ``rewrite`` (and ``RewriteResult``, ``Change``, ``Options``)
and the errors: ``DockerslimError`` is the base of ``DockerfileSyntaxError`` (the text is not a
valid Dockerfile), ``InputError`` (a file cannot be read), ``OutputError`` (a file cannot be
written) and ``SettingsError`` (a bad configuration key or value). Everything else is internal.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .emit import emit
from .errors import DockerfileSyntaxError, DockerslimError, InputError, OutputError, SettingsError
from .parse import parse

__all__ = ["DockerfileSyntaxError", "DockerslimError", "InputError", "OutputError", "SettingsError", "__version__",
           "emit", "parse"]

from .changes import Change, Note
from .options import Options
from .rewrite import RewriteResult, rewrite

__all__ += ["Change", "Note", "Options", "RewriteResult", "rewrite"]
