"""Licence gate on what a user really installs (run by .ci/check-licenses).

tests/test_licences.py checks the runtime dependencies as installed in the development venv;
this runs the same rules (imported from that test, so there is one set) on a throwaway venv
holding only ``pip install .``, walking the closure from the installed ``dockerslim`` itself,
and prints pip-licenses' table of it.

    python .ci/licenses.py /path/to/runtime-venv/bin/python
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from email.message import Message
from importlib.metadata import Distribution
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _rules() -> ModuleType:
    spec = importlib.util.spec_from_file_location("licence_rules", ROOT / "tests" / "test_licences.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _target_path(python: str) -> list[str]:
    code = "import json, sys; print(json.dumps(sys.path))"
    proc = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True)
    path: list[str] = json.loads(proc.stdout)
    return path


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    python = argv[1]
    path = _target_path(python)

    def dist(name: str) -> Distribution:
        found = next(iter(Distribution.discover(name=name, path=path)), None)
        if found is None:
            raise SystemExit(f"licenses: {name} is required but not installed in {python}'s environment")
        return found

    def metadata(name: str) -> Message:
        return dist(name).metadata  # type: ignore[return-value]

    rules = _rules()
    closure = rules.runtime_closure(["dockerslim"], metadata=metadata, requires=lambda n: dist(n).requires)
    deps = sorted(set(closure) - {"dockerslim"})
    table = subprocess.run([sys.executable, "-m", "piplicenses", "--python", python, "--from", "mixed",
                            "--packages", *deps], check=True, capture_output=True, text=True).stdout
    print(table, end="")
    problems = [p for p in map(rules.licence_problem, (closure[n] for n in deps)) if p]
    for problem in problems:
        print(f"licenses: not allowed for an MIT wheel: {problem}", file=sys.stderr)
    if not problems:
        print(f"licenses: {len(deps)} runtime dependencies of `pip install .`, all permissive")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
