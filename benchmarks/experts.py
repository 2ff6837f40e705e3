"""Per-fixture real-build table (issue #11): every fixture in ``fixtures/rewrite/`` built side by
side in one run as the original, dockerslim's default rewrite, the ``--aggressive`` rewrite and the
hand-written ``expected.expert.Dockerfile``; final image size (uncompressed layer tars; gzip with
``--compressed``), image layers and the final stage's own layers, build seconds, and whether each
candidate passes ``verify`` against the original (the fixture's ``smoke.txt`` as the smoke command
when it has one; the expert file verified as a given candidate, ``against=``).

Every fixture is a row: one whose base image has no offline stand-in, or whose original does not
build offline, says so with the reason. Rows go to ``benchmarks/experts.json`` after each fixture
(a later run with ``--columns`` or ``--only`` updates just those cells); the "Image size" section of
``benchmarks/RESULTS.md`` is rendered from that file, here and by ``benchmarks/run.py``.

Run: .venv/bin/python benchmarks/experts.py [--only CASE ...] [--columns default,aggressive,expert]
     .venv/bin/python benchmarks/experts.py --render   (rewrite the section from experts.json only)
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import inspect
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockerslim import Options, parse, rewrite  # noqa: E402
from dockerslim.builders import Buildah  # noqa: E402
from dockerslim.ir import Arg  # noqa: E402
from dockerslim.verify import Session, VerifyReport, declared_by, left_out_by_rewrite  # noqa: E402
from tests import standins  # noqa: E402

OUT = ROOT / "benchmarks"
FIXTURES = ROOT / "fixtures" / "rewrite"
DATA = Path(os.environ.get("DOCKERSLIM_EXPERTS_JSON", OUT / "experts.json"))  # another file: a second worker
RESULTS = OUT / "RESULTS.md"
TITLE = "## Image size (real builds, buildah, offline stand-in base images)"
CANDIDATES = ("default", "aggressive", "expert")
DETAIL = 400  # characters of a failing check's detail kept in the JSON
STORAGE_RACE = "layer not known"  # buildah, when a concurrent build or removal changed the layer cache under it


# --- what to build -------------------------------------------------------------------------

def aggressive_kind() -> str | None:
    """How this dockerslim is asked for ``--aggressive`` ("options" or "kwarg"), None before it exists."""
    if "aggressive" in {f.name for f in dataclasses.fields(Options)}:
        return "options"
    if "aggressive" in inspect.signature(rewrite).parameters:
        return "kwarg"
    return None


def rewrite_text(case: Path, text: str, aggressive: bool) -> tuple[str, dict[str, Any]]:
    """The rewrite and what it declares (config keys, replaced dists, moved-out folders) for verify."""
    kw: dict[str, Any] = {"path": str(case / "Dockerfile"), "context_dir": case}
    if aggressive:
        kind = aggressive_kind()
        if kind == "options":
            kw["options"] = Options(aggressive=True)  # type: ignore[call-arg]
        else:
            kw["aggressive"] = True
    result = rewrite(text, **kw)
    declared, replaced, moved_out = declared_by(result)
    return result.text, {"declared": declared, "replaced": replaced, "moved_out": moved_out}


def _subst(image: str, args: dict[str, str]) -> str:
    """``image`` with ARG references replaced as a build without --build-arg resolves them: an ARG
    declared without default is empty, ``${X:-word}`` takes word when X is unset or empty,
    ``${X-word}`` only when unset (one nested reference in word, as builders read it)."""
    def one(m: re.Match[str]) -> str:
        name, colon, word = m.group(1) or m.group(4), m.group(2), m.group(3)
        value = args.get(name)
        if word is not None and (value is None or (colon and not value)):
            return _subst(word, args)
        return value or ""
    return re.sub(r"\$\{(\w+)(?:(:?)-((?:[^${}]|\$\{[^}]*\}|\$\w+)*))?\}|\$(\w+)", one, image)


def from_images(text: str) -> tuple[list[str], str | None]:
    """Every base image a Dockerfile pulls (global ARG defaults substituted, stage names and
    scratch left out), and the final stage's base image ("scratch" for none, None if unknown)."""
    df = parse(text)
    args: dict[str, str] = {}  # each default sees the ARGs declared before it
    for a in (a for a in df.preamble if isinstance(a, Arg)):
        for n, d in a.pairs:
            args[n] = _subst((d or "").strip("\"'"), args)
    names: dict[str, str] = {}  # stage name -> its base image
    images: list[str] = []
    final: str | None = None
    for stage in df.stages:
        image = _subst(stage.from_.image, args)
        base = names.get(image.lower(), image)
        if image.lower() not in names and image.lower() != "scratch" and image not in images:
            images.append(image)
        if stage.name:
            names[stage.name.lower()] = base
        final = base
    return images, final


