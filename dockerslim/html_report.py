"""One self-contained HTML page from ``verify`` results (``verify --format json``): per image,
original vs rewrite size bars, per-layer sizes, what the rewrite left out by category, and
the checks. Everything is inline (CSS, SVG); a Content-Security-Policy forbids loading
anything else, so the file can be mailed, attached to CI, or opened offline.

The page shows numbers formatted for people; each also carries its raw value in a
``data-value`` attribute, so a test (or a script) can check them against the JSON.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .builders import Buildah, BuilderError, ImageFacts, buildah_facts
from .errors import DockerslimError
from .report import megabytes
from .templating import environment

BAR_WIDTH = 560  # px of the longest bar in a chart


class ReportInputError(DockerslimError):
    """The JSON given is not a verify result."""


def saving(before: int | None, after: int | None) -> str:
    """"−58.2%" of ``before``; "" when it cannot be said."""
    if not before or after is None:
        return ""
    pct = (before - after) / before * 100
    return f"−{pct:.1f}%" if pct >= 0 else f"+{-pct:.1f}%"


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    width: float  # px
    text: str  # the formatted value


def bars(items: Sequence[tuple[str, int | None]], *, scale_to: int | None = None) -> list[Bar]:
    """Horizontal bars on one scale (the largest value, or ``scale_to``), unknown values left out."""
    known = [(label, int(v)) for label, v in items if v is not None]
    top = scale_to or max((v for _, v in known), default=0) or 1
    return [Bar(label, v, round(max(v / top * BAR_WIDTH, 1.0 if v else 0.0), 1), megabytes(v)) for label, v in known]


def pair_layers(history: Iterable[Mapping[str, Any]], sizes: Sequence[int]) -> list[dict[str, Any]]:
    """Per-layer sizes from an image: the history entries that made a layer (no
    ``empty_layer``) map one to one, in order, onto the manifest's layers (base layers first).
    Returns ``[{"created_by": …, "size": …}]``; when the counts disagree the instructions are
    left blank rather than guessed."""
    made = [h for h in history if not h.get("empty_layer")]
    if len(made) != len(sizes):
        return [{"created_by": "", "size": int(s)} for s in sizes]
    return [{"created_by": str(h.get("created_by", "")), "size": int(s)} for h, s in zip(made, sizes, strict=False)]


def layer_sizes_from_inspect(inspect: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per-layer sizes from ``buildah inspect --type image`` output: the manifest's layer
    sizes (uncompressed tars for a local image, as ``verify`` measures the whole image) paired
    with the OCI history."""
    return layer_sizes(buildah_facts(dict(inspect)))


def layer_sizes(facts: ImageFacts) -> list[dict[str, Any]]:
    """``pair_layers`` of what the builder's ``inspect`` read: none when it measured no layers
    (buildx reports only the whole image's size)."""
    return pair_layers(facts.history, facts.layer_sizes)


def with_layer_sizes(result: Mapping[str, Any], measure: Callable[[str], list[dict[str, Any]]]) -> dict[str, Any]:
    """A copy of a verify result whose sides carry ``layer_sizes`` measured by
    ``measure(image)`` (for images kept with ``verify --keep``)."""
    out: dict[str, Any] = json.loads(json.dumps(result))
    for name in ("original", "rewrite"):
        side = out.get(name)
        if isinstance(side, dict) and side.get("image") and not side.get("layer_sizes"):
            side["layer_sizes"] = measure(side["image"])
    return out


