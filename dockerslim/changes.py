"""What a pass reports: a ``Change`` for each edit it made, a ``Note`` for what it noticed or
declined to do (with the reason), so ``--explain``, JSON and SARIF can show every decision."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Risk = Literal["none", "low", "medium", "high"]
Level = Literal["info", "warning", "skipped"]


@dataclass(frozen=True, kw_only=True)
class Change:
    rule: str  # stable id, e.g. "DS001"
    pass_name: str  # e.g. "merge-runs"
    message: str  # what was done
    reason: str  # why it is safe and worth it
    effect: str  # what the user should expect (size, layers, cache)
    risk: Risk = "none"
    line: int | None = None  # first source line involved
    end_line: int | None = None
    before: str = ""  # source text involved
    after: str = ""  # text that replaces it
    config: tuple[str, ...] = ()  # what this change alters on purpose in the final image: Env.PATH, Python.uv…

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class Note:
    rule: str
    pass_name: str
    message: str
    level: Level = "info"
    line: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)
