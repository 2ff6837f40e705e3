"""Interpreting argument text the way the builder will: variable expansion and quote removal.

Built on dockerfile-parse's ``WordSplitter``, which implements Docker's ``$VAR``/``${VAR}``
substitution rules; the lossless parsing itself is ours (see lexer.py for why).
"""

from __future__ import annotations

from dockerfile_parse.util import WordSplitter

from . import ir


def global_args(df: ir.Dockerfile) -> dict[str, str]:
    """Defaults of the ARGs declared before the first FROM (the only ones FROM can use)."""
    out: dict[str, str] = {}
    for node in df.preamble:
        if isinstance(node, ir.Arg):
            for name, default in node.pairs:
                if default is not None:
                    out[name] = expand(default, out)
    return out


def expand(text: str, args: dict[str, str]) -> str:
    """``text`` with ``$VAR``/``${VAR}`` replaced from ``args`` and quotes removed."""
    return WordSplitter(text, args=args).dequote()


def resolved_image(df: ir.Dockerfile, stage: ir.Stage) -> str:
    """A stage's base image with global ARG defaults substituted (unchanged when none apply)."""
    image = stage.from_.image
    return expand(image, global_args(df)) if "$" in image else image
