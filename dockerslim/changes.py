"""What a pass reports: a ``Change`` for each edit it made, a ``Note`` for what it noticed or
declined to do (with the reason), so ``--explain``, JSON and SARIF can show every decision.

``rule`` is the pass's stable id (``DS1xx``: stage structure and base image, ``DS2xx``: work
inside a stage); ``PassResult`` is what every pass returns: the new tree plus those records.
A Change that adds, removes or edits a command some RUN executes says so in ``commands``: the
pipeline's guard (``guard.py``) accepts no other difference in what the RUNs execute.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .ir import Dockerfile

Risk = Literal["none", "low", "medium", "high"]
Level = Literal["info", "warning", "skipped"]
Argv = tuple[str, ...]


@dataclass(frozen=True)
class CommandEdit:
    """One command a RUN executes, as the pass changed it (argv after quote removal, leading
    ``VAR=value`` assignments first): ``before`` None for a command the pass added, ``after``
    None for one it removed."""

    before: Argv | None
    after: Argv | None


@dataclass(frozen=True, kw_only=True)
class Change:
    rule: str  # stable id of the pass, e.g. "DS201"
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
    commands: tuple[CommandEdit, ...] = ()  # what this change alters on purpose in what RUNs execute

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class Note:
    rule: str
    pass_name: str
    message: str
    level: Level = "info"
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(kw_only=True)
class PassResult:
    """A pass's output: the new tree, the edits it made, what it noticed or declined."""

    dockerfile: Dockerfile
    changes: list[Change] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
