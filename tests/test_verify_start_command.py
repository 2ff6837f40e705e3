"""verify's "entrypoint programs present": a rewrite whose Changes declare its start command
changed (conda-env: `conda run -n web python app.py` -> the env's own python, conda left in the
builder) is checked against the command it runs; anything else against the original's."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from dockerslim import ir
from dockerslim.builders import BuildOutcome, ImageFacts, RunOutcome
from dockerslim.parse import parse
from dockerslim.verify import VerifyReport, verify

CASE = Path(__file__).resolve().parent.parent / "fixtures" / "rewrite" / "conda-named-env-run"
EXPECTED = (CASE / "expected.Dockerfile").read_text()
PATHS = {"continuumio/miniconda3:24.7.1-0": "/opt/conda/bin:/usr/local/bin:/usr/bin:/bin",
         "debian:bookworm-slim": "/usr/local/bin:/usr/bin:/bin"}


def _exe(root: Path, path: str) -> None:
    f = root / path.lstrip("/")
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text("\x7fELF")
    f.chmod(0o755)


@dataclass
class ImageBuilder:
    """Builds nothing: each image is a folder holding the final stage's executables (``files``
    by its FROM), with the ENTRYPOINT and PATH that Dockerfile's final stage sets."""

    tmp: Path
    files: dict[str, list[str]]
    texts: dict[str, str] = field(default_factory=dict)
    name: str = "fake"

    def build(self, dockerfile, context, tag, **kw):  # type: ignore[no-untyped-def]
        self.texts[tag] = dockerfile
        return BuildOutcome(tag, 0.1, "")

    def _stage(self, tag: str) -> ir.Stage:
        return parse(self.texts[tag]).stages[-1]

    def inspect(self, image, *, compressed=False):  # type: ignore[no-untyped-def]
        if image not in self.texts:  # a base image
            return ImageFacts(config={"Env": [f"PATH={PATHS[image]}"]}, layers=1, size=1)
        stage = self._stage(image)
        entry = next(n.command for n in stage.body if isinstance(n, ir.Entrypoint))
        path = PATHS[stage.from_.image]
        for node in stage.body:  # the rewrite's ENV PATH="/opt/conda/envs/web/bin:…:$PATH"
            for k, v in node.pairs if isinstance(node, ir.Env) else ():
                if k == "PATH":
                    path = v.strip('"').replace("$PATH", path)
        size = 100 if image.endswith(":original") else 10
        return ImageFacts(config={"Entrypoint": list(entry), "Env": [f"PATH={path}"], "WorkingDir": "/app"},
                          layers=1, size=size)

    def rootfs(self, image):  # type: ignore[no-untyped-def]
        root = self.tmp / image.replace(":", "_").replace("/", "_")
        for path in self.files[self._stage(image).from_.image]:
            _exe(root, path)
        return contextlib.nullcontext(root)

    def run(self, image, argv, *, timeout=300):  # type: ignore[no-untyped-def]
        return RunOutcome(127, "")

    def remove(self, image):  # type: ignore[no-untyped-def]
        pass


ORIGINAL = ["/opt/conda/bin/conda", "/opt/conda/envs/web/bin/python"]


def _programs(report: VerifyReport) -> str:
    check = next(c for c in report.checks if c.name == "entrypoint programs present")
    return "" if check.ok else check.detail


def test_the_rewrites_declared_start_command_is_checked_not_the_originals(tmp_path: Path) -> None:
    """The real conda-env rewrite declares Entrypoint: conda is not needed, its env's python is."""
    fake = ImageBuilder(tmp_path, {"continuumio/miniconda3:24.7.1-0": ORIGINAL,
                                   "debian:bookworm-slim": ["/opt/conda/envs/web/bin/python", "/bin/sh"]})
    report = verify(CASE / "Dockerfile", builder=fake)
    assert report.candidate == EXPECTED
    assert _programs(report) == ""
    fake.files["debian:bookworm-slim"] = ["/bin/sh"]  # the declared command's program is gone: still caught
    report = verify(CASE / "Dockerfile", builder=fake)
    assert _programs(report) == "missing: /opt/conda/envs/web/bin/python (the rewrite's declared start command)"


def test_an_undeclared_missing_entrypoint_program_still_fails(tmp_path: Path) -> None:
    """The same text given as a candidate declares nothing: the original's conda must be there."""
    fake = ImageBuilder(tmp_path, {"continuumio/miniconda3:24.7.1-0": ORIGINAL,
                                   "debian:bookworm-slim": ["/opt/conda/envs/web/bin/python", "/bin/sh"]})
    for given in ({"rewritten": EXPECTED}, {"against": EXPECTED}):
        report = verify(CASE / "Dockerfile", builder=fake, **given)  # type: ignore[arg-type]
        assert _programs(report) == "missing: conda (/opt/conda/bin/conda in the original)"
