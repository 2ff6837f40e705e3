"""package-hygiene: pip gets --no-cache-dir unless it provably writes no cache (local wheels only)."""

from __future__ import annotations

import pytest

from dockerslim import Options, rewrite

BUILD = """FROM python:3.12 AS build
RUN pip wheel -r requirements.txt -w /wheels

FROM python:3.12-slim
COPY --from=build /wheels /wheels
"""


def _hygiene(text: str):  # type: ignore[no-untyped-def]
    return rewrite(text, options=Options(only=frozenset({"package-hygiene"})))


@pytest.mark.parametrize("install", [
    "pip install --no-index /wheels/*",
    "pip install --no-index --find-links /wheels /wheels/*.whl",
    "python -m pip install --no-index /wheels/a-1.0-py3-none-any.whl /wheels/b-2.0-py3-none-any.whl",
    "pip install --no-index ./dist/app-1.0-py3-none-any.whl",
])
def test_pip_installing_only_local_wheels_is_left_alone_with_a_note(install: str) -> None:
    result = _hygiene(BUILD + f"RUN {install}\n")
    assert "--no-cache-dir" not in result.text.split("FROM python:3.12-slim")[1]
    assert any("only local wheels" in n.message for n in result.notes)


@pytest.mark.parametrize("text", [
    BUILD + "RUN pip install --no-index /wheels/app-1.0.tar.gz\n",  # an sdist: pip builds it
    BUILD + "RUN pip install --no-index -r requirements.txt\n",
    BUILD + "RUN pip install --no-index -f /x pkg\n",
    BUILD + "RUN pip install /wheels/*\n",  # no --no-index: dependencies download
    BUILD + "RUN pip install --no-index -e /wheels/x\n",
    BUILD + "COPY app.tar.gz /wheels/\nRUN pip install --no-index /wheels/*\n",  # not only wheels now
    BUILD.replace("-w /wheels", "-w /wheels && cp src.tar.gz /wheels") + "RUN pip install --no-index /wheels/*\n",
    BUILD.replace("COPY --from=build", "COPY --from=python:3.12") + "RUN pip install --no-index /wheels/*\n",
    BUILD + "RUN cp /src/*.tar.gz /wheels && pip install --no-index /wheels/*\n",
])
def test_pip_that_may_download_or_build_still_gets_no_cache_dir(text: str) -> None:
    result = _hygiene(text)
    assert "--no-cache-dir" in result.text.split("FROM python:3.12-slim")[1]
    assert not any("only local wheels" in n.message for n in result.notes)
