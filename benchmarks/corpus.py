"""Corpus reach (not a test): how often a rewrite of a realistic file really saves size.

Runs ``dockerslim.rewrite`` in-process over every ``fixtures/corpus/<category>/<name>/Dockerfile``
with its folder as the build context, rewrites the rewrite once more, and reports per category:

- **size-saving rewrite** — decided from the result itself, not from what a pass claims:
  *base swapped*: the final stage's base image, with global ARG defaults substituted, differs
  from the original's (a devel/full image replaced by its runtime/slim variant, whether by
  editing the FROM or the ARG default); or *packages dropped*: some system package the original
  installs is no longer installed by the rewrite's final stage (a split whose runtime leaves
  build-only packages such as compilers and ``-dev`` headers in the builder; the runtime
  libraries it installs in their place are listed, not held against it; a package that
  tools-from-images replaced by a copy of the same tool from its image is not "dropped"). A rewrite
  that only merges RUNs, adds cache cleanup or moves Python deps into a venv on the same base
  is counted as changed but not as size-saving;
- **idempotent** — rewriting the rewrite (same context) returns it unchanged;
- **crashes** — any exception from ``rewrite`` (every corpus file is valid, so a syntax error
  counts too);
- **unknown commands** — share of the simple commands of the original RUNs that
  ``dockerslim.classify.category`` files as ``unknown`` (a RUN whose shell cannot be read at all
  counts as one unknown command);
- **why not** — for files without a size-saving rewrite, the notes of the three passes that decide
  size (conda-env, split-stages, runtime-base), normalised (quoted commands, paths, images and numbers
  elided) and counted once per file.

Writes benchmarks/corpus.json and the "## Corpus reach" section of benchmarks/RESULTS.md (the
rest of that file is left as it is).

Run: .venv/bin/python benchmarks/corpus.py
"""

from __future__ import annotations

import collections
import datetime
import json
import platform
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockerslim import ir, parse, rewrite  # noqa: E402
from dockerslim.classify import category  # noqa: E402
from dockerslim.shell import run_commands  # noqa: E402
from dockerslim.variables import resolved_image  # noqa: E402

CORPUS = ROOT / "fixtures" / "corpus"
OUT = ROOT / "benchmarks"
SECTION = "## Corpus reach"
SIZE_PASSES = ("conda-env", "split-stages", "runtime-base")
DECLINE_WORDS = ("declined", "not split", "not used", "kept", "not worth", "no split", "holds a variable",
                 "nothing is built", "JIT guard")
PACKAGE_MANAGERS = {"apt-get": "install", "apt": "install", "apk": "add", "dnf": "install", "yum": "install",
                    "microdnf": "install"}


@dataclass
class FileResult:
    path: str
    category: str
    crashed: str = ""
    changed: bool = False
    idempotent: bool = True
    base_before: str = ""
    base_after: str = ""
    dropped_packages: list[str] = field(default_factory=list)
    added_packages: list[str] = field(default_factory=list)  # runtime libraries in place of -dev ones
    passes_with_changes: list[str] = field(default_factory=list)
    run_commands: int = 0
    unknown_commands: int = 0
    unknown_programs: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)  # raw size-pass notes: line, source text, message

    @property
    def base_swapped(self) -> bool:
        return bool(self.base_after) and self.base_after != self.base_before

    @property
    def saves_size(self) -> bool:
        return not self.crashed and (self.base_swapped or bool(self.dropped_packages))


def _final_packages(df: ir.Dockerfile) -> set[str]:
    """System packages the final stage installs (apt/apk/dnf install words that are not flags)."""
    out: set[str] = set()
    for node in df.stages[-1].body:
        if not isinstance(node, ir.Run):
            continue
        for cmd in run_commands(node) or []:
            verb = PACKAGE_MANAGERS.get(cmd.program)
            words = [a for a in cmd.argv[1:] if not a.startswith("-")]
            if verb and words[:1] == [verb]:
                out.update(w.split("=")[0] for w in words[1:] if "$" not in w)
    return out


def _short(argv: tuple[str, ...]) -> str:
    """``program sub`` (``python -m venv``, ``apt-key adv``): enough to group like commands."""
    words = [argv[0].rsplit("/", 1)[-1]]
    for word in argv[1:3]:
        if " " in word or len(word) > 24 or word.startswith(("/", ".", "~", "$")):
            break
        words.append(word)
        if word not in ("-m", "-c") and not word.startswith("-"):
            break
    return " ".join(words)


