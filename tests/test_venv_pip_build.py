"""Real build: on an official python base the split's virtualenv holds only what the app
installed (no pip, no setuptools, no bytecode of theirs), yet every way the file and the image
use pip still works: ``pip install`` and ``python -m pip install`` in the builder, a console
script's shebang, and ``pip``/``python -m pip`` in the final image (the base's pip, installing
into the virtualenv). Slow; marked ``build``; buildah on the stand-ins (python:3.12 and
python:3.12-slim are Debian 12's Python 3.11 with pip 23.0.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockerslim import rewrite
from dockerslim.builders import Buildah
from dockerslim.verify import Session, declared_by

pytestmark = pytest.mark.build

DOCKERFILE = """FROM python:3.12
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
RUN python -m pip install --no-cache-dir pyflakes==3.2.0
COPY app.py .
CMD ["python", "app.py"]
"""
SMOKE = "python app.py && pyflakes --version && pip --version && python -m pip --version"


def test_virtualenv_carries_no_pip_and_pip_still_works(buildah: Buildah, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    (tmp_path / "app.py").write_text("import pyflakes\nimport six\nprint('ok', six.__version__)\n")
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    result = rewrite(DOCKERFILE, path=str(tmp_path / "Dockerfile"), context_dir=tmp_path)
    assert "--without-pip --system-site-packages" in result.text
    with Session(DOCKERFILE, path=str(tmp_path / "Dockerfile"), context=tmp_path, builder=buildah, smoke=SMOKE,
                 compressed=False) as session:
        declared, replaced, moved_out = declared_by(result)
        report = session.verify(result.text, declared=declared, replaced=replaced, moved_out=moved_out)
        failed = [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]
        assert report.ok, "\n".join(failed)
        assert report.rewrite is not None and report.original is not None
        print(f"\nsizes (uncompressed): original {report.original.size / 1e6:.1f} MB, "
              f"rewrite {report.rewrite.size / 1e6:.1f} MB")
        image = report.rewrite.image
        with buildah.rootfs(image) as root:
            site = next(root.glob("opt/venv/lib/python3*/site-packages"))
            names = sorted(p.name for p in site.iterdir())
            assert not [n for n in names if n.startswith(("pip", "setuptools", "_distutils_hack"))], names
            assert (site / "six.py").is_file() and (site / "pyflakes").is_dir()
            assert (root / "opt/venv/bin/pyflakes").read_text().startswith("#!/opt/venv/bin/python\n")
            venv_bytes = sum(p.lstat().st_size for p in (root / "opt/venv").rglob("*") if not p.is_dir())
            assert venv_bytes < 3_000_000, venv_bytes  # six + pyflakes; a pip of its own is ~10 MB more
        version = buildah.run(image, ["pip", "--version"])
        assert version.exit_code == 0 and " from /usr/" in version.output, version.output
        # pip in the final image works on the virtualenv, as a virtualenv's own pip did
        for argv in (["pip", "show", "six"], ["python", "-m", "pip", "show", "six"]):
            shown = buildah.run(image, argv)
            assert shown.exit_code == 0 and "Location: /opt/venv/lib/" in shown.output, (argv, shown.output)
