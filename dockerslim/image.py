"""Image references: ``[registry/][namespace/]repository[:tag][@digest]``, parsed and formatted.

Docker's rules: the first path component is a registry only if it contains ``.`` or ``:`` or
is ``localhost``; an image without a registry lives on Docker Hub, and a one-component Hub
name is an ``library/`` image. References holding variables (``${BASE}``) are kept verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})
DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$")
TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
COMPONENT_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")


@dataclass(frozen=True)
class ImageRef:
    repository: str  # path without registry, e.g. "pytorch/pytorch" or "python"
    registry: str | None = None
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        """Parse a reference; raises ValueError for text that cannot be one."""
        if not text or any(c.isspace() for c in text):
            raise ValueError(f"not an image reference: {text!r}")
        rest, digest = text, None
        if "@" in rest:
            rest, digest = rest.split("@", 1)
            if not DIGEST_RE.match(digest):
                raise ValueError(f"bad digest in image reference: {text!r}")
        registry = None
        first, sep, remainder = rest.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost"):
            registry, rest = first, remainder
        tag = None
        name, colon, maybe_tag = rest.rpartition(":")
        if colon and "/" not in maybe_tag:
            if not TAG_RE.match(maybe_tag):
                raise ValueError(f"bad tag in image reference: {text!r}")
            rest, tag = name, maybe_tag
        if not rest or not all(COMPONENT_RE.match(c) for c in rest.split("/")):
            raise ValueError(f"bad repository name in image reference (lower case letters, digits, . _ -): {text!r}")
        return cls(repository=rest, registry=registry, tag=tag, digest=digest)

    @classmethod
    def try_parse(cls, text: str) -> ImageRef | None:
        """The reference, or None for text that is not one (a variable left unresolved…)."""
        try:
            return cls.parse(text)
        except ValueError:
            return None

    def __str__(self) -> str:
        out = f"{self.registry}/{self.repository}" if self.registry else self.repository
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    @property
    def name(self) -> str:
        """Registry and repository, without tag or digest: what a catalog is keyed by."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    @property
    def canonical_name(self) -> str:
        """The name as catalogs key it, whatever spelling the user chose: Docker Hub's hosts
        (``docker.io``, ``index.docker.io``, ``registry-1.docker.io``) and its ``library/``
        namespace dropped, so ``docker.io/library/python`` is ``python``; other registries
        (``localhost:5000/x``, ``ghcr.io/…``) keep their host."""
        registry = (self.registry or "").lower()
        if registry and registry not in DOCKER_HUB_HOSTS:
            return f"{registry}/{self.repository}"
        return self.repository.removeprefix("library/") if self.repository.count("/") == 1 else self.repository

    @property
    def hub_name(self) -> str:
        """The name with Docker Hub's implicit parts spelt out: ``python`` → ``docker.io/library/python``."""
        registry = self.registry or "docker.io"
        repository = self.repository
        if registry == "docker.io" and "/" not in repository:
            repository = f"library/{repository}"
        return f"{registry}/{repository}"

    def with_tag(self, tag: str) -> ImageRef:
        return replace(self, tag=tag, digest=None)


def has_variables(text: str) -> bool:
    """True when a FROM argument still needs ARG substitution (``$BASE``, ``${BASE}``)."""
    return "$" in text
