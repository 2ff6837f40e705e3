"""The ``dockerslim`` command: a thin layer over the library API.

Exit codes as in black/ruff: 0 ok, 1 ``--check`` found files to rewrite, 2 usage or input
error. Results go to stdout, messages to stderr; a user never sees a traceback (set
DOCKERSLIM_DEBUG=1 to get one for a bug report).
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from . import __version__
from .errors import DockerslimError
from .files import expand_paths, read_text, write_atomic
from .options import Options
from .report import as_dict, colour_diff, explain, to_json
from .rewrite import rewrite as rewrite_text

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Rewrite bloated single-stage Dockerfiles into smaller multi-stage ones.",
)


class Format(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"


def _error(message: str) -> None:
    typer.echo(f"dockerslim: error: {message}", err=True)


def _options(path: str, overrides: dict) -> Options:
    """Configuration nearest to ``path`` (or the working directory), then the flags."""
    from pathlib import Path

    from .settings import find_config, merge, options_from

    found = find_config(Path(path if path != "-" else ".").absolute())
    base = options_from(found[1], found[0]) if found else Options()
    return merge(base, **overrides)


def _usage(message: str) -> None:
    _error(message)
    raise typer.Exit(2)


def _use_colour(choice: Optional[bool]) -> bool:
    if choice is not None:
        return choice
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dockerslim {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """dockerslim: smaller images from the Dockerfiles you already have."""


@app.command()
def rewrite(
    paths: Annotated[list[str], typer.Argument(help="Dockerfiles or folders to search ('-' for stdin).")],
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="Write the rewrite to FILE.")] = None,
    in_place: Annotated[bool, typer.Option("--in-place", "-i", help="Rewrite the files in place.")] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Show a unified diff instead of the file (dry run).")] = False,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if any file would change (writes nothing).")] = False,
    explain_: Annotated[bool, typer.Option("--explain", help="Explain every change (on stderr).")] = False,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    context: Annotated[Optional[str], typer.Option("--context", help="Build context folder (default: the Dockerfile's folder).")] = None,
    only: Annotated[Optional[list[str]], typer.Option("--only", help="Run only this pass (name or id); repeatable.")] = None,
    skip: Annotated[Optional[list[str]], typer.Option("--skip", help="Skip this pass (name or id); repeatable.")] = None,
    no_assembly: Annotated[bool, typer.Option("--no-assembly", help="Copy artifacts from the builder directly.")] = False,
    keep_base: Annotated[bool, typer.Option("--keep-base", help="Never swap the base image.")] = False,
    runtime_base: Annotated[Optional[str], typer.Option("--runtime-base", help="Use IMAGE as the runtime base.")] = None,
    keep_recommends: Annotated[bool, typer.Option("--keep-recommends", help="Do not add apt --no-install-recommends.")] = False,
    pin_digest: Annotated[bool, typer.Option("--pin-digest", help="Pin tool images by digest (from the catalog).")] = False,
    models_context: Annotated[Optional[str], typer.Option("--models-context", help="Copy model configs from this build context; weights stay out.")] = None,
    color: Annotated[Optional[bool], typer.Option("--color/--no-color", help="Colour the diff (default: on a terminal).")] = None,
) -> None:
    """Rewrite Dockerfiles and print, write, diff or check the result.

    Settings come from .dockerslim.toml or [tool.dockerslim] in pyproject.toml (nearest to
    each Dockerfile); flags override them."""
    if in_place and output:
        _usage("--in-place and --output cannot be combined")
    try:
        files = expand_paths(paths)
    except DockerslimError as exc:
        _error(str(exc))
        raise typer.Exit(2)
    if output and len(files) != 1:
        _usage("--output takes exactly one input file")
    if in_place and "-" in files:
        _usage("--in-place cannot rewrite stdin")
    overrides = dict(
        only=frozenset(only) if only else None, skip=frozenset(skip) if skip else None,
        assembly=False if no_assembly else None, keep_base=True if keep_base else None,
        runtime_base=runtime_base, no_install_recommends=False if keep_recommends else None,
        models_context=models_context, pin_digest=True if pin_digest else None,
    )
    if only and not skip:
        overrides["skip"] = frozenset()  # --only on the command line wins over a configured skip
    from . import passes

    known = {m.ID for m in passes.all_passes()} | {m.NAME for m in passes.all_passes()}
    for name in list(only or ()) + list(skip or ()):
        if name not in known:
            _usage(f"unknown pass {name!r}; passes: " + ", ".join(f"{m.ID} {m.NAME}" for m in passes.all_passes()))
    failed = would_change = False
    entries: list[dict] = []
    sarif_results: list = []
    for path in files:
        label = "<stdin>" if path == "-" else path
        try:
            text = read_text(path)
            ctx = context or (os.path.dirname(os.path.abspath(path)) if path != "-" else None)
            options = _options(path, overrides)
            result = rewrite_text(text, path=label, context_dir=ctx, options=options)
            if check or diff or fmt is not Format.text:
                pass
            elif in_place:
                if result.changed:
                    write_atomic(path, result.text)
                    typer.echo(f"rewrote {label}", err=True)
            elif output:
                write_atomic(output, result.text)
            else:
                if len(files) > 1:
                    typer.echo(f"==> {label} <==")
                sys.stdout.write(result.text)
        except DockerslimError as exc:
            _error(str(exc))
            failed = True
            continue
        except OSError as exc:
            _error(f"{label}: {exc.strerror or exc}")
            failed = True
            continue
        would_change |= result.changed
        if fmt is Format.json:
            entries.append(as_dict(label, result))
            continue
        if fmt is Format.sarif:
            sarif_results.append((label, result))
            continue
        if diff and result.diff:
            sys.stdout.write(colour_diff(result.diff) if _use_colour(color) else result.diff)
        if check and result.changed:
            typer.echo(f"would rewrite {label}", err=True)
        if explain_:
            typer.echo(explain(label, result), err=True, nl=False)
    if fmt is Format.json:
        sys.stdout.write(to_json(entries))
    if fmt is Format.sarif:
        from .sarif import to_sarif

        sys.stdout.write(to_sarif(sarif_results))
    if failed:
        raise typer.Exit(2)
    if check and would_change:
        raise typer.Exit(1)


def _pairs(values: Optional[list[str]], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values or []:
        key, eq, val = value.partition("=")
        if not eq or not key:
            _usage(f"{flag} takes KEY=VALUE, got {value!r}")
        out[key] = val
    return out


@app.command()
def verify(
    path: Annotated[str, typer.Argument(help="The Dockerfile to rewrite and verify.")] = "Dockerfile",
    context: Annotated[Optional[str], typer.Option("--context", help="Build context (default: the Dockerfile's folder).")] = None,
    smoke: Annotated[Optional[str], typer.Option("--smoke", help="Command run in both images (default: the HEALTHCHECK).")] = None,
    builder: Annotated[str, typer.Option("--builder", help="auto, buildah or buildx.")] = "auto",
    pull: Annotated[str, typer.Option("--pull", help="buildah pull policy: missing, never or always.")] = "missing",
    network: Annotated[Optional[str], typer.Option("--network", help="buildx: network for RUN steps (e.g. host).")] = None,
    build_arg: Annotated[Optional[list[str]], typer.Option("--build-arg", help="KEY=VALUE, repeatable.")] = None,
    build_context: Annotated[Optional[list[str]], typer.Option("--build-context", help="NAME=PATH, repeatable.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the built images.")] = False,
    compressed: Annotated[bool, typer.Option("--compressed/--no-compressed", help="Measure gzip-compressed layer sizes.")] = True,
    no_assembly: Annotated[bool, typer.Option("--no-assembly", help="Copy artifacts from the builder directly.")] = False,
    keep_base: Annotated[bool, typer.Option("--keep-base", help="Never swap the base image.")] = False,
) -> None:
    """Build the original and the rewrite; check config, files, smoke run and size (exit 0 only if all hold)."""
    import json as _json
    from pathlib import Path

    from .builders import detect
    from .verify import render, verify as run_verify

    args, contexts = _pairs(build_arg, "--build-arg"), _pairs(build_context, "--build-context")
    try:
        chosen = detect(builder, **({"pull": pull} if builder in ("auto", "buildah") else
                                    {"network": network} if network else {}))
        report = run_verify(Path(path), builder=chosen, context_dir=Path(context) if context else None, smoke=smoke,
                            build_args=args, build_contexts=contexts, keep=keep, compressed=compressed,
                            options=Options(assembly=not no_assembly, keep_base=keep_base))
    except DockerslimError as exc:
        _error(str(exc))
        raise typer.Exit(2)
    except OSError as exc:
        _error(f"{path}: {exc.strerror or exc}")
        raise typer.Exit(2)
    if fmt is Format.json:
        sys.stdout.write(_json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    else:
        sys.stdout.write(render(report))
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def dockerignore(
    context: Annotated[str, typer.Argument(help="The build context folder.")] = ".",
    dockerfile: Annotated[Optional[str], typer.Option("--dockerfile", "-f", help="Dockerfile (default: CONTEXT/Dockerfile).")] = None,
    write: Annotated[bool, typer.Option("--write", help="Write the proposed .dockerignore.")] = False,
    color: Annotated[Optional[bool], typer.Option("--color/--no-color", help="Colour the diff (default: on a terminal).")] = None,
) -> None:
    """Propose (or extend) .dockerignore from what the context holds; never ignores a path a COPY/ADD needs."""
    from pathlib import Path

    from .dockerignore import propose, proposed_text
    from .parse import parse_file
    from .rewrite import unified_diff

    ctx = Path(context)
    if not ctx.is_dir():
        _usage(f"{context}: not a folder")
    df_path = Path(dockerfile) if dockerfile else ctx / "Dockerfile"
    try:
        df = parse_file(df_path) if df_path.exists() else None
    except DockerslimError as exc:
        _error(str(exc))
        raise typer.Exit(2)
    before, after = proposed_text(ctx, df)
    for pattern, why, size in propose(ctx, df):
        typer.echo(f"{pattern}: {why} ({size / 1e6:.1f} MB)", err=True)
    if before == after:
        typer.echo(".dockerignore: nothing to add", err=True)
        return
    diff = unified_diff(before, after, str(ctx / ".dockerignore"))
    sys.stdout.write(colour_diff(diff) if _use_colour(color) else diff)
    if write:
        write_atomic(str(ctx / ".dockerignore"), after)
        typer.echo(f"wrote {ctx / '.dockerignore'}", err=True)
    typer.echo("note: .dockerignore filters the build context only; it does not apply to COPY --from", err=True)


def main() -> None:
    """Console entry point: typer handles usage errors (exit 2); no traceback reaches a user."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if os.environ.get("DOCKERSLIM_DEBUG"):
            raise
        typer.echo(f"dockerslim: internal error: {type(exc).__name__}: {exc} "
                   "(set DOCKERSLIM_DEBUG=1 for details)", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
