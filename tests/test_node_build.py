"""Issue 11 item 7, JavaScript: an npm/yarn/pnpm `build` reaches the runtime as its output folder
plus production node_modules (pruned in a stage of its own), or, when nothing at run time runs
node, as the output folder alone without node; the folder is proven from package.json's build
script in the context (``data/commands.toml`` ``[[node_build]]``/``[node]``), any doubt keeps the
tree whole with a note. Also verify's view of Python packages a dropped system package brought."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dockerslim.fscompare import compare, os_left_dists, walk
from dockerslim.passes._node_build import output_folder
from dockerslim.rewrite import RewriteResult, rewrite

NPM_APP = """FROM node:20
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build
CMD {cmd}
"""

STATIC = """FROM python:3.11
RUN apt-get update && apt-get install -y nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY frontend/ frontend/
RUN cd frontend && npm ci && npm run build
COPY . .
CMD ["gunicorn", "app:app"]
"""


def _context(tmp_path: Path, scripts: dict[str, str], where: str = "", **files: str) -> Path:
    folder = tmp_path / where
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps({"name": "x", "scripts": scripts}))
    (folder / "package-lock.json").write_text("{}")
    (tmp_path / "requirements.txt").write_text("flask\n")
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    return tmp_path


def _stage(result: RewriteResult, name: str) -> list[str]:
    lines = result.text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("FROM ") and line.endswith(name))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("FROM ")), len(lines))
    return [line for line in lines[start + 1:end] if line and not line.startswith("#")]


def _notes(result: RewriteResult) -> str:
    return "\n".join(n.message for n in result.notes)


def test_npm_app_gets_output_and_production_node_modules(tmp_path: Path) -> None:
    ctx = _context(tmp_path, {"build": "tsc --outDir dist", "start": "node dist/server.js"})
    result = rewrite(NPM_APP.format(cmd='["node", "dist/server.js"]'), context_dir=ctx)
    assert _stage(result, "AS builder-production") == ["WORKDIR /app", "RUN npm prune --omit=dev"]
    assert _stage(result, "AS assembly") == [
        "COPY . /app/", "COPY --from=builder-production /app/node_modules /app/node_modules",
        "COPY --from=builder /app/dist /app/dist"]
    assert "FROM node:20-slim" in result.text
    change = next(c for c in result.changes if c.message.startswith("npm: the runtime receives"))
    assert change.config == ("Files./app/node_modules",)


def test_npm_start_script_that_only_runs_node(tmp_path: Path) -> None:
    ctx = _context(tmp_path, {"build": "vite build", "start": "node dist/server.js"})
    result = rewrite(NPM_APP.format(cmd='["npm", "start"]'), context_dir=ctx)
    assert "COPY --from=builder /app/dist /app/dist" in result.text


@pytest.mark.parametrize(("tool", "install", "build", "prune"), [
    ("yarn", "yarn install --frozen-lockfile", "yarn build",
     "yarn install --production --frozen-lockfile --ignore-scripts"),
    ("pnpm", "pnpm install --frozen-lockfile", "pnpm run build", "pnpm prune --prod"),
])
def test_yarn_and_pnpm_prune_from_data(tmp_path: Path, tool: str, install: str, build: str, prune: str) -> None:
    ctx = _context(tmp_path, {"build": "vite build --outDir out"})
    text = NPM_APP.replace("npm ci", install).replace("npm run build", build).format(cmd='["node", "out/main.js"]')
    result = rewrite(text, context_dir=ctx)
    assert _stage(result, "AS builder-production")[-1] == f"RUN {prune}"
    assert "COPY --from=builder /app/out /app/out" in result.text


def test_static_assets_reach_a_runtime_without_node(tmp_path: Path) -> None:
    ctx = _context(tmp_path, {"build": "mkdir -p dist && echo built > dist/index.html"}, where="frontend")
    result = rewrite(STATIC, context_dir=ctx)
    runtime = _stage(result, "python:3.11-slim")
    assert not any("nodejs" in line or "npm" in line for line in runtime)
    assert _stage(result, "AS assembly")[:2] == [
        "COPY . /app/", "COPY --from=builder /app/frontend/dist /app/frontend/dist"]
    assert "builder-production" not in result.text
    assert any(c.message.startswith("runtime stage drops build-only packages (nodejs, npm)") for c in result.changes)


@pytest.mark.parametrize(("scripts", "cmd", "extra", "why"), [
    ({"build": "node scripts/build.js"}, '["node", "dist/server.js"]', {}, "names no known output folder"),
    ({"build": "next build", "start": "next start"}, '["npm", "start"]', {}, "runs next"),
    ({"build": "tsc"}, '["node", "dist/server.js"]', {}, "without naming its output folder"),
    ({"build": "tsc --outDir dist", "start": "npm run build && node dist/server.js"}, '["npm", "start"]', {},
     "builds or serves for development"),
    ({"build": "vite build"}, '["npx", "vite", "--host"]', {}, "starts vite"),
    ({"build": "vite build"}, '["npm", "run", "serve"]', {}, "does not define"),
    ({"build": "vite build"}, '["node", "dist/server.js"]', {"node_modules/x/index.js": ""},
     "does not leave it out"),
])
def test_declined_keeps_the_whole_tree(tmp_path: Path, scripts: dict[str, str], cmd: str,
                                       extra: dict[str, str], why: str) -> None:
    ctx = _context(tmp_path, scripts, **extra)
    result = rewrite(NPM_APP.format(cmd=cmd), context_dir=ctx)
    assert why in _notes(result)
    assert "COPY --from=builder /app /app" in result.text
    assert "builder-production" not in result.text


def test_dockerignored_node_modules_is_no_obstacle(tmp_path: Path) -> None:
    ctx = _context(tmp_path, {"build": "vite build"},
                   **{"node_modules/x/index.js": "", ".dockerignore": "node_modules\n"})
    result = rewrite(NPM_APP.format(cmd='["node", "dist/server.js"]'), context_dir=ctx)
    assert "COPY --from=builder /app/dist /app/dist" in result.text


def test_relative_context_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI passes the context as given (``fixtures/x``): a relative path works as an absolute one."""
    _context(tmp_path / "ctx", {"build": "mkdir -p dist && echo built > dist/index.html"}, where="frontend")
    monkeypatch.chdir(tmp_path)
    result = rewrite(STATIC, context_dir=Path("ctx"))
    assert "COPY --from=builder /app/frontend/dist /app/frontend/dist" in result.text


