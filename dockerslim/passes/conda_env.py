"""DS102 conda-env: a conda/mamba/micromamba image's environment is built in the full image and
only the environment folder is copied onto a slim base of the same OS release.

The builder replays the original stage up to its last environment step (conda/mamba/micromamba
installs and pip installs into the env, which land in the env folder) and ends in
``conda clean -afy`` when the file does not clean the package cache itself. The runtime stage
starts from the family's runtime base (``data/conda.toml``: ``debian:<release>-slim`` for the
continuumio images, Ubuntu for conda-forge's, with their tini entrypoint), sets the full image's
ENV (PATH with the env's ``bin``), receives the env folder where the first env step was, and
replays everything else in order. ``mambaorg/micromamba`` is left alone: it is already micromamba
on debian slim, and its entrypoint activates the env, which a bare base would not.
``conda run -n X prog …`` in CMD/ENTRYPOINT becomes the env's ``bin/prog …``.

Declined, with the line: anything that needs conda itself at run time (``SHELL`` through
``conda run``, ``conda activate``/``source activate`` in CMD or a start script, an env whose
packages need their activation scripts), a RUN the slim base may not be able to replay, pip
installs outside the env (``--user``, ``--target``), an env file that is not in the context, and
non-root users the slim base does not have. Already multi-stage files are the author's.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
from dataclasses import dataclass, field, replace
from typing import Any

from .. import ir
from ..catalog import load
from ..changes import Change, CommandEdit, Note, PassResult
from ..classify import pip_argv
from ..image import ImageRef
from ..pass_context import PassContext
from ..rules import ignored
from ..rules import rule as catalogue_entry
from ..shell import SimpleCommand, has_comment, run_commands
from ..variables import StageValues, resolved_image
from ._lint import pin_rules, with_ignore

RULE = catalogue_entry("conda-env")  # id, name and summary: data/rules.toml
ID, NAME, SUMMARY = RULE.id, RULE.name, RULE.summary
BUILDER = "conda-env"
IMAGE_ONLY = (ir.Cmd, ir.Entrypoint, ir.Expose, ir.Healthcheck, ir.Stopsignal, ir.Volume, ir.Label, ir.Onbuild,
              ir.Maintainer)
CONDA_TOOLS = ("conda", "mamba", "micromamba")
RUN_OPTIONS_WITH_VALUE = ("-n", "--name", "-p", "--prefix", "--cwd")
RUN_FLAGS = ("--no-capture-output", "--live-stream", "--no-banner")


class Decline(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class EnvPlan:
    """What the walk over the stage found."""

    family: dict[str, Any]
    prefixes: set[str] = field(default_factory=set)  # env folders the file installs into
    packages: dict[str, set[str]] = field(default_factory=dict)  # prefix -> package names installed there
    env_runs: list[int] = field(default_factory=list)  # body indexes of the env RUNs
    cleaned: bool = False  # the file cleans the package cache itself


def family_of(image: str) -> dict[str, Any] | None:
    """The conda.toml entry of an image (repository as written, wildcards allowed), or None."""
    try:
        repo = ImageRef.parse(image).canonical_name if "$" not in image else ""
    except ValueError:  # not an image reference (stage name, typo): not a conda image
        return None
    for entry in load("conda")["image"]:
        if repo and fnmatch.fnmatchcase(repo, entry["repository"]):
            return dict(entry)
    return None


def _option(argv: tuple[str, ...], *names: str) -> str | None:
    for i, word in enumerate(argv):
        for name in names:
            if word == name and i + 1 < len(argv):
                return argv[i + 1]
            if word.startswith(name + "=") and name.startswith("--"):
                return word.split("=", 1)[1]
    return None


def _subcommand(cmd: SimpleCommand) -> list[str]:
    """conda's subcommand words (``env create`` is two)."""
    words = [w for w in cmd.argv[1:] if not w.startswith("-")]
    if words[:1] == ["env"] and len(words) > 1:
        return words[:2]
    return words[:1]


