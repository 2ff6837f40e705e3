"""What every pass may read besides the IR: the file's path, the build context, the options;
and the memo that keeps per-RUN facts for the length of one rewrite (``rewrite_scope``)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .options import Options

if TYPE_CHECKING:  # the observation side imports the builders; passes only read the record
    from .observe.record import Observation


@dataclass(frozen=True, kw_only=True)
class PassContext:
    path: str | None = None
    context_dir: Path | None = None  # the build context, when known
    options: Options = field(default_factory=Options)
    observation: Observation | None = None  # observe.Observation of one real build of the original (rewrite --observe)


# --- per-rewrite memo ------------------------------------------------------------------------------

R = TypeVar("R")

_MISSING = object()
_SCOPE: ContextVar[dict[Hashable, Any] | None] = ContextVar("dockerslim_rewrite_memo", default=None)


@contextmanager
def rewrite_scope() -> Iterator[None]:
    """While one rewrite runs, every ``Memo`` keeps all it computes, however large the file (a
    bounded cache smaller than the file's scripts would evict each one before its next pass
    asks again: 100,000 lines parsed their RUNs half again); dropped when the rewrite ends.
    Nested scopes share the outermost one."""
    if _SCOPE.get() is not None:
        yield
        return
    token = _SCOPE.set({})
    try:
        yield
    finally:
        _SCOPE.reset(token)


class Memo(Generic[R]):
    """A pure function of hashable arguments, memoised: in a process-wide LRU cache of
    ``maxsize`` entries (what the next file may share), and during a rewrite also in the
    rewrite's own unbounded table (``rewrite_scope``)."""

    def __init__(self, fn: Callable[..., R], maxsize: int) -> None:
        self._cached = lru_cache(maxsize=maxsize)(fn)
        self.__wrapped__ = fn
        self.__doc__ = fn.__doc__

    def __call__(self, *args: Hashable) -> R:
        scope = _SCOPE.get()
        if scope is None:
            return self._cached(*args)
        table = scope.get(self)
        if table is None:
            table = scope[self] = {}
        found = table.get(args, _MISSING)
        if found is _MISSING:
            found = table[args] = self._cached(*args)
        return found  # type: ignore[no-any-return]

    def seed(self, args: tuple[Hashable, ...], value: R) -> None:
        """Record ``value`` as the result for ``args`` for the current rewrite (a fact another
        computation found on the way), unless it is known already; nothing outside a rewrite."""
        scope = _SCOPE.get()
        if scope is not None:
            scope.setdefault(self, {}).setdefault(args, value)

    def cache_clear(self) -> None:
        self._cached.cache_clear()


def memo(maxsize: int) -> Callable[[Callable[..., R]], Memo[R]]:
    """Decorator form of ``Memo``."""
    return lambda fn: Memo(fn, maxsize)
