"""Command families of real Dockerfiles (issue 10): each is understood from data/commands.toml —
its category, what it leaves and where — and the share of RUN words left unknown is reported."""

from __future__ import annotations

import json

import pytest

from dockerslim import ir
from dockerslim.classify import Kind, category, classify_run, family, unknown_share
from dockerslim.parse import parse
from dockerslim.report import as_dict, explain
from dockerslim.rewrite import rewrite
from dockerslim.shell import commands

# (shell text, index of the command to look at, family, category): each failed on the old
# classifier (unknown, or the wrong category)
FAMILIES = [
    ("curl -sS https://bootstrap.pypa.io/get-pip.py | python3.10", 1, "get-pip", "python"),
    ("curl -sS https://bootstrap.pypa.io/get-pip.py -o get-pip.py && python3.8 get-pip.py", 1, "get-pip", "python"),
    ("python3.10 -m ensurepip --upgrade", 0, "ensurepip", "python"),
    ("python3 -m venv /opt/venv", 0, "venv", "python"),
    ("uv venv /opt/venv", 0, "venv", "python"),
    ("add-apt-repository -y ppa:deadsnakes/ppa", 0, "apt-repository", "system"),
    ("apt-key adv --keyserver keyserver.ubuntu.com --recv-keys A4B469963BF863CC", 0, "apt-key", "system"),
    ("curl -fsSL https://example.org/key.asc | gpg --dearmor -o /usr/share/keyrings/x.gpg", 1, "apt-keyring", "system"),
    ("curl -fsSL https://deb.nodesource.com/setup_18.x | bash -", 1, "apt-source-script", "system"),
    ("mim install 'mmcv>=2.0.1'", 0, "mim", "python"),
    ("python manage.py collectstatic --noinput", 0, "django-collectstatic", "build"),
    ("python manage.py compilemessages", 0, "django-collectstatic", "build"),
    ("python -c 'import lightgbm; print(lightgbm.__version__)'", 0, "python-check", "fs"),
    ("python -c 'from huggingface_hub import snapshot_download; snapshot_download(\"gpt2\")'", 0, "model-download",
     "download"),
    ("python setup.py develop", 0, "setup-py-install", "python"),
    ("python setup.py install", 0, "setup-py-install", "python"),
    ("./configure --prefix=/opt/sqlite", 0, "autotools", "build"),
    ("autoreconf -fi", 0, "autotools", "build"),
    ("hatch build -t wheel", 0, "python-project-build", "build"),
    ("pdm sync --prod --no-editable", 0, "pdm-install", "python"),
    ("poetry config virtualenvs.create false", 0, "tool-config", "fs"),
    ("corepack enable", 0, "node-shims", "fs"),
    ("fix-permissions /home/jovyan", 0, "jupyter-permissions", "fs"),
    ("tar xzf sqlite.tar.gz", 0, "archive", "fs"),
]


@pytest.mark.parametrize(("script", "index", "name", "cat"), FAMILIES, ids=[f[2] + ":" + f[0][:30] for f in FAMILIES])
def test_family(script: str, index: int, name: str, cat: str) -> None:
    cmds = commands(script)
    assert cmds is not None
    previous = cmds[index - 1] if index else None
    fam = family(cmds[index], previous)
    assert fam is not None and fam.name == name
    assert fam.needs and fam.leaves and fam.role in ("build-only", "runtime-setup", "runtime-data")
    assert category(cmds[index], previous) == cat


# commands that must stay unknown: the family rules must not reach too far
NOT_FAMILIES = [
    "python -c 'import os; os.system(\"rm -rf /x\")'",  # a check that does something
    "python -c 'open(\"/etc/x\", \"w\").write(\"1\")'",
    "curl -fsSL https://example.org/install.sh | bash -",  # a script dockerslim does not know
    "python manage.py migrate",  # needs a database: not a build step
    "python",  # stdin from nowhere known
]


