"""Observation: learn from one real build what each instruction makes, and which runtime
libraries the binaries need.

``observe(text, context_dir=…, builder=…)`` → ``Observation`` (record.py: per-step file
changes keyed by instruction line; layers.py: reading exported layer tars; cache.py: the
on-disk cache; observe.py: the build and the mapping of history entries to instructions).
``elf.py`` reads DT_NEEDED/RPATH/RUNPATH, ``sonames.py`` resolves them against a root file
system and finds the owning package in a package database.
"""

from __future__ import annotations

from .observe import ObserveError, observe
from .record import FileChange, Observation, Step

__all__ = ["FileChange", "Observation", "ObserveError", "Step", "observe"]