def buildah_layer_sizes(image: str, env: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """``layer_sizes`` of a local buildah image; a missing image raises."""
    builder = Buildah(env=dict(env)) if env is not None else Buildah()
    try:
        return layer_sizes(builder.inspect(image))
    except BuilderError as exc:
        raise ReportInputError(f"{image}: cannot inspect the image (kept with verify --keep?): "
                               f"{str(exc).strip()[-300:]}") from None


def _instruction(created_by: str) -> str:
    """``/bin/sh -c #(nop) COPY dir:… in /app`` → ``COPY dir:… in /app``; RUN for shell commands."""
    text = created_by.strip()
    for prefix in ("/bin/sh -c #(nop) ", "|0 /bin/sh -c #(nop) "):
        if text.startswith(prefix):
            return text[len(prefix):].strip()
    if text.startswith("/bin/sh -c "):
        return "RUN " + text[len("/bin/sh -c "):]
    return text


def _side(result: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    side = result.get(name)
    return side if isinstance(side, Mapping) else None


def image_view(result: Mapping[str, Any]) -> dict[str, Any]:
    """What the template shows for one verify result."""
    if not isinstance(result, Mapping) or "path" not in result or "checks" not in result:
        raise ReportInputError("not a verify result (expected keys path, checks, original, rewrite)")
    o, r = _side(result, "original"), _side(result, "rewrite")
    size_rows = []
    if o and r:
        for key, title in (("size", "image size"), ("compressed", "compressed (gzip layers)")):
            if o.get(key) is not None and r.get(key) is not None:
                size_rows.append({"key": key, "title": title, "saving": saving(o[key], r[key]),
                                  "bars": bars([("original", o[key]), ("rewrite", r[key])])})
    layers = []
    sides = [(name, list((side or {}).get("layer_sizes") or [])) for name, side in (("original", o), ("rewrite", r))]
    top = max((int(e["size"]) for _, entries in sides for e in entries), default=0) or 1  # one scale for both
    for name, entries in sides:
        if entries:
            layers.append({"name": name, "rows": [
                {"instruction": _instruction(e.get("created_by", "")) or f"layer {i + 1}", "size": int(e["size"]),
                 "text": megabytes(int(e["size"])), "width": round(int(e["size"]) / top * 190, 1)}
                for i, e in enumerate(entries)]})
    comparison = result.get("comparison") or {}
    dropped = sorted(((group, int(v[0]), int(v[1])) for group, v in (comparison.get("dropped") or {}).items()),
                     key=lambda g: (-g[2], g[0]))
    top_dropped = max((b for _, _, b in dropped), default=0) or 1
    checks = [{"name": c.get("name", ""), "ok": bool(c.get("ok")), "detail": c.get("detail", "")}
              for c in result.get("checks") or []]
    return {
        "path": result["path"],
        "builder": result.get("builder", ""),
        "ok": bool(result.get("ok", all(c["ok"] for c in checks) if checks else False)),
        "changed": result.get("changed", True),
        "original": o, "rewrite": r,
        "size_rows": size_rows,
        "layers": layers,
        "dropped": [{"group": g, "files": f, "bytes": b, "text": megabytes(b),
                     "width": round(b / top_dropped * 240, 1)} for g, f, b in dropped],
        "dropped_total": sum(b for _, _, b in dropped),
        "checks": checks,
        "passed": sum(1 for c in checks if c["ok"]),
        "notes": list(result.get("notes") or []),
        "accepted": list(result.get("accepted_diffs") or []),
        "config_diffs": list(result.get("config_diffs") or []),
        "problems": list(comparison.get("app_problems") or []) + list(comparison.get("dist_problems") or []),
    }


def results_of(data: Any) -> list[Mapping[str, Any]]:
    """Verify results from what ``verify --format json`` printed: one result, a list, or
    ``{"results": [...]}``."""
    if isinstance(data, Mapping) and isinstance(data.get("results"), list):
        data = data["results"]
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list) or not data:
        raise ReportInputError("expected a verify result, a list of them, or {\"results\": [...]}")
    return data


def render(data: Any, *, title: str = "dockerslim verify report", generated: datetime.datetime | None = None) -> str:
    """The whole HTML page for ``data`` (see ``results_of``)."""
    images = [image_view(r) for r in results_of(data)]
    totals = {
        "images": len(images),
        "verified": sum(1 for i in images if i["ok"]),
        "before": sum(i["original"]["size"] for i in images if i["original"] and i["rewrite"]),
        "after": sum(i["rewrite"]["size"] for i in images if i["original"] and i["rewrite"]),
    }
    totals["saving"] = saving(totals["before"], totals["after"])
    env = environment().overlay(autoescape=True)
    env.filters["mb"] = megabytes
    when = (generated or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return env.get_template("report.html.j2").render(
        title=title, images=images, totals=totals, version=__version__, generated=when, bar_width=BAR_WIDTH)


def write(data: Any, path: Path, **kwargs: Any) -> None:
    path.write_text(render(data, **kwargs), encoding="utf-8")


def load_json(path: Path) -> Any:
    """A verify JSON file; errors name the file and the line."""
    try:
        return loads(path.read_text(encoding="utf-8"), str(path))
    except FileNotFoundError:
        raise ReportInputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportInputError(f"{path}: cannot read: {exc}") from None


def loads(text: str, name: str = "<stdin>") -> Any:
    """Verify JSON from text; errors name ``name`` and the line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportInputError(f"{name}:{exc.lineno}: not JSON: {exc.msg}") from None
