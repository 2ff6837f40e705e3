"""``dockerslim verify``: build the original and the rewrite for real and prove the rewrite
keeps the image config, keeps the app's files and Python packages, still runs, and is smaller.

Config differences are accepted only where a Change declared them (the virtualenv's
``VIRTUAL_ENV``/``PATH``) or where both images simply inherit their base image's value (a
runtime base sets other build-only variables than its devel twin); anything else fails.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import ir
from .builders import Builder, BuilderError, ImageFacts, RunOutcome
from .fscompare import Comparison, compare, walk
from .options import Options
from .parse import parse
from .rewrite import RewriteResult, rewrite

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

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["ok"] = self.ok
        return out


def _env(config: dict) -> dict[str, str]:
    return dict(item.split("=", 1) for item in (config.get("Env") or []) if "=" in item)


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
    """Image paths of the files the final stage COPYs from the build context."""
    out: set[str] = set()
    cwd = "/"
    for node in df.stages[-1].body:
        if isinstance(node, ir.Workdir) and "$" not in node.path:
            cwd = posixpath.normpath(posixpath.join(cwd, node.path))
        if not isinstance(node, ir.Copy) or node.flag("from") is not None or node.heredocs or "$" in node.dest:
            continue
        dest = posixpath.normpath(posixpath.join(cwd, node.dest))
        into_dir = node.dest.endswith("/") or len(node.sources) > 1
        for src in node.sources:
            if any(c in src for c in "*?[") or "://" in src:
                continue
            local = (context / src).resolve()
            if local.is_dir():
                for f in local.rglob("*"):
                    if f.is_file():
                        out.add(posixpath.join(dest, f.relative_to(local).as_posix()))
            elif local.is_file():
                out.add(posixpath.join(dest, local.name) if into_dir else dest)
    return out


def compare_config(orig: ImageFacts, new: ImageFacts, declared: set[str],
                   orig_base: dict | None, new_base: dict | None) -> tuple[list[str], list[str]]:
    """(failing differences, accepted differences) between two image configs."""
    failing: list[str] = []
    accepted: list[str] = []
    for key in CONFIG_FIELDS:
        if key == "Env":
            continue
        a, b = orig.config.get(key) or None, new.config.get(key) or None
        if a != b:
            failing.append(f"{key}: {a!r} -> {b!r}")
    env_a, env_b = _env(orig.config), _env(new.config)
    base_a, base_b = _env(orig_base or {}), _env(new_base or {})
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


def smoke_argv(smoke: str | None, config: dict) -> list[str] | None:
    """The smoke command: --smoke (a JSON array runs as is, else through /bin/sh), else the
    image's HEALTHCHECK test."""
    if smoke and smoke.lstrip().startswith("["):
        return list(json.loads(smoke))  # exec form, for images without a shell
    if smoke:
        return ["/bin/sh", "-c", smoke]
    test = ((config.get("Healthcheck") or {}).get("Test")) or []
    if test and test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", test[1]]
    if test and test[0] == "CMD":
        return list(test[1:])
    return None


