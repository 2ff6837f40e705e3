"""One road for settings: defaults < configuration file < command-line flags, all validated by
one typed model (``Settings``) that also publishes the JSON schema (``dockerslim config-schema``).

A configuration is ``.dockerslim.toml`` or ``[tool.dockerslim]`` in ``pyproject.toml``, the
nearest one at or above the Dockerfile's folder (a ``.dockerslim.toml`` wins over a
``pyproject.toml`` in the same folder; the search stops at a ``.git`` folder). ``--config FILE``
names one instead, ``--isolated`` ignores them all.

    [tool.dockerslim]
    skip = ["merge-runs"]          # or only = [...]; one name as a string works too
    assembly = true
    keep_base = false
    runtime_base = "python:3.12-slim"
    no_install_recommends = true
    models_context = "models"
    pin_digest = false
    aggressive = false             # prune the artifacts (DS207); always verify the result
    data = ["dockerslim-data/"]    # folders with extra base_images/packages/tools/jit.toml

Every unknown key, unknown pass name or value of the wrong type is a ``SettingsError`` naming
the file (or flag) and the key, with a did-you-mean: the CLI exits 2 with that one line.

Library use: ``options_for(dockerfile, flags)`` (discover + resolve), or ``resolve(flags,
config_file, pyproject)`` with files of your choosing; ``json_schema()`` for the schema.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    field_validator,
)

from .errors import InputError, SettingsError
from .options import Options

CONFIG_NAME = ".dockerslim.toml"
PYPROJECT = "pyproject.toml"
# The flag that sets each key, for messages about command-line values.
FLAGS = {"only": "--only", "skip": "--skip", "assembly": "--no-assembly", "keep_base": "--keep-base",
         "runtime_base": "--runtime-base", "no_install_recommends": "--keep-recommends",
         "models_context": "--models-context", "pin_digest": "--pin-digest", "data": "data",
         "aggressive": "--aggressive"}


@cache
def pass_names() -> dict[str, str]:
    """Every pass id and name the registry declares, mapped to the pass name."""
    from . import passes

    return {**{p.id: p.name for p in passes.PIPELINE}, **{p.name: p.name for p in passes.PIPELINE}}


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or ""."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _one_or_many(value: Any) -> Any:
    """``skip = "merge-runs"`` means that one pass, never the set of its characters."""
    return [value] if isinstance(value, str) else value


def _no_control(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("control characters are not allowed")
    return value


PassNames = Annotated[frozenset[StrictStr], BeforeValidator(_one_or_many)]


class Settings(BaseModel):
    """Every setting dockerslim reads, from a configuration file, a flag or ``Options``."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="dockerslim settings")

    only: PassNames = Field(frozenset(), description="Run only these passes (names or ids); empty: all.")
    skip: PassNames = Field(frozenset(), description="Skip these passes (names or ids).")
    assembly: StrictBool = Field(True, description="Gather artifacts in a FROM scratch stage.")
    keep_base: StrictBool = Field(False, description="Never swap the base image.")
    runtime_base: StrictStr | None = Field(None, description="Force this runtime base image reference.")
    no_install_recommends: StrictBool = Field(True, description="Add apt --no-install-recommends.")
    models_context: StrictStr | None = Field(None, description="Build-context name to copy model configs from.")
    data: tuple[StrictStr, ...] = Field((), description="Folders with extra catalog files (base_images.toml, ...).")
    pin_digest: StrictBool = Field(False, description="Pin tool images by digest from the catalog.")
    aggressive: StrictBool = Field(False, description=(
        "Prune what no program reads from the split's artifacts (DS207, data/prune.toml); "
        "always verify the result (dockerslim verify --aggressive)."))

    @field_validator("only", "skip")
    @classmethod
    def _known_passes(cls, names: frozenset[str]) -> frozenset[str]:
        known = pass_names()
        for name in sorted(names):
            if name not in known:
                raise ValueError(f"unknown pass {name!r}{did_you_mean(name, known)}; passes: "
                                 + ", ".join(sorted(set(known.values()))))
        return names

    @field_validator("runtime_base")
    @classmethod
    def _image_reference(cls, value: str | None) -> str | None:
        from .image import ImageRef, has_variables

        if value is not None and not has_variables(value):
            ImageRef.parse(value)  # ValueError says what is wrong with it
        return value

    @field_validator("models_context")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None:
            if not value.strip():
                raise ValueError("must not be empty")
            _no_control(value)
        return value


