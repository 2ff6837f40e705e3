"""The ordered list of passes: the table of contents of what dockerslim does.

Each pass is one module exposing ``ID``, ``NAME``, ``SUMMARY`` and
``run(dockerfile, context) -> PassResult``. Order matters: structure first (split the stage,
swap the base), then what works inside stages (tools, hygiene, merging RUNs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Protocol

from ..changes import Change, Note
from ..context import PassContext
from ..ir import Dockerfile


@dataclass(kw_only=True)
class PassResult:
    dockerfile: Dockerfile
    changes: list[Change] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


class Pass(Protocol):
    ID: str
    NAME: str
    SUMMARY: str

    def run(self, dockerfile: Dockerfile, context: PassContext) -> PassResult: ...


def all_passes() -> list[ModuleType]:
    """The passes in the order they run."""
    from . import context_hygiene, hygiene, merge_runs, models_out, runtime_base, split_stages, tools_from_images

    return [context_hygiene, models_out, tools_from_images, split_stages, runtime_base, hygiene, merge_runs]
