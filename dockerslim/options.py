"""Rewrite options, shared by the library API, the CLI and configuration files.

``Options`` validates itself through the settings model (``settings.Settings``), so a library
caller gets the same checks as a configuration file: ``Options(skip={"mrege-runs"})`` raises
``SettingsError`` with a did-you-mean, and ``Options(skip="merge-runs")`` skips that one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass(frozen=True, kw_only=True)
class Options:
    only: frozenset[str] = field(default_factory=frozenset)  # pass names or ids; empty: all
    skip: frozenset[str] = field(default_factory=frozenset)
    assembly: bool = True  # gather artifacts in a FROM scratch stage
    keep_base: bool = False  # never swap the base image
    runtime_base: str | None = None  # force this runtime base image
    no_install_recommends: bool = True  # add --no-install-recommends (a behaviour change)
    models_context: str | None = None  # build-context name for model files
    data: tuple[str, ...] = ()  # folders with extra catalog files (base_images.toml, …)
    pin_digest: bool = False  # tools-from-images: image@sha256 from the catalog's digests
    aggressive: bool = False  # prune: remove what no program reads from the artifacts (verify the result)

    def __post_init__(self) -> None:
        from .settings import validated  # settings needs the pass registry, which needs Options

        for name, value in validated({f.name: getattr(self, f.name) for f in fields(self)}, source="Options").items():
            object.__setattr__(self, name, value)

    def enabled(self, pass_id: str, pass_name: str) -> bool:
        if self.only and not ({pass_id, pass_name} & self.only):
            return False
        return not ({pass_id, pass_name} & self.skip)
