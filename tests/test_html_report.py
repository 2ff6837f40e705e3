"""The HTML verify report: rendered from verify's own result structure, then opened in a real
headless browser (Debian's chromium): no console errors, nothing loaded from outside, and every
number the page shows equals the JSON input. Skipped with the reason where chromium is missing
(``.ci/install-browser`` installs it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dockerslim import html_report
from dockerslim.builders import Buildah, RunOutcome
from dockerslim.fscompare import Comparison
from dockerslim.verify import Check, Side, VerifyReport

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000

HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:5f7a… in / "},
    {"created_by": "/bin/sh -c #(nop)  ENV PYTHON_VERSION=3.12.4", "empty_layer": True},
    {"created_by": "/bin/sh -c apt-get update && apt-get install -y python3"},
    {"created_by": "/bin/sh -c apt-get update && apt-get install -y gcc libpq-dev"},
    {"created_by": "/bin/sh -c #(nop) COPY dir:ab12… in /app "},
    {"created_by": "/bin/sh -c pip install /app"},
    {"created_by": "/bin/sh -c #(nop)  CMD [\"python\", \"-m\", \"app\"]", "empty_layer": True},
]
REWRITE_HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:5f7a… in / "},
    {"created_by": "/bin/sh -c apt-get update && apt-get install -y python3"},
    {"created_by": "/bin/sh -c #(nop) COPY dir:cd34… in / "},
]


def sample(path: str = "services/api/Dockerfile", ok: bool = True) -> dict:
    """A verify result as ``verify --format json`` prints it: made with verify's own classes."""
    report = VerifyReport(
        path=path, builder="buildah", changed=True,
        original=Side(image="dockerslim-verify-1:original", build_seconds=6.6, size=1_029_912_345,
                      compressed=463_700_111, layers=5, smoke=RunOutcome(0, "ok")),
        rewrite=Side(image="dockerslim-verify-1:rewrite", build_seconds=5.3, size=458_412_003,
                     compressed=187_650_222, layers=3, smoke=RunOutcome(0 if ok else 1, "ok")),
        accepted_diffs=["Env PATH: '/usr/bin' -> '/opt/venv/bin:/usr/bin' (declared by the rewrite)"],
        comparison=Comparison(dropped={"compilers/toolchains": (812, 301_220_000), "headers": (2_344, 41_870_000),
                                       "package caches": (97, 88_100_000), "other": (1_203, 12_400_300)},
                              app_problems=[], dist_problems=[]),
        checks=[Check("original builds", True, "6.6 s"), Check("rewrite builds", True, "5.3 s"),
                Check("image config kept", True, "1 accepted difference(s)"),
                Check("app files kept", True), Check("smoke command runs", ok, "python -m app: exit 0"),
                Check("rewrite is smaller", True, "1029.9 MB -> 458.4 MB")],
        notes=["the rewrite runs as the same USER"],
    )
    data = report.to_dict()
    data["original"]["layer_sizes"] = html_report.pair_layers(HISTORY, [80_000_000, 180_000_000, 430_000_000,
                                                                        4_000_000, 335_912_345])
    data["rewrite"]["layer_sizes"] = html_report.pair_layers(REWRITE_HISTORY, [80_000_000, 180_000_000, 198_412_003])
    return json.loads(json.dumps(data, default=str))  # exactly what the CLI's JSON gives back


def mb(n: int) -> str:
    """Formatting written out here, independent of the module's."""
    return f"{n / MB:.1f} MB"


# --- pure rendering ---------------------------------------------------------------------------

def test_pair_layers_maps_history_onto_layers() -> None:
    pairs = html_report.pair_layers(HISTORY, [1, 2, 3, 4, 5])
    assert [p["size"] for p in pairs] == [1, 2, 3, 4, 5]
    assert pairs[1]["created_by"].endswith("apt-get install -y python3")
    assert pairs[3]["created_by"].startswith("/bin/sh -c #(nop) COPY")
    # a count mismatch is not guessed at
    assert html_report.pair_layers(HISTORY, [1, 2]) == [{"created_by": "", "size": 1}, {"created_by": "", "size": 2}]


