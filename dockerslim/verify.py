"""``dockerslim verify``: build the original and a candidate (dockerslim's rewrite, or any file
given with ``against``) for real and prove the candidate keeps the image config, the app's
files and Python packages, the USER's account, the programs its entrypoint runs and the
libraries its binaries load, still runs, and is smaller. ``fix`` adds the packages that own
missing libraries (from the original image's package database) and verifies again.

Config differences are accepted only where a Change declared them (the virtualenv's
``VIRTUAL_ENV``/``PATH``) or where both images simply inherit their base image's value (a
runtime base sets other build-only variables than its devel twin); anything else fails.
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import shlex
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import dockerignore, healthcheck, ir
from .builders import Builder, BuilderError, ImageFacts, RunOutcome, scratch_tag
from .catalog import load
from .errors import DockerslimError
from .fscompare import (
    Comparison,
    Tree,
    compare,
    dist_key,
    missing_programs,
    os_left_dists,
    user_problems,
    walk,
    which,
)
from .image_config import config_env
from .observe import sonames
from .options import Options
from .parse import parse
from .report import megabytes
from .rewrite import RewriteResult, rewrite

AGAINST_DECLARED = frozenset({"Env.PATH", "Env.VIRTUAL_ENV"})  # what a given candidate may change unasked
START_FIELDS = frozenset({"Cmd", "Entrypoint"})  # declared: the candidate's own start command is what runs
CONFIG_FIELDS = ("Cmd", "Entrypoint", "Env", "WorkingDir", "User", "ExposedPorts", "Labels", "Volumes",
                 "Healthcheck", "StopSignal", "Shell")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Side:
    image: str
    build_seconds: float = 0.0
    size: int = 0
    compressed: int | None = None
    layers: int = 0
    smoke: RunOutcome | None = None
    layer_sizes: list[dict[str, Any]] = field(default_factory=list)  # [{created_by, size}], base layers first (buildah)


@dataclass
class VerifyReport:
    path: str
    builder: str
    changed: bool
    original: Side | None = None
    rewrite: Side | None = None
    config_diffs: list[str] = field(default_factory=list)
    accepted_diffs: list[str] = field(default_factory=list)
    comparison: Comparison | None = None
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    against: bool = False  # the candidate came from the user, not from dockerslim's rewrite
    candidate: str = ""  # the Dockerfile text verified last (with --fix: the fixed one)
    missing_libraries: dict[str, list[str]] = field(default_factory=dict)  # ELF path -> sonames
    added_packages: list[str] = field(default_factory=list)  # what --fix installed

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        return out


def _app_paths(df: ir.Dockerfile) -> list[str]:
    """WORKDIR and COPY/ADD destinations of the final stage: files there must survive intact."""
    paths: list[str] = []
    cwd = "/"
    for node in df.stages[-1].body:
        if isinstance(node, ir.Workdir) and "$" not in node.path:
            cwd = posixpath.normpath(posixpath.join(cwd, node.path))
            paths.append(cwd)
        elif isinstance(node, ir.Copy) and "$" not in node.dest:
            paths.append(posixpath.normpath(posixpath.join(cwd, node.dest)))
    return sorted({p for p in paths if p not in ("/", "/tmp") and not p.startswith("/tmp/")})


def _context_files(df: ir.Dockerfile, context: Path) -> set[str]:
    """Image paths of the files the final stage COPYs from the build context, less those the
    context's .dockerignore keeps out of it (the builder never sends them, so no image has them)."""
    rules = dockerignore.load(context)
    root = context.resolve()

    def sent(f: Path) -> bool:
        try:
            rel = f.relative_to(root).as_posix()
        except ValueError:  # outside the context: the builder refuses it anyway
            return False
        return not dockerignore.ignored(rel, rules)

    out: set[str] = set()
    cwd = "/"
    for node in df.stages[-1].body:
        if isinstance(node, ir.Workdir) and "$" not in node.path:
            cwd = posixpath.normpath(posixpath.join(cwd, node.path))
        if not isinstance(node, ir.Copy) or node.flag("from") is not None or node.heredocs or "$" in node.dest:
            continue
        dest = posixpath.normpath(posixpath.join(cwd, node.dest))
        # "." and ".." name folders (the WORKDIR, its parent): a file goes in, keeping its name
        into_dir = node.dest.endswith(("/", "/.", "/..")) or node.dest in (".", "..") or len(node.sources) > 1
        for src in node.sources:
            if any(c in src for c in "*?[") or "://" in src:
                continue
            local = (context / src).resolve()
            if local.is_dir():
                for f in local.rglob("*"):
                    if f.is_file() and sent(f):
                        out.add(posixpath.join(dest, f.relative_to(local).as_posix()))
            elif local.is_file() and sent(local):
                out.add(posixpath.join(dest, local.name) if into_dir else dest)
    return out


