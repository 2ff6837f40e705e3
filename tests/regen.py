"""Write each rewrite fixture's current output to its expected.Dockerfile (for review)."""

from __future__ import annotations

from pathlib import Path

from dockerslim import rewrite

ROOT = Path(__file__).resolve().parent.parent / "fixtures" / "rewrite"

PASSES = ROOT.parent / "passes"

if __name__ == "__main__":
    from dockerslim import Options

    for case in sorted(PASSES.glob("*/*")):
        src = case / "Dockerfile"
        if src.exists():
            opts = Options(only=frozenset({case.parent.name}),
                           models_context="models" if case.parent.name == "models-out" else None)
            result = rewrite(src.read_text(), context_dir=case, options=opts)
            (case / "expected.Dockerfile").write_text(result.text)
            if (case / "expected.notes").exists():
                from tests.test_golden import pass_notes

                (case / "expected.notes").write_text(pass_notes(result))
            print("wrote", case / "expected.Dockerfile")
    for case in sorted(ROOT.iterdir()):
        src = case / "Dockerfile"
        if src.exists():
            out = rewrite(src.read_bytes().decode("utf-8"), path=str(src), context_dir=case).text
            (case / "expected.Dockerfile").write_bytes(out.encode("utf-8"))
            print("wrote", case / "expected.Dockerfile")