def _unknown_share(df: ir.Dockerfile) -> tuple[int, int, list[str]]:
    """(simple commands in RUNs, how many of them the classifier calls unknown, their programs)."""
    total = unknown = 0
    programs: list[str] = []
    for node in df.instructions():
        if not isinstance(node, ir.Run):
            continue
        cmds = run_commands(node)
        if cmds is None:
            total, unknown = total + 1, unknown + 1
            programs.append("(RUN not analysable)")
            continue
        for previous, cmd in zip([None, *cmds[:-1]], cmds, strict=True):
            if not cmd.argv:
                continue
            total += 1
            if category(cmd, previous) == "unknown":  # previous: the command feeding a pipe (curl … | python)
                unknown += 1
                programs.append(_short(cmd.argv))
    return total, unknown, programs


_ELIDE = [
    (re.compile(r"`[^`]*`"), "`…`"),
    (re.compile(r"'[^']*'"), "'…'"),
    (re.compile(r"\b[\w.-]+/[\w.-]+:[\w.${}-]+"), "IMAGE"),  # repo/name:tag
    (re.compile(r"\b(python|golang|node|ubuntu|debian|gcc|fedora):[\w.${}-]+"), "IMAGE"),
    (re.compile(r"(?<=\bbase )[\w.-]+/[\w./-]+|(?<=would keep )[\w.-]+/[\w./-]+"), "IMAGE"),  # untagged names
    (re.compile(r"(?<![\w.])/[\w./${}*-]+"), "PATH"),
    (re.compile(r"\b[\w.-]+\.py:\d+"), "FILE:N"),
    (re.compile(r"\d+"), "N"),
]


def normalise(message: str) -> str:
    """A decline message with its specifics elided, so the same reason counts as one."""
    for pattern, repl in _ELIDE:
        message = pattern.sub(repl, message)
    return message.split("; it defaults to")[0]


def measure(dockerfile: Path) -> FileResult:
    rel = dockerfile.relative_to(CORPUS)
    res = FileResult(path=str(rel.parent), category=rel.parts[0])
    text = dockerfile.read_bytes().decode("utf-8")
    original = parse(text, str(dockerfile))
    res.run_commands, res.unknown_commands, res.unknown_programs = _unknown_share(original)
    res.base_before = resolved_image(original, original.stages[-1])
    try:
        result = rewrite(text, path=str(dockerfile), context_dir=dockerfile.parent)
        again = rewrite(result.text, path=str(dockerfile), context_dir=dockerfile.parent)
    except Exception as exc:  # a crash is what we measure
        res.crashed = f"{type(exc).__name__}: {exc}".splitlines()[0]
        traceback.print_exc()
        return res
    res.changed = result.changed
    res.idempotent = again.text == result.text
    new = parse(result.text)
    res.base_after = resolved_image(new, new.stages[-1])
    before, after = _final_packages(original), _final_packages(new)
    # a package that tools-from-images replaced by a copy from the tool's image is not dropped
    replaced = {c.message.split()[0] for c in result.changes if c.pass_name == "tools-from-images"}
    res.dropped_packages, res.added_packages = sorted(before - after - replaced), sorted(after - before)
    res.passes_with_changes = sorted({c.pass_name for c in result.changes})
    lines = text.splitlines()
    res.notes = [{"pass": n.pass_name, "level": n.level, "line": n.line, "message": n.message,
                  "source": lines[n.line - 1].strip()[:120] if n.line and n.line <= len(lines) else ""}
                 for n in result.notes if n.pass_name in SIZE_PASSES]
    if not res.saves_size:
        res.reasons = list(dict.fromkeys(f"{n.pass_name}: {normalise(n.message)}" for n in result.notes
                                         if n.pass_name in SIZE_PASSES and any(w in n.message for w in DECLINE_WORDS)))
        if not res.reasons:
            res.reasons = ["(no note from split-stages or runtime-base)"]
    return res


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.0f} %" if d else "–"


