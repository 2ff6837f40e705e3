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

__all__ = ["parse", "emit", "DockerfileSyntaxError", "DockerslimError", "InputError", "OutputError",
           "SettingsError", "__version__"]

from .changes import Change, Note  # noqa: E402
from .options import Options  # noqa: E402
from .rewrite import RewriteResult, rewrite  # noqa: E402

__all__ += ["rewrite", "RewriteResult", "Change", "Note", "Options"]
