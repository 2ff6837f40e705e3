"""Rewriting a package-install RUN for the runtime stage: build-only packages leave, the runtime
libraries their artifacts link against come in. Shared by the split pass; kept apart so the
rules are readable (and testable) on their own."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..catalog import PACKAGE_MANAGERS, package_fate
from ..classify import StepInfo, category, command_texts, setup_commands
from ..shell import SimpleCommand, chain, run_script, top_level_operators

APT = ("apt-get", "apt")


@dataclass
class PackagePlan:
    """What the runtime stage installs instead of one RUN's packages."""

    script: str | None  # the runtime RUN's command; None: drop the RUN
    removed: list[str] = field(default_factory=list)  # build-only packages left in the builder
    added: list[str] = field(default_factory=list)  # runtime libraries brought in instead
    unknown_dev: list[str] = field(default_factory=list)  # -dev packages kept: runtime lib unknown
    why_not: str | None = None  # set when the RUN cannot be rewritten safely
    observed: dict[str, list[str]] = field(default_factory=dict)  # -dev -> what its observed install brought


VALUE_OPTIONS = {"-o", "-t", "--target-release", "-c", "--option", "--repository", "-X", "--setopt"}


DEV_SUFFIXES = ("-dev", "-dbg", "-doc")


def observed_runtime(package: str, installed: set[str]) -> list[str]:
    """The runtime libraries an observed install of a ``-dev`` package no map lists brought in:
    the installed packages of the same name stem that are not themselves -dev/-dbg/-doc
    (libsnappy-dev → libsnappy1v5, libboost-program-options-dev → libboost-program-options1.74.0)."""
    if not package.endswith("-dev"):
        return []
    stem = package[: -len("-dev")]
    return sorted(p for p in installed if p != package and p.startswith(stem) and not p.endswith(DEV_SUFFIXES)
                  and (p[len(stem):][:1].isdigit() or p[len(stem):][:1] in ("", "-")))


def _runtime_install(cmd: SimpleCommand, release: str, plan: PackagePlan,
                     installed: set[str] | None = None, build_only: frozenset[str] = frozenset()) -> list[str] | None:
    """argv of the install with runtime packages, or None when nothing is left to install."""
    head: list[str] = [cmd.argv[0]]
    packages: list[str] = []
    seen_sub = False
    skip_value = False
    for word in cmd.argv[1:]:
        if skip_value:
            head.append(word)
            skip_value = False
        elif word.startswith("-"):
            head.append(word)
            skip_value = word in VALUE_OPTIONS
        elif not seen_sub:
            head.append(word)
            seen_sub = True
        else:
            packages.append(word)
    kept: list[str] = []
    for pkg in packages:
        fate = package_fate(cmd.program, pkg, release)
        if pkg in build_only and cmd.program in APT:  # this stage's own reason (nothing runs node)
            fate = replace(fate, build_only=True, runtime=(), known=True)
        found = observed_runtime(pkg, installed) if installed and not fate.known and cmd.program in APT else []
        if found:
            fate = replace(fate, build_only=True, runtime=tuple(found), known=True)
            plan.observed[pkg] = found
        if not fate.known:
            plan.unknown_dev.append(pkg)
        if fate.build_only:
            plan.removed.append(pkg)
            for lib in fate.runtime:
                if lib not in kept and lib not in packages:
                    plan.added.append(lib)
                    kept.append(lib)
        elif pkg not in kept:
            kept.append(pkg)
    if not kept:
        return None
    return head + kept


def plan_runtime_packages(step: StepInfo, release: str, keep_all: bool = False,
                          installed: set[str] | None = None, build_only: frozenset[str] = frozenset()) -> PackagePlan:
    """The runtime version of a RUN that installs system packages (and maybe does builder work).

    Keeps the package-manager and file-system commands in their order, joined with ``&&``;
    drops builder-only commands (pip, compilers). Declines RUNs whose commands are joined by
    ``||`` or pipes, where dropping a command could change what the others mean. ``installed``
    (from an observed build: the packages this RUN installed) names the runtime library of a
    ``-dev`` package the map does not list. ``build_only``: apt packages this stage needs only to
    build (node, when nothing at run time runs it).
    """
    plan = PackagePlan(script=None)
    if keep_all:
        plan.why_not = "every package is kept (code compiles at run time)"
        return plan
    script = run_script(step.node) if not step.node.heredocs else None  # type: ignore[arg-type,attr-defined]
    ops = top_level_operators(script) if script and not step.node.heredocs else None  # type: ignore[attr-defined]
    if ops is None or any(op in ("||", "|") for op in ops):
        plan.why_not = "its commands are joined by || or pipes (or it is not plain shell form)"
        return plan
    setup_commands_of = set(setup_commands(step.node, step.commands))  # type: ignore[arg-type]

    parts: list[str] = []
    setup: list[str] = []  # users, groups, /etc files: needed at run time even without installs
    installs = 0
    texts = command_texts(step.node, step.commands)  # type: ignore[arg-type]
    for cmd, text in zip(step.commands, texts, strict=False):
        cat = category(cmd)
        if cat in ("python", "build"):
            continue
        if cat == "system" and cmd.program in PACKAGE_MANAGERS and cmd.args()[:1] in (["install"], ["add"]):
            argv = _runtime_install(cmd, release, plan, installed, build_only)
            if argv is None:
                continue
            installs += 1
            parts.append(" ".join(argv))
            continue
        parts.append(text)
        if text in setup_commands_of:
            setup.append(text)
    if installs == 0:
        # only updates/cleanups would be left: drop the RUN, but keep what sets up the runtime
        plan.script = chain(setup) if setup else None
        return plan
    plan.script = chain(parts)
    return plan
