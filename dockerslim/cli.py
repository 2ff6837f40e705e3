"""The ``dockerslim`` command: a thin layer over the library API.

Exit codes as in black/ruff: 0 ok, 1 ``--check`` found files to rewrite (or an ``-o`` file
that is not up to date), 2 usage, configuration or input error. Results go to stdout (as UTF-8
bytes, whatever the locale), messages to stderr; a user never sees a traceback (set
DOCKERSLIM_DEBUG=1 to get one for a bug report).

Adding a command: decorate a function with ``@app.command(cls=TidyCommand)`` (a test checks
every command's help); reuse the ``Annotated`` option aliases below (``ContextDir``, ``Quiet``,
``Verbose``, ``Colour``, ``BuilderOpt`` …) so every command spells a setting the same way; a
command that rewrites takes ``road: SettingsRoad`` and ``@with_settings`` (the options that change
the rewrite, ``--config``, ``--isolated``) and turns it into settings with
``_options_for(path, road)`` (the one road: ``settings.options_for``); raise ``UsageError`` or
``DockerslimError`` inside ``_errors_exit_2()`` for a one-line message and exit 2. A new write
mode belongs in ``WriteBack``/``plan_write_back``.
"""

from __future__ import annotations

import functools
import inspect
import os
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperArgument, TyperCommand

from . import __version__
from .errors import DockerslimError, InputError
from .files import STDIN, expand_paths, read_bytes, read_text, write_text
from .options import Options
from .report import as_dict, colour_diff, explain, megabytes, observation_line, to_json
from .rewrite import RewriteResult, unified_diff
from .rewrite import rewrite as rewrite_text
from .settings import validated

if TYPE_CHECKING:
    from .builders import Builder
    from .fleet import FileOutcome
    from .generated import Rewriter
    from .observe.record import Observation
    from .prove import ProvenRewrite
    from .verify import VerifyReport


class TidyCommand(TyperCommand):
    """Help without typer's ``<str>``/``<bool>``/``<list[str]>`` column: a metavar (FILE, IMAGE)
    says what a value is, choices are listed, flags show nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tidy()

    def _tidy(self) -> None:
        """Override typer's display methods on each parameter instance (typer has no option for it)."""
        for param in self.params:
            shown = param.metavar
            desc = getattr(param, "type_descriptor", None)
            if shown is None and desc is not None and desc.is_choice:
                shown = "[" + "|".join(str(getattr(c, "value", c)) for c in desc.choices or ()) + "]"
            if isinstance(param, TyperArgument):
                shown = None  # the name column already says it
                suffix = "..." if param.nargs != 1 else ""
                usage = f"{param.metavar or (param.name or '').upper()}{suffix}"
                vars(param).update(_usage_display_name=_constant(usage if param.required else f"[{usage}]"),
                                   _rich_display_name=_constant(usage))
            vars(param)["display_type_rich"] = lambda ctx, shown=shown: shown


def _constant(value: str) -> Any:
    return lambda: value


app = typer.Typer(
    add_completion=True,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: "[tool.dockerslim]" is text, not rich markup
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Rewrite bloated single-stage Dockerfiles into smaller multi-stage ones.",
)


# --- choices --------------------------------------------------------------------------------

class Format(StrEnum):
    """What goes to stdout: the text itself, or a JSON / SARIF report."""

    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"  # GitHub Actions workflow commands (::warning file=…,line=…::…)


class VerifyFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"  # a pull-request comment: sizes, saving, checks


class RulesFormat(StrEnum):
    text = "text"
    json = "json"


class BuilderChoice(StrEnum):
    auto = "auto"
    buildah = "buildah"
    buildx = "buildx"


class PullPolicy(StrEnum):
    missing = "missing"
    never = "never"
    always = "always"


class WriteBack(StrEnum):
    """Where a rewrite goes; chosen once, up front, from the flags (black's ``WriteBack``)."""

    STDOUT = "stdout"  # print the rewritten file
    DIFF = "diff"  # print a unified diff, write nothing
    CHECK = "check"  # print nothing (or the diff), exit 1 when a file would change
    IN_PLACE = "in-place"  # replace each changed file
    OUTPUT = "output"  # write the one rewrite to FILE; with --check: is FILE up to date?


@dataclass(frozen=True)
class Plan:
    """Everything the flags decided about output, so the per-file loop makes no decision."""

    write_back: WriteBack
    check: bool = False  # exit 1 when something would change
    show_diff: bool = False
    output: str | None = None
    fmt: Format = Format.text
    explain: bool = False


class UsageError(DockerslimError):
    """Flags that contradict each other: exit 2 with the reason."""


def plan_write_back(*, inputs: list[str], check: bool, diff: bool, in_place: bool, output: str | None,
                    fmt: Format, explain_: bool) -> Plan:
    """The one write-back decision; contradictions raise UsageError with a one-line reason."""
    if in_place and output:
        raise UsageError("--in-place and --output cannot be combined")
    if check and in_place:
        raise UsageError("--check writes nothing; it cannot be combined with --in-place")
    if diff and in_place:
        raise UsageError("--diff writes nothing; it cannot be combined with --in-place")
    if diff and output and not check:
        raise UsageError("--diff writes nothing; with --output it needs --check (show how FILE differs)")
    if diff and fmt is not Format.text:
        raise UsageError(f"--diff prints a text diff; it cannot be combined with --format {fmt.value}")
    if inputs.count(STDIN) > 1:
        raise UsageError("stdin ('-') can be read only once")
    if in_place and STDIN in inputs:
        raise UsageError("--in-place cannot rewrite stdin; use --output FILE")
    if output and len(inputs) != 1:
        raise UsageError(f"--output takes exactly one input file (got {len(inputs)})")
    if output:
        mode = WriteBack.OUTPUT
    elif in_place:
        mode = WriteBack.IN_PLACE
    elif check:
        mode = WriteBack.CHECK
    elif diff:
        mode = WriteBack.DIFF
    else:
        mode = WriteBack.STDOUT
    return Plan(write_back=mode, check=check, show_diff=diff, output=output, fmt=fmt, explain=explain_)


# --- output ---------------------------------------------------------------------------------

@dataclass
class Out:
    """Messages on stderr at the chosen verbosity; results on stdout as UTF-8."""

    quiet: bool = False
    verbose: bool = False
    colour: bool | None = None

    def error(self, message: str) -> None:
        typer.echo(f"dockerslim: error: {message}", err=True)

    def warn(self, message: str) -> None:
        if not self.quiet:
            typer.echo(f"dockerslim: warning: {message}", err=True)

    def info(self, message: str) -> None:
        if not self.quiet:
            typer.echo(message, err=True)

    def detail(self, message: str) -> None:
        if self.verbose and not self.quiet:
            typer.echo(message, err=True)

    def stdout(self, text: str) -> None:
        """Text as UTF-8 bytes: a Dockerfile's bytes do not depend on the terminal's locale."""
        stream = sys.stdout
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            stream.write(text)
            return
        stream.flush()
        buffer.write(text.encode("utf-8"))
        buffer.flush()

    def diff(self, text: str) -> None:
        self.stdout(colour_diff(text) if use_colour(self.colour) else text)