def _env_file_name(path: str, cwd: str, context: PassContext, copies: dict[str, str], line: int | None) -> str | None:
    """The ``name:`` of an environment.yml the RUN reads (found through the COPY that put it there)."""
    target = posixpath.normpath(posixpath.join(cwd, path))
    source = copies.get(target)
    if source is None or context.context_dir is None or not (context.context_dir / source).is_file():
        raise Decline(f"the environment file {path} is not in the build context: its env name cannot be read", line)
    for raw in (context.context_dir / source).read_text(encoding="utf-8", errors="replace").splitlines():
        m = re.match(r"^name:\s*['\"]?([^'\"\s#]+)", raw)
        if m:
            return m.group(1)
    return None


def _env_file_packages(path: str, cwd: str, context: PassContext, copies: dict[str, str]) -> set[str]:
    source = copies.get(posixpath.normpath(posixpath.join(cwd, path)))
    if source is None or context.context_dir is None or not (context.context_dir / source).is_file():
        return set()
    text = (context.context_dir / source).read_text(encoding="utf-8", errors="replace")
    return {m.group(1).lower() for m in re.finditer(r"^\s*-\s*([A-Za-z0-9_.-]+)", text, re.MULTILINE)}


def _conda_target(cmd: SimpleCommand, plan: EnvPlan, cwd: str, context: PassContext,
                  copies: dict[str, str], line: int | None) -> str | None:
    """The env folder a conda/mamba/micromamba command installs into (None: it installs nothing)."""
    family = plan.family
    sub = _subcommand(cmd)
    if not sub or sub[0] not in load("conda")["builder"]["subcommands"]:
        raise Decline(f"`{' '.join(cmd.argv[:3])}` is not an environment install dockerslim can follow", line)
    if sub[0] in ("clean", "config"):
        if sub[0] == "clean":
            plan.cleaned = True
        return None
    prefix = _option(cmd.argv, "-p", "--prefix")
    name = _option(cmd.argv, "-n", "--name")
    if prefix is None and name is None and sub == ["env", "create"]:
        file = _option(cmd.argv, "-f", "--file") or "environment.yml"
        name = _env_file_name(file, cwd, context, copies, line)
        if name is None:
            raise Decline(f"the environment file {file} names no env", line)
    if prefix is None and name is None and sub[0] == "create":
        raise Decline("`create` names no environment (-n or -p)", line)
    if prefix is not None:
        if "$" in prefix:
            raise Decline(f"the env prefix {prefix} holds a variable", line)
        target = posixpath.normpath(posixpath.join(cwd, prefix))
    elif name is not None and name != "base":
        if "$" in name:
            raise Decline(f"the env name {name} holds a variable", line)
        target = posixpath.join(family["envs"], name)
    else:
        target = family["prefix"]
    names = plan.packages.setdefault(target, set())
    names.update(re.split(r"[=<>!~ ]", a, maxsplit=1)[0].lower() for a in cmd.args()[len(sub):])
    env_file = _option(cmd.argv, "-f", "--file")
    if env_file:
        names.update(_env_file_packages(env_file, cwd, context, copies))
    return target


def _pip_target(cmd: SimpleCommand, plan: EnvPlan, path_dirs: list[str], line: int | None) -> str:
    argv = pip_argv(cmd) or ()
    if any(a in ("--user", "--target", "-t", "--prefix", "--root") or a.startswith(("--target=", "--prefix="))
           for a in argv):
        raise Decline("pip installs outside the env (--user/--target/--prefix): the env copy would miss it", line)
    program = cmd.argv[0]
    if program.startswith("/"):
        target = posixpath.dirname(posixpath.dirname(program))
    else:
        target = next((posixpath.dirname(d) for d in path_dirs if d.endswith("/bin")
                       and _inside(posixpath.dirname(d), plan.family["prefix"], plan.prefixes)), plan.family["prefix"])
    if not _inside(target, plan.family["prefix"], plan.prefixes):
        raise Decline(f"pip runs from {program}, which is not a conda env this file builds", line)
    plan.packages.setdefault(target, set()).update(a.lower() for a in argv[1:] if not a.startswith("-"))
    return target


