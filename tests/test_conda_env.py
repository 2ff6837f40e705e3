"""conda-env (DS102) decisions that the golden fixtures do not spell out: each decline names
its line and reason; what the pass does is left alone by the passes after it."""

from __future__ import annotations

from pathlib import Path

from dockerslim import Options, rewrite
from dockerslim.passes.conda_env import family_of

ONLY = Options(only=frozenset({"conda-env"}))


def _notes(text: str, context: Path | None = None) -> list[tuple[int | None, str]]:
    result = rewrite(text, context_dir=context, options=ONLY)
    assert result.text == text, "a declined file must come back unchanged"
    return [(n.line, n.message) for n in result.notes if n.pass_name == "conda-env"]


def test_families_come_from_data() -> None:
    assert family_of("continuumio/miniconda3:24.7.1-0")["runtime"] == "debian:bookworm-slim"  # type: ignore[index]
    assert family_of("docker.io/condaforge/miniforge3:24.3.0-0")["runtime"] == "ubuntu:jammy"  # type: ignore[index]
    assert "jovyan" in family_of("jupyter/scipy-notebook:2023-10-20")["decline"]  # type: ignore[index]
    assert family_of("python:3.12") is None


def test_conda_run_of_an_env_that_needs_activation_is_declined(tmp_path: Path) -> None:
    text = ("FROM continuumio/miniconda3:24.7.1-0\n"
            "RUN conda create -y -n geo python=3.11 gdal=3.8 && conda clean -afy\n"
            'CMD ["conda", "run", "-n", "geo", "python", "-c", "import osgeo"]\n')
    [(line, message)] = _notes(text, tmp_path)
    assert line == 3 and "activation scripts of gdal" in message


def test_env_file_outside_the_context_is_declined_by_name(tmp_path: Path) -> None:
    text = ("FROM continuumio/miniconda3:24.7.1-0\n"
            "COPY envs/environment.yml /tmp/env.yml\n"
            "RUN conda env create -f /tmp/env.yml\n"
            'CMD ["python"]\n')
    [(line, message)] = _notes(text, tmp_path)
    assert line == 3 and "/tmp/env.yml is not in the build context" in message


def test_activation_in_a_shell_form_start_is_declined(tmp_path: Path) -> None:
    text = ("FROM continuumio/miniconda3:24.7.1-0\n"
            "RUN conda install -y numpy && conda clean -afy\n"
            "CMD . /opt/conda/etc/profile.d/conda.sh && conda activate base && python app.py\n")
    [(line, message)] = _notes(text, tmp_path)
    assert line == 3 and "activation" in message


def test_a_user_of_the_full_image_is_declined(tmp_path: Path) -> None:
    text = ("FROM continuumio/miniconda3:24.7.1-0\n"
            "RUN conda install -y numpy && conda clean -afy\n"
            "USER conda\n"
            'CMD ["python"]\n')
    [(line, message)] = _notes(text, tmp_path)
    assert line == 3 and "no such user" in message


def test_a_runtime_run_the_slim_base_may_not_replay_is_declined(tmp_path: Path) -> None:
    text = ("FROM continuumio/miniconda3:24.7.1-0\n"
            "RUN conda install -y numpy && conda clean -afy\n"
            "RUN git clone https://example.org/repo.git /src\n"
            'CMD ["python"]\n')
    [(line, message)] = _notes(text, tmp_path)
    assert line == 3 and "`git`" in message


def test_the_split_is_left_alone_by_the_later_passes(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("print('ok')\n")
    text = ("FROM continuumio/miniconda3:24.7.1-0\n"
            "RUN conda install -y numpy\n"
            "COPY app.py /app/app.py\n"
            'CMD ["python", "/app/app.py"]\n')
    result = rewrite(text, context_dir=tmp_path)
    assert [c.pass_name for c in result.changes][:1] == ["conda-env"]
    assert {c.pass_name for c in result.changes} <= {"conda-env", "package-hygiene", "merge-runs"}
    assert "RUN conda install -y numpy \\\n    && conda clean -afy\n" in result.text  # pkgs/ is not copied
    assert result.text.count("FROM ") == 2 and "FROM debian:bookworm-slim" in result.text
    assert rewrite(result.text, context_dir=tmp_path).text == result.text


def test_a_base_that_is_no_image_reference_is_not_a_conda_image() -> None:
    assert family_of("Continuum//Miniconda3") is None  # ImageRef.parse raises; the pass must not
    text = "ARG BASE=Continuum//Miniconda3\nFROM ${BASE}\nRUN conda install -y numpy\n"  # parse sees ${BASE} only
    assert rewrite(text, options=ONLY).text == text
