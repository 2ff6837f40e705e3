"""dockerslim: rewrite bloated single-stage Dockerfiles into smaller multi-stage ones.

Public API: ``parse``, ``emit``, ``rewrite`` (and ``RewriteResult``, ``Change``,
``DockerfileSyntaxError``). Everything else is internal.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .emit import emit
from .errors import DockerfileSyntaxError, DockerslimError
from .parse import parse

__all__ = ["parse", "emit", "DockerfileSyntaxError", "DockerslimError", "__version__"]

from .changes import Change, Note  # noqa: E402
from .options import Options  # noqa: E402
from .rewrite import RewriteResult, rewrite  # noqa: E402

__all__ += ["rewrite", "RewriteResult", "Change", "Note", "Options"]