# --- building ------------------------------------------------------------------------------

def _cell(report: VerifyReport, base_layers: int | None) -> dict[str, Any]:
    side = report.rewrite
    failed = [{"check": c.name, "detail": c.detail[-DETAIL:] if c.name.endswith("builds") else c.detail[:DETAIL]}
              for c in report.checks if not c.ok]  # a build's error is at the end of its output
    cell: dict[str, Any] = {"verify": "pass" if report.ok else "fail", "failed": failed}
    if side is None:
        cell["status"] = "did not build"
        return cell
    cell.update(status="built", size=side.size, compressed=side.compressed, layers=side.layers,
                stage_layers=side.layers - base_layers if base_layers is not None else None,
                build_s=round(side.build_seconds, 1),
                smoke=side.smoke.exit_code if side.smoke else None)
    return cell


def bench_case(case: Path, builder: Buildah, env: dict[str, str], columns: tuple[str, ...],
               compressed: bool) -> dict[str, Any]:
    """One fixture's row (only ``columns`` among the candidates; the original always)."""
    text = (case / "Dockerfile").read_bytes().decode("utf-8")
    smoke_file = case / "smoke.txt"
    smoke = smoke_file.read_text().strip() if smoke_file.exists() else None
    row: dict[str, Any] = {"case": case.name, "smoke": smoke}
    texts: dict[str, tuple[str, dict[str, Any]]] = {}
    for col in columns:
        try:
            if col == "expert":
                expert = case / "expected.expert.Dockerfile"
                if expert.exists():
                    # it may leave out what dockerslim's own rewrite declares left out on purpose
                    texts[col] = (expert.read_text(), {"against": True, "moved_out": left_out_by_rewrite(
                        text, str(case / "Dockerfile"), case)})
                else:
                    row[col] = {"status": "no expert file"}
            elif col == "aggressive" and aggressive_kind() is None:
                row[col] = {"status": "not available (this dockerslim has no aggressive option yet)"}
            else:
                texts[col] = rewrite_text(case, text, col == "aggressive")
        except Exception as exc:  # a crash of the rewrite is a result, not a reason to stop
            row[col] = {"status": f"rewrite raised {type(exc).__name__}: {exc}"[:DETAIL]}

    bases: dict[str, int | None] = {}

    def base_layers(final: str | None) -> int | None:
        if final is None:
            return None
        if final.lower() == "scratch":
            return 0
        if final not in bases:
            try:
                bases[final] = builder.inspect(final).layers
            except Exception:
                bases[final] = None
        return bases[final]

    def missing(images: list[str]) -> list[str]:
        return [i for i in images if not standins._exists(env, i)]

    images, final = from_images(text)
    lost = missing(images)
    if lost:
        whys = dict.fromkeys(w for w in map(standins.why_missing, lost) if w)
        row["original"] = {"status": f"no offline stand-in for {', '.join(lost)}"
                           + "".join(f": {w}" for w in whys)}
        for col in texts:
            row[col] = {"status": "not built (original not built)"}
        return row
    with Session(text, path=str(case / "Dockerfile"), context=case, builder=builder, smoke=smoke,
                 compressed=compressed) as session:
        probe = VerifyReport(path=str(case), builder=builder.name, changed=True)
        started = time.monotonic()
        orig = session.original(probe)
        if orig is None:
            detail = next((c.detail for c in probe.checks if not c.ok), "")
            why = standins.fails_because(text + "\n" + detail)  # the hosts it names, what its build said
            row["original"] = {"status": "original does not build offline" + (f": {why}" if why else ""),
                               "detail": detail[-DETAIL:]}
            for col in texts:
                row[col] = {"status": "not built (original not built)"}
            return row
        side = orig.side
        row["original"] = {"status": "built", "size": side.size, "compressed": side.compressed, "layers": side.layers,
                           "stage_layers": side.layers - (base_layers(final) or 0) if base_layers(final) is not None
                           else None, "build_s": round(side.build_seconds, 1),
                           "smoke": side.smoke.exit_code if side.smoke else None,
                           "setup_s": round(time.monotonic() - started, 1)}
        for col, (candidate, kw) in texts.items():
            cimages, cfinal = from_images(candidate)
            clost = missing(cimages)
            if clost:
                row[col] = {"status": f"no offline stand-in for {', '.join(clost)}"}
                continue
            print(f"  {case.name}: {col}", file=sys.stderr, flush=True)
            report = session.verify(candidate, **kw)
            if not report.changed:
                row[col] = {"status": "unchanged", "verify": "n/a"}
                continue
            row[col] = _cell(report, base_layers(cfinal))
    return row