@pytest.mark.parametrize("script", NOT_FAMILIES)
def test_not_a_family(script: str) -> None:
    cmds = commands(script)
    assert cmds is not None
    previous = cmds[-2] if len(cmds) > 1 else None
    assert category(cmds[-1], previous) == "unknown"


def test_xargs_and_find_exec_take_the_category_of_what_they_run() -> None:
    cmds = commands("seq 1 4 | xargs -I{} mkdir -p /data/{} && find /x -name '*.pyc' -exec rm -f {} + "
                    "&& find /y -exec ./script.sh {} \\;")
    assert cmds is not None
    assert [category(c) for c in cmds] == ["fs", "fs", "fs", "unknown"]


def _run(text: str, cwd: str = "/src", env: dict[str, str] | None = None) -> object:
    node = ir.Run(command=text)
    return classify_run(node, cwd, "root", env)


@pytest.mark.parametrize(("script", "artifacts"), [
    # the configured prefix carries to the install step of the same RUN
    ("cmake -B build -DCMAKE_INSTALL_PREFIX=/opt/foo . && cmake --build build && ninja -C build install",
     ["/opt/foo", "/src"]),
    ("cmake -S . -B build -G Ninja && cmake --build build && cmake --install build --prefix /opt/x",
     ["/opt/x", "/src"]),
    ("meson setup build --prefix=/opt/m && ninja -C build && meson install -C build", ["/opt/m", "/src"]),
    ("./configure --prefix=/opt/sqlite && make -j4 && make install", ["/src", "/opt/sqlite"]),
    ("./configure --prefix=/usr && make && make install DESTDIR=/tmp/stage", ["/src", "/tmp/stage"]),
    ("make && make install PREFIX=/opt/tool", ["/src", "/opt/tool"]),
    ("DESTDIR=/out ninja -C build install", ["/out", "/src"]),
])
def test_install_prefixes_are_located(script: str, artifacts: list[str]) -> None:
    step = _run(script)
    assert step.unaccounted is None, step.unaccounted  # type: ignore[attr-defined]
    assert sorted(step.artifacts) == sorted(artifacts)  # type: ignore[attr-defined]


def test_default_prefix_is_named_not_guessed() -> None:
    step = _run("cmake -B build . && cmake --build build && cmake --install build")
    assert step.unaccounted and "/usr/local" in step.unaccounted  # type: ignore[attr-defined]


def test_venv_is_a_located_artifact() -> None:
    step = _run("python3.11 -m venv /opt/venv && /opt/venv/bin/pip install -r requirements.txt")
    assert step.kind == Kind.PYTHON_DEPS and step.artifacts == ["/opt/venv"]  # type: ignore[attr-defined]


def test_get_pip_is_builder_work_that_leaves_no_artifact() -> None:
    step = _run("curl -sS https://bootstrap.pypa.io/get-pip.py | python3.10")
    assert step.kind == Kind.PYTHON_DEPS and step.artifacts == [] and not step.pip  # type: ignore[attr-defined]


def test_setup_py_develop_installs_like_pip_and_keeps_the_tree() -> None:
    step = _run("python setup.py develop", cwd="/nerf")
    assert step.kind == Kind.PYTHON_DEPS and step.unaccounted is None  # type: ignore[attr-defined]
    assert step.pip and step.artifacts == ["/nerf"]  # type: ignore[attr-defined]


def test_setup_py_install_by_absolute_interpreter_is_not_located() -> None:
    step = _run("/usr/bin/python3 setup.py install")
    assert step.unaccounted and "outside a virtualenv" in step.unaccounted  # type: ignore[attr-defined]


