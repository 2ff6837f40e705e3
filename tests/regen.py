"""Write fixtures' current output to their expected.Dockerfile (for review: read every diff).

    .venv/bin/python tests/regen.py                    # every pass and rewrite fixture
    .venv/bin/python tests/regen.py cmake-install-prefix prune/strip-pyc   # only these cases

A case is a rewrite fixture's folder name (fixtures/rewrite/NAME) or a pass fixture's
PASS/NAME (fixtures/passes/PASS/NAME).
"""

from __future__ import annotations

import sys
from pathlib import Path

from dockerslim import rewrite

ROOT = Path(__file__).resolve().parent.parent / "fixtures" / "rewrite"

PASSES = ROOT.parent / "passes"


def _wanted(name: str, chosen: set[str]) -> bool:
    return not chosen or name in chosen


if __name__ == "__main__":
    from dockerslim import Options

    chosen = set(sys.argv[1:])
    known = {c.name for c in ROOT.iterdir()} | {f"{c.parent.name}/{c.name}" for c in PASSES.glob("*/*")}
    if unknown := chosen - known:
        sys.exit(f"regen: no such fixture: {', '.join(sorted(unknown))}")
    for case in sorted(PASSES.glob("*/*")):
        src = case / "Dockerfile"
        if src.exists() and _wanted(f"{case.parent.name}/{case.name}", chosen):
            opts = Options(only=frozenset({case.parent.name}),
                           models_context="models" if case.parent.name == "models-out" else None,
                           aggressive=case.parent.name == "prune")
            result = rewrite(src.read_text(), context_dir=case, options=opts)
            (case / "expected.Dockerfile").write_text(result.text)
            if (case / "expected.notes").exists():
                from tests.test_golden import pass_notes

                (case / "expected.notes").write_text(pass_notes(result))
            print("wrote", case / "expected.Dockerfile")
    for case in sorted(ROOT.iterdir()):
        src = case / "Dockerfile"
        if src.exists() and _wanted(case.name, chosen):
            out = rewrite(src.read_bytes().decode("utf-8"), path=str(src), context_dir=case).text
            (case / "expected.Dockerfile").write_bytes(out.encode("utf-8"))
            print("wrote", case / "expected.Dockerfile")