def _out(quiet: bool, verbose: bool, colour: bool | None = None) -> Out:
    if quiet and verbose:
        _fail("--quiet and --verbose cannot be combined")
    return Out(quiet=quiet, verbose=verbose, colour=colour)


def use_colour(choice: bool | None, stream: Any = None) -> bool:
    """``--color``/``--no-color`` if given, else rich's decision (a terminal, NO_COLOR, FORCE_COLOR)."""
    if choice is not None:
        return choice
    from rich.console import Console

    console = Console(file=stream or sys.stdout)
    return console.is_terminal and console.color_system is not None and not console.no_color


def _fail(message: str) -> NoReturn:
    Out().error(message)
    raise typer.Exit(2)


@contextmanager
def _errors_exit_2() -> Iterator[None]:
    """A DockerslimError anywhere in a command is one line on stderr and exit 2."""
    try:
        yield
    except DockerslimError as exc:
        _fail(str(exc))


def _version(value: bool) -> None:
    """The tool's version, then the bundled data catalogue's (with a digest of the files as shipped)."""
    if value:
        from .data import version as data_version

        data, digest = data_version()
        typer.echo(f"dockerslim {__version__}\ndata catalogue {data} (sha256 {digest[:12]})")
        raise typer.Exit(0)


# --- options every command spells the same way ---------------------------------------------

def _flag(*names: str, help: str, **kw: Any) -> Any:
    """A typer option; one helper so every alias below reads as one line of data."""
    return typer.Option(*names, help=help, **kw)


Quiet = Annotated[bool, _flag("--quiet", "-q", help="Print only errors on stderr.")]
Verbose = Annotated[bool, _flag("--verbose", "-v", help="Also say which files were unchanged and which passes ran.")]
Colour = Annotated[bool | None, _flag(
    "--color/--no-color", show_default=False,
    help="Colour diffs (default: on a terminal; NO_COLOR and FORCE_COLOR are honoured).")]
ContextDir = Annotated[str | None, _flag(
    "--context", metavar="DIR", help="Build context folder (default: the Dockerfile's folder).")]
ConfigFile = Annotated[str | None, _flag(
    "--config", metavar="FILE",
    help="Read settings from FILE only (a .dockerslim.toml, or a pyproject.toml's [tool.dockerslim]).")]
Isolated = Annotated[bool, _flag("--isolated", help="Ignore every configuration file.")]
Only = Annotated[list[str] | None, _flag(
    "--only", "--select", metavar="PASS", help="Run only this pass (rule id or name); repeatable.")]
Skip = Annotated[list[str] | None, _flag(
    "--skip", "--ignore", metavar="PASS", help="Skip this pass (rule id or name); repeatable.")]
NoAssembly = Annotated[bool, _flag("--no-assembly", help="Copy artifacts from the builder directly.")]
KeepBase = Annotated[bool, _flag("--keep-base", help="Never swap the base image.")]
RuntimeBase = Annotated[str | None, _flag("--runtime-base", metavar="IMAGE", help="Use IMAGE as the runtime base.")]
KeepRecommends = Annotated[bool, _flag("--keep-recommends", help="Do not add apt --no-install-recommends.")]
PinDigest = Annotated[bool, _flag("--pin-digest", help="Pin tool images by digest (from the catalog).")]
Aggressive = Annotated[bool, _flag(
    "--aggressive", help="Also prune what no program reads from the artifacts (installer bytecode, tests, headers, "
                         "static libraries, debug symbols: DS207); always verify it: dockerslim verify --aggressive.")]
ModelsContext = Annotated[str | None, _flag(
    "--models-context", metavar="NAME", help="Copy model configs from this build context; weights stay out.")]
FormatOpt = Annotated[Format, typer.Option("--format", help="What stdout carries.")]
BuilderOpt = Annotated[BuilderChoice, _flag("--builder", help="Which builder runs the builds.")]
PullOpt = Annotated[PullPolicy, _flag("--pull", help="buildah pull policy.")]
BuildArgs = Annotated[list[str] | None, _flag("--build-arg", metavar="KEY=VALUE", help="Build argument; repeatable.")]
BuildContexts = Annotated[list[str] | None, _flag(
    "--build-context", metavar="NAME=PATH", help="Extra build context; repeatable.")]
Network = Annotated[str | None, _flag("--network", metavar="NAME", help="buildx: network for RUN steps (e.g. host).")]
Smoke = Annotated[str | None, _flag(
    "--smoke", metavar="COMMAND", help="Command run in both images (default: the HEALTHCHECK).")]


@dataclass(frozen=True)
class SettingsRoad:
    """Flags that change the rewrite, plus where configuration comes from."""

    flags: dict[str, Any] = field(default_factory=dict)
    config: str | None = None
    isolated: bool = False


def rewrite_flags(*, config: ConfigFile = None, isolated: Isolated = False, only: Only = None, skip: Skip = None,
                  no_assembly: NoAssembly = False, keep_base: KeepBase = False, runtime_base: RuntimeBase = None,
                  keep_recommends: KeepRecommends = False, pin_digest: PinDigest = False,
                  models_context: ModelsContext = None, aggressive: Aggressive = False) -> SettingsRoad:
    """The flags actually given (None: not given), for ``settings.resolve``. Its parameters are
    also the command-line options ``with_settings`` gives a command."""
    if config and isolated:
        raise UsageError("--config and --isolated cannot be combined")
    flags = dict(
        only=only or None, skip=skip or None,
        assembly=False if no_assembly else None, keep_base=True if keep_base else None,
        runtime_base=runtime_base, no_install_recommends=False if keep_recommends else None,
        models_context=models_context, pin_digest=True if pin_digest else None,
        aggressive=True if aggressive else None,
    )
    given = {k: v for k, v in flags.items() if v is not None}
    validated(given, source="command line", flags=True)  # a bad flag fails once, before any file
    return SettingsRoad(flags=given, config=config, isolated=isolated)


