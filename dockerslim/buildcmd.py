"""``dockerslim build``: rewrite the Dockerfile on the fly and build the rewrite, so the simple
Dockerfile stays the file people edit and no slim copy has to be kept in step by hand.

The rewrite goes to the builder on stdin (``-f -``); the build context, tags, build args and
contexts, platform, target and push are the user's, passed through. The builder's output is
not captured (a build is watched live), and its exit code is the command's.

What the rewrite saved can only be measured against an image of the original. Building one
would double the cost of every build, so this says only what it can measure honestly: the
size of the image it built and, when a tag named an earlier image, that image's size and the
difference (``dockerslim verify`` builds both and compares them properly).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .builders import Buildah, Builder, BuilderError, Buildx, ImageFacts, build_flags
from .errors import DockerslimError
from .files import read_text
from .ir import Dockerfile
from .options import Options
from .parse import parse
from .report import megabytes
from .rewrite import RewriteResult, rewrite


class BuildUsageError(DockerslimError):
    """The build request cannot be carried out as asked (the CLI exits 2)."""


@dataclass(frozen=True)
class BuildRequest:
    """What the user asked ``dockerslim build`` for, in the builder's own terms."""

    dockerfile: Path
    context: Path
    tags: tuple[str, ...] = ()
    build_args: tuple[tuple[str, str], ...] = ()  # in the order given
    build_contexts: tuple[tuple[str, str], ...] = ()
    platform: str | None = None
    target: str | None = None
    push: bool = False
    options: Options = field(default_factory=Options)


@dataclass(frozen=True)
class BuildSummary:
    exit_code: int
    image: str | None = None  # the first tag, else the image ID
    size: int | None = None
    previous_size: int | None = None  # the image the first tag named before this build
    previous_same: bool = False  # the build produced exactly the earlier image's layers
    rewrite: RewriteResult | None = None

    def saving_line(self) -> str:
        """What was measured, in one or two honest sentences."""
        if self.exit_code != 0 or self.size is None:
            return ""
        line = f"built {self.image} from the rewrite: {megabytes(self.size)}"
        if self.rewrite is not None and not self.rewrite.changed:
            line += " (dockerslim left this Dockerfile unchanged)"
        if self.previous_size is None:
            return line + (". No earlier image under this tag to compare with; `dockerslim verify` builds the "
                           "original and the rewrite and compares them.")
        if self.previous_same:
            return line + ", the same layers as the image this tag named before."
        diff = self.previous_size - self.size
        pct = diff / self.previous_size * 100 if self.previous_size else 0.0
        what = "smaller" if diff >= 0 else "larger"
        return (line + f". The image this tag named before was {megabytes(self.previous_size)}: "
                f"{megabytes(abs(diff))} {what} ({abs(pct):.1f}%).")


def resolve_target(original: Dockerfile, rewritten: Dockerfile, target: str | None) -> str | None:
    """The ``--target`` to give the builder for the rewrite.

    The user names a stage of their Dockerfile. Its final stage is what the rewrite replaces
    (split into builder and runtime), so that target means the rewrite's final stage: no
    ``--target``. Any other stage must still exist, under the same name, in the rewrite."""
    if target is None:
        return None
    stage = original.stage_named(target)
    if stage is None:
        names = ", ".join(s.name for s in original.stages if s.name) or "none"
        raise BuildUsageError(f"--target {target}: no stage of that name in the Dockerfile (named stages: {names})")
    if stage is original.stages[-1]:
        final = rewritten.stages[-1]
        return target if final.name and final.name.lower() == target.lower() else None
    if rewritten.stage_named(target) is None:
        raise BuildUsageError(f"--target {target}: the rewrite has no stage of that name; "
                              "build the original for that stage, or skip the pass that renamed it")
    return target


def buildah_argv(builder: Buildah, request: BuildRequest, target: str | None, iidfile: str) -> list[str]:
    """``buildah bud`` reading the Dockerfile from stdin, with the user's flags."""
    return [*builder.bud_argv("-"), "--iidfile", iidfile, *_common_flags(request, target), str(request.context)]