def test_no_package_json_in_the_context(tmp_path: Path) -> None:
    result = rewrite(NPM_APP.format(cmd='["node", "dist/server.js"]'), context_dir=tmp_path)
    assert "no package.json of /app was found in the build context" in _notes(result)


@pytest.mark.parametrize(("script", "folder"), [
    ("vite build", "dist"), ("npx vite build --outDir public/app", "public/app"), ("react-scripts build", "build"),
    ("rm -rf out && tsc -p . --outDir out", "out"), ("mkdir -p dist && echo ok > dist/index.html", "dist"),
    ("webpack --output-path=bundle", "bundle"), ("tsc", None), ("node build.mjs", None),
    ("mkdir dist build", None), ("vite build --outDir $OUT", None), ("vite build --outDir ../x", None),
])
def test_output_folder(script: str, folder: str | None) -> None:
    assert output_folder(script)[0] == folder


def _root(path: Path, packages: dict[str, list[str]]) -> Path:
    for package, files in packages.items():
        info = path / "var/lib/dpkg/info"
        info.mkdir(parents=True, exist_ok=True)
        (info / f"{package}.list").write_text("".join(f"{f}\n" for f in files))
        for f in files:
            (path / f.lstrip("/")).mkdir(parents=True, exist_ok=True)
    return path


def test_python_packages_of_a_dropped_system_package_are_not_a_loss(tmp_path: Path) -> None:
    six = "/usr/lib/python3/dist-packages/six-1.16.0.dist-info"
    gyp = "/usr/lib/python3/dist-packages/gyp-0.1.egg-info"
    numpy = "/usr/lib/python3/dist-packages/numpy-1.24.2.egg-info"
    before = _root(tmp_path / "a", {"python3-six": [six], "gyp": [gyp], "python3-numpy": [numpy], "npm": []})
    after = _root(tmp_path / "b", {"base-files": []})
    tree = walk(before)
    dockerfile = "RUN apt-get install -y npm python3-numpy\n"
    system = os_left_dists(before, after, tree, dockerfile)
    assert system == {"six", "gyp"}  # python3-numpy was asked for by name: its loss stays a loss
    cmp = compare(tree, walk(after), [], None, frozenset(), system)
    assert cmp.dist_problems == ["python package numpy==1.24.2 missing"]
    kept = _root(tmp_path / "c", {"python3-six": [six]})
    assert os_left_dists(before, kept, tree, dockerfile) == {"gyp"}


REWRITE = Path(__file__).resolve().parent.parent / "fixtures" / "rewrite"


@pytest.mark.build
@pytest.mark.parametrize(("case", "absent", "present"), [
    # the TypeScript compiler (a dev dependency) stays in the builder; the production `ms` comes along
    ("node-build-dist", "app/node_modules/typescript", "app/node_modules/ms/index.js"),
    # assets built with node, served by Python: no node in the runtime, the built page is there
    ("node-assets-python-server", "usr/bin/node", "app/frontend/dist/index.html"),
])
def test_node_build_verifies_and_carries_only_what_runs(buildah: Any, case: str, absent: str,
                                                          present: str) -> None:
    from dockerslim.verify import verify

    smoke = (REWRITE / case / "smoke.txt").read_text().strip()
    report = verify(REWRITE / case / "Dockerfile", builder=buildah, smoke=smoke, compressed=False, keep=True)
    try:
        failed = [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]
        assert report.ok, "\n".join(failed)
        assert report.rewrite is not None and report.original is not None
        assert report.rewrite.size < report.original.size
        with buildah.rootfs(report.rewrite.image) as root:
            assert (root / present).exists()
            assert not (root / absent).exists()
    finally:
        for side in (report.original, report.rewrite):
            if side is not None:
                buildah.remove(side.image)