def _inside(path: str, base: str, others: set[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in {base, *others})


def _path_dirs(values: StageValues, family: dict[str, Any]) -> list[str]:
    """PATH as the file sets it (the image's own PATH when the file does not)."""
    raw = values.values.get("PATH") or family.get("env", {}).get("PATH", "")
    return [d for d in raw.split(":") if d and "$" not in d]


def _start_command(node: ir.Cmd | ir.Entrypoint, plan: EnvPlan,
                   context: PassContext) -> tuple[ir.Instruction, str | None]:
    """The CMD/ENTRYPOINT for the runtime: ``conda run -n X prog …`` → ``<env>/bin/prog …``;
    Decline when the start needs conda itself. Returns (node, env prefix it now runs from)."""
    needs = load("conda")["runtime"]["needs_conda"]
    if isinstance(node.command, str):
        try:
            words = shlex.split(node.command)
        except ValueError as err:
            raise Decline(f"{node.keyword} cannot be read ({err})", node.line) from err
        if any(w in ("&&", "||", ";", "|") or w.endswith(";") for w in words) and any(
                w in needs or w == "source" for w in words):
            raise Decline(f"{node.keyword} runs conda (activation) in a shell command; the slim runtime has no conda",
                          node.line)
    else:
        words = list(node.command)
    _check_scripts(node, words, context, needs)
    if not words or words[0].rpartition("/")[2] not in CONDA_TOOLS:
        if any(w in needs for w in words):
            raise Decline(f"{node.keyword} runs `{next(w for w in words if w in needs)}`, which stays in the builder",
                          node.line)
        return node, None
    if words[1:2] != ["run"]:
        raise Decline(f"{node.keyword} runs `{' '.join(words[:2])}`: the slim runtime has no conda", node.line)
    i, env = 2, plan.family["prefix"]
    while i < len(words) and words[i].startswith("-"):
        if words[i] in ("-n", "--name") and i + 1 < len(words):
            env = words[i + 1] if words[i + 1] == "base" else posixpath.join(plan.family["envs"], words[i + 1])
            env = plan.family["prefix"] if words[i + 1] == "base" else env
            i += 2
        elif words[i] in ("-p", "--prefix") and i + 1 < len(words):
            env = words[i + 1]
            i += 2
        elif words[i] in RUN_FLAGS:
            i += 1
        else:
            raise Decline(f"{node.keyword}: `conda run {words[i]}` is an option dockerslim cannot carry over",
                          node.line)
    rest = words[i:]
    if not rest:
        raise Decline(f"{node.keyword}: `conda run` without a program", node.line)
    activated = sorted(plan.packages.get(env, set()) & set(load("conda")["activation"]["packages"]))
    if activated:
        raise Decline(f"{node.keyword} runs through `conda run`, which runs the activation scripts of "
                      f"{', '.join(activated)}; a bare PATH would not set their variables", node.line)
    if env not in plan.prefixes and not _inside(env, plan.family["prefix"], plan.prefixes):
        raise Decline(f"{node.keyword} runs in env {env}, which this file does not build", node.line)
    program = rest[0] if rest[0].startswith("/") else posixpath.join(env, "bin", rest[0])
    argv = [program, *rest[1:]]
    command: ir.Command = tuple(argv) if isinstance(node.command, tuple) else shlex.join(argv)
    return replace(node, command=command, source=None), env


def _check_scripts(node: ir.Instruction, words: list[str], context: PassContext, needs: list[str]) -> None:
    """A start script (``*.sh``) must be readable in the context and must not run conda."""
    for word in words:
        if not word.endswith(".sh"):
            continue
        name = posixpath.basename(word)
        found = [p for p in context.context_dir.rglob(name) if p.is_file()] if context.context_dir else []
        if not found:
            raise Decline(f"{node.keyword} runs {word}, which is not in the build context: whether it needs "
                          "conda at start cannot be read", node.line)
        for path in found:
            text = path.read_text(encoding="utf-8", errors="replace")
            hit = re.search(r"(^|[\s;&|(])(" + "|".join(map(re.escape, [*needs, "source activate"])) + r")(\s|$)",
                            text, re.MULTILINE)
            if hit:
                raise Decline(f"{node.keyword} runs {word}, which calls `{hit.group(2)}`: "
                              "the slim runtime has no conda", node.line)


def _runtime_run_ok(node: ir.Run, cmds: list[SimpleCommand], plan: EnvPlan) -> None:
    allowed = set(load("conda")["runtime"]["programs"])
    needs = set(load("conda")["runtime"]["needs_conda"])
    for cmd in cmds:
        if cmd.program in needs:
            raise Decline(f"this RUN runs `{cmd.program}` after the env is built; the runtime has no conda", node.line)
        if cmd.program not in allowed and not cmd.argv[0].startswith(
                tuple(p.rstrip("/") + "/" for p in {plan.family["prefix"], *plan.prefixes})):
            raise Decline(f"this RUN runs `{cmd.program}`, which the slim runtime base may lack "
                          "(the full conda image ships more programs)", node.line)


def _clean_command(tool: str) -> tuple[str, ...]:
    return ("micromamba", "clean", "--all", "--yes") if tool == "micromamba" else (tool, "clean", "-afy")


def _with_clean(node: ir.Run, clean: tuple[str, ...]) -> list[ir.Instruction]:
    """The last env RUN ending in the cache cleanup (one layer, as hadolint's DL3059 wants); a
    RUN whose script cannot take a ``&&`` safely (exec form, heredoc, comment) gets it apart."""
    script = node.command
    if isinstance(script, str) and not node.heredocs and not has_comment(script):
        return [replace(node, command=f"{script.rstrip()}\n&& {' '.join(clean)}", source=None)]  # "\n": a break hint
    return [node, ir.Run(command=" ".join(clean), leading=("# the package cache (pkgs/) is only needed to install\n",))]


def _plan(df: ir.Dockerfile, stage: ir.Stage, family: dict[str, Any], context: PassContext) -> EnvPlan:
    """Walk the stage: find the env RUNs and their targets; Decline on anything not carried over."""
    plan = EnvPlan(family=family)
    values = StageValues(df)
    cwd = "/"
    copies: dict[str, str] = {}  # image path -> context path of single-file COPYs (env files)
    builder_programs = set(load("conda")["builder"]["programs"])
    for index, node in enumerate(stage.body):
        values.visit(node)
        if isinstance(node, ir.Workdir):
            path = values.resolve(node.path)
            cwd = posixpath.normpath(posixpath.join(cwd, path)) if path else "?"
        elif isinstance(node, ir.Shell) and any(w.rpartition("/")[2] in CONDA_TOOLS for w in node.command):
            raise Decline("SHELL runs every later RUN through conda; the runtime stage would need conda", node.line)
        elif isinstance(node, ir.Copy) and node.flag("from") is None and not node.heredocs and len(node.sources) == 1:
            dest = values.resolve(node.dest)
            if dest and cwd != "?":
                full = posixpath.normpath(posixpath.join(cwd, dest))
                if node.dest.endswith("/") or dest in (".", "./"):
                    full = posixpath.join(full, posixpath.basename(node.sources[0]))
                copies[full] = node.sources[0]
        elif isinstance(node, ir.Run):
            cmds = run_commands(node, cwd if cwd != "?" else "/")
            text = node.command if isinstance(node.command, str) else " ".join(node.command)
            if cmds is None:
                if re.search(r"\b(conda|mamba|micromamba|pip3?)\b", text):
                    raise Decline("this RUN's shell cannot be read, and it touches the env", node.line)
                raise Decline("this RUN's shell cannot be read: whether the slim runtime can replay it is unknown",
                              node.line)
            env_cmds = [c for c in cmds if c.program in CONDA_TOOLS or pip_argv(c) is not None]
            if not env_cmds:
                continue
            if cwd == "?":
                raise Decline("this env RUN runs in a WORKDIR that holds a variable", node.line)
            for cmd in cmds:
                if cmd.program not in builder_programs and not cmd.argv[0].startswith(
                        tuple(p.rstrip("/") + "/bin/" for p in {family["prefix"], *plan.prefixes})):
                    raise Decline(f"this RUN installs into the env together with `{cmd.program}`, whose effect "
                                  "outside the env the runtime may need", node.line)
                if cmd.program in ("python", "python3") and pip_argv(cmd) is None:
                    raise Decline("this RUN runs python besides installing; its output outside the env is unknown",
                                  node.line)
            for cmd in env_cmds:
                if cmd.program in CONDA_TOOLS:
                    target = _conda_target(cmd, plan, cmd.cwd or cwd, context, copies, node.line)
                else:
                    target = _pip_target(cmd, plan, _path_dirs(values, family), node.line)
                if target is not None:
                    plan.prefixes.add(target)
            plan.env_runs.append(index)
        elif isinstance(node, ir.User):
            user = (values.resolve(node.user) or node.user).split(":")[0]
            if user not in ("root", "0") and not user.isdigit():
                made = any(isinstance(n, ir.Run) and re.search(rf"\b(useradd|adduser)\b.*\b{re.escape(user)}\b",
                                                               str(n.command)) for n in stage.body)
                if not made:
                    raise Decline(f"USER {node.user} comes from the full image; the slim base has no such user",
                                  node.line)
    return plan


def _copy_dirs(plan: EnvPlan) -> list[str]:
    """The env folders to copy: the base prefix holds every named env too."""
    base = plan.family["prefix"]
    if base in plan.prefixes or any(_inside(p, base, set()) and not p.startswith(plan.family["envs"] + "/")
                                    for p in plan.prefixes):
        return [base]
    return sorted(p for p in plan.prefixes if not any(p != q and p.startswith(q + "/") for q in plan.prefixes))


def _rewrite(df: ir.Dockerfile, stage: ir.Stage, image: str, family: dict[str, Any],
             context: PassContext) -> tuple[ir.Dockerfile, Change] | None:
    plan = _plan(df, stage, family, context)
    if not plan.env_runs:
        return None
    body = stage.body
    first, last = plan.env_runs[0], plan.env_runs[-1]
    # the runtime: every node but the env RUNs, checked; CMD/ENTRYPOINT rewritten off conda
    runtime_body: list[ir.Instruction] = []
    start_env: str | None = None
    rewritten: list[str] = []  # Cmd, Entrypoint: taken off `conda run`
    for index, node in enumerate(body):
        if index in plan.env_runs:
            continue
        if isinstance(node, (ir.Cmd, ir.Entrypoint)):
            node, env = _start_command(node, plan, context)
            start_env = start_env or env
            if env:
                rewritten.append(node.keyword.title())
        elif isinstance(node, ir.Healthcheck) and node.command is not None:
            _check_scripts(node, list(node.command) if isinstance(node.command, tuple) else node.command.split(),
                           context, load("conda")["runtime"]["needs_conda"])
        elif isinstance(node, ir.Run):
            if index < first and isinstance(node.command, str) \
                    and re.search(r"\b(python3?|pip3?)\b", node.command):
                raise Decline("this RUN uses the env's python before the env is built", node.line)
            _runtime_run_ok(node, run_commands(node) or [], plan)
        elif isinstance(node, ir.Copy):
            chown = node.flag("chown")
            if chown and "$" in chown:
                raise Decline(f"COPY --chown={chown} names the full image's user through a variable the slim "
                              "base does not set", node.line)
        runtime_body.append(node)
    dirs = _copy_dirs(plan)
    flags = [ir.Flag(name="from", value=BUILDER)]
    copy = ir.Copy(flags=tuple(flags), paths=(*dirs, dirs[0]) if len(dirs) > 1 else (dirs[0], dirs[0]),
                   leading=("# the conda environment, built in the full image",))
    if len(dirs) > 1:
        copies: list[ir.Instruction] = [ir.Copy(flags=tuple(flags), paths=(d, d)) for d in dirs]
        copies[0] = replace(copies[0], leading=copy.leading)
    else:
        copies = [copy]
    insert_at = sum(1 for i in range(first) if i not in plan.env_runs)
    runtime_body[insert_at:insert_at] = copies
    head: list[ir.Instruction] = []
    env_pairs = [(k, f'"{v}"' if " " in v or "$" in v else v) for k, v in family.get("env", {}).items()]
    if start_env and start_env != family["prefix"]:
        path = family.get("env", {}).get("PATH", "$PATH")  # the image's PATH kept behind: verify compares it
        env_pairs = [p for p in env_pairs if p[0] != "PATH"] + [("PATH", f'"{start_env}/bin:{path}"')]
    if env_pairs:
        head.append(ir.Env(pairs=tuple(env_pairs)))
    added: list[CommandEdit] = []
    config: list[str] = []
    if family.get("entrypoint") and not any(isinstance(n, ir.Entrypoint) for n in body):
        install = [("apt-get", "update"),
                   ("apt-get", "install", "-y", "--no-install-recommends", *family.get("packages", ())),
                   ("rm", "-rf", "/var/lib/apt/lists/*")]
        tini = ir.Run(command=" && ".join(" ".join(c) for c in install))
        head.append(replace(tini, leading=with_ignore(
            (f"# the full image's entrypoint ({' '.join(family['entrypoint'])}) and its package\n",),
            "the full image installs it unpinned too; no version is knowable here", pin_rules(tini))))
        head.append(ir.Entrypoint(command=tuple(family["entrypoint"])))
        added += [CommandEdit(None, c) for c in install]
        config.append("Entrypoint")  # the image's own, which the file never wrote
    # the builder: the stage up to its last env RUN, image-only config left out
    builder_body: list[ir.Instruction] = [n for n in body[:last + 1] if not isinstance(n, IMAGE_ONLY)]
    if not plan.cleaned:
        clean = _clean_command(family["tool"])
        builder_body[-1:] = _with_clean(builder_body[-1], clean)  # type: ignore[arg-type]  # body[last]: a RUN
        added.append(CommandEdit(None, clean))
    runtime_image = family["runtime"]
    builder = ir.Stage(from_=replace(stage.from_, name=BUILDER, source=None), body=tuple(builder_body))
    runtime = ir.Stage(from_=ir.From(image=runtime_image,
                                     name=stage.from_.name, leading=(
                                         "",
                                         f"# runtime: the env folder on {runtime_image}, without conda's installer "
                                         "and package cache",)),
                       body=(*head, *runtime_body))
    new = replace(df, stages=(builder, runtime))
    config += [f"Env.{k}" for k, _ in env_pairs]
    change = Change(
        rule=ID, pass_name=NAME, line=stage.from_.line, end_line=body[-1].line if body else None,
        message=f"conda env {', '.join(dirs)} built in {image} and copied onto {runtime_image}",
        reason=f"{family.get('note', 'a conda image')}; the env folder is a self-contained prefix "
               "(its own python and libraries), so it runs wherever its OS release does",
        effect="the runtime image drops conda's installer, the package cache and the full image's extra packages"
               + ("" if plan.cleaned else " (the builder now cleans pkgs/ before the copy)"),
        risk="medium" if start_env else "low",
        before=stage.from_.image, after=runtime_image, config=tuple(dict.fromkeys([*config, *rewritten])),
        commands=tuple(added),
    )
    return new, change


def run(df: ir.Dockerfile, context: PassContext) -> PassResult:
    result = PassResult(dockerfile=df)
    if len(df.stages) != 1:
        return result
    stage = df.stages[0]
    image = resolved_image(df, stage)
    family = family_of(image)
    if family is None or ignored(RULE, stage.from_, stage):
        return result
    if family.get("decline"):
        result.notes.append(Note(rule=ID, pass_name=NAME, level="skipped", line=stage.from_.line,
                                 message=f"conda env not split: {family['decline']}"))
        return result
    try:
        done = _rewrite(df, stage, image, family, context)
    except Decline as why:
        result.notes.append(Note(rule=ID, pass_name=NAME, level="skipped", line=why.line,
                                 message=f"conda env not split: {why}"))
        return result
    if done is None:
        result.notes.append(Note(rule=ID, pass_name=NAME, line=stage.from_.line,
                                 message="conda env not split: no RUN installs into a conda env"))
        return result
    result.dockerfile, change = done
    result.changes.append(change)
    return result


__all__ = ["ID", "NAME", "SUMMARY", "family_of", "run"]