def _explain(exc: ValidationError, source: str, *, flags: bool = False) -> SettingsError:
    """The first problem as one line: ``SOURCE: KEY: reason``."""
    err = exc.errors(include_url=False)[0]
    key = str(err["loc"][0]) if err["loc"] else "?"
    name = FLAGS.get(key, key) if flags else key
    name += "".join(f"[{part}]" for part in err["loc"][1:])  # skip[0]: the first item of skip
    where = f"{name}: " if flags else f"{source}: {name}: "
    if err["type"] == "extra_forbidden":
        known = ", ".join(Settings.model_fields)
        reason = f"unknown setting{did_you_mean(key, Settings.model_fields)}; known: {known}"
        return SettingsError(f"{where}{reason}")
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] in ("frozen_set_type", "tuple_type"):
        message = "expected a name or a list of names" if key in ("only", "skip") else "expected a list of strings"
    got = err.get("input")
    scalar = not isinstance(got, (list, tuple, set, frozenset, dict)) and err["type"] != "value_error"
    shown = f" (got {got!r})" if scalar else ""
    return SettingsError(f"{where}{message}{shown}")


def validated(values: Mapping[str, Any], *, source: str, flags: bool = False) -> dict[str, Any]:
    """``values`` checked and normalised by ``Settings``; raises SettingsError naming ``source``."""
    try:
        model = Settings.model_validate(dict(values))
    except ValidationError as exc:
        raise _explain(exc, source, flags=flags) from None
    return {k: getattr(model, k) for k in values}


def json_schema() -> dict[str, Any]:
    """The JSON schema of the configuration (pass names listed as the allowed values)."""
    schema = Settings.model_json_schema()
    names = sorted(pass_names())
    for key in ("only", "skip"):
        prop = schema["properties"][key]
        prop.pop("default", None)
        prop["anyOf"] = [{"type": "string", "enum": names},
                         {"type": "array", "items": {"type": "string", "enum": names}, "uniqueItems": True}]
        prop.pop("type", None)
        prop.pop("items", None)
        prop.pop("uniqueItems", None)
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"


@dataclass(frozen=True)
class Found:
    """The configuration files that apply to one Dockerfile (either may be None)."""

    config_file: Path | None = None
    pyproject: Path | None = None


def discover(start: Path) -> Found:
    """The nearest configuration at or above ``start`` (a file or folder)."""
    folder = start if start.is_dir() else start.parent
    folder = folder.resolve()
    for d in [folder, *folder.parents]:
        own = d / CONFIG_NAME
        if own.is_file():
            return Found(config_file=own)
        project = d / PYPROJECT
        if project.is_file() and _table(project) is not None:
            return Found(pyproject=project)
        if (d / ".git").exists():
            break
    return Found()


def explicit(path: Path) -> Found:
    """``--config FILE``: a pyproject.toml is read for its table, any other file as a whole."""
    if not path.is_file():
        raise InputError("no such configuration file" if not path.exists() else "not a regular file", path=str(path))
    return Found(pyproject=path) if path.name == PYPROJECT else Found(config_file=path)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read configuration: {exc.strerror or exc}", path=str(path)) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None


def _table(pyproject: Path) -> dict[str, Any] | None:
    tool = _read(pyproject).get("tool", {})
    table = tool.get("dockerslim") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise SettingsError(f"{pyproject}: [tool.dockerslim] must be a table")
    return table


def _from_file(table: Mapping[str, Any], source: Path, label: str) -> dict[str, Any]:
    values = validated(table, source=label)
    if "data" in values:  # folders are relative to the file that names them
        values["data"] = tuple(str((source.parent / v).resolve()) for v in values["data"])
    return values


def resolve(cli_flags: Mapping[str, Any] | None = None, config_file: Path | None = None,
            pyproject: Path | None = None) -> Options:
    """Options from defaults < ``[tool.dockerslim]`` in ``pyproject`` < ``config_file`` < flags.

    ``cli_flags`` holds only the flags actually given (None values are dropped). ``--only`` on
    the command line clears a configured ``skip`` unless ``--skip`` is given too."""
    values: dict[str, Any] = {}
    if pyproject is not None:
        table = _table(pyproject)
        if table is not None:
            values.update(_from_file(table, pyproject, f"{pyproject}: [tool.dockerslim]"))
    if config_file is not None:
        values.update(_from_file(_read(config_file), config_file, str(config_file)))
    given = {k: v for k, v in (cli_flags or {}).items() if v is not None}
    flags = validated(given, source="command line", flags=True)
    if "only" in flags and "skip" not in flags:
        values["skip"] = frozenset()
    values.update(flags)
    return Options(**values)


def options_for(dockerfile: str | Path | None, cli_flags: Mapping[str, Any] | None = None, *,
                config: str | Path | None = None, isolated: bool = False) -> Options:
    """The library's door to the same road the CLI takes: the configuration that applies to
    ``dockerfile`` (None: the working directory), or ``config`` alone, or none (``isolated``),
    with ``cli_flags`` on top."""
    if isolated:
        found = Found()
    elif config is not None:
        found = explicit(Path(config))
    else:
        found = discover(Path(dockerfile).absolute() if dockerfile is not None else Path.cwd())
    return resolve(cli_flags, found.config_file, found.pyproject)