def with_settings(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` the options that change the rewrite (``rewrite_flags``' parameters, in
    the place of its ``road`` parameter) and call it with their ``SettingsRoad``: every command
    that rewrites spells, orders and validates them the same way."""
    signature = inspect.signature(command, eval_str=True)
    params = list(signature.parameters.values())
    flags = [p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD)
             for p in inspect.signature(rewrite_flags, eval_str=True).parameters.values()]
    at = [p.name for p in params].index("road")
    params[at:at + 1] = flags

    @functools.wraps(command)
    def run(**kwargs: Any) -> None:
        given = {p.name: kwargs.pop(p.name) for p in flags}
        with _errors_exit_2():
            road = rewrite_flags(**given)
        command(road=road, **kwargs)

    run.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]  # what typer reads
    run.__annotations__ = {p.name: p.annotation for p in params}
    return run


FLEET_MIN_FILES = 16  # without --jobs, fewer files than this are rewritten in this process

# Per invocation (cleared by the root callback): settings resolved once per folder, so 5,000
# Dockerfiles in one folder read its pyproject.toml once.
_resolved: dict[tuple[Any, ...], Options] = {}


def _options_for(anchor: str | None, road: SettingsRoad) -> Options:
    """Options for a Dockerfile at ``anchor`` (None: the working directory), by the one road."""
    from .settings import options_for

    folder = Path(anchor).absolute().parent if anchor else Path.cwd()
    key = (folder, road.config, road.isolated, tuple(sorted((k, repr(v)) for k, v in road.flags.items())))
    if key not in _resolved:
        _resolved[key] = options_for(folder / "Dockerfile", road.flags, config=road.config, isolated=road.isolated)
    return _resolved[key]


# --- commands -------------------------------------------------------------------------------

@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """dockerslim: smaller images from the Dockerfiles you already have."""
    _resolved.clear()


@dataclass
class _Tally:
    seen: int = 0
    changed: int = 0
    failed: int = 0
    entries: list[dict[str, Any]] = field(default_factory=list)
    sarif: list[tuple[str, RewriteResult]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file, message) of files not rewritten
    outcomes: list[FileOutcome] = field(default_factory=list)  # rewritten files' counts (the -v table)
    bytes_before: int = 0  # of the files that would change
    bytes_after: int = 0
    lines_before: int = 0
    lines_after: int = 0


@app.command(cls=TidyCommand)
@with_settings
def rewrite(
    paths: Annotated[list[str], typer.Argument(
        metavar="PATH", help="Dockerfiles or folders to search ('-' for stdin).", show_default=False)],
    output: Annotated[str | None, _flag(
        "-o", "--output", metavar="FILE",
        help="Write the rewrite to FILE with a header naming its source (with --check: exit 1 unless FILE is "
             "up to date). A device such as /dev/stdout gets no header.")] = None,
    in_place: Annotated[bool, _flag("--in-place", "-i", help="Rewrite the files in place.")] = False,
    diff: Annotated[bool, _flag("--diff", help="Print a unified diff instead of the file (writes nothing).")] = False,
    check: Annotated[bool, _flag("--check", help="Exit 1 if any file would change (writes nothing).")] = False,
    explain_: Annotated[bool, _flag("--explain", help="Explain every change on stderr (any --format).")] = False,
    fmt: FormatOpt = Format.text,
    stdin_filename: Annotated[str | None, _flag(
        "--stdin-filename", metavar="PATH",
        help="Where stdin's Dockerfile lives: its folder is the build context and config is found from it.")] = None,
    context: ContextDir = None,
    road: SettingsRoad = SettingsRoad(),
    observe_: Annotated[bool, _flag(
        "--observe", help="Build the original once (or read the cached record) and hand the passes what each "
                          "step wrote. The original must build.")] = False,
    verify_: Annotated[bool, _flag(
        "--verify", help="Build and verify candidates, most aggressive first; emit the first that passes "
                         "(the original when none does).")] = False,
    builder: BuilderOpt = BuilderChoice.auto,
    pull: PullOpt = PullPolicy.missing,
    network: Network = None,
    build_arg: BuildArgs = None,
    build_context: BuildContexts = None,
    target: Annotated[str | None, _flag("--target", metavar="STAGE", help="--observe: build up to this stage.")] = None,
    platform: Annotated[str | None, _flag(
        "--platform", metavar="OS/ARCH", help="--observe: build for this platform.")] = None,
    smoke: Smoke = None,
    jobs: Annotated[int | None, _flag(
        "--jobs", "-j", metavar="N", min=1,
        help="Rewrite in N worker processes (default: the CPUs available; fewer than "
             f"{FLEET_MIN_FILES} files run in this process). Output is the same for any N.")] = None,
    color: Colour = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Rewrite Dockerfiles and print, write, diff or check the result.

    Settings come from .dockerslim.toml or [tool.dockerslim] in pyproject.toml (the nearest to
    each Dockerfile); flags override them. --observe and --verify run real builds (buildah or
    BuildKit); the default is static and offline.
    """
    out = _out(quiet, verbose, color)
    with _errors_exit_2():
        if stdin_filename is not None and STDIN not in paths:
            raise UsageError("--stdin-filename names the file read from stdin; give '-' as the input")
        _check_folder(context, "--context")
        files = expand_paths(paths)
        plan = plan_write_back(inputs=files, check=check, diff=diff, in_place=in_place, output=output,
                               fmt=fmt, explain_=explain_)
        build = plan_builds(observe_=observe_, verify_=verify_, builder=builder, pull=pull, network=network,
                            build_arg=build_arg, build_context=build_context, target=target, platform=platform,
                            smoke=smoke)
        if jobs is not None and (build is not None or STDIN in files):
            raise UsageError("--jobs runs the static rewrite of files in parallel; "
                             "stdin, --observe and --verify take one file at a time")
    tally = _Tally()
    if build is None and STDIN not in files:
        _rewrite_fleet(files, plan, road, out, tally, context=context, jobs=jobs)
    else:
        for path in files:
            _rewrite_one(path, plan, road, out, tally, many=len(files) > 1, context=context,
                         stdin_filename=stdin_filename, build=build)
    if plan.fmt is Format.json:
        out.stdout(to_json(tally.entries))
    elif plan.fmt is Format.sarif:
        from .sarif import to_sarif

        out.stdout(to_sarif(tally.sarif, errors=tally.errors))
    elif plan.fmt is Format.github:
        from .report import to_github

        out.stdout(to_github(tally.sarif, errors=tally.errors))
    _summary(plan, tally, out)
    if verbose and not quiet and len(tally.outcomes) > 1:
        from rich.console import Console

        from .fleet import summary_table

        Console(stderr=True, no_color=not use_colour(color, sys.stderr)).print(summary_table(tally.outcomes))
    if tally.failed:
        raise typer.Exit(2)
    if plan.check and tally.changed:
        raise typer.Exit(1)


def _rewrite_fleet(files: list[str], plan: Plan, road: SettingsRoad, out: Out, tally: _Tally, *,
                   context: str | None, jobs: int | None) -> None:
    """The static rewrite of files (not stdin): computed by ``fleet.rewrite_many`` (worker
    processes), delivered here one by one in the order given, so the output does not depend on
    ``jobs``. A file that fails is named and counted; the others are still written."""
    from .fleet import rewrite_many

    with _errors_exit_2():  # a bad configuration stops the run: every later file would repeat it
        options = {path: _options_for(path, road) for path in files}
    if jobs is None and len(files) < FLEET_MIN_FILES:
        jobs = 1  # a handful of files: starting workers costs more than it saves
    outcomes = rewrite_many(files, jobs=jobs, options_for=options.__getitem__, context=context,
                            progress=False if out.quiet else None)
    for outcome in outcomes:
        tally.outcomes.append(outcome)
        if outcome.error is not None or outcome.result is None:
            _failed(outcome.path, outcome.error or f"{outcome.path}: not rewritten", out, tally)
            continue
        _take(outcome.path, outcome.path, outcome.result, Built(), plan, out, tally, many=len(files) > 1,
              source=Path(outcome.path))


def _failed(label: str, message: str, out: Out, tally: _Tally) -> None:
    out.error(message)
    tally.failed += 1
    tally.errors.append((label, message))


def _rewrite_one(path: str, plan: Plan, road: SettingsRoad, out: Out, tally: _Tally, *, many: bool,
                 context: str | None, stdin_filename: str | None, build: BuildPlan | None = None) -> None:
    """Rewrite one file (stdin, or with builds) and send the result where the plan says;
    errors are counted, not raised."""
    stdin = path == STDIN
    anchor = stdin_filename if stdin else path
    label = (stdin_filename or "<stdin>") if stdin else path
    with _errors_exit_2():  # a bad configuration stops the run: every later file would repeat it
        options = _options_for(anchor, road)
    try:
        text = read_text(path, label)
        ctx = context or (os.path.dirname(os.path.abspath(anchor)) if anchor else None)
        if build is None:
            result, built = rewrite_text(text, path=label, context_dir=ctx, options=options), Built()
        else:
            result, built = _rewrite_built(text, label, ctx, options, build, out)
    except DockerslimError as exc:
        _failed(label, str(exc), out, tally)
        return
    source = None if stdin and stdin_filename is None else Path(anchor or path)
    _take(path, label, result, built, plan, out, tally, many=many, source=source)


def _take(path: str, label: str, result: RewriteResult, built: Built, plan: Plan, out: Out, tally: _Tally, *,
          many: bool, source: Path | None) -> None:
    """Deliver one computed rewrite and record it for the report and the summary."""
    try:
        differs = _deliver(path, label, result, plan, out, many=many, source=source)
    except DockerslimError as exc:
        _failed(label, str(exc), out, tally)
        return
    tally.seen += 1
    tally.changed += differs
    if differs:
        tally.bytes_before += len(result.original.encode("utf-8"))
        tally.bytes_after += len(result.text.encode("utf-8"))
        tally.lines_before += len(result.original.splitlines())
        tally.lines_after += len(result.text.splitlines())
    if plan.fmt is Format.json:
        tally.entries.append(as_dict(label, result, observation=built.observation, proof=built.proof))
    elif plan.fmt in (Format.sarif, Format.github):
        tally.sarif.append((label, result))
    if plan.explain:
        typer.echo(explain(label, result, observation=built.observation, proof=built.proof), err=True, nl=False)
    else:
        for note in result.notes:
            if note.level == "warning":
                out.warn(f"{label}:{note.line or 1}: {note.message} [{note.rule}]")
    out.detail(f"{label}: passes run: {', '.join(result.passes_run) or 'none'}")


def _deliver(path: str, label: str, result: RewriteResult, plan: Plan, out: Out, *, many: bool,
             source: Path | None = None) -> bool:
    """Write, print or compare one result; returns whether it counts as a change for --check.
    ``source`` is the file the rewrite came from (None for stdin without --stdin-filename):
    an ``-o`` regular file names it in a generated-file header."""
    text_out = plan.fmt is Format.text
    mode = plan.write_back
    if mode is WriteBack.OUTPUT:
        assert plan.output is not None
        headed = source is not None and _regular_target(plan.output)
        if plan.check:
            if headed:
                assert source is not None
                return _check_generated_output(plan.output, source, result, plan, out)
            return _check_output(plan.output, label, result, plan, out)
        if headed:
            from . import generated

            assert source is not None
            write_text(plan.output, generated.add_header(
                result.text, generated.relative_source(source, Path(plan.output)), result.original))
        else:
            write_text(plan.output, result.text)
        out.detail(f"wrote {plan.output}")
        return result.changed
    if mode is WriteBack.IN_PLACE:
        if result.changed:
            write_text(path, result.text)
            out.info(f"rewrote {label}")
        else:
            out.detail(f"unchanged {label}")
        return result.changed
    if mode in (WriteBack.CHECK, WriteBack.DIFF):
        if plan.show_diff and result.diff:
            out.diff(result.diff)
        if mode is WriteBack.CHECK:
            if result.changed:
                out.info(f"would rewrite {label}")
            else:
                out.detail(f"unchanged {label}")
        return result.changed
    if text_out:  # STDOUT
        if many:
            out.stdout(f"==> {label} <==\n")
        out.stdout(result.text)
    return result.changed


def _regular_target(output: str) -> bool:
    """Whether ``-o`` writes a file a header belongs in: a regular file, or one not there yet.
    A device, pipe or /dev/stdout gets the bare rewrite, as stdout does."""
    try:
        return stat.S_ISREG(os.stat(output).st_mode)
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _check_generated_output(output: str, source: Path, result: RewriteResult, plan: Plan, out: Out) -> bool:
    """``--check -o FILE``: generated.check's answer for FILE (header, source sha256, same
    rewrite); the reason is one line on stderr, --diff shows how FILE differs."""
    from . import generated

    reason = generated.check(Path(output), lambda _text, _src: result.text, source=source,
                             source_text=result.original)
    if reason is None:
        out.detail(f"{output} is up to date")
        return False
    out.info(reason)
    if plan.show_diff:
        try:
            current = read_bytes(output).decode("utf-8", errors="replace")
        except InputError:
            return True
        wanted = generated.add_header(result.text, generated.relative_source(source, Path(output)), result.original)
        out.diff(unified_diff(current, wanted, output))
    return True


def _check_output(output: str, label: str, result: RewriteResult, plan: Plan, out: Out) -> bool:
    """``--check -o DEVICE`` (or stdin without a name): is it byte-identical to the rewrite?"""
    try:
        current: bytes | None = read_bytes(output)
    except InputError as exc:
        if exc.message != "no such file":
            raise
        current = None
    wanted = result.text.encode("utf-8")
    if current == wanted:
        out.detail(f"{output} is up to date")
        return False
    if current is None:
        out.info(f"{output} does not exist; it would be written from {label}")
    else:
        out.info(f"{output} is not up to date with the rewrite of {label}")
    if plan.show_diff and current is not None:
        out.diff(unified_diff(current.decode("utf-8", errors="replace"), result.text, output))
    return True


@dataclass(frozen=True)
class BuildPlan:
    """What ``rewrite --observe/--verify`` builds with; decided once, before any file."""

    builder: Builder
    observe: bool = False
    verify: bool = False
    build_args: dict[str, str] = field(default_factory=dict)
    build_contexts: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    platform: str | None = None
    smoke: str | None = None


@dataclass(frozen=True)
class Built:
    """What the builds added to one file's rewrite (for --explain and JSON)."""

    observation: Observation | None = None
    proof: ProvenRewrite | None = None


def plan_builds(*, observe_: bool, verify_: bool, builder: BuilderChoice, pull: PullPolicy,
                network: str | None = None, build_arg: list[str] | None, build_context: list[str] | None,
                target: str | None, platform: str | None, smoke: str | None) -> BuildPlan | None:
    """None for the static rewrite; else the builder, found once. Build flags without
    --observe/--verify would be silently ignored, so they are a usage error."""
    if not (observe_ or verify_):
        given = [flag for flag, value in (("--builder", builder is not BuilderChoice.auto),
                                          ("--pull", pull is not PullPolicy.missing), ("--network", network),
                                          ("--build-arg", build_arg),
                                          ("--build-context", build_context), ("--target", target),
                                          ("--platform", platform), ("--smoke", smoke)) if value]
        if given:
            raise UsageError(f"{given[0]} applies to builds: add --observe or --verify")
        return None
    if verify_ and (target or platform):
        raise UsageError("--verify builds and runs the whole file on this machine; "
                         "--target and --platform apply to --observe alone")
    if smoke and not verify_:
        raise UsageError("--smoke is run by --verify")
    args, contexts = _pairs(build_arg, "--build-arg"), _pairs(build_context, "--build-context")
    return BuildPlan(builder=_builder(builder, pull, network), observe=observe_, verify=verify_, build_args=args,
                     build_contexts=contexts, target=target, platform=platform, smoke=smoke)


def _builder(choice: BuilderChoice, pull: PullPolicy, network: str | None = None, *,
             buildx_builder: str | None = None, max_builds: int | None = None) -> Builder:
    """The builder, found once; ``max_builds`` bounds the builds it runs at once (all files)."""
    import threading

    from .builders import detect

    extra: dict[str, object] = {}
    if buildx_builder and choice is not BuilderChoice.buildx:
        raise UsageError("--buildx-builder names a docker buildx builder: add --builder buildx")
    if choice in (BuilderChoice.auto, BuilderChoice.buildah):
        extra["pull"] = pull.value
    else:
        extra.update({k: v for k, v in (("network", network), ("builder", buildx_builder)) if v})
    chosen = detect(choice.value, **extra)
    if max_builds is not None:
        chosen.slots = threading.BoundedSemaphore(max_builds)  # type: ignore[attr-defined]  # Buildah, Buildx
    return chosen


def _rewrite_built(text: str, label: str, ctx: str | None, options: Options, build: BuildPlan,
                   out: Out) -> tuple[RewriteResult, Built]:
    """The rewrite with an observation of the original and/or proven by the verify ladder.
    Raises a DockerslimError (exit 2, nothing written) when the original does not build."""
    if ctx is None:
        raise UsageError("--observe and --verify build the file: give --stdin-filename or --context for stdin")
    observation = None
    if build.observe:
        from .observe import observe

        observation = observe(text, path=label, context_dir=ctx, build_args=build.build_args,
                              build_contexts=build.build_contexts, target=build.target, platform=build.platform,
                              builder=build.builder)
        out.info(f"{label}: {observation_line(observation)}")
    if not build.verify:
        return rewrite_text(text, path=label, context_dir=ctx, options=options, observation=observation), \
            Built(observation=observation)
    from .prove import rewrite_verified

    proof = rewrite_verified(text, path=label, context_dir=ctx, options=options, builder=build.builder,
                             smoke=build.smoke, build_args=build.build_args, build_contexts=build.build_contexts,
                             observation=observation, progress=lambda step: out.info(f"dockerslim: {step}"),
                             on_line=_build_lines(out))
    broken = next((c for a in proof.attempts if a.report for c in a.report.checks
                   if c.name == "original builds" and not c.ok), None)
    if broken is not None:
        raise DockerslimError(f"{label}: the original does not build, so no rewrite can be verified "
                              f"(nothing written):\n{broken.detail}")
    for attempt in proof.attempts:
        if attempt.skipped:
            out.detail(f"{label}: rung {attempt.rung!r} not built: {attempt.skipped}")
        elif not attempt.ok:
            out.warn(f"{label}: rung {attempt.rung!r} failed verification: {'; '.join(attempt.reasons) or 'failed'}")
    if proof.result is not None:
        out.info(f"{label}: rung {proof.rung!r} verified; emitting it")
        return proof.result, Built(observation=observation, proof=proof)
    out.warn(f"{label}: no rewrite verified; the original is emitted unchanged")
    return RewriteResult(original=text, text=text, path=label), Built(observation=observation, proof=proof)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _summary(plan: Plan, tally: _Tally, out: Out) -> None:
    """One closing line on stderr for --check and --in-place (black/ruff style)."""
    total = tally.seen + tally.failed
    failed = f"; {tally.failed} could not be rewritten" if tally.failed else ""
    size = (f" ({tally.lines_before} → {tally.lines_after} lines, {tally.bytes_before:,} → {tally.bytes_after:,} bytes)"
            if tally.changed else "")
    if plan.check and plan.write_back is not WriteBack.OUTPUT:
        out.info(f"{tally.changed} of {_plural(total, 'file')} would be rewritten{size}{failed}")
    elif plan.write_back is WriteBack.IN_PLACE:
        out.info(f"rewrote {tally.changed} of {_plural(total, 'file')}{size}{failed}")


def _check_folder(value: str | None, flag: str) -> None:
    if value is not None and not os.path.isdir(value):
        raise UsageError(f"{flag} {value}: not a folder")


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values or []:
        key, eq, val = value.partition("=")
        if not eq or not key:
            raise UsageError(f"{flag} takes KEY=VALUE, got {value!r}")
        out[key] = val
    return out


@app.command(cls=TidyCommand)
@with_settings
def verify(
    paths: Annotated[list[str] | None, typer.Argument(
        metavar="PATH", help="The Dockerfile to rewrite and verify (default: Dockerfile); several files or "
                             "folders (searched like rewrite's) are verified in parallel, with one summary.",
        show_default=False)] = None,
    context: ContextDir = None,
    against: Annotated[str | None, _flag(
        "--against", metavar="CANDIDATE",
        help="Verify this Dockerfile (hand-written, another tool's) instead of dockerslim's rewrite.")] = None,
    fix: Annotated[bool, _flag(
        "--fix", help="Install the packages that own missing libraries in the candidate's final stage and verify "
                      "again; the fixed file goes to -o FILE, or into CANDIDATE with --against.")] = False,
    output: Annotated[str | None, _flag(
        "-o", "--output", metavar="FILE",
        help="Write the candidate to FILE once it verifies (with --fix: the fixed one).")] = None,
    smoke: Smoke = None,
    builder: BuilderOpt = BuilderChoice.auto,
    pull: PullOpt = PullPolicy.missing,
    network: Network = None,
    build_arg: BuildArgs = None,
    build_context: BuildContexts = None,
    fmt: Annotated[VerifyFormat, _flag(
        "--format", help="What stdout carries (markdown: a pull-request comment).")] = VerifyFormat.text,
    report_html: Annotated[str | None, _flag(
        "--report", metavar="FILE",
        help="Also write a self-contained HTML report (size bars, checks) to FILE.")] = None,
    keep: Annotated[bool, _flag("--keep", help="Keep the built images.")] = False,
    compressed: Annotated[bool, _flag(
        "--compressed/--no-compressed", help="Measure gzip-compressed layer sizes.")] = True,
    timeout: Annotated[float, _flag(
        "--timeout", metavar="SECONDS", min=1,
        help="How long a smoke run may take; a HEALTHCHECK is polled against the started CMD this long at "
             "most (less when Docker would give up sooner).")] = 60,
    jobs: Annotated[int | None, _flag(
        "--jobs", "-j", metavar="N", min=1,
        help="Several files: verify N at once (default: the CPUs available; with buildx, --max-builds when "
             "given).")] = None,
    buildx_builder: Annotated[str | None, _flag(
        "--buildx-builder", metavar="NAME",
        help="buildx: build on this docker buildx builder (a remote BuildKit, a kubernetes driver; "
             "see docs/remote-builders.md).")] = None,
    max_builds: Annotated[int | None, _flag(
        "--max-builds", metavar="N", min=1,
        help="Run at most N builds at once across all files (a shared builder's capacity).")] = None,
    road: SettingsRoad = SettingsRoad(),
    quiet: Quiet = False,
    verbose: Annotated[bool, _flag(
        "--verbose", "-v", help="Stream the builders' output, each line prefixed by its image.")] = False,
) -> None:
    """Build the original and a candidate; check config, files, users, programs, libraries, smoke run and size.

    The candidate is the rewrite `dockerslim rewrite` prints for the same file, settings and
    flags, or the file given with --against. Exit 0 only if every check holds, 1 when the
    candidate fails a check (a library its binaries cannot load is reported by file), 2 when
    nothing could be verified: no builder, or the original does not build (base image not
    found, registry unreachable). Several files: 0 only if all verify, 1 if any candidate
    fails a check, 2 if any file met an environment error.
    """
    import json as _json

    from .verify import render
    from .verify import verify as run_verify

    out = _out(quiet, verbose)
    with _errors_exit_2():
        _check_folder(context, "--context")
        files = expand_paths(paths or ["Dockerfile"])
        if STDIN in files:
            raise UsageError("verify builds files: '-' (stdin) cannot be verified")
    if len(files) > 1 or any(os.path.isdir(p) for p in paths or ()):
        _verify_fleet(files, road, out, fmt=fmt, against=against, fix=fix, output=output, report_html=report_html,
                      context=context, smoke=smoke, builder=builder, pull=pull, network=network,
                      build_arg=build_arg, build_context=build_context, keep=keep, compressed=compressed,
                      timeout=timeout, jobs=jobs, buildx_builder=buildx_builder, max_builds=max_builds)
    path = files[0]
    with _errors_exit_2():
        args, contexts = _pairs(build_arg, "--build-arg"), _pairs(build_context, "--build-context")
        read_bytes(path)  # a missing or non-regular file is an InputError before any build starts
        if report_html is not None and not os.path.isdir(os.path.dirname(os.path.abspath(report_html))):
            raise UsageError(f"--report {report_html}: its folder does not exist")
        candidate = read_text(against, against) if against is not None else None
        destination = output or (against if fix else None)
        if fix and destination is None:
            raise UsageError("--fix writes the fixed rewrite: give -o FILE (or --against CANDIDATE to fix that file)")
        options = _options_for(path, road)
        chosen = _builder(builder, pull, network, buildx_builder=buildx_builder, max_builds=max_builds)
        try:
            report = run_verify(Path(path), builder=chosen, context_dir=Path(context) if context else None, smoke=smoke,
                                build_args=args, build_contexts=contexts, keep=keep, compressed=compressed,
                                options=options, against=candidate, fix=fix, timeout=timeout,
                                progress=lambda step: out.info(f"dockerslim: {step}"), on_line=_build_lines(out))
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from None
    result = _json.loads(_json.dumps(report.to_dict(), default=str))  # what --format json prints
    if fmt is VerifyFormat.json:
        out.stdout(_json.dumps(result, indent=2) + "\n")
    elif fmt is VerifyFormat.markdown:
        from .pr_comment import to_markdown

        out.stdout(to_markdown(result))
    else:
        out.stdout(render(report))
    if report_html is not None:
        from . import html_report

        with _errors_exit_2():
            write_text(report_html, html_report.render(result))
        out.info(f"wrote {report_html}")
    broken = next((c for c in report.checks if c.name == "original builds" and not c.ok), None)
    if broken is not None:  # nothing about the rewrite was learnt: an environment or input problem
        _fail(f"{path}: the original does not build (a base image not found, a registry or network "
              "unreachable, or an error in the Dockerfile), so nothing was verified; its build log is above"
              if fmt is VerifyFormat.text else
              f"{path}: the original does not build, so nothing was verified: {broken.detail.strip()[-500:]}")
    if destination is not None:
        with _errors_exit_2():
            _write_verified(report, destination, in_place=output is None, out=out)
    raise typer.Exit(0 if report.ok else 1)


def _build_lines(out: Out) -> Callable[[str, str], None] | None:
    """What single-file verify does with the builders' output: -v streams every line to
    stderr prefixed by the image's label; on a terminal, each build step (``STEP 3/7: RUN …``)
    is a progress line; otherwise the output is only kept for an error message."""
    from .builders import build_step

    if out.quiet:
        return None
    if out.verbose:
        return lambda label, line: typer.echo(f"[{label}] {line}", err=True)
    if not sys.stderr.isatty():
        return None

    def step(label: str, line: str) -> None:
        shown = build_step(line)
        if shown is not None:
            out.info(f"dockerslim: {label}: {shown}")

    return step


def _verify_fleet(files: list[str], road: SettingsRoad, out: Out, *, fmt: VerifyFormat, against: str | None,
                  fix: bool, output: str | None, report_html: str | None, context: str | None, smoke: str | None,
                  builder: BuilderChoice, pull: PullPolicy, network: str | None, build_arg: list[str] | None,
                  build_context: list[str] | None, keep: bool, compressed: bool, timeout: float,
                  jobs: int | None, buildx_builder: str | None, max_builds: int | None) -> NoReturn:
    """``verify`` over several Dockerfiles: ``fleet.verify_many`` runs them ``jobs`` at a time
    (the builder's ``--max-builds`` bounds its builds), then one table (or ``--format json``:
    the list) on stdout; exit 0 only if all verify, 1 if a candidate fails, 2 on any error."""
    import json as _json

    from rich.console import Console

    from .fleet import default_jobs, verify_exit_code, verify_many, verify_table
    from .verify import render
    from .verify import verify as run_verify

    with _errors_exit_2():
        given = [flag for flag, value in (("--against", against), ("--fix", fix), ("-o", output),
                                          ("--report", report_html),
                                          ("--format markdown", fmt is VerifyFormat.markdown)) if value]
        if given:
            raise UsageError(f"{given[0]} takes one Dockerfile; {len(files)} were given")
        args, contexts = _pairs(build_arg, "--build-arg"), _pairs(build_context, "--build-context")
        options = {path: _options_for(path, road) for path in files}
        chosen = _builder(builder, pull, network, buildx_builder=buildx_builder, max_builds=max_builds)
    if jobs is None:
        jobs = max_builds if chosen.name == "buildx" and max_builds else default_jobs()

    def verify_one(path: str, say: Callable[[str], None], on_line: Callable[[str, str], None]) -> VerifyReport:
        return run_verify(Path(path), builder=chosen, context_dir=Path(context) if context else None, smoke=smoke,
                          build_args=args, build_contexts=contexts, keep=keep, compressed=compressed,
                          options=options[path], timeout=timeout, progress=say, on_line=on_line)

    console = Console(stderr=True)
    outcomes = verify_many(files, verify_one, jobs=jobs, progress=False if out.quiet else None, console=console,
                           log=out.verbose)
    for outcome in outcomes:
        if outcome.error is not None:
            out.error(outcome.error)
        elif outcome.broken_original is not None:
            out.error(f"{outcome.path}: the original does not build, so nothing was verified: "
                      f"{outcome.broken_original.strip()[-500:]}")
    if fmt is VerifyFormat.json:
        out.stdout(_json.dumps([_json.loads(_json.dumps(o.to_dict(), default=str)) for o in outcomes], indent=2)
                   + "\n")
    else:
        for outcome in outcomes:  # what failed, in full (every file's report with -v)
            if outcome.report is not None and (outcome.exit_code == 1 or out.verbose):
                out.stdout(render(outcome.report))
        import io

        table = io.StringIO()  # rendered here, written as UTF-8 by Out.stdout whatever the locale
        colour = use_colour(None)
        Console(file=table, force_terminal=colour, no_color=not colour, width=max(120, Console().width)).print(
            verify_table(outcomes))
        out.stdout(table.getvalue())
    raise typer.Exit(verify_exit_code(outcomes))


def _write_verified(report: VerifyReport, destination: str, *, in_place: bool, out: Out) -> None:
    """Write the verified candidate; a candidate that failed is never written."""
    if not report.ok:
        out.info(f"{destination}: not written: the candidate did not verify")
        return
    if in_place and not report.added_packages:
        out.detail(f"{destination}: nothing to fix")
        return
    write_text(destination, report.candidate)
    added = f" (installed {', '.join(report.added_packages)})" if report.added_packages else ""
    out.info(f"wrote {destination}{added}")


@app.command(cls=TidyCommand)
def dockerignore(
    context: Annotated[str, typer.Argument(metavar="CONTEXT", help="The build context folder.")] = ".",
    dockerfile: Annotated[str | None, _flag(
        "--dockerfile", "-f", metavar="FILE", help="Dockerfile (default: CONTEXT/Dockerfile).")] = None,
    write: Annotated[bool, _flag("--write", help="Write the proposed .dockerignore.")] = False,
    color: Colour = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Propose (or extend) .dockerignore from what the context holds; never ignores a path a COPY/ADD needs."""
    from .dockerignore import propose, proposed_text
    from .parse import parse

    out = _out(quiet, verbose, color)
    ctx = Path(context)
    if not ctx.is_dir():
        _fail(f"{context}: not a folder")
    df_path = Path(dockerfile) if dockerfile else ctx / "Dockerfile"
    with _errors_exit_2():
        df = parse(read_bytes(str(df_path)), str(df_path)) if dockerfile or df_path.exists() else None
        before, after = proposed_text(ctx, df)
        for pattern, why, size in propose(ctx, df):
            out.info(f"{pattern}: {why} ({megabytes(size)})")
        if before == after:
            out.info(".dockerignore: nothing to add")
            return
        target = str(ctx / ".dockerignore")
        out.diff(unified_diff(before, after, target))
        if write:
            write_text(target, after)
            out.info(f"wrote {target}")
    out.info("note: .dockerignore filters the build context only; it does not apply to COPY --from")


@app.command("rules", cls=TidyCommand)
def rules_(
    fmt: Annotated[RulesFormat, _flag("--format", help="What stdout carries.")] = RulesFormat.text,
) -> None:
    """List every rule: id, name, kind and summary (`dockerslim rule ID` explains one).

    Pass rules can be selected or ignored by id or name (--select/--ignore, or only/skip in the
    configuration); `# dockerslim: ignore=ID` switches one off for an instruction or a stage.
    """
    from .rules import catalogue

    entries = catalogue()
    if fmt is RulesFormat.json:
        import json as _json

        Out().stdout(_json.dumps([asdict(r) for r in entries], indent=2) + "\n")
        return
    width = max(len(r.name) for r in entries)
    lines = [f"{'ID':<6} {'NAME':<{width}} {'KIND':<5} SUMMARY"]
    lines += [f"{r.id:<6} {r.name:<{width}} {r.kind:<5} {r.summary}" for r in entries]
    Out().stdout("\n".join(lines) + "\n")


@app.command("rule", cls=TidyCommand)
def rule_(
    rule_id: Annotated[str, typer.Argument(metavar="RULE", help="A rule id (DS201) or name (merge-runs).")],
    fmt: Annotated[RulesFormat, _flag("--format", help="What stdout carries.")] = RulesFormat.text,
) -> None:
    """Explain one rule: what it does, what it leaves alone, and how to switch it off."""
    from .rules import catalogue, rule
    from .settings import did_you_mean

    wanted = rule_id.strip()
    try:
        found = rule(wanted)
    except KeyError:
        known = [r.id for r in catalogue()] + [r.name for r in catalogue()]
        _fail(f"unknown rule {wanted!r}{did_you_mean(wanted.upper() if wanted[:2].lower() == 'ds' else wanted, known)}"
              "; `dockerslim rules` lists them")
    if fmt is RulesFormat.json:
        import json as _json

        Out().stdout(_json.dumps(asdict(found), indent=2) + "\n")
        return
    text = [f"# {found.name} ({found.id})", "", f"{found.summary[:1].upper()}{found.summary[1:]}.", "", found.help, ""]
    if found.kind == "pass":
        text += [f"Switch it off: --ignore {found.id} (or skip = [\"{found.name}\"] in the configuration), or",
                 f"`# dockerslim: ignore={found.id}` above an instruction (above FROM: the whole stage).", ""]
    else:
        text += ["Reported while reading the Dockerfile; it changes nothing.", ""]
    Out().stdout("\n".join(text))


@app.command("config-schema", cls=TidyCommand)
def config_schema() -> None:
    """Print the settings' JSON schema.

    It describes .dockerslim.toml and [tool.dockerslim] in pyproject.toml, for editors and CI.
    """
    from .settings import json_schema_text

    Out().stdout(json_schema_text())


# --- the simple Dockerfile stays the source (issue 14): build, check-generated, report -------

@app.command(cls=TidyCommand)
@with_settings
def build(
    context: Annotated[str, typer.Argument(metavar="CONTEXT", help="Build context folder.")] = ".",
    file: Annotated[str | None, _flag(
        "-f", "--file", metavar="DOCKERFILE", help="The Dockerfile to rewrite (default: CONTEXT/Dockerfile).")] = None,
    tag: Annotated[list[str] | None, _flag("-t", "--tag", metavar="NAME", help="Name the image; repeatable.")] = None,
    build_arg: BuildArgs = None,
    build_context: BuildContexts = None,
    platform: Annotated[str | None, _flag("--platform", metavar="OS/ARCH", help="Build for this platform.")] = None,
    target: Annotated[str | None, _flag(
        "--target", metavar="STAGE",
        help="Build this stage of the Dockerfile (its final stage: the rewrite's final stage).")] = None,
    push: Annotated[bool, _flag("--push", help="Push the tags once built.")] = False,
    builder: BuilderOpt = BuilderChoice.auto,
    pull: PullOpt = PullPolicy.missing,
    network: Network = None,
    road: SettingsRoad = SettingsRoad(),
    quiet: Quiet = False,
) -> None:
    """Rewrite the Dockerfile on the fly and build the rewrite; the exit code is the builder's.

    Nothing is written next to the Dockerfile: it stays the file you edit. The rewrite reaches
    the builder on stdin (-f -); at the end the image size is printed, and the difference from
    the image the tag named before, when there was one."""
    from .buildcmd import BuildRequest
    from .buildcmd import build as run_build

    out = _out(quiet, False)
    with _errors_exit_2():
        _check_folder(context, "CONTEXT")
        dockerfile = file or os.path.join(context, "Dockerfile")
        read_bytes(dockerfile)  # a missing file is an InputError before the builder starts
        request = BuildRequest(
            dockerfile=Path(dockerfile), context=Path(context), tags=tuple(tag or ()),
            build_args=tuple(_pairs(build_arg, "--build-arg").items()),
            build_contexts=tuple(_pairs(build_context, "--build-context").items()),
            platform=platform, target=target, push=push, options=_options_for(dockerfile, road))
        summary = run_build(request, _builder(builder, pull, network), say=lambda line: out.info(f"dockerslim: {line}"))
    raise typer.Exit(summary.exit_code)


@app.command("check-generated", cls=TidyCommand)
@with_settings
def check_generated(
    files: Annotated[list[str], typer.Argument(
        metavar="FILE", help="Generated Dockerfiles (rewrite -o writes them).", show_default=False)],
    road: SettingsRoad = SettingsRoad(),
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Exit 1 when a generated Dockerfile is stale (one line each): its source changed, it was
    edited by hand, or this dockerslim would write it differently."""
    from . import generated

    out = _out(quiet, verbose)
    stale = 0
    with _errors_exit_2():
        for name in files:
            reason = generated.check(Path(name), _source_rewriter(road))
            if reason:
                out.info(reason)
                stale += 1
            else:
                out.detail(f"{name} is up to date")
    raise typer.Exit(1 if stale else 0)


@app.command(cls=TidyCommand)
def report(
    source: Annotated[str, typer.Argument(
        metavar="VERIFY_JSON", help="What `verify --format json` printed ('-' for stdin).", show_default=False)],
    output: Annotated[str, _flag(
        "-o", "--output", metavar="FILE", help="The HTML file to write.")] = "dockerslim-report.html",
    layers: Annotated[bool, _flag(
        "--layers", help="Measure per-layer sizes of the images verify --keep kept (buildah).")] = False,
    quiet: Quiet = False,
) -> None:
    """One self-contained HTML page from verify's JSON: size bars, per-layer sizes, what the
    rewrite left out by category, and the checks."""
    from . import html_report

    out = _out(quiet, False)
    with _errors_exit_2():
        if source == STDIN:
            data = html_report.loads(read_text(STDIN), "<stdin>")
        else:
            data = html_report.load_json(Path(source))
        if layers:
            data = [html_report.with_layer_sizes(r, html_report.buildah_layer_sizes)
                    for r in html_report.results_of(data)]
        write_text(output, html_report.render(data))
    out.info(f"wrote {output}")


def _source_rewriter(road: SettingsRoad) -> Rewriter:
    """How ``generate`` wrote a file and ``check-generated`` re-renders it: the source's own
    settings and its folder as the build context."""

    def rewrite_source(text: str, source: Path) -> str:
        return rewrite_text(text, path=str(source), context_dir=source.parent,
                            options=_options_for(str(source), road)).text

    return rewrite_source


@app.command(cls=TidyCommand)
@with_settings
def generate(
    source: Annotated[str, typer.Argument(
        metavar="DOCKERFILE", help="The simple Dockerfile: the source people edit.")] = "Dockerfile",
    output: Annotated[str | None, _flag(
        "-o", "--output", metavar="FILE", help="The generated file (default: DOCKERFILE.slim).")] = None,
    road: SettingsRoad = SettingsRoad(),
    quiet: Quiet = False,
) -> None:
    """Write the rewrite as a generated file whose header names its source and the source's
    sha256 (after any parser directive); `check-generated` tells CI when it goes stale.

    The source's folder is the build context, as check-generated assumes; keep rewrite flags
    in .dockerslim.toml so both use the same settings."""
    from . import generated

    out = _out(quiet, False)
    with _errors_exit_2():
        if source == STDIN:
            raise UsageError("generate needs the source as a file: its header names it")
        target = output or f"{source}.slim"
        text = read_text(source)
        write_text(target, generated.render(Path(source), Path(target), _source_rewriter(road), text=text))
    out.info(f"wrote {target}")


def main() -> None:
    """Console entry point: typer handles usage errors (exit 2); no traceback reaches a user."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")  # a path in a message never fails to print
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # `dockerslim rewrite … | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if os.environ.get("DOCKERSLIM_DEBUG"):
            raise
        typer.echo(f"dockerslim: internal error: {type(exc).__name__}: {exc} "
                   "(set DOCKERSLIM_DEBUG=1 for details)", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
