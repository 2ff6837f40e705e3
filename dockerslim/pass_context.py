"""What every pass may read besides the IR: the file's path, the build context, the options."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .options import Options

if TYPE_CHECKING:  # the observation side imports the builders; passes only read the record
    from .observe.record import Observation


@dataclass(frozen=True, kw_only=True)
class PassContext:
    path: str | None = None
    context_dir: Path | None = None  # the build context, when known
    options: Options = field(default_factory=Options)
    observation: Observation | None = None  # observe.Observation of one real build of the original (rewrite --observe)
