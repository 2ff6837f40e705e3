"""verify's config comparison: a difference passes only where the rewrite declared it."""

from __future__ import annotations

from pathlib import Path

from dockerslim import rewrite
from dockerslim.builders import ImageFacts
from dockerslim.verify import compare_config, declared_by

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rewrite"


def _facts(**config: object) -> ImageFacts:
    return ImageFacts(config=dict(config), layers=1, size=1)


def test_an_undeclared_cmd_change_fails() -> None:
    failing, accepted = compare_config(_facts(Cmd=["python", "a.py"]), _facts(Cmd=["python", "b.py"]),
                                       frozenset(), None, None)
    assert failing == ["Cmd: ['python', 'a.py'] -> ['python', 'b.py']"] and not accepted


def test_a_declared_entrypoint_rewrite_passes() -> None:
    """conda-env turns `conda run -n app python x.py` into the env's own bin: the Change says so."""
    case = FIXTURES / "conda-named-env-run"
    result = rewrite((case / "Dockerfile").read_text(), path=str(case / "Dockerfile"), context_dir=case)
    declared, _, _ = declared_by(result)
    assert {"Cmd", "Entrypoint"} & declared
    field = "Cmd" if "Cmd" in declared else "Entrypoint"
    failing, accepted = compare_config(_facts(**{field: ["conda", "run", "-n", "app", "python", "x.py"]}),
                                       _facts(**{field: ["/opt/conda/envs/app/bin/python", "x.py"]}),
                                       declared, None, None)
    assert not failing and accepted and "declared by the rewrite" in accepted[0]
