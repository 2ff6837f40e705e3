"""verify's config comparison: a difference passes only where the rewrite declared it."""

from __future__ import annotations

import contextlib
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


class _Stop(Exception):
    pass


def test_a_given_candidate_may_put_a_virtualenv_on_path(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Session.verify(against=True) allows what verify(against=...) allows: library users of the
    session (benchmarks/experts.py) got 'image config kept' failures for ENV PATH=/opt/venv/bin:$PATH."""
    from types import SimpleNamespace

    from dockerslim import verify as v

    seen: list[frozenset[str]] = []

    def capture(orig, new, declared, *rest):  # type: ignore[no-untyped-def]
        seen.append(frozenset(declared))
        raise _Stop

    builder = SimpleNamespace(name="fake", inspect=lambda image, compressed=False: _facts())
    session = v.Session("FROM x\n", path="Dockerfile", context=tmp_path, builder=builder)  # type: ignore[arg-type]
    original = SimpleNamespace(side=None, facts=_facts(), base_config=None)
    monkeypatch.setattr(session, "original", lambda report: original)
    monkeypatch.setattr(session, "_build", lambda text, image: (1.0, "1.0 s"))
    monkeypatch.setattr(session, "_base_config", lambda text: None)
    monkeypatch.setattr(v, "compare_config", capture)
    for against in (True, False):
        with contextlib.suppress(_Stop):
            session.verify("FROM y\n", against=against)
    assert seen == [frozenset({"Env.PATH", "Env.VIRTUAL_ENV"}), frozenset()]
