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
