"""Fleet benchmark (not a test): rewrite N varied Dockerfiles with jobs=1 and jobs=2 and report
the speed-up, checking both runs give the same outcomes in the same order.

The files are made from every Dockerfile in fixtures/ (corpus and rewrite cases), each varied
deterministically (seeded): base image tag, package lists reordered and extended, extra RUN
steps, comments, ENV lines. Each goes into its own folder, as in a monorepo.

Run on a quiet machine:  .venv/bin/python benchmarks/fleet.py --files 5000 --out benchmarks/FLEET.md
Quick look:              .venv/bin/python benchmarks/fleet.py --files 200
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockerslim import __version__  # noqa: E402
from dockerslim.fleet import FileOutcome, rewrite_many, summary_line  # noqa: E402
from tests.conftest import dockerfiles  # noqa: E402

TAGS = {"python": ["3.10", "3.11", "3.12", "3.12-bookworm"], "node": ["18", "20", "22"], "golang": ["1.21", "1.22"]}
EXTRA_APT = ["curl", "git", "ca-certificates", "libpq-dev", "build-essential", "pkg-config", "libffi-dev"]
INSTRUCTION = re.compile(r"(RUN|COPY|ADD|ENV|WORKDIR|CMD|ENTRYPOINT|EXPOSE|USER|LABEL) ")
EXTRA_PIP = ["requests", "numpy", "flask", "gunicorn", "pydantic", "boto3", "psycopg2"]


def vary(text: str, rng: random.Random, index: int) -> str:
    """One deterministic variation of a Dockerfile: still a Dockerfile, often a different rewrite."""
    def retag(m: re.Match) -> str:
        image = m.group(2)
        return f"{m.group(1)}{image}:{rng.choice(TAGS[image])}" if image in TAGS else m.group(0)

    out = re.sub(r"(?m)^(FROM\s+)(python|node|golang):[\w.-]+", retag, text, count=1)
    if rng.random() < 0.5:
        out = re.sub(r"apt-get install -y", "apt-get install -y " + " ".join(rng.sample(EXTRA_APT, rng.randint(1, 3))),
                     out, count=1)
    if rng.random() < 0.4:
        out = out.replace("pip install ", "pip install " + " ".join(rng.sample(EXTRA_PIP, rng.randint(1, 2))) + " ", 1)
    lines = out.splitlines()
    first_from = next((i for i, line in enumerate(lines) if line.upper().startswith("FROM")), None)
    if first_from is None:
        return out
    body = [i for i, line in enumerate(lines)  # instruction starts, not continuation lines
            if i > first_from and INSTRUCTION.match(line) and not lines[i - 1].rstrip().endswith("\\")]
    if body and rng.random() < 0.6:
        at = rng.choice(body)
        lines.insert(at, f"RUN echo build {index} > /etc/build-{index}.txt")
    if rng.random() < 0.5:
        lines.insert(first_from + 1, f"ENV SERVICE_ID={index} LOG_LEVEL={rng.choice(['info', 'debug'])}")
    if rng.random() < 0.5:
        lines.insert(first_from, f"# service {index}: generated for the fleet benchmark")
    return "\n".join(lines) + "\n"


def make_fleet(folder: Path, n: int, seed: int) -> list[str]:
    templates = [p.read_text(encoding="utf-8") for p in dockerfiles(ROOT / "fixtures" / "rewrite")
                 + dockerfiles(ROOT / "fixtures" / "corpus")]
    rng = random.Random(seed)
    paths = []
    for i in range(n):
        target = folder / f"svc-{i:05d}" / "Dockerfile"
        target.parent.mkdir(parents=True)
        target.write_text(vary(templates[i % len(templates)], rng, i), encoding="utf-8")
        paths.append(str(target))
    return paths


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (the pool's workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(paths: list[str], jobs: int) -> tuple[float, float, list[FileOutcome]]:
    """Wall seconds, CPU seconds (all processes) and outcomes. The CPU time does not depend on
    what else runs on the machine, so it shows the pool's overhead even on a busy one."""
    start, cpu = time.perf_counter(), _cpu()
    outcomes = rewrite_many(paths, jobs=jobs, keep=False, progress=False)
    return time.perf_counter() - start, _cpu() - cpu, outcomes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--repeat", type=int, default=1, help="runs per setting; the best time counts")
    ap.add_argument("--out", type=Path, help="write the result as Markdown to this file")
    args = ap.parse_args()

    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dockerslim-fleet-") as tmp:
        paths = make_fleet(Path(tmp), args.files, args.seed)
        timed(paths[:20], 1)  # imports and catalogs load once, outside the timings
        times: dict[int, float] = {}
        cpus: dict[int, float] = {}
        results: dict[int, list[FileOutcome]] = {}
        for jobs in (1, 2):
            for _ in range(args.repeat):
                seconds, cpu, outcomes = timed(paths, jobs)
                if jobs not in times or seconds < times[jobs]:
                    times[jobs], cpus[jobs] = seconds, cpu
                results[jobs] = outcomes
            print(f"jobs={jobs}: {times[jobs]:.2f} s wall, {cpus[jobs]:.2f} s CPU "
                  f"({args.files / times[jobs]:.0f} files/s)", file=sys.stderr)
        cli: dict[int, float] = {}
        for jobs in (1, 2):  # what a user runs: the CLI over the folder (exit 1: files would change)
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "dockerslim", "rewrite", tmp, "--check", "--jobs", str(jobs)],
                                  capture_output=True, text=True, check=False)
            cli[jobs] = time.perf_counter() - start
            if proc.returncode not in (0, 1):
                raise SystemExit(f"dockerslim rewrite --jobs {jobs} failed ({proc.returncode}): {proc.stderr[-2000:]}")
            print(f"CLI --jobs {jobs}: {cli[jobs]:.2f} s wall; {proc.stderr.strip().splitlines()[-1]}", file=sys.stderr)
    same = results[1] == results[2]
    speedup = times[1] / times[2]
    summary = summary_line(results[2])
    errors = [o.error for o in results[2] if o.error]
    lines = [
        "# Fleet benchmark: `rewrite_many` over many Dockerfiles",
        "",
        f"{datetime.date.today()} · dockerslim {__version__} · Python {platform.python_version()} · "
        f"{platform.machine()} · seed {args.seed} · best of {args.repeat}",
        "",
        "| jobs | wall seconds | CPU seconds (all processes) | files/s |",
        "| ---: | ---: | ---: | ---: |",
        *(f"| {j} | {times[j]:.2f} | {cpus[j]:.2f} | {args.files / times[j]:.0f} |" for j in (1, 2)),
        "",
        f"Speed-up jobs=2 over jobs=1: **{speedup:.2f}×** on {args.files} files "
        f"(CPU overhead of the pool: {cpus[2] / cpus[1] - 1:+.0%}; load average before the run "
        f"{load[0]:.2f} on {os.cpu_count()} CPUs). {summary}.",
        f"`dockerslim rewrite DIR --check --jobs N` (the CLI, a fresh process each, imports included): "
        f"{cli[1]:.2f} s with 1 job, {cli[2]:.2f} s with 2: **{cli[1] / cli[2]:.2f}×**.",
        "",
        f"Same outcomes, same order in both runs: {'yes' if same else 'NO'}."
        + (f" Errors: {len(errors)} (first: {errors[0]})." if errors else ""),
        "",
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report, encoding="utf-8")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