@pytest.mark.parametrize(("script", "env", "artifacts", "into_interpreter"), [
    ("poetry config virtualenvs.create false && poetry install --only main", None, ["/src"], True),
    ("poetry config virtualenvs.in-project true && poetry install", None, ["/src"], False),
    ("poetry install", {"POETRY_VIRTUALENVS_IN_PROJECT": "1"}, ["/src"], False),
    ("poetry install", {}, ["/src", "/root/.cache/pypoetry/virtualenvs"], False),  # poetry's default
    ("poetry install", {"POETRY_VIRTUALENVS_PATH": "/venvs"}, ["/src", "/venvs"], False),
])
def test_poetry_layouts(script: str, env: dict[str, str] | None, artifacts: list[str], into_interpreter: bool) -> None:
    step = _run(script, env=env)
    assert step.artifacts == artifacts  # type: ignore[attr-defined]
    assert bool(step.pip) == into_interpreter  # type: ignore[attr-defined]


def test_model_download_cache_needs_the_env() -> None:
    script = ("pip install huggingface_hub"
              " && python -c 'from huggingface_hub import snapshot_download; snapshot_download(\"gpt2\")'")
    assert _run(script).kind == Kind.UNKNOWN  # type: ignore[attr-defined]  # where HF_HOME points is not known
    step = _run(script, env={"HF_HOME": "/models"})
    assert step.kind == Kind.PYTHON_DEPS and "/models" in step.artifacts  # type: ignore[attr-defined]
    assert "/root/.cache/huggingface" in _run(script, env={}).artifacts  # type: ignore[attr-defined]


def test_exec_form_shell_script_is_read() -> None:
    node = ir.Run(command=("/bin/bash", "-c", "apt-get update && apt-get install -y libgomp1"))
    step = classify_run(node, "/", "root")
    assert step.kind == Kind.SYSTEM_PACKAGES and step.packages[0].packages == ("libgomp1",)


SOURCE = """FROM python:3.11
RUN pip install flask && ./build.sh --release
CMD ["python", "app.py"]
"""


def test_unknown_share_in_explain_and_json() -> None:
    unknown, total = unknown_share(parse(SOURCE))
    assert (unknown, total) == (2, 5)
    result = rewrite(SOURCE)
    assert json.loads(json.dumps(as_dict("Dockerfile", result)))["unclassified_run_words"] == {
        "unknown": 2, "total": 5, "share": 0.4}
    assert "RUN words dockerslim cannot classify: 2/5 (40%)" in explain("Dockerfile", result)


# --- ARG defaults in FROM (issue 10 item 2) ---------------------------------------------------

from dockerslim.base_decision import VariableSwap, variable_swap  # noqa: E402


def _swap(text: str, runtime: str, shared: bool = False) -> VariableSwap | str:
    from dockerslim.variables import resolved_image

    df = parse(text)
    stage = df.stages[-1]
    return variable_swap(df, stage, resolved_image(df, stage), runtime, shared)


def test_literal_suffix_is_edited_and_variables_stay() -> None:
    swap = _swap('ARG PYTORCH="2.1.0"\nARG CUDA="11.8"\nFROM pytorch/pytorch:${PYTORCH}-cuda${CUDA}-cudnn8-devel\n',
                 "pytorch/pytorch:2.1.0-cuda11.8-cudnn8-runtime")
    assert isinstance(swap, VariableSwap) and swap.arg is None
    assert swap.from_text == "pytorch/pytorch:${PYTORCH}-cuda${CUDA}-cudnn8-runtime"
    assert "CUDA, PYTORCH" in swap.assumes


def test_nvidia_middle_part_is_edited() -> None:
    swap = _swap("ARG CUDA=11.8.0\nARG UBUNTU=22.04\nFROM nvidia/cuda:${CUDA}-cudnn8-devel-ubuntu${UBUNTU}\n",
                 "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04")
    assert isinstance(swap, VariableSwap) and swap.from_text == "nvidia/cuda:${CUDA}-cudnn8-runtime-ubuntu${UBUNTU}"


def test_suffix_after_a_version_variable() -> None:
    swap = _swap("ARG PY=3.11\nFROM python:${PY}\n", "python:3.11-slim")
    assert isinstance(swap, VariableSwap) and swap.from_text == "python:${PY}-slim"