def summarise(results: list[FileResult]) -> dict:
    cats = sorted({r.category for r in results})
    per: dict[str, dict] = {}
    for cat in [*cats, "all"]:
        rs = [r for r in results if cat in ("all", r.category)]
        per[cat] = {
            "files": len(rs),
            "size_saving": sum(r.saves_size for r in rs),
            "base_swapped": sum(r.base_swapped for r in rs),
            "packages_dropped": sum(bool(r.dropped_packages) for r in rs),
            "changed": sum(r.changed for r in rs),
            "idempotent": sum(r.idempotent for r in rs if not r.crashed),
            "crashes": sum(bool(r.crashed) for r in rs),
            "run_commands": sum(r.run_commands for r in rs),
            "unknown_commands": sum(r.unknown_commands for r in rs),
        }
    reasons = collections.Counter(reason for r in results if not r.saves_size for reason in r.reasons)
    unknown_bases = collections.Counter(r.base_before for r in results if not r.saves_size and any(
        "catalog knows no runtime variant" in reason for reason in r.reasons))
    programs = collections.Counter(p for r in results for p in r.unknown_programs)
    return {"categories": per, "why_not": reasons.most_common(), "uncatalogued_bases": unknown_bases.most_common(),
            "unknown_programs": programs.most_common()}


def markdown(results: list[FileResult], summary: dict, when: str) -> str:
    per = summary["categories"]
    lines = [
        SECTION,
        "",
        f"Run {when} by `benchmarks/corpus.py` over {per['all']['files']} realistic single-stage Dockerfiles in "
        "`fixtures/corpus/` (written for this benchmark, modelled on what ML and Python teams write), each "
        "rewritten in-process with its folder as the build context. *Size-saving*: the final base image "
        "(ARG defaults substituted) changed, or the final stage no longer installs some system package the "
        "original installs (runtime libraries added in place of `-dev` packages allowed). *Idempotent*: "
        "rewriting the rewrite changes nothing. *Unknown commands*: simple "
        "commands in the original RUNs that the classifier files as unknown. Full per-file data: "
        "`benchmarks/corpus.json`.",
        "",
        "| category | files | size-saving | base swapped | packages dropped | changed at all | idempotent | crashes "
        "| unknown commands |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for cat, s in per.items():
        name = f"**{cat}**" if cat == "all" else cat
        ok = s["files"] - s["crashes"]
        lines.append(
            f"| {name} | {s['files']} | {s['size_saving']} ({_pct(s['size_saving'], s['files'])}) | "
            f"{s['base_swapped']} | "
            f"{s['packages_dropped']} | {s['changed']} | {_pct(s['idempotent'], ok)} | {s['crashes']} | "
            f"{s['unknown_commands']}/{s['run_commands']} ({_pct(s['unknown_commands'], s['run_commands'])}) |")
    lines += ["", "Why files got no size-saving rewrite (notes of conda-env, split-stages and runtime-base, once per "
              "file; top 15):", "", "| files | reason |", "|---|---|"]
    for reason, n in summary["why_not"][:15]:
        cell = reason.replace("|", r"\|")
        lines.append(f"| {n} | {cell} |")
    if summary["uncatalogued_bases"]:
        lines += ["", "Bases kept because the catalog knows no runtime variant: " + ", ".join(
            f"`{b}`" + (f" ×{n}" if n > 1 else "") for b, n in summary["uncatalogued_bases"]) + "."]
    if summary["unknown_programs"]:
        lines += ["", "Commands the classifier files as unknown (program and first argument, all files): " + ", ".join(
            f"`{p}` ×{n}" for p, n in summary["unknown_programs"][:25]) + "."]
    bad = [r for r in results if r.crashed or not r.idempotent]
    if bad:
        lines += ["", "Files that crashed or are not idempotent: "
                  + ", ".join(f"`{r.path}`" + (f" ({r.crashed})" if r.crashed else " (not idempotent)")
                              for r in bad) + "."]
    return "\n".join(lines) + "\n"


def write_section(section: str) -> None:
    """Replace (or append) only the Corpus reach section of RESULTS.md."""
    path = OUT / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    start = text.find(SECTION + "\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        nxt = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + (text[nxt:] if nxt != -1 else "")
    path.write_text(text)


def main() -> None:
    files = sorted(CORPUS.glob("*/*/Dockerfile"))
    results = [measure(f) for f in files]
    summary = summarise(results)
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    data = {
        "run": when, "python": platform.python_version(),
        "definition": __doc__.split("\n\n")[1] if __doc__ else "",
        "summary": summary,
        "files": [dict(vars(r), saves_size=r.saves_size, base_swapped=r.base_swapped) for r in results],
    }
    (OUT / "corpus.json").write_text(json.dumps(data, indent=1) + "\n")
    section = markdown(results, summary, when)
    write_section(section)
    print(section)


if __name__ == "__main__":
    main()
