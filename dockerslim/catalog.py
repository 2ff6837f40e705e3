"""The knowledge dockerslim acts on, loaded from ``dockerslim/data/*.toml`` once.

Keeping it as data means a new base image, runtime library or JIT trigger is a line in a TOML
file, not a code change.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .image import ImageRef

# Extra data folders of the rewrite in progress (Options.data); set by rewrite().
EXTRA_DATA: ContextVar[tuple[str, ...]] = ContextVar("EXTRA_DATA", default=())


def load(name: str) -> dict[str, Any]:
    """One data file as a dict (``base_images``, ``packages``, ``commands``, ``jit``, …),
    extended by the user's files of the same name (their entries are tried first)."""
    return _load(name, EXTRA_DATA.get())


@cache
def _load(name: str, extra: tuple[str, ...]) -> dict[str, Any]:
    text = resources.files("dockerslim.data").joinpath(f"{name}.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    for folder in extra:
        path = Path(folder, f"{name}.toml")
        if path.is_file():
            data = _extend(tomllib.loads(path.read_text(encoding="utf-8")), data)
    return data


def _extend(user: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """Lists of tables: user entries first; tables: merged key by key; values: the user's."""
    out = dict(base)
    for key, value in user.items():
        if isinstance(value, list) and isinstance(base.get(key), list):
            out[key] = value + base[key]
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = _extend(value, base[key])
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class BaseInfo:
    """What the catalog knows about one base image and its runtime counterpart."""

    image: ImageRef
    runtime: ImageRef | None  # None when no runtime variant is known
    static_runtime: ImageRef | None
    cuda_free_runtime: ImageRef | None  # nvidia/cuda base tag, for apps that use no CUDA
    family: str  # debian, ubuntu, rockylinux…
    release: str  # bookworm, jammy…
    python: str  # interpreter path ("" for none)
    python_version: str
    packages_in_base: bool
    note: str
    python_env: str = "prefix"  # prefix: a real Python installation; venv: the base's Python is a virtualenv
    pip_in_runtime: bool = False  # the runtime variant has the same Python and pip (pip installs of wheels work there)
    site_packages_in_runtime: bool = False  # the runtime variant has the same Python with the same site-packages
    sizes: dict[str, str] = field(default_factory=dict)
    path_dirs: tuple[str, ...] = ()  # on the full image's PATH, not on the runtime_image's

    def size(self, ref: ImageRef | None) -> str | None:
        return self.sizes.get(ref.tag or "") if ref else None


UBUNTU_RELEASES = {"16.04": "xenial", "18.04": "bionic", "20.04": "focal", "22.04": "jammy", "24.04": "noble"}


def _os(spec: str, groups: dict[str, str]) -> tuple[str, str]:
    """``debian:variant|bookworm`` → (family, release) from the tag's groups or the default."""
    if spec.startswith("tag:"):
        value = groups.get(spec[4:]) or ""
        if value.removeprefix("ubuntu") in UBUNTU_RELEASES:  # ubuntu22.04 (nvidia/cuda) or 22.04 (ubuntu)
            return "ubuntu", UBUNTU_RELEASES[value.removeprefix("ubuntu")]
        return re.sub(r"[0-9.]+$", "", value) or "unknown", value
    family, _, release = spec.partition(":")
    if "|" in release:
        group, _, default = release.partition("|")
        release = (groups.get(group) or "").lstrip("-") or default
    return family, release


@cache
def _canonical(repository: str) -> str:
    return ImageRef.parse(repository).canonical_name


def lookup_base(ref: ImageRef) -> BaseInfo | None:
    """The first catalog rule matching ``ref`` (digest-pinned references never match)."""
    if ref.digest:
        return None
    name = ref.canonical_name  # docker.io/library/python, index.docker.io/… → python
    for rule in load("base_images")["rule"]:
        if _canonical(rule["repository"]) != name:
            continue
        m = re.match(rule["match"], ref.tag or "latest")
        if not m:
            continue
        groups = {k: v or "" for k, v in m.groupdict().items()}
        family, release = _os(rule.get("os", ""), groups)
        runtime = static = None
        if "runtime" in rule:
            runtime = ref.with_tag(rule["runtime"].format(**groups))
        elif "runtime_image" in rule:
            runtime = ImageRef.parse(rule["runtime_image"].format(release=release, **groups))
        if "static_runtime_image" in rule:
            static = ImageRef.parse(rule["static_runtime_image"])
        cuda_free = ref.with_tag(rule["cuda_free_runtime"].format(**groups)) if "cuda_free_runtime" in rule else None
        version = rule.get("python_version", "")
        if version.startswith("tag:"):
            version = groups.get(version[4:], "")
        return BaseInfo(
            image=ref, runtime=runtime, static_runtime=static, cuda_free_runtime=cuda_free, family=family,
            release=release,
            python=rule.get("python", ""), python_version=version,
            packages_in_base=rule.get("packages_in_base", False), note=rule.get("note", ""),
            sizes=rule.get("sizes", {}),
            python_env=rule.get("python_env", "prefix"), pip_in_runtime=rule.get("pip_in_runtime", False),
            site_packages_in_runtime=rule.get("site_packages_in_runtime", False),
            path_dirs=tuple(rule.get("path_dirs", ())),
        )
    return None


@dataclass(frozen=True)
class PackageFate:
    """What happens to one system package in the runtime stage."""

    name: str
    build_only: bool
    runtime: tuple[str, ...]  # what replaces it at run time ((name,) when kept)
    known: bool  # False: a -dev package whose runtime library is unknown (kept, noted)


MANAGER_SECTIONS = {"apt-get": "apt", "apt": "apt", "apk": "apk", "dnf": "rpm", "yum": "rpm", "microdnf": "rpm"}
PACKAGE_MANAGERS = tuple(MANAGER_SECTIONS)  # the system package managers dockerslim reads installs of


def package_fate(manager: str, package: str, release: str) -> PackageFate:
    """Is ``package`` (installed with ``manager``) build-only, and what replaces it at run time?"""
    section = MANAGER_SECTIONS.get(manager)
    data = load("packages").get(section or "", {})
    bare = re.split(r"[=:<>~]", package, maxsplit=1)[0]
    if not data:
        return PackageFate(package, False, (package,), True)
    if bare in data.get("in_every_base", ()):
        return PackageFate(package, True, (), True)  # its runtime library is in every base: nothing to add
    equivalents = data.get("runtime_equivalents", {})
    if bare in equivalents:
        return PackageFate(package, True, tuple(equivalents[bare]), True)
    by_release = data.get("runtime_libs", {})
    libs = by_release.get(release) or by_release.get("", {})  # "": the same name on every release (Alpine)
    if bare in libs:
        return PackageFate(package, True, tuple(libs[bare]), True)
    generated = load("runtime_libs").get(section or "", {}).get(release, {})  # read from the archives' indexes
    if bare in generated:
        return PackageFate(package, True, tuple(generated[bare]), True)
    if bare in data.get("build_only", ()):
        return PackageFate(package, True, (), True)
    if any(fnmatch.fnmatchcase(bare, pat) for pat in data.get("build_only_patterns", ())):
        if bare.endswith(("-dev", "-devel")) and (bare.startswith("lib") or section != "apt"):
            return PackageFate(package, False, (package,), False)  # unknown runtime library: keep
        return PackageFate(package, True, (), True)
    return PackageFate(package, False, (package,), True)


def apt_fate(package: str, release: str) -> PackageFate:
    return package_fate("apt-get", package, release)