def test_layer_sizes_from_buildah_inspect_output() -> None:
    inspect = {"Manifest": json.dumps({"layers": [{"size": 10}, {"size": 20}, {"size": 30}]}),
               "OCIv1": {"history": [{"created_by": "ADD rootfs"}, {"created_by": "ENV A=1", "empty_layer": True},
                                     {"created_by": "/bin/sh -c make"},
                                     {"created_by": "/bin/sh -c #(nop) COPY x in /"}]}}
    assert html_report.layer_sizes_from_inspect(inspect) == [
        {"created_by": "ADD rootfs", "size": 10}, {"created_by": "/bin/sh -c make", "size": 20},
        {"created_by": "/bin/sh -c #(nop) COPY x in /", "size": 30}]
    data = sample()
    for side in ("original", "rewrite"):
        del data[side]["layer_sizes"]
    asked: list[str] = []
    enriched = html_report.with_layer_sizes(data, lambda image: asked.append(image) or [{"created_by": "", "size": 1}])
    assert asked == [data["original"]["image"], data["rewrite"]["image"]]
    assert enriched["rewrite"]["layer_sizes"] == [{"created_by": "", "size": 1}]
    assert "layer_sizes" not in data["rewrite"]  # the input is not changed


@pytest.mark.build
def test_buildah_layer_sizes_add_up_to_the_image_size(buildah: Buildah) -> None:
    env = buildah.env
    image = "docker.io/library/python:3.12-slim"
    layers = html_report.buildah_layer_sizes(image, env)
    assert len(layers) >= 2 and all(e["created_by"] for e in layers)
    assert sum(e["size"] for e in layers) == buildah.inspect(image).size
    with pytest.raises(html_report.ReportInputError, match="cannot inspect"):
        html_report.buildah_layer_sizes("localhost/no-such-image:0", env)


def test_page_is_self_contained_and_escapes_input() -> None:
    data = sample(path='evil/<script>alert(1)</script>/Dockerfile')
    page = html_report.render(data)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "http://" not in page.replace("http://www.w3.org/", "") and "https://" not in page
    assert "default-src 'none'" in page


@pytest.mark.parametrize("bad", [{}, [], {"results": []}, {"path": "x"}, "text"])
def test_input_that_is_not_a_verify_result_is_refused(bad: object) -> None:
    with pytest.raises(html_report.ReportInputError):
        html_report.render(bad)


def test_bad_json_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "verify.json"
    path.write_text('{\n  "path": "x",\n  oops\n}\n')
    with pytest.raises(html_report.ReportInputError, match=r"verify\.json:3: not JSON"):
        html_report.load_json(path)


def test_a_result_without_images_still_renders() -> None:
    """verify on an unchanged file: no sizes, a note, no checks."""
    data = VerifyReport(path="Dockerfile", builder="buildah", changed=False,
                        notes=["the rewrite leaves this file unchanged: nothing to verify"]).to_dict()
    page = html_report.render(data)
    assert "nothing to verify" in page and "no checks ran" in page


# --- in a real browser ------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/install-browser)")
slow = pytest.mark.slow  # a browser start takes seconds


def chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless chromium on a file, logging the page's console to stderr."""
    return subprocess.run(
        [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", *args, page.as_uri()],
        capture_output=True, text=True, timeout=180, env=dict(os.environ, HOME=str(tmp_path)))


def console_errors(stderr: str) -> list[str]:
    """What the page wrote to its console. The report has no script, so anything there is a
    fault: an uncaught exception, a load the Content-Security-Policy blocked, a failed load."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


class Fields(HTMLParser):
    """Collect (data-field, data-value, shown text) from the browser's DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str | None, str]] = []
        self.sections: list[str] = []
        self.checks: list[tuple[str, str]] = []
        self._open: list[list] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("data-path"):
            self.sections.append(a["data-path"] or "")
        if a.get("data-check"):
            self.checks.append((a["data-check"] or "", a.get("data-ok") or ""))
        if a.get("data-field"):
            self._open.append([tag, a["data-field"], a.get("data-value"), ""])
        elif self._open:
            self._open.append([tag, None, None, ""])

    def handle_data(self, data: str) -> None:
        for entry in self._open:
            entry[3] += data

    def handle_endtag(self, tag: str) -> None:
        if not self._open:
            return
        entry = self._open.pop()
        if entry[1] is not None:
            self.found.append((f"{self.sections[-1] if self.sections else ''}|{entry[1]}", entry[2], entry[3].strip()))


def _fields(dom: str) -> Fields:
    parser = Fields()
    parser.feed(dom)
    return parser


@needs_browser
@slow
def test_browser_detects_console_errors_and_external_loads(tmp_path: Path) -> None:
    """The checks below can fail: an outside image or a script in the report is blocked and
    reported, and a page error (on a page without the report's policy) is reported."""
    page = tmp_path / "outside.html"
    page.write_text(html_report.render(sample()).replace(
        "</main>", '<img src="http://127.0.0.1:9/x.png"><script>document.title = "x"</script></main>'))
    errors = console_errors(chromium(tmp_path, page, "--dump-dom").stderr)
    assert any("img-src" in e for e in errors) and any("inline script" in e for e in errors), errors
    page = tmp_path / "throws.html"
    page.write_text('<!DOCTYPE html><p>x</p><script>throw new Error("boom")</script>')
    errors = console_errors(chromium(tmp_path, page, "--dump-dom").stderr)
    assert any("Uncaught Error: boom" in e for e in errors), errors


@needs_browser
@slow
def test_report_renders_in_chromium_with_the_numbers_of_the_json(tmp_path: Path) -> None:
    example = json.loads((ROOT / "docs" / "verify-example.json").read_text())  # a real verify, real layers
    data = [sample("services/api/Dockerfile"), sample("services/worker/Dockerfile", ok=False), example]
    source = json.loads(json.dumps(data))
    page = tmp_path / "report.html"
    html_report.write(data, page)
    proc = chromium(tmp_path, page, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert console_errors(proc.stderr) == []
    dom = _fields(proc.stdout)
    assert dom.sections == ["services/api/Dockerfile", "services/worker/Dockerfile", example["path"]]
    shown: dict[str, list[tuple[str | None, str]]] = {}
    for key, value, text in dom.found:
        shown.setdefault(key, []).append((value, text))

    for result in source:
        p = result["path"]
        for side in ("original", "rewrite"):
            s = result[side]
            for field in ("size", "compressed"):
                # the bar label and the table cell both show the JSON's number
                assert shown[f"{p}|{side}.{field}"] == [(str(s[field]), mb(s[field]))] * 2
            assert shown[f"{p}|{side}.layers"] == [(str(s["layers"]), str(s["layers"]))]
            assert shown[f"{p}|{side}.build_seconds"] == [(str(s["build_seconds"]), f"{s['build_seconds']:.1f} s")]
            assert shown[f"{p}|{side}.smoke"] == [(str(s["smoke"]["exit_code"]), str(s["smoke"]["exit_code"]))]
            assert shown[f"{p}|{side}.layer"] == [(str(e["size"]), mb(e["size"])) for e in s["layer_sizes"]]
        o, r = result["original"]["size"], result["rewrite"]["size"]
        assert shown[f"{p}|size.saving"] == [(None, f"−{(o - r) / o * 100:.1f}%")]
        dropped = sorted(result["comparison"]["dropped"].items(), key=lambda kv: -kv[1][1])
        assert shown[f"{p}|dropped.bytes"] == [(str(b), mb(b)) for _, (_, b) in dropped]
        assert shown[f"{p}|dropped.files"] == [(str(f), str(f)) for _, (f, _) in dropped]
        assert shown[f"{p}|dropped.total"] == [(str(sum(b for _, (_, b) in dropped)),
                                                 f"({mb(sum(b for _, (_, b) in dropped))} in total)")]
    expected_checks = [(c["name"], "true" if c["ok"] else "false") for r in source for c in r["checks"]]
    assert dom.checks == expected_checks
    assert shown["|totals.verified"] == [("2", "2 of 3")]
    total_before = sum(r["original"]["size"] for r in source)
    assert shown["|totals.before"] == [(str(total_before), mb(total_before))]


@needs_browser
@slow
def test_screenshot_is_a_picture_of_the_page(tmp_path: Path) -> None:
    """docs/report.png is this screenshot of docs/verify-example.json (DOCKERSLIM_UPDATE_SCREENSHOT=1)."""
    page = tmp_path / "report.html"
    html_report.write(html_report.load_json(ROOT / "docs" / "verify-example.json"), page)
    shot = tmp_path / "report.png"
    proc = chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=1100,1500", "--hide-scrollbars")
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == 1100 and int.from_bytes(png[20:24], "big") == 1500
    assert console_errors(proc.stderr) == []
    if os.environ.get("DOCKERSLIM_UPDATE_SCREENSHOT"):
        shutil.copy(shot, ROOT / "docs" / "report.png")


def test_report_command_writes_the_page_and_names_bad_input(tmp_path: Path) -> None:
    from .conftest import run_cli

    page = tmp_path / "report.html"
    ok = run_cli("report", str(ROOT / "docs" / "verify-example.json"), "-o", str(page))
    assert ok.returncode == 0, ok.stderr.decode()
    text = page.read_text()
    assert "fixtures/rewrite/pip-user/Dockerfile" in text and "349.0 MB" in text and "946.6 MB" in text
    from_stdin = run_cli("report", "-", "-o", str(tmp_path / "stdin.html"),
                         stdin=(ROOT / "docs" / "verify-example.json").read_bytes())
    assert from_stdin.returncode == 0 and (tmp_path / "stdin.html").read_text().count("349.0 MB") >= 2
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "path": "x",\n  oops\n}\n')
    failed = run_cli("report", str(bad), "-o", str(tmp_path / "x.html"))
    assert failed.returncode == 2 and f"{bad}:3: not JSON" in failed.stderr.decode()
    assert not (tmp_path / "x.html").exists()