def _base_of(text: str) -> str | None:
    try:
        df = parse(text)
    except Exception:
        return None
    image = df.stages[-1].from_.image
    if "$" in image or image == "scratch" or df.stage_named(image):
        return None
    return image


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
    compressed: bool = True,
    keep: bool = False,
) -> VerifyReport:
    """Build both images and check them. ``rewritten`` replaces dockerslim's own rewrite (tests
    use it to prove that a broken rewrite fails)."""
    text = dockerfile.read_bytes().decode("utf-8")
    context = context_dir or dockerfile.parent
    result: RewriteResult = rewrite(text, path=str(dockerfile), context_dir=context, options=options)
    new_text = rewritten if rewritten is not None else result.text
    report = VerifyReport(path=str(dockerfile), builder=builder.name, changed=new_text != text)
    if not report.changed:
        report.notes.append("the rewrite leaves this file unchanged: nothing to verify")
        return report
    tag = "dockerslim-verify-" + hashlib.sha256(f"{dockerfile.resolve()}".encode()).hexdigest()[:12]
    images = {"original": f"{tag}:original", "rewrite": f"{tag}:rewrite"}
    sides: dict[str, Side] = {}
    try:
        for label, source in (("original", text), ("rewrite", new_text)):
            try:
                outcome = builder.build(source, context, images[label], build_args=build_args, build_contexts=build_contexts)
            except BuilderError as exc:
                report.checks.append(Check(f"{label} builds", False, str(exc)))
                return report
            report.checks.append(Check(f"{label} builds", True, f"{outcome.seconds:.1f} s"))
            sides[label] = Side(image=images[label], build_seconds=outcome.seconds)
        facts = {k: builder.inspect(v.image, compressed=compressed) for k, v in sides.items()}
        for k, side in sides.items():
            side.size, side.compressed, side.layers = facts[k].size, facts[k].compressed, facts[k].layers
        report.original, report.rewrite = sides["original"], sides["rewrite"]

        bases = [_base_of(text), _base_of(new_text)]
        base_facts = []
        for b in bases:
            try:
                base_facts.append(builder.inspect(b).config if b else None)
            except BuilderError:
                base_facts.append(None)
        declared = {c for change in result.changes for c in change.config} if rewritten is None else set()
        failing, accepted = compare_config(facts["original"], facts["rewrite"], declared, *base_facts)
        report.config_diffs, report.accepted_diffs = failing, accepted
        report.checks.append(Check("image config kept", not failing, "; ".join(failing) or
                                   (f"{len(accepted)} accepted difference(s)" if accepted else "identical")))

        with builder.rootfs(images["original"]) as a, builder.rootfs(images["rewrite"]) as b:
            original_df = parse(text)
            replaced = {c.split(".", 1)[1] for c in declared if c.startswith("Python.")}
            moved_out = [c.split(".", 1)[1] for c in declared if c.startswith("Files.")]  # models-out
            app = [p for p in _app_paths(original_df) if not any(p == m or p.startswith(m + "/") for m in moved_out)]
            cmp = compare(walk(a), walk(b), app, _context_files(original_df, context), replaced)
        report.comparison = cmp
        report.checks.append(Check("app files kept", not cmp.app_problems,
                                   "; ".join(cmp.app_problems[:10]) + (" …" if len(cmp.app_problems) > 10 else "")))
        report.checks.append(Check("python packages kept", not cmp.dist_problems, "; ".join(cmp.dist_problems[:10])))

        argv = smoke_argv(smoke, facts["original"].config)
        if argv is None:
            report.notes.append("no smoke command (give --smoke CMD or a HEALTHCHECK): run not checked")
        else:
            for label, side in sides.items():
                side.smoke = builder.run(side.image, argv)
            ok = sides["original"].smoke.exit_code == 0 and sides["rewrite"].smoke.exit_code == 0  # type: ignore[union-attr]
            report.checks.append(Check("smoke command runs", ok,
                                       f"{shlex.join(argv)}: original exit {sides['original'].smoke.exit_code}, "  # type: ignore[union-attr]
                                       f"rewrite exit {sides['rewrite'].smoke.exit_code}"))  # type: ignore[union-attr]
        report.checks.append(Check("rewrite is smaller", sides["rewrite"].size < sides["original"].size,
                                   f"{_mb(sides['original'].size)} -> {_mb(sides['rewrite'].size)}"))
        return report
    finally:
        if not keep:
            for image in images.values():
                builder.remove(image)


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:.1f} MB"


def render(report: VerifyReport) -> str:
    """A compact human table."""
    lines = [f"{report.path} (builder: {report.builder})"]
    o, r = report.original, report.rewrite
    if o and r:
        lines.append(f"  {'':18}{'original':>14}{'rewrite':>14}")
        lines.append(f"  {'size':18}{_mb(o.size):>14}{_mb(r.size):>14}")
        lines.append(f"  {'compressed':18}{_mb(o.compressed):>14}{_mb(r.compressed):>14}")
        lines.append(f"  {'layers':18}{o.layers:>14}{r.layers:>14}")
        lines.append(f"  {'build time':18}{o.build_seconds:>13.1f}s{r.build_seconds:>13.1f}s")
        if o.smoke and r.smoke:
            lines.append(f"  {'smoke exit':18}{o.smoke.exit_code:>14}{r.smoke.exit_code:>14}")
    if report.comparison:
        for group, (files, size) in report.comparison.dropped.items():
            lines.append(f"  dropped {group}: {files} files, {_mb(size)}")
    for diff in report.accepted_diffs:
        lines.append(f"  accepted: {diff}")
    for check in report.checks:
        lines.append(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}" + (f": {check.detail}" if check.detail else ""))
    for note in report.notes:
        lines.append(f"  note: {note}")
    lines.append("  verified" if report.ok else "  NOT verified")
    return "\n".join(lines) + "\n"