def buildah_push_argv(tag: str) -> list[str]:
    """Push one tag to the registry its name points at."""
    return ["buildah", "push", tag, f"docker://{tag}"]


def buildx_argv(builder: Buildx, request: BuildRequest, target: str | None, iidfile: str) -> list[str]:
    """``docker buildx build -f -`` with the user's flags; ``--push`` or ``--load``."""
    return [*builder.buildx_argv(), "-f", "-", "--iidfile", iidfile, *_common_flags(request, target),
            "--push" if request.push else "--load", str(request.context)]


def _common_flags(request: BuildRequest, target: str | None) -> list[str]:
    """The user's build flags, in the order given, as the builders spell them (``build_flags``)."""
    return build_flags(request.tags, dict(request.build_args), dict(request.build_contexts), target,
                       request.platform)


def _facts(builder: Builder, image: str) -> ImageFacts | None:
    try:
        return builder.inspect(image)
    except BuilderError:
        return None


def build(
    request: BuildRequest,
    builder: Builder,
    *,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    say: Callable[[str], None] | None = None,
) -> BuildSummary:
    """Rewrite ``request.dockerfile`` and build the rewrite; the summary carries the builder's
    exit code. ``stdout``/``stderr`` receive the builder's output (default: this process's);
    ``say`` receives dockerslim's own lines (default: stderr)."""
    say = say or (lambda line: print(f"dockerslim: {line}", file=sys.stderr, flush=True))
    text = read_text(str(request.dockerfile))
    result = rewrite(text, path=str(request.dockerfile), context_dir=request.context, options=request.options)
    target = resolve_target(parse(text, str(request.dockerfile)), parse(result.text), request.target)
    previous = _facts(builder, request.tags[0]) if request.tags else None  # before the tag moves
    with tempfile.TemporaryDirectory(prefix="dockerslim-build-") as tmp:
        iidfile = str(Path(tmp) / "iid")
        if isinstance(builder, Buildah):
            argv, env = buildah_argv(builder, request, target, iidfile), builder.env
        elif isinstance(builder, Buildx):
            argv, env = buildx_argv(builder, request, target, iidfile), builder.env
        else:
            raise BuilderError(f"dockerslim build runs buildah or docker buildx, not {builder.name}")
        say(f"building the rewrite of {request.dockerfile} "
            f"({len(result.changes)} change(s); layers in the final stage "
            f"{result.layers_before} -> {result.layers_after})")
        try:
            proc = subprocess.run(argv, input=result.text.encode("utf-8"), env=env, stdout=stdout, stderr=stderr)
        except FileNotFoundError:
            raise BuilderError(f"{argv[0]} is not installed") from None
        if proc.returncode != 0:
            return BuildSummary(exit_code=proc.returncode, rewrite=result)
        image_id = Path(iidfile).read_text().strip() if Path(iidfile).is_file() else ""
    if request.push and isinstance(builder, Buildah):
        for tag in request.tags:
            say(f"pushing {tag}")
            pushed = subprocess.run(buildah_push_argv(tag), env=builder.env, stdout=stdout, stderr=stderr)
            if pushed.returncode != 0:
                return BuildSummary(exit_code=pushed.returncode, image=tag, rewrite=result)
    image = request.tags[0] if request.tags else image_id
    facts = _facts(builder, image_id or image) if image and (isinstance(builder, Buildah) or not request.push) else None
    summary = BuildSummary(
        exit_code=0, image=image, size=facts.size if facts else None,
        previous_size=previous.size if previous and facts else None,
        previous_same=bool(previous and facts and previous.diff_ids and previous.diff_ids == facts.diff_ids),
        rewrite=result,
    )
    line = summary.saving_line()
    if line:
        say(line)
    elif request.push and not isinstance(builder, Buildah):
        say("pushed; the image was not loaded locally, so its size is not measured here")
    return summary
