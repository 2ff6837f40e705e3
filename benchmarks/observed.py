"""Observed vs static rewrites of the fixtures in fixtures/observe/ (issue 9, proof).

For each fixture: observe the original once (a real buildah build, cache empty), observe it
again (cache hit: no build), rewrite it statically and with the observation, and verify every
rewrite that changed the file against the original (build, run the fixture's smoke.txt, compare
config and files). Writes benchmarks/observed.json and, with ``--write``, the section
"Observed vs static" of benchmarks/RESULTS.md (only that section).

    PYTHONPATH=. .venv/bin/python benchmarks/observed.py [--write] [--table-only] [CASE ...]

Needs buildah and the stand-in base images (tests/standins). Every number in the table is
measured by this script on the machine that ran it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "observe"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
OUT = ROOT / "benchmarks" / "observed.json"
SECTION = "## Observed vs static"


def _split(result: Any) -> bool:
    return any(c.rule == "DS100" and c.message.startswith("split into") for c in result.changes)


def _verify(session: Any, result: Any, text: str | None = None) -> dict[str, Any]:
    """Verify one rewrite in the session (or ``text``, a hand-written file, on the terms the
    rewrite declared); size ratio against the original."""
    from dockerslim.prove import _declared

    if text is None and not result.changed:
        return {"verified": "unchanged", "ratio": 1.0}
    declared, replaced, moved_out = _declared(result)
    report = session.verify(text if text is not None else result.text, declared=declared, replaced=replaced,
                            moved_out=moved_out)
    failed = [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]
    ratio = (report.rewrite.size / report.original.size) if report.rewrite and report.original else None
    return {"verified": "pass" if report.ok else "FAIL", "failed": failed, "ratio": ratio,
            "original_mb": report.original.size / 1e6 if report.original else None,
            "rewrite_mb": report.rewrite.size / 1e6 if report.rewrite else None}


def measure(case: Path, builder: Any) -> dict[str, Any]:
    from dockerslim.observe import observe
    from dockerslim.rewrite import rewrite
    from dockerslim.verify import Session

    dockerfile = case / "Dockerfile"
    text = dockerfile.read_text()
    smoke = (case / "smoke.txt").read_text().strip() if (case / "smoke.txt").exists() else None
    row: dict[str, Any] = {"case": case.name}
    with tempfile.TemporaryDirectory(prefix="dockerslim-bench-xdg-") as xdg:
        old = os.environ.get("XDG_CACHE_HOME")
        os.environ["XDG_CACHE_HOME"] = xdg
        try:
            start = time.monotonic()
            record = observe(text, path=str(dockerfile), context_dir=case, builder=builder)
            row["observe_s"] = time.monotonic() - start
            start = time.monotonic()
            again = observe(text, path=str(dockerfile), context_dir=case, builder=builder)
            row["cache_hit_s"] = time.monotonic() - start
            row["cache_hit"] = again.cached
        finally:
            if old is None:
                os.environ.pop("XDG_CACHE_HOME", None)
            else:
                os.environ["XDG_CACHE_HOME"] = old
    static = rewrite(text, path=str(dockerfile), context_dir=case)
    observed = rewrite(text, path=str(dockerfile), context_dir=case, observation=record)
    row["static_split"], row["observed_split"] = _split(static), _split(observed)
    row["observed_base"] = _final_base(observed.text)
    row["base_notes"] = [n.message for n in observed.notes if n.rule == "DS101" and "runtime base" in n.message]
    with Session(text, path=str(dockerfile), context=case, builder=builder, smoke=smoke, compressed=False) as session:
        row["static"] = _verify(session, static)
        row["observed"] = _verify(session, observed) if observed.text != static.text else dict(row["static"], same=True)
        hand = case / "handwritten.Dockerfile"
        if hand.exists():
            row["handwritten"] = _verify(session, observed, hand.read_text())
    return row


def _final_base(text: str) -> str:
    froms = [line.split()[1] for line in text.splitlines() if line.upper().startswith("FROM ")]
    return froms[-1] if froms else ""


def _cell(side: dict[str, Any], split: bool) -> tuple[str, str, str]:
    ratio = side.get("ratio")
    return ("split" if split else "declined", f"{ratio:.2f}" if ratio is not None else "–", side["verified"])


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        SECTION,
        "",
        "Fixtures in `fixtures/observe/` (stand-in bases from tests/standins), measured by",
        "`benchmarks/observed.py` with buildah (`--isolation chroot`) on this project's machine (2 shared",
        "cores). Ratio: final image size of the rewrite / the original (uncompressed); verify: the rewrite",
        "builds, runs the fixture's smoke.txt and passes `verify` against the original. Observation: the",
        "first `--observe` of the fixture with an empty observation cache (a real build; buildah's own layer",
        "cache may hold layers from earlier builds of the same fixture); cache hit: the second run (no build;",
        "it asks the builder for the IDs of the base and of the two runtime-base candidates, which are part",
        "of the cache key, on a machine shared with other builds).",
        "Hand-written ratio: `handwritten.Dockerfile` beside the fixture (a person's multi-stage file, on the",
        "smallest base that runs it), verified on the same terms as the observed rewrite.",
        "",
        "| fixture | static | ratio | verify | observed | ratio | verify | hand-written ratio | observation s "
        "| cache hit s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        s = _cell(row["static"], row["static_split"])
        o = _cell(row["observed"], row["observed_split"])
        hit = f"{row['cache_hit_s']:.3f}" + ("" if row.get("cache_hit") else " (miss)")
        hand = row.get("handwritten") or {}
        h = (f"{hand['ratio']:.2f}" + ("" if hand["verified"] == "pass" else f" ({hand['verified']})")
             if hand.get("ratio") is not None else "–")
        lines.append(f"| {row['case']} | {s[0]} | {s[1]} | {s[2]} | {o[0]} | {o[1]} | {o[2]} | {h} | "
                     f"{row['observe_s']:.1f} | {hit} |")
    lines += [
        "",
        "Static \"unchanged\": the static rewrite leaves the file as it is (the split declined, no other pass",
        "applied), so there is nothing to verify. Observed runtime base (the decision, from the observed build:",
        "the plain distro image of the same release when nothing the final stage runs or receives needs Python,",
        "else the family's runtime variant; every copied ELF file's DT_NEEDED resolved against that base's",
        "recorded files, a missing library installed from the package that ships it in the build):",
        "",
    ]
    within = 0
    for row in rows:
        hand, obs = (row.get("handwritten") or {}).get("ratio"), row["observed"].get("ratio")
        ok = hand is not None and obs is not None and obs <= 1.1 * hand
        within += ok
        base = row.get("observed_base") or "?"
        line = f"- {row['case']}: `{base}`" + ("" if ok or hand is None or obs is None else
                                                f"; {obs / hand:.2f}x the hand-written ratio")
        notes = row.get("base_notes") or []
        if notes and not ok:
            line += f" ({notes[0]})"
        lines.append(line)
    lines += ["", f"Within 10 % of the hand-written ratio (observed ≤ 1.1 × hand-written): {within} of {len(rows)}."]
    failures = [(row["case"], side, f) for row in rows for side in ("static", "observed", "handwritten")
                for f in (row.get(side) or {}).get("failed", [])]
    if failures:
        lines += ["", "Failed checks:"] + [f"- {c} ({side}): {f}" for c, side, f in failures]
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    """Replace (or append) only the "Observed vs static" section of RESULTS.md."""
    body = RESULTS.read_text() if RESULTS.exists() else ""
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(body):
        body = pattern.sub(lambda _: text + "\n", body, count=1)
    else:
        body = body.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(body)


def _has(builder: Any, ref: str) -> bool:
    from dockerslim.builders import BuilderError

    try:
        return bool(builder.inspect(ref).image_id)
    except BuilderError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", help="fixture names (default: all)")
    parser.add_argument("--write", action="store_true", help="update the section in benchmarks/RESULTS.md")
    parser.add_argument("--table-only", action="store_true", help="no builds: the table from benchmarks/observed.json")
    args = parser.parse_args(argv)
    if args.table_only:
        saved = json.loads(OUT.read_text())["rows"]
        text = table(saved)
        print(text)
        if args.write:
            write_section(text)
        return 0
    sys.path.insert(0, str(ROOT))
    from dockerslim.builders import Buildah
    from tests import standins

    why = standins.available()
    if why:
        print(why, file=sys.stderr)
        return 2
    try:
        env = standins.ensure()
    except RuntimeError as exc:  # a stand-in these fixtures do not use failed to build: use the ones there are
        env = standins.buildah_env()
        probe = Buildah(pull="never", env=env)
        needed = ["python:3.12", "python:3.12-slim", "debian:bookworm-slim"]
        if not all(_has(probe, ref) for ref in needed):
            raise
        print(f"stand-ins: {str(exc).splitlines()[0]}; the fixtures' bases ({', '.join(needed)}) are built, "
              "going on", file=sys.stderr)
    builder = Buildah(pull="never", env=env)
    cases = ([FIXTURES / c for c in args.cases] if args.cases
             else sorted(p.parent for p in FIXTURES.glob("*/Dockerfile")))
    old = json.loads(OUT.read_text()) if OUT.exists() else {}
    rows: dict[str, Any] = {r["case"]: r for r in old.get("rows", [])}
    for case in cases:
        print(f"{case.name} …", file=sys.stderr, flush=True)
        rows[case.name] = measure(case, builder)
        print(json.dumps(rows[case.name]), file=sys.stderr, flush=True)
        OUT.write_text(json.dumps({"rows": [rows[k] for k in sorted(rows)]}, indent=1) + "\n")
    text = table([rows[k] for k in sorted(rows)])
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
