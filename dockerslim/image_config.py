"""The final image config a Dockerfile declares, read statically from the IR.

Used to prove that a rewrite keeps Cmd, Entrypoint, Env, WorkingDir, User, ExposedPorts,
Labels, Volumes, Healthcheck, StopSignal and Shell (``verify`` compares the built images too).
Inherited values from the base image are not known here; only what the Dockerfile sets.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from . import ir
from .lexer import unquote_word


def config_env(config: Mapping[str, Any]) -> dict[str, str]:
    """A built image config's ``Env`` (``["NAME=value", …]``) as a mapping."""
    return dict(item.split("=", 1) for item in (config.get("Env") or []) if "=" in item)


def stage_chain(df: ir.Dockerfile, stage: ir.Stage) -> list[ir.Stage]:
    """The stages an image built from ``stage`` is made of: its FROM parents first, ``stage`` last."""
    chain: list[ir.Stage] = []
    current: ir.Stage | None = stage
    while current is not None and current not in chain:
        chain.insert(0, current)
        current = df.stage_named(current.from_.image)
    return chain


def final_config(df: ir.Dockerfile) -> dict[str, object]:
    """Config fields set by the final stage and the stages it builds FROM."""
    chain = stage_chain(df, df.stages[-1])
    env: dict[str, str] = {}
    labels: dict[str, str] = {}
    exposed: list[str] = []
    volumes: list[str] = []
    cfg: dict[str, object] = {"Env": env, "Labels": labels, "ExposedPorts": exposed, "Volumes": volumes}
    workdir = "/"
    for st in chain:
        for node in st.body:
            match node:
                case ir.Env(pairs=pairs):
                    env.update((k, unquote_word(v)) for k, v in pairs)
                case ir.Label(pairs=pairs):
                    labels.update((unquote_word(k), unquote_word(v)) for k, v in pairs)
                case ir.Expose(ports=ports):
                    exposed = sorted(set(exposed) | set(ports))
                    cfg["ExposedPorts"] = exposed
                case ir.Volume(paths=paths):
                    volumes = sorted(set(volumes) | set(paths))
                    cfg["Volumes"] = volumes
                case ir.Workdir(path=path):
                    workdir = posixpath.normpath(posixpath.join(workdir, path))
                    cfg["WorkingDir"] = workdir
                case ir.User(user=user):
                    cfg["User"] = user
                case ir.Cmd(command=c):
                    cfg["Cmd"] = c
                case ir.Entrypoint(command=c):
                    cfg["Entrypoint"] = c
                case ir.Shell(command=c):
                    cfg["Shell"] = c
                case ir.Healthcheck():
                    cfg["Healthcheck"] = (node.command, tuple((f.name, f.value) for f in node.flags))
                case ir.Stopsignal(signal=s):
                    cfg["StopSignal"] = s
    return cfg
