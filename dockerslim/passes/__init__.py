"""The pipeline: the passes in the order they run — the table of contents of dockerslim.

Each pass is one module (``passes/<name>.py``, its name with ``_`` for ``-``) exposing ``ID``,
``NAME``, ``SUMMARY`` and ``run(dockerfile, context) -> PassResult``, a pure function over the
IR; its per-pass fixtures live in ``fixtures/passes/<name>/``. ``PIPELINE`` lists every pass
once, with the reason for its place and the freedom it has over the commands RUNs execute (the
``guard.Policy`` checked after it runs). A module not listed here never runs — and
``tests/test_pipeline.py`` fails.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from ..changes import PassResult
from ..guard import Policy
from ..ir import Dockerfile
from ..pass_context import PassContext

__all__ = ["PIPELINE", "Pass", "PassResult"]


@dataclass(frozen=True)
class Pass:
    id: str  # stable rule id users cite: DS1xx stage structure and base, DS2xx work inside a stage
    name: str  # = module name with "-" for "_" = fixture folder
    summary: str
    run: Callable[[Dockerfile, PassContext], PassResult]
    commands: Policy  # what it may do to the commands RUNs execute

    @property
    def help(self) -> str:
        """The pass module's docstring: what it does, and what it deliberately leaves alone."""
        return (sys.modules[self.run.__module__].__doc__ or self.summary).strip()

    @classmethod
    def of(cls, module: ModuleType, commands: Policy) -> Pass:
        return cls(module.ID, module.NAME, module.SUMMARY, module.run, commands)


from . import (  # noqa: E402  (after PassResult: split_stages and runtime_base still import it from here)
    bind_mounts,
    conda_env,
    context_hygiene,
    fold_permissions,
    merge_runs,
    models_out,
    package_hygiene,
    prune,
    runtime_base,
    split_stages,
    tools_from_images,
)

PIPELINE: tuple[Pass, ...] = (
    # Reads the context as the user wrote it and changes nothing: its warning points at their lines.
    Pass.of(context_hygiene, Policy.SAME),
    # Before the split: the runtime then receives only model configs, and weights are never artifacts.
    Pass.of(models_out, Policy.SAME),
    # Before the split: a tool RUN becomes a COPY --from the split carries as is, not a step to analyse.
    Pass.of(tools_from_images, Policy.DECLARED),
    # Before the split: a conda image's env goes to a builder and its folder onto a slim base; the
    # result is multi-stage, which split-stages and runtime-base then leave as it is.
    Pass.of(conda_env, Policy.RESTAGED),
    # Structure before the work inside stages: every later pass sees which stages ship.
    Pass.of(split_stages, Policy.RESTAGED),
    # After the split, whose runtime stage is the final stage whose base it swaps (declared: the
    # package install of a tool the runtime image lacks, such as curl for a HEALTHCHECK).
    Pass.of(runtime_base, Policy.DECLARED),
    # After the structure (the COPY and its chmod/chown RUN are in the stage that ships), before
    # merge-runs, which would join that RUN to the next one (declared: the chmod/chown it removes).
    Pass.of(fold_permissions, Policy.DECLARED),
    # After the split, whose builder and artifact copies it reads, and before merge-runs (--aggressive
    # only; declared: the find/strip commands of the one RUN it appends to the builder).
    Pass.of(prune, Policy.DECLARED),
    # After the structure (the COPY --from and the RUN reading it are in the stage that ships), before
    # merge-runs, which would join that RUN to another and so widen what the mount must serve.
    Pass.of(bind_mounts, Policy.SAME),
    # After the structure: flags and cleanup for the RUNs of shipping stages, cache mounts in builders.
    Pass.of(package_hygiene, Policy.DECLARED),
    # Last: merges the RUNs as the others left them, so one merged RUN ends in one cleanup
    # (declared: the package installs it consolidates inside a RUN).
    Pass.of(merge_runs, Policy.DECLARED),
)