def _commit() -> str:
    """HEAD, marked "+dirty" when dockerslim/ has uncommitted changes (the tree is shared while it runs)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "dockerslim"], cwd=ROOT, capture_output=True,
                           text=True).stdout
    return head.strip() + ("+dirty" if dirty.strip() else "")


def load() -> dict[str, Any]:
    return json.loads(DATA.read_text()) if DATA.exists() else {"rows": {}}


def run(only: set[str] | None, columns: tuple[str, ...], compressed: bool) -> dict[str, Any]:
    """Build the fixtures (all, or ``only``), merging the cells into experts.json as each ends."""
    why = standins.available()
    if why:
        print(f"skipping builds: {why}", file=sys.stderr)
        return load()
    try:
        env = standins.buildah_env() if os.environ.get("DOCKERSLIM_EXPERTS_NO_ENSURE") else standins.ensure()
    except RuntimeError as exc:  # one broken stand-in: the fixtures on it become "no stand-in" rows
        print(f"stand-ins incomplete, going on with those built: {str(exc)[:300]}", file=sys.stderr)
        env = standins.buildah_env()
    builder = Buildah(pull="never", env=env)
    cases = sorted(p.parent for p in FIXTURES.glob("*/Dockerfile"))
    for case in cases:
        if only and case.name not in only:
            continue
        print(f"{datetime.datetime.now(datetime.UTC):%H:%M:%S} {case.name}", file=sys.stderr, flush=True)
        row = bench_case(case, builder, env, columns, compressed)
        for _ in range(2):  # buildah's layer cache raced by other builds in the same storage: not the file's fault
            if STORAGE_RACE not in json.dumps(row):
                break
            print(f"  {case.name}: buildah storage race ({STORAGE_RACE}), building again", file=sys.stderr, flush=True)
            row = bench_case(case, builder, env, columns, compressed)
        data = load()
        old = data["rows"].get(case.name, {})
        if "original" in old and old["original"].get("status") == "built" and set(columns) != set(CANDIDATES):
            row["original"] = old["original"]  # a partial re-run keeps the original the other cells compare with
        row["measured"] = {**old.get("measured", {}), **dict.fromkeys(("original", *columns), _commit())}
        data["rows"][case.name] = {**old, **row}
        data["run"] = {"when": f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC", "commit": _commit(),
                       "machine": platform.machine(), "python": platform.python_version(),
                       "aggressive": aggressive_kind() is not None or data.get("run", {}).get("aggressive", False)}
        data["fixtures"] = len(cases)
        DATA.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return load()


# --- rendering -----------------------------------------------------------------------------

def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:,.1f}"


def _size_cell(cell: dict[str, Any], orig: dict[str, Any]) -> str:
    status = str(cell.get("status", ""))
    if status == "unchanged":
        return "= original (unchanged)"
    if status != "built":
        return "not measured" if raced(cell) else status
    r = cell["size"] / orig["size"] if orig.get("size") else None
    ratio = "" if r is None else f" (**{r:.3f}**)" if 0.995 <= r < 1.005 else f" (**{r:.2f}**)"
    comp = f", {_mb(cell['compressed'])} gz" if cell.get("compressed") else ""
    own = cell.get("stage_layers")
    layers = f"{'?' if own is None else own}/{cell['layers']}"
    return f"{_mb(cell['size'])}{ratio}{comp} · {layers} · {cell['build_s']:.0f} s"


def raced(cell: dict[str, Any]) -> bool:
    """The build failed on buildah's shared layer cache, not on the Dockerfile: not a measurement."""
    return STORAGE_RACE in json.dumps(cell)