def compare_config(orig: ImageFacts, new: ImageFacts, declared: AbstractSet[str],
                   orig_base: dict[str, Any] | None, new_base: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """(failing differences, accepted differences) between two image configs."""
    failing: list[str] = []
    accepted: list[str] = []
    for key in CONFIG_FIELDS:
        if key == "Env":
            continue
        a, b = orig.config.get(key) or None, new.config.get(key) or None
        if a != b and key in declared:  # a whole field a Change says it rewrote (conda run -> the env's bin)
            accepted.append(f"{key}: {a!r} -> {b!r} (declared by the rewrite)")
        elif a != b:
            failing.append(f"{key}: {a!r} -> {b!r}")
    env_a, env_b = config_env(orig.config), config_env(new.config)
    base_a, base_b = config_env(orig_base or {}), config_env(new_base or {})
    for name in sorted(set(env_a) | set(env_b)):
        va, vb = env_a.get(name), env_b.get(name)
        if va == vb:
            continue
        what = f"Env {name}: {va!r} -> {vb!r}"
        if f"Env.{name}" in declared and (name != "PATH" or (vb or "").split(":", 1)[-1] == va):
            accepted.append(what + " (declared by the rewrite)")
        elif base_a.get(name) == va and base_b.get(name) == vb and (orig_base is not None and new_base is not None):
            accepted.append(what + " (inherited from the base image)")
        else:
            failing.append(what)
    return failing, accepted


def smoke_argv(smoke: str | None, config: dict[str, Any], *,
               budget: float = healthcheck.DEFAULT_BUDGET) -> list[str] | None:
    """The smoke command: --smoke (a JSON array runs as is, else through /bin/sh), else the
    image's HEALTHCHECK run as Docker runs it, against the started ENTRYPOINT/CMD, waiting
    at most ``budget`` seconds for it to pass (``healthcheck.probe_argv``)."""
    if smoke and smoke.lstrip().startswith("["):
        return list(json.loads(smoke))  # exec form, for images without a shell
    if smoke:
        return ["/bin/sh", "-c", smoke]
    return healthcheck.probe_argv(config, budget=budget)


def _layer_sizes(facts: ImageFacts) -> list[dict[str, Any]]:
    """Per-layer sizes for the report, from the ``inspect`` already done (buildah measures
    each layer; other builders none)."""
    from .html_report import layer_sizes

    return layer_sizes(facts)


def _base_of(text: str) -> str | None:
    try:
        df = parse(text)
    except Exception:
        return None
    image = df.stages[-1].from_.image
    if "$" in image or image == "scratch" or df.stage_named(image):
        return None
    return image


DISTS_SCRIPT = ("import importlib.metadata as m, json; "
                "print(json.dumps(sorted({(d.metadata['Name'] or '') for d in m.distributions()})))")
PYTHON_DISTS = (  # through the shell: the image's own python, whichever name it has on PATH
    'for p in python python3; do command -v "$p" >/dev/null 2>&1 && exec "$p" -c "$0"; done; exit 0')


def _visible_dists(builder: Builder, image: str) -> set[str] | None:
    """Distributions ``import`` finds with the image's ``python`` on its PATH (a venv that
    does not chain to the base's own venv sees fewer); None when no python answers (no
    python, or neither a shell nor a ``python`` to run directly)."""
    for argv in (["/bin/sh", "-c", PYTHON_DISTS, DISTS_SCRIPT], ["python", "-c", DISTS_SCRIPT],
                 ["python3", "-c", DISTS_SCRIPT]):
        outcome = builder.run(image, argv, timeout=120)
        lines = [line for line in outcome.output.splitlines() if line.startswith("[")]
        if outcome.exit_code == 0 and lines:
            try:
                return {dist_key(n) for n in json.loads(lines[-1]) if n}
            except ValueError:
                return None
        if outcome.exit_code == 0:
            return None  # a shell that found no python
    return None


@dataclass
class _Original:
    """The original, built once per verify session (the fix loop and the ladder reuse it)."""

    side: Side
    facts: ImageFacts
    base_config: dict[str, Any] | None
    tree: Tree
    dists: set[str] | None


class Session:
    """Build the original once, then verify any number of candidate Dockerfiles against it."""

    def __init__(self, text: str, *, path: str, context: Path, builder: Builder, smoke: str | None = None,
                 build_args: dict[str, str] | None = None, build_contexts: dict[str, str] | None = None,
                 compressed: bool = True, keep: bool = False, timeout: float = healthcheck.DEFAULT_BUDGET,
                 progress: Callable[[str], None] | None = None,
                 on_line: Callable[[str, str], None] | None = None) -> None:
        self.text, self.path, self.context, self.builder = text, path, context, builder
        self.on_line = on_line  # (label, line): each line of a build's output as the builder prints it
        self.timeout = timeout  # seconds a smoke run may take (a HEALTHCHECK is polled this long at most)
        self.say = progress or (lambda _step: None)  # the current step, for a user watching
        self.smoke, self.build_args, self.build_contexts = smoke, build_args, build_contexts
        self.compressed, self.keep = compressed, keep
        self.tag = scratch_tag("verify", path)  # unique per session: see scratch_tag
        self._stack = contextlib.ExitStack()
        self._original: _Original | None = None
        self._original_error: str | None = None
        self._original_root: Path | None = None
        self._original_elfs: list[str] | None = None  # ELF files of the original, listed once per session
        self._images: list[str] = []
        self._count = 0

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()
        if not self.keep:
            for image in self._images:
                self.builder.remove(image)
        self._images.clear()

    def _smoke(self, image: str, config: dict[str, Any]) -> RunOutcome | None:
        argv = smoke_argv(self.smoke, config, budget=self.timeout)
        if argv is None:
            return None
        self.say(f"{image}: running " + ("the smoke command" if self.smoke else "the HEALTHCHECK against the CMD"))
        return self.builder.run(image, argv, timeout=self.timeout + 30)  # room to start and stop the app

    def _build(self, text: str, image: str) -> tuple[float | None, str]:
        self.say(f"building {image} ({'the original' if image.endswith(':original') else 'the candidate'})")
        label = f"{self.path}:{image.rsplit(':', 1)[-1]}"  # app/Dockerfile:original, …:candidate1
        sink = self.on_line
        # only when asked: a builder written before on_line existed (a test's fake) still works
        stream: dict[str, Any] = {"on_line": lambda line: sink(label, line)} if sink is not None else {}
        try:
            outcome = self.builder.build(text, self.context, image, build_args=self.build_args,
                                         build_contexts=self.build_contexts, **stream)
        except BuilderError as exc:
            return None, str(exc)
        self._images.append(image)
        return outcome.seconds, f"{outcome.seconds:.1f} s"

    def _base_config(self, text: str) -> dict[str, Any] | None:
        base = _base_of(text)
        try:
            return self.builder.inspect(base).config if base else None
        except BuilderError:
            return None

    def original(self, report: VerifyReport) -> _Original | None:
        if self._original is None and self._original_error is None:
            image = f"{self.tag}:original"
            seconds, detail = self._build(self.text, image)
            if seconds is None:
                self._original_error = detail
            else:
                facts = self.builder.inspect(image, compressed=self.compressed)
                side = Side(image=image, build_seconds=seconds, size=facts.size, compressed=facts.compressed,
                            layers=facts.layers, layer_sizes=_layer_sizes(facts))
                self._original_root = self._stack.enter_context(self.builder.rootfs(image))
                side.smoke = self._smoke(image, facts.config)
                path_var = config_env(facts.config).get("PATH", "")
                has_python = any(which(self._original_root, p, path_var) for p in ("python", "python3"))
                self._original = _Original(side, facts, self._base_config(self.text), walk(self._original_root),
                                           _visible_dists(self.builder, image) if has_python else None)
        if self._original is None:
            report.checks.append(Check("original builds", False, self._original_error or ""))
            return None
        report.checks.append(Check("original builds", True, f"{self._original.side.build_seconds:.1f} s"))
        return self._original

    @property
    def original_root(self) -> Path | None:
        return self._original_root

    def verify(self, candidate: str, *, declared: AbstractSet[str] = frozenset(),
               replaced: AbstractSet[str] = frozenset(), moved_out: Sequence[str] = (),
               against: bool = False) -> VerifyReport:
        """Check ``candidate`` against the original. A given candidate (``against``) may put a
        virtualenv on PATH as any rewrite may: it declares nothing, so that much is assumed."""
        if against:
            declared = {*declared, *AGAINST_DECLARED}
        report = VerifyReport(path=self.path, builder=self.builder.name, changed=candidate != self.text,
                              against=against, candidate=candidate)
        if not report.changed:
            report.notes.append("the rewrite leaves this file unchanged: nothing to verify")
            return report
        orig = self.original(report)
        if orig is None:
            return report
        report.original = orig.side
        self._count += 1
        image = f"{self.tag}:candidate{self._count}"
        seconds, detail = self._build(candidate, image)
        report.checks.append(Check("rewrite builds", seconds is not None, detail))
        if seconds is None:
            return report
        facts = self.builder.inspect(image, compressed=self.compressed)
        side = report.rewrite = Side(image=image, build_seconds=seconds, size=facts.size,
                                     compressed=facts.compressed, layers=facts.layers,
                                     layer_sizes=_layer_sizes(facts))

        failing, accepted = compare_config(orig.facts, facts, declared, orig.base_config, self._base_config(candidate))
        report.config_diffs, report.accepted_diffs = failing, accepted
        report.checks.append(Check("image config kept", not failing, "; ".join(failing) or
                                   (f"{len(accepted)} accepted difference(s)" if accepted else "identical")))

        with self.builder.rootfs(image) as root:
            original_df = parse(self.text)
            app = [p for p in _app_paths(original_df) if not any(p == m or p.startswith(m + "/") for m in moved_out)]
            # python packages a dropped system package brought (npm -> Debian's python3, gyp, six)
            system = os_left_dists(self._original_root, root, orig.tree, self.text) if self._original_root else set()
            cmp = compare(orig.tree, walk(root), app, _context_files(original_df, self.context), replaced, system)
            # a change may leave part of an app folder out on purpose (observed build leftovers)
            cmp.app_problems = [p for p in cmp.app_problems if not (p.startswith("missing ") and any(
                p[len("missing "):] == m or p[len("missing "):].startswith(m + "/") for m in moved_out))]
            report.comparison = cmp
            report.checks.append(Check("app files kept", not cmp.app_problems,
                                       "; ".join(cmp.app_problems[:10]) + (" …" if len(cmp.app_problems) > 10 else "")))
            report.checks.append(Check("python packages kept", not cmp.dist_problems,
                                       "; ".join(cmp.dist_problems[:10])))
            users = user_problems(root, facts.config.get("User"))
            report.checks.append(Check("USER exists", not users, "; ".join(users)))
            programs = missing_programs(self._original_root, root, orig.facts.config, facts.config,  # type: ignore[arg-type]
                                        start_declared=bool(declared & START_FIELDS))
            report.checks.append(Check("entrypoint programs present", not programs,
                                       ("missing: " + ", ".join(programs)) if programs else ""))
            report.missing_libraries = self._new_missing_libraries(root, orig.facts.config, facts.config)
            libs = [f"{p}: {', '.join(s)}" for p, s in sorted(report.missing_libraries.items())]
            report.checks.append(Check("runtime libraries resolve", not libs,
                                       "; ".join(libs[:10]) + (" …" if len(libs) > 10 else "")))

        seen = _visible_dists(self.builder, image) if orig.dists else None
        if orig.dists and seen is None:
            report.notes.append("the original's python lists its packages, the candidate's cannot be asked "
                                "(no python or no shell): only the files of the packages were compared")
        elif orig.dists and seen is not None:
            build_tools = {dist_key(n) for n in load("fs_groups")["python"]["build_tools"]}
            lost = sorted(orig.dists - seen - build_tools - {dist_key(r) for r in replaced} - system)
            report.checks.append(Check("python sees the same packages", not lost,
                                       ("the image's python cannot import: " + ", ".join(lost[:10])) if lost else ""))

        side.smoke = self._smoke(image, orig.facts.config)
        if side.smoke is None or orig.side.smoke is None:
            report.notes.append("no smoke command (give --smoke CMD or a HEALTHCHECK): run not checked")
        else:
            ok = orig.side.smoke.exit_code == 0 and side.smoke.exit_code == 0
            check = healthcheck.check_argv(orig.facts.config) or []
            shown = self.smoke or f"HEALTHCHECK {shlex.join(check)} against the started CMD"
            failed = "".join(f"; {name} said: {' '.join(s.output.split())[-300:]}" for name, s in
                             (("original", orig.side.smoke), ("rewrite", side.smoke)) if s.exit_code != 0)
            report.checks.append(Check("smoke command runs", ok,
                                       f"{shown}: original exit {orig.side.smoke.exit_code}, "
                                       f"rewrite exit {side.smoke.exit_code}{failed}"))
        report.checks.append(Check("rewrite is smaller", side.size < orig.side.size,
                                   f"{megabytes(orig.side.size)} -> {megabytes(side.size)}"))
        return report

    def _new_missing_libraries(self, root: Path, orig_config: dict[str, Any],
                               config: dict[str, Any]) -> dict[str, list[str]]:
        """Sonames the candidate's ELF files cannot load that the same files (by name) could
        load in the original: what the rewrite broke, not what was already unresolved."""
        missing = sonames.missing_sonames(root, env=config.get("Env"))
        if not missing or self._original_root is None:
            return missing
        names = {posixpath.basename(p) for p in missing}
        if self._original_elfs is None:
            self._original_elfs = sonames.elf_files(self._original_root)
        same = [p for p in self._original_elfs if posixpath.basename(p) in names]
        before = sonames.missing_sonames(self._original_root, paths=same, env=orig_config.get("Env")) if same else {}
        known = {(posixpath.basename(p), s) for p, ss in before.items() for s in ss}
        out = {}
        for path, names_missing in missing.items():
            new = [s for s in names_missing if (posixpath.basename(path), s) not in known]
            if new:
                out[path] = new
        return out

    def fix_packages(self, report: VerifyReport) -> dict[str, str]:
        """{soname: package} that owns each library the candidate misses, from the original
        image's package database."""
        if self._original_root is None or not report.missing_libraries:
            return {}
        wanted = {s for ss in report.missing_libraries.values() for s in ss}
        return sonames.owning_packages(self._original_root, wanted)


class FixError(DockerslimError):
    """A candidate whose final stage cannot take a package install (no package manager)."""


def add_packages(text: str, packages: list[str], manager: str) -> str:
    """``text`` with one install RUN for ``packages`` right after the final stage's FROM (as
    root, before any USER switch); every other byte unchanged."""
    df = parse(text)
    src = df.stages[-1].from_.source
    if src is None:
        raise FixError("the final stage's FROM has no source position")
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    at = src.end_line  # 1-based last line of FROM == index of the next line
    if at >= len(lines) and lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    lines.insert(at, sonames.install_command(manager, packages) + newline)
    return "".join(lines)


def declared_by(result: RewriteResult) -> tuple[set[str], set[str], list[str]]:
    """What a rewrite's changes say it altered on purpose: (config keys such as ``Env.PATH``,
    Python distributions it replaced, app folders it moved out of the image (models-out))."""
    declared = {c for change in result.changes for c in change.config}
    replaced = {c.split(".", 1)[1] for c in declared if c.startswith("Python.")}
    moved_out = [c.split(".", 1)[1] for c in declared if c.startswith("Files.")]
    return declared, replaced, moved_out


def left_out_by_rewrite(text: str, path: str, context: Path, options: Options | None = None) -> list[str]:
    """The paths dockerslim's own rewrite of ``text`` declares it leaves out of the image on purpose
    (the ``Files.`` of its Changes: a compiled project's build inputs, build leftovers, moved model
    folders). A given candidate (``against``) may leave out those, and no other app file."""
    try:
        result = rewrite(text, path=path, context_dir=context, options=options)
    except DockerslimError:
        return []
    return declared_by(result)[2]


def verify(
    dockerfile: Path,
    *,
    builder: Builder,
    context_dir: Path | None = None,
    smoke: str | None = None,
    build_args: dict[str, str] | None = None,
    build_contexts: dict[str, str] | None = None,
    options: Options | None = None,
    rewritten: str | None = None,
    against: str | None = None,
    fix: bool = False,
    compressed: bool = True,
    keep: bool = False,
    max_fixes: int = 3,
    timeout: float = healthcheck.DEFAULT_BUDGET,
    progress: Callable[[str], None] | None = None,
    on_line: Callable[[str, str], None] | None = None,
) -> VerifyReport:
    """Build the original and a candidate and check the candidate. The candidate is
    dockerslim's rewrite, or ``against`` (any Dockerfile text: hand-written, another tool's);
    ``rewritten`` is the same for tests. With ``fix``, packages owning the libraries the
    candidate misses are installed in its final stage and it is verified again, until it
    passes or there is nothing left to add (``report.candidate`` is then the fixed text).
    ``progress`` hears each step of the verification, ``on_line`` (image label, line) each
    line the builder prints, as it prints it."""
    text = dockerfile.read_bytes().decode("utf-8")
    context = context_dir or dockerfile.parent
    given = against if against is not None else rewritten
    if given is not None:
        candidate = given
        declared = set(AGAINST_DECLARED) if against is not None else set()
        replaced: set[str] = set()
        moved_out = left_out_by_rewrite(text, str(dockerfile), context, options) if against is not None else []
    else:
        result: RewriteResult = rewrite(text, path=str(dockerfile), context_dir=context, options=options)
        candidate = result.text
        declared, replaced, moved_out = declared_by(result)
    with Session(text, path=str(dockerfile), context=context, builder=builder, smoke=smoke, build_args=build_args,
                 build_contexts=build_contexts, compressed=compressed, keep=keep, timeout=timeout,
                 progress=progress, on_line=on_line) as session:
        report = session.verify(candidate, declared=declared, replaced=replaced, moved_out=moved_out,
                                against=against is not None)
        if against is not None:
            report.notes.append("verified a given candidate: only PATH/VIRTUAL_ENV changes that prepend a "
                                "folder are accepted in the config"
                                + (", and only the files dockerslim's own rewrite leaves out on purpose may be "
                                   f"missing ({', '.join(moved_out)})" if moved_out else ""))
        added: list[str] = []
        for _ in range(max_fixes if fix else 0):
            if report.ok or not report.missing_libraries or report.rewrite is None:
                break
            owners = session.fix_packages(report)
            new = sorted(set(owners.values()) - set(added))
            unowned = sorted({s for ss in report.missing_libraries.values() for s in ss} - set(owners))
            if unowned:
                report.notes.append(f"no package of the original image owns {', '.join(unowned)}: cannot add them")
            if not new:
                report.notes.append("--fix: nothing left to add")
                break
            with builder.rootfs(report.rewrite.image) as root:
                manager = sonames.package_manager(root)
            if manager is None:
                report.notes.append("--fix: the candidate's final image has no package manager to install "
                                    f"{', '.join(new)} with")
                break
            added += new
            candidate = add_packages(candidate, new, manager)
            report = session.verify(candidate, declared=declared, replaced=replaced, moved_out=moved_out,
                                    against=against is not None)
            report.added_packages = list(added)
            report.notes.append(f"--fix installed {', '.join(added)} in the final stage")
        return report


def render(report: VerifyReport) -> str:
    """A compact human table."""
    lines = [f"{report.path} (builder: {report.builder})"]
    o, r = report.original, report.rewrite
    if o and r:
        lines.append(f"  {'':18}{'original':>14}{'rewrite':>14}")
        lines.append(f"  {'size':18}{megabytes(o.size):>14}{megabytes(r.size):>14}")
        lines.append(f"  {'compressed':18}{megabytes(o.compressed):>14}{megabytes(r.compressed):>14}")
        lines.append(f"  {'layers':18}{o.layers:>14}{r.layers:>14}")
        lines.append(f"  {'build time':18}{o.build_seconds:>13.1f}s{r.build_seconds:>13.1f}s")
        if o.smoke and r.smoke:
            lines.append(f"  {'smoke exit':18}{o.smoke.exit_code:>14}{r.smoke.exit_code:>14}")
    if report.comparison:
        for group, (files, size) in report.comparison.dropped.items():
            lines.append(f"  dropped {group}: {files} files, {megabytes(size)}")
    for diff in report.accepted_diffs:
        lines.append(f"  accepted: {diff}")
    for check in report.checks:
        lines.append(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}" + (f": {check.detail}" if check.detail else ""))
    for path, missing in sorted(report.missing_libraries.items())[:20]:
        lines.append(f"  missing library: {path} needs {', '.join(missing)}")
    if report.added_packages:
        lines.append(f"  fixed: installed {' '.join(report.added_packages)} in the final stage")
    for note in report.notes:
        lines.append(f"  note: {note}")
    lines.append("  verified" if report.ok else "  NOT verified")
    return "\n".join(lines) + "\n"
