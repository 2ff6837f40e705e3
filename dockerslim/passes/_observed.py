"""What split-stages learns from one real build of the original (``rewrite --observe``).

Static reading declines a build step whose outputs it cannot locate (``make install`` without
a prefix, ``cmake -DCMAKE_INSTALL_PREFIX=…``, a build hidden in ``./scripts/build.sh`` or
``python build.py``). The observation lists what each step's layer really wrote, so:

- such a step becomes builder-only, and the runtime receives the folders it wrote, minus build
  leftovers (object files, CMake/Ninja state, caches: ``data/observed_split.toml``);
- a context copy that a build step compiled in (objects were written below it) and that nothing
  in the final config names is a source tree: it stays in the builder;
- every artifact path is thinned where the build left objects below it;
- a step that wrote only into caches, or nothing, is build-only with no artifacts.

Left alone (the static reading stands): steps that created accounts, wrote ``/etc`` or a
package database, or deleted files the stage did not make — copying files cannot replay those.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import ir
from ..catalog import load
from ..classify import TOO_BROAD, Kind, StepInfo, category

if TYPE_CHECKING:
    from ..observe.record import FileChange, Observation

CONVERTIBLE = {Kind.UNKNOWN, Kind.BUILD}
REFINED = {Kind.CONTEXT_COPY, Kind.IMAGE_COPY, Kind.PYTHON_DEPS, Kind.BUILD, Kind.MIXED}


def _ancestors(path: str) -> list[str]:
    """``/a/b/c`` → ``["/a", "/a/b"]`` (shallowest first, the path itself left out)."""
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def mb(n: int) -> str:
    """Sizes as the messages print them (kB below 1 MB)."""
    if n < 1000:
        return f"{n} B"
    return f"{n / 1e6:.1f} MB" if n >= 1_000_000 else f"{n / 1e3:.1f} kB"


@dataclass
class StepOutcome:
    """What the observation decided for one step, with the sizes a Change reports."""

    line: int
    text: str  # the step's command, shortened, for messages
    converted: bool  # static reading could not locate its outputs (or read it as unknown work)
    roots: list[str] = field(default_factory=list)  # artifact paths the runtime receives
    kept: list[tuple[str, int]] = field(default_factory=list)  # (root, bytes written there by this step)
    left: list[tuple[str, int]] = field(default_factory=list)  # (folder, bytes) left in the builder

    @property
    def moved(self) -> list[str]:
        """Paths the rewrite leaves out of the final image on purpose (verify's ``Files.``)."""
        return [p for p, _ in self.left]

    def message(self) -> str:
        kept = "; ".join(f"{p}: {mb(n)} from line {self.line}" for p, n in self.kept) or "nothing the runtime needs"
        left = "; ".join(f"{p}: {mb(n)} left behind" for p, n in self.left)
        return kept + (f"; {left}" if left else "")


class ObservedBuild:
    """The observation of one stage, indexed for the split's questions."""

    def __init__(self, observation: Observation, steps: list[StepInfo], final: list[str], cwd: str = "/",
                 commands: list[str] | None = None) -> None:
        cfg = load("observed_split")
        self.obs = observation
        self.steps = steps
        self.patterns: list[str] = list(cfg["intermediates"]["patterns"])
        self.keep_whole: list[str] = list(cfg["intermediates"]["keep_whole"])
        self.markers: set[str] = set(cfg["intermediates"]["tree_markers"])
        self.thin_min: int = int(cfg["intermediates"]["thin_min_bytes"])
        self.max_roots: int = int(cfg["intermediates"]["max_roots"])
        self.not_carried: tuple[str, ...] = tuple(cfg["not_carried"]["prefixes"])
        from ..observe.record import is_cache_path

        self._is_cache = is_cache_path
        self.written: dict[str, tuple[int, FileChange]] = {}  # path -> (line, change), last writer wins
        self.added_dirs: dict[str, int] = {}  # folder -> line of the step that made it
        for step in steps:
            line = step.node.line or 0
            if line not in observation.steps:
                continue
            for change in observation.step_outputs(line):
                self.written[change.path] = (line, change)
                if change.kind == "d" and change.op == "added":
                    self.added_dirs.setdefault(change.path, line)
            for gone in observation.deleted_paths(line):
                for path in [p for p in self.written if _under(p, gone)]:
                    del self.written[path]
        self.dropped = {p for p, (_, c) in self.written.items() if c.kind != "d" and self.leftover(p)}
        self.trees = self._build_trees(final, cwd, commands or [])
        for path in list(self.written):
            if any(_under(path, t) for t in self.trees) and self.written[path][1].kind != "d":
                self.dropped.add(path)
        self.dropped_dirs = {a for p in self.dropped for a in _ancestors(p)}

    # -- facts ---------------------------------------------------------------------------
    def observed(self, step: StepInfo) -> bool:
        return (step.node.line or 0) in self.obs.steps and bool(self.obs.step(step.node.line or 0).instruction)

    def leftover(self, path: str) -> bool:
        """A cache or build intermediate nothing at run time reads."""
        if any(fnmatch.fnmatchcase(path, p) for p in self.keep_whole):
            return self._is_cache(path)
        return self._is_cache(path) or self.intermediate(path)

    def intermediate(self, path: str) -> bool:
        """An object file or build-system state (not a cache)."""
        if any(fnmatch.fnmatchcase(path, p) for p in self.keep_whole):
            return False
        for pattern in self.patterns:
            if pattern.endswith("/"):
                if f"/{pattern}" in path + "/":
                    return True
            elif fnmatch.fnmatchcase(path, pattern):
                return True
        return False

    def _build_trees(self, final: list[str], cwd: str, commands: list[str]) -> set[str]:
        """Context-copy destinations a RUN compiled in (leftovers were written below them) that
        the final config (``final``: its words) does not name, nor the command it runs by a path
        relative to the final WORKDIR ``cwd`` (``python app.py``): source trees nothing reads."""
        named = " ".join(final)
        relative = {posixpath.normpath(posixpath.join(cwd, w)) for w in commands if w and not w.startswith(("/", "-"))}
        trees: set[str] = set()

        def unread(folder: str) -> bool:
            return not _names(named, folder) and not any(_under(r, folder) and r in self.written for r in relative)

        # compiling steps: build or unknown work that wrote intermediates or runs a compiler (a pip
        # install reads its tree and an editable one points into it, so it never makes a source tree)
        builds = [s for s in self.steps if isinstance(s.node, ir.Run) and s.kind in CONVERTIBLE and (
            any(category(c) == "build" for c in s.commands) or any(
                self.intermediate(p) and ln == s.node.line and c.kind != "d" for p, (ln, c) in self.written.items()))]
        for step in self.steps:
            if step.kind != Kind.CONTEXT_COPY:
                continue
            for dest in step.artifacts:
                compiled = any(_under(b.cwd, dest) or _names(_script(b.node), dest) or any(
                    _under(p, dest) and ln == b.node.line and self.intermediate(p)
                    for p, (ln, _) in self.written.items())
                    for b in builds if (b.node.line or 0) > (step.node.line or 0))
                if compiled and unread(dest):
                    trees.add(dest)
        for path in self.written:
            folder = posixpath.dirname(path)
            if posixpath.basename(path) in self.markers and folder in self.added_dirs and unread(folder):
                trees.add(folder)
        return trees

    def blocker(self, step: StepInfo) -> str | None:
        """Why the step's outputs cannot be carried over as files, or None."""
        line = step.node.line or 0
        scattered = len(self.roots(self.products(line), line=line))
        if scattered > self.max_roots:
            return f"its files lie in {scattered} places, more than {self.max_roots} COPY lines"
        if any(self.obs.created_accounts(line).values()):
            return "it created users or groups"
        for change in self.obs.step_outputs(line):
            if change.kind != "d" and change.path.startswith(self.not_carried) and not self._is_cache(change.path):
                return f"it wrote {change.path} (system configuration or a package database)"
        for gone in self.obs.deleted_paths(line):
            if not self._is_cache(gone) and not self._made_earlier(gone, line):
                return f"it deleted {gone}, which the stage did not make"
        return None

    def _made_earlier(self, path: str, line: int) -> bool:
        """Did an earlier step of the stage add ``path`` (or the folder holding it)?"""
        for step in self.steps:
            earlier = step.node.line
            if earlier is None or earlier >= line or earlier not in self.obs.steps:
                continue
            if any(c.op == "added" and (_under(path, c.path) or _under(c.path, path))
                   for c in self.obs.step_outputs(earlier)):
                return True
        return False

    # -- decisions -----------------------------------------------------------------------
    def roots(self, paths: Iterable[str], floor: str | None = None, line: int | None = None) -> list[str]:
        """The fewest paths that cover ``paths`` without taking a leftover along: the
        shallowest folder the step at ``line`` (else the stage) made with no leftover below it
        (never one of NEVER_WHOLE), else the file itself. ``floor``: do not go above this folder."""
        if line is not None:
            first = self.roots(paths, floor)
            return sorted({self._own_root(r, line, paths) for r in first})
        out: list[str] = []
        for path in sorted(paths):
            if any(_under(path, r) for r in out):
                continue
            root = path
            for anc in _ancestors(path):
                if floor is not None and not _under(anc, floor):
                    continue
                if anc in self.added_dirs and anc not in self.dropped_dirs and anc not in NEVER_WHOLE:
                    root = anc
                    break
            out = [r for r in out if not _under(r, root)] + [root]
        return sorted(out)

    def _own_root(self, root: str, line: int, paths: Iterable[str]) -> str:
        """Inside a shared ``root``, the folder the step itself made, when all its products lie there."""
        mine = [p for p in paths if _under(p, root)]
        for folder, made in sorted(self.added_dirs.items()):
            if made == line and _under(folder, root) and mine and all(_under(p, folder) for p in mine) \
                    and folder not in self.dropped_dirs:
                return folder
        return root

    def products(self, line: int, under: str | None = None) -> list[str]:
        """What the step at ``line`` wrote that the runtime may need: files and links that are
        not leftovers, and folders it made that hold nothing else (``mkdir -p /data``)."""
        outs = [c for c in self.obs.step_outputs(line) if under is None or _under(c.path, under)]
        files = [c.path for c in outs if c.kind != "d" and c.path not in self.dropped]
        leaves = [c.path for c in outs if c.kind == "d" and c.op == "added" and not self.leftover(c.path + "/")
                  and not any(_under(p, c.path) and p != c.path for p in self.written)
                  and not any(_under(c.path, t) for t in self.trees)]
        return [p for p in files + leaves if self.written.get(p, (None,))[0] == line]

    def bytes_under(self, folder: str, line: int | None = None) -> int:
        return sum(c.size for p, (ln, c) in self.written.items()
                   if c.kind != "d" and _under(p, folder) and (line is None or ln == line))

    def left_behind(self, line: int | None = None, under: str | None = None) -> list[tuple[str, int]]:
        """Leftovers the step at ``line`` wrote (or that lie below ``under``), grouped by the
        shallowest folder holding no product."""
        groups: dict[str, int] = {}
        kept = {a for p, (_, c) in self.written.items() if p not in self.dropped and c.kind != "d"
                for a in [*_ancestors(p), p]}
        for path, (ln, change) in self.written.items():
            if (line is not None and ln != line) or (under is not None and not _under(path, under)) \
                    or path not in self.dropped or change.kind == "d":
                continue
            key = next((a for a in _ancestors(path) if a not in kept and a not in NEVER_WHOLE
                        and (under is None or _under(a, under))), path)
            groups[key] = groups.get(key, 0) + change.size
        return sorted(groups.items(), key=lambda kv: -kv[1])

    def convert(self, step: StepInfo) -> StepOutcome | None:
        """Make a step whose outputs static reading could not locate builder-only, with the
        observed outputs as its artifacts; None when the observation cannot help."""
        line = step.node.line or 0
        if not isinstance(step.node, ir.Run) or step.kind not in CONVERTIBLE or not self.observed(step):
            return None
        static_ok = step.kind == Kind.BUILD and not step.unaccounted and not any(
            a in NEVER_WHOLE for a in step.artifacts)
        if static_ok or self.blocker(step):
            return None
        roots = self.roots(self.products(line), line=line)
        if len(roots) > self.max_roots:
            return None
        step.kind = Kind.BUILD
        step.artifacts = roots
        step.unaccounted = None
        step.reason = "observed"
        return StepOutcome(line, _short(step.node), True, roots, [(r, self.bytes_under(r, line)) for r in roots],
                           self.left_behind(line))

    def refine(self, step: StepInfo) -> StepOutcome | None:
        """Thin the static artifacts of an artifact step: drop source trees nothing reads and
        take folders apart where leftovers lie below them; None when nothing changes."""
        if step.kind not in REFINED or not step.artifacts or not self.observed(step):
            return None
        new: list[str] = []
        left: list[tuple[str, int]] = []
        for path in step.artifacts:
            if any(_under(path, t) for t in self.trees):
                left.append((path, self.bytes_under(path)))
                continue
            waste = sum(self.written[p][1].size for p in self.dropped if _under(p, path)) \
                if path in self.dropped_dirs else 0
            if waste >= self.thin_min:
                left += self.left_behind(under=path)
                inside = [p for p in self.written if _under(p, path) and p != path and p not in self.dropped
                          and self.written[p][1].kind != "d"]
                new += self.roots(inside, floor=path)
            else:
                new.append(path)
        new = sorted(dict.fromkeys(new))
        if new == sorted(dict.fromkeys(step.artifacts)):
            return None
        line = step.node.line or 0
        step.artifacts = new
        return StepOutcome(line, _short(step.node), False, new, [(r, self.bytes_under(r)) for r in new], left)


# Folders never carried whole: those too broad for a static artifact, and the other shared
# system folders an observed step may write into.
NEVER_WHOLE = TOO_BROAD | {"/usr/local/bin", "/usr/local/share", "/usr/local/include", "/usr/share", "/usr/include",
                           "/srv", "/var/lib", "/usr/lib64", "/lib64", "/usr/sbin", "/usr/local/sbin"}


def config_words(stage: ir.Stage) -> list[str]:
    """The words of the config the image runs with (CMD, ENTRYPOINT, ENV, HEALTHCHECK): what
    names a folder the app reads."""
    out: list[str] = []
    for node in stage.body:
        if isinstance(node, (ir.Cmd, ir.Entrypoint)) and node.command:
            out += list(node.command) if isinstance(node.command, tuple) else node.command.split()
        elif isinstance(node, ir.Env):
            out += [v for _, v in node.pairs]
        elif isinstance(node, ir.Healthcheck) and getattr(node, "command", None):
            out.append(str(node.command))
    return out


def _names(text: str, folder: str) -> bool:
    """Does the config text name ``folder`` or a path below it?"""
    folder = folder.rstrip("/")
    at = text.find(folder)
    while at != -1:
        end = at + len(folder)
        if end == len(text) or text[end] in "/ :\"'\n;":
            return True
        at = text.find(folder, at + 1)
    return False


def _script(node: ir.Instruction) -> str:
    return node.command if isinstance(node, ir.Run) and isinstance(node.command, str) else ""


def _short(node: ir.Instruction) -> str:
    text = node.command if isinstance(node, ir.Run) and isinstance(node.command, str) else node.keyword
    text = " ".join(str(text).split())
    return text if len(text) <= 60 else text[:57] + "..."


def installed_packages(observation: Observation, line: int) -> set[str]:
    """Debian packages the step installed: the dpkg ``info/<pkg>.list`` files its layer added."""
    out: set[str] = set()
    for change in observation.step_outputs(line):
        if change.path.startswith("/var/lib/dpkg/info/") and change.path.endswith(".list"):
            out.add(posixpath.basename(change.path)[: -len(".list")].split(":", 1)[0])
    return out



def command_words(stage: ir.Stage) -> list[str]:
    """The words of the last CMD and ENTRYPOINT (what the image runs)."""
    out: list[str] = []
    for kind in (ir.Entrypoint, ir.Cmd):
        node = next((n for n in reversed(stage.body) if isinstance(n, kind) and n.command), None)
        if node is not None:
            out += list(node.command) if isinstance(node.command, tuple) else str(node.command).split()
    return out


def unloadable(df: ir.Dockerfile, stage: ir.Stage, artifacts: list[str], observation: Observation) -> str | None:
    """Why the runtime stage could not load a carried ELF file, or None: a DT_NEEDED soname that
    neither the carried files, the stage's own base image, nor a package of the build provides
    (``observe/runtime.py`` resolves it as ld.so would). Such a split must not be emitted."""
    from ..image import ImageRef
    from ..observe import runtime as rt
    from ..variables import resolved_image

    ref = ImageRef.try_parse(resolved_image(df, stage))
    base = rt.base_files(observation, ref) if ref is not None else None
    if base is None:
        return None  # the base's files were not recorded: the runtime-base decision checks what it can
    files = {p: c for p, c in rt.written_files(observation).items() if any(_under(p, a) for a in artifacts)}
    libs = rt.resolve_libraries(rt.Image(base, files), observation.lib_owners, set(), rt.stage_env(stage))
    if not libs.unresolved:
        return None
    file, soname = libs.unresolved[0]
    return (f"{file} needs {soname}, which neither the files the runtime stage receives, {ref}, nor a package of "
            "the build provides (observed build): the runtime stage could not load it")