def _verify_cell(cell: dict[str, Any]) -> str:
    if raced(cell):
        return "not measured: buildah storage race"
    if cell.get("verify") == "pass":
        return "pass"
    if cell.get("verify") == "fail":
        return "**FAIL**: " + ", ".join(f["check"] for f in cell.get("failed", []))
    return "—"


def ratio(row: dict[str, Any], col: str) -> float | None:
    """Candidate size / original size; an unchanged rewrite is 1.0."""
    orig, cell = row.get("original", {}), row.get(col, {})
    if not orig.get("size"):
        return None
    if cell.get("status") == "unchanged":
        return 1.0
    return cell["size"] / orig["size"] if cell.get("size") else None


def section(data: dict[str, Any]) -> list[str]:
    """The "Image size" section of RESULTS.md, from experts.json."""
    names = sorted({p.parent.name for p in FIXTURES.glob("*/Dockerfile")} | set(data.get("rows", {})))
    rows = [data.get("rows", {}).get(k) or {"case": k, "original": {"status": "not run yet"}} for k in names]
    if not rows:
        return []
    run_ = data.get("run", {})
    lines = [TITLE, "",
             f"Run {run_.get('when', '?')} (dockerslim {run_.get('commit', '?')}) on {run_.get('machine', '?')}, "
             f"CPython {run_.get('python', '?')}, by "
             f"`benchmarks/experts.py` (also run by `benchmarks/run.py`): every one of the {len(rows)} fixtures in "
             "`fixtures/rewrite/`, built with buildah (`--isolation chroot`, `--pull=never`) as the original, "
             "dockerslim's default rewrite, the `--aggressive` rewrite and the hand-written "
             "`expected.expert.Dockerfile`. Each candidate is checked by `dockerslim.verify` against the original "
             "(the fixture's `smoke.txt` as smoke command when it has one, else its HEALTHCHECK if any; the expert "
             "file as a given candidate, `against=`). Rows per fixture with all figures: `benchmarks/experts.json`.",
             "",
             "Base images are **offline stand-ins** (tests/standins), tagged with the real names: Debian bookworm "
             "with Debian's Python 3.11 for every `python:3.X` (also 3.9), the devel/full variants adding compilers "
             "and headers; Debian for `ubuntu:jammy` and the `nvidia/cuda` images (no CUDA libraries); Debian's "
             "Node.js 18 + npm for every `node:*` tag (full: with recommends and compilers; slim: without); Debian's "
             "rustc/cargo 1.63 for `rust:1.80`; `continuumio/miniconda3` imitates conda's layout (a "
             "self-contained /opt/conda prefix, a `conda` script over pip: install, create, env create -f, run, "
             "clean), not conda itself, and `condaforge/miniforge3` (the same prefix, `mamba`, tini) and "
             "`mambaorg/micromamba` (only `micromamba`, an empty base env, user mambauser) imitate their images "
             "the same way; a python=X spec gets the stand-in's 3.11. Absolute sizes are "
             "therefore smaller than with the real images (pytorch devel 6.66 GB vs runtime 3.03 GB); the ratios "
             "show what each file itself changes. Fixtures whose base has no faithful Debian imitation (alpine, "
             "maven/temurin, tensorflow, a digest-pinned base) or that fetch from hosts this "
             "machine cannot reach (GitHub, bootstrap.pypa.io, Maven Central) are rows that say so. Build seconds "
             "are with buildah's layer cache as earlier builds in the same storage left it, on 2 cores shared with "
             "other work (load average 7-13 during the run): read them relative to each other. The run imports "
             "dockerslim from the working tree at the commit noted (\"+dirty\": other uncommitted work in it).",
             "",
             "Cell: size MB (**ratio** to the original) · final-stage layers/image layers · build seconds. "
             "*verify*: the checks of `dockerslim verify` the candidate fails (\"rewrite is smaller\" included).",
             "",
             "| fixture | original | default rewrite | verify | `--aggressive` | verify | expert file | verify |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        orig = r.get("original", {})
        if orig.get("status") != "built":
            why = orig.get("status", "?") + (f": `{' '.join(orig['detail'].split())[-160:]}`" if orig.get("detail")
                                             else "")
            why = "not measured (buildah storage race)" if raced(orig) else f"not built: {why}"
            lines.append(f"| {r['case']} | {why} | | | | | | |")
            continue
        o = f"{_mb(orig['size'])} · {orig.get('stage_layers', '?')}/{orig['layers']} · {orig['build_s']:.0f} s"
        cells = [o]
        for col in CANDIDATES:
            cell = r.get(col, {"status": "not run"})
            cells += [_size_cell(cell, orig), _verify_cell(cell)]
        lines.append(f"| {r['case']} | " + " | ".join(cells) + " |")
    lines += ["", *summary(rows, run_.get("aggressive", False)), "",
              "Reading the verify column: \"rewrite is smaller\" fails when the candidate is not strictly smaller "
              "(a rewrite that changes the file and saves nothing); an expert file is held to the same checks as a "
              "rewrite, so \"app files kept\" fails where it leaves build sources or wheels behind on purpose, and "
              "\"image config kept\" where it sets a different PATH. \"python sees the same packages\" on the "
              "stand-ins can come from the stand-in itself: its python is Debian's, which also imports the "
              "python3-* packages apt pulls in (e.g. with npm), where the real python image's would not.",
              "", "![sizes](sizes.png)", ""]
    return lines


def summary(rows: list[dict[str, Any]], aggressive: bool) -> list[str]:
    built = [r for r in rows if r.get("original", {}).get("status") == "built"]
    race = [r["case"] for r in rows if r not in built and raced(r.get("original", {}))]
    out = [f"- Built: {len(built)} of {len(rows)} fixtures; not built offline: "
           + (", ".join(r["case"] for r in rows if r not in built and r["case"] not in race) or "none") + "."
           + (f" Not measured (buildah storage race, see below): {', '.join(race)}." if race else "")]
    cols = [c for c in CANDIDATES if c != "aggressive" or aggressive]
    full = [r for r in built if all(ratio(r, c) is not None for c in cols)]
    if full:
        meds = ", ".join(f"{c} **{statistics.median(ratio(r, c) for r in full):.3f}**" for c in cols)  # type: ignore[type-var]
        out.append(f"- Median size ratio (candidate / original) over the {len(full)} fixtures where "
                   f"{' and '.join(cols)} all built: {meds}."
                   + ("" if aggressive else " `--aggressive` was not available in this run."))
    for c in CANDIDATES:
        own = [x for x in (ratio(r, c) for r in built) if x is not None]
        if own:
            out.append(f"- {c}: median ratio {statistics.median(own):.3f} over the {len(own)} fixtures where it built.")
    for c in CANDIDATES:
        cells = [r.get(c, {}) for r in built]
        passed = sum(1 for x in cells if x.get("verify") == "pass")
        failed = [r["case"] for r in built if r.get(c, {}).get("verify") == "fail" and not raced(r[c])]
        lost = [r["case"] for r in built if raced(r.get(c, {}))]
        unchanged = sum(1 for x in cells if x.get("status") == "unchanged")
        tried = passed + len(failed)
        if tried or unchanged:
            out.append(f"- verify, {c}: **{passed} of {tried}** pass"
                       + (f", {unchanged} unchanged (nothing to verify)" if unchanged else "")
                       + (f"; failing: {', '.join(failed)}" if failed else "")
                       + (f"; not measured (buildah storage race): {', '.join(lost)}" if lost else "") + ".")
    bigger = [f"{r['case']} ({c}, ×{ratio(r, c):.2f})" for r in built for c in CANDIDATES
              if (ratio(r, c) or 0) > 1.0]
    out.append("- Bigger than the original: " + (", ".join(bigger) if bigger else "none") + ".")
    if race or any(raced(r.get(c, {})) for r in built for c in CANDIDATES):
        out.append(f"- *Not measured*: buildah failed with \"{STORAGE_RACE}\" while other builds (other work on "
                   "this machine, sharing the stand-ins' storage) changed its layer cache (the script builds "
                   "such a fixture again, up to twice). Not a result about the Dockerfile.")
    return out


def chart(data: dict[str, Any]) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no chart (pip install -e '.[bench]')", file=sys.stderr)
        return None
    rows = [r for k, r in sorted(data.get("rows", {}).items()) if r.get("original", {}).get("size")]
    if not rows:
        return None
    series = [("original", "#c44e52"), ("default", "#4c72b0"), ("aggressive", "#55a868"), ("expert", "#8172b2")]
    fig, ax = plt.subplots(figsize=(10, 0.6 * len(rows) + 1.5))
    h = 0.2
    for i, (col, colour) in enumerate(series):
        vals = []
        for r in rows:
            cell = r.get(col, {})
            size = r["original"]["size"] if cell.get("status") == "unchanged" else cell.get("size")
            vals.append((size or 0) / 1e6)
        ax.barh([y - 0.3 + i * h for y in range(len(rows))], vals, height=h, label=col, color=colour)
    ax.set_yticks(list(range(len(rows))), [r["case"] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("image size, MB (uncompressed layers; 0: not built or not available)")
    ax.set_title("Original, dockerslim rewrites and expert files (offline stand-in bases, buildah)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    path = OUT / "sizes.png"
    fig.savefig(path, dpi=100)
    return path


def replace_section(lines: list[str]) -> None:
    """Put this section into RESULTS.md in place, every other byte (other scripts' sections) kept."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    parts = text.split("\n## ")
    ours = "\n".join(lines)[len("## "):]
    for i, part in enumerate(parts[1:], 1):
        if "## " + part.split("\n", 1)[0] == TITLE:
            parts[i] = ours
            break
    else:
        parts.insert(1, ours)
    RESULTS.write_text("\n## ".join(parts))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", action="append")
    ap.add_argument("--columns", default=",".join(CANDIDATES))
    ap.add_argument("--compressed", action="store_true", help="also gzip each image to measure it (slow)")
    ap.add_argument("--render", action="store_true",
                    help="no builds: render RESULTS.md and sizes.png from experts.json")
    ap.add_argument("--merge", action="append", metavar="JSON",
                    help="no builds: take the rows of another worker's file (DOCKERSLIM_EXPERTS_JSON) into this one")
    args = ap.parse_args()
    if args.merge:
        data = load()
        for other in args.merge:
            for name, new in json.loads(Path(other).read_text())["rows"].items():
                old = data["rows"].get(name, {})
                merged = {**old, **new, "measured": {**old.get("measured", {}), **new.get("measured", {})}}
                if not all(c in new for c in CANDIDATES) and old.get("original", {}).get("status") == "built":
                    merged["original"] = old["original"]  # a partial re-run: cells compare with the first original
                data["rows"][name] = merged
        DATA.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        args.render = True
    columns = tuple(c for c in args.columns.split(",") if c)
    unknown = set(columns) - set(CANDIDATES)
    if unknown:
        ap.error(f"unknown columns: {', '.join(sorted(unknown))}")
    data = load() if args.render else run(set(args.only) if args.only else None, columns, args.compressed)
    chart(data)
    replace_section(section(data))
    print("\n".join(section(data)))


if __name__ == "__main__":
    main()
