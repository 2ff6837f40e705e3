"""The Jinja environment over ``templates/``, which ships in the wheel as ``dockerslim.templates``.

In a source checkout imported without installation (``python -m pytest`` from the repository
root) that package name does not resolve, so the top-level ``templates/`` folder is used.
Templates only ever receive user text as variables; no input is evaluated as a template.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import jinja2


def _template_dir() -> Traversable:
    try:
        return resources.files("dockerslim.templates")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "templates"


def _load(name: str) -> tuple[str, None, Callable[[], bool]]:
    return _template_dir().joinpath(name).read_text(encoding="utf-8"), None, lambda: True


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        autoescape=False,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def render(name: str, **context: object) -> str:
    return environment().get_template(name).render(**context)