def test_whole_image_variable_rewrites_the_default() -> None:
    swap = _swap("ARG BASE=pytorch/pytorch:2.1.0-cuda11.8-cudnn8-devel\nFROM ${BASE}\n",
                 "pytorch/pytorch:2.1.0-cuda11.8-cudnn8-runtime")
    assert isinstance(swap, VariableSwap) and swap.from_text == "${BASE}" and swap.arg is not None
    assert (swap.arg.name, swap.arg.after) == ("BASE", "pytorch/pytorch:2.1.0-cuda11.8-cudnn8-runtime")
    assert "--build-arg BASE" in swap.assumes


def test_rm_of_a_base_file_keeps_the_full_base() -> None:
    text = ("FROM pytorch/pytorch:2.1.0-cuda11.8-cudnn8-devel\n"
            "RUN rm /etc/apt/sources.list.d/cuda.list && apt-get update && apt-get install -y libgl1\n"
            "COPY app.py .\nCMD [\"python\", \"app.py\"]\n")
    from dockerslim.base_decision import blockers
    from dockerslim.catalog import lookup_base
    from dockerslim.image import ImageRef

    df = parse(text)
    reasons = blockers(df.stages[0].body, lookup_base(ImageRef.parse("pytorch/pytorch:2.1.0-cuda11.8-cudnn8-devel")))
    assert any("/etc/apt/sources.list.d/cuda.list" in r.message for r in reasons)


@pytest.mark.parametrize(("script", "artifacts"), [
    ("pip install --user -e detectron2_repo", ["/root/.local", "/detectron2_repo"]),  # not "/" (too broad)
    ("pip install -e '.[server]'", ["/"]),
    ("pip install /wheels/*.whl", []),
    ("pip install -e git+https://github.com/x/y.git#egg=y", []),
])
def test_editable_installs_name_their_tree(script: str, artifacts: list[str]) -> None:
    assert _run(script, cwd="/").artifacts == artifacts  # type: ignore[attr-defined]


def test_a_clone_on_its_own_is_fetched_in_the_builder_and_carried() -> None:
    """Replayed in the runtime it would need git there, and fail where the copied tree already is."""
    step = _run("git clone https://github.com/facebookresearch/detectron2 detectron2_repo", cwd="/")
    assert step.kind == Kind.BUILD and step.artifacts == ["/detectron2_repo"]  # type: ignore[attr-defined]
    weights = _run("wget https://example.org/model.bin", cwd="/models")
    assert weights.kind == Kind.DOWNLOAD  # model files still download where they are used


def test_prefix_held_by_a_variable_is_not_guessed() -> None:
    step = _run("cmake -B build -DCMAKE_INSTALL_PREFIX=$PREFIX . && cmake --build build && cmake --install build")
    assert step.unaccounted and "holds a shell variable" in step.unaccounted  # type: ignore[attr-defined]
    assert not any("$" in a for a in step.artifacts)  # type: ignore[attr-defined]


def test_every_family_is_complete_data() -> None:
    from dockerslim.catalog import load

    families = load("commands")["family"]
    for rule in families:
        assert rule["category"] in ("system", "python", "build", "download", "fs"), rule["name"]
        assert rule["role"] in ("build-only", "runtime-setup", "runtime-data"), rule["name"]
        assert rule["needs"] and rule["leaves"] and rule["programs"], rule["name"]
        kind = rule["output"].split(":", 1)[0]
        assert kind in ("none", "cwd", "arg", "prefix", "home-cache", "unknown"), rule["name"]
    # every family the issue names is there
    names = {r["name"] for r in families}
    assert {"get-pip", "apt-repository", "apt-key", "apt-keyring", "venv", "mim", "django-collectstatic",
            "model-download", "setup-py-install", "autotools", "pdm-install", "python-project-build"} <= names
