"""Regenerate dockerslim/data/runtime_libs.toml from the distributions' own package indexes.

A ``-dev`` package depends on the runtime library packages built from the same source at the
exact same version (``libzstd-dev: Depends: libzstd1 (= ${binary:Version})``): that is what the
runtime stage needs in its place. Reading it from the archive's ``Packages`` index instead of
writing it by hand means no invented package names and no release left behind. Hand-written
entries in packages.toml (``[apt.runtime_libs.<release>]``) still win over these.

Run (network: deb.debian.org and archive.ubuntu.com):
    .venv/bin/python tests/gen_runtime_libs.py          # rewrite the data file
    .venv/bin/python tests/gen_runtime_libs.py --check  # exit 1 if the data file is stale
The ``Packages`` files are cached in $XDG_CACHE_HOME/dockerslim/packages (see ``indexes``).
"""

from __future__ import annotations

import argparse
import lzma
import os
import re
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "dockerslim" / "data" / "runtime_libs.toml"

# release -> Packages.xz URLs (main first: a name in main wins over universe)
ARCHIVES: dict[str, tuple[str, ...]] = {
    "bullseye": ("http://deb.debian.org/debian/dists/bullseye/main/binary-amd64/Packages.xz",),
    "bookworm": ("http://deb.debian.org/debian/dists/bookworm/main/binary-amd64/Packages.xz",),
    "trixie": ("http://deb.debian.org/debian/dists/trixie/main/binary-amd64/Packages.xz",),
    **{rel: tuple(f"http://archive.ubuntu.com/ubuntu/dists/{rel}/{c}/binary-amd64/Packages.xz"
                  for c in ("main", "universe"))
       for rel in ("focal", "jammy", "noble")},
}

# The -dev packages ML/Python Dockerfiles install (and the ones fixtures and corpus use); the
# generator maps each to its runtime libraries in every release that has it.
DEV_PACKAGES = sorted({
    "default-libmysqlclient-dev", "libaio-dev", "libarchive-dev", "libasound2-dev", "libattr1-dev",
    "libacl1-dev", "libavcodec-dev", "libavdevice-dev", "libavfilter-dev", "libavformat-dev",
    "libavutil-dev", "libblas-dev", "libboost-program-options-dev", "libboost-system-dev",
    "libboost-filesystem-dev", "libboost-thread-dev", "libboost-python-dev", "libbrotli-dev",
    "libbz2-dev", "libcairo2-dev", "libcap-dev", "libcfitsio-dev", "libcurl4-openssl-dev",
    "libcurl4-gnutls-dev", "libdb-dev", "libedit-dev", "libegl-dev", "libevent-dev",
    "libexpat1-dev", "libffi-dev", "libfftw3-dev", "libfreetype-dev", "libfreetype6-dev",
    "libgdal-dev", "libgdbm-dev", "libgeoip-dev", "libgeos-dev", "libgflags-dev",
    "libgirepository1.0-dev", "libgl-dev", "libglib2.0-dev", "libglu1-mesa-dev", "libgmp-dev",
    "libgnutls28-dev", "libgoogle-glog-dev", "libgpgme-dev", "libgraphviz-dev", "libgsl-dev",
    "libgtk-3-dev", "libharfbuzz-dev", "libhdf5-dev", "libhts-dev", "libicu-dev", "libidn2-dev",
    "libjemalloc-dev", "libjpeg-dev", "libjpeg62-turbo-dev", "libjpeg8-dev", "libjpeg-turbo8-dev",
    "libkrb5-dev", "liblapack-dev", "liblcms2-dev", "libldap-dev", "libldap2-dev",
    "libleptonica-dev", "libleveldb-dev", "liblz4-dev", "liblzma-dev", "libmagic-dev",
    "libmariadb-dev", "libmemcached-dev", "libmpc-dev", "libmpfr-dev", "libmpich-dev",
    "libncurses-dev", "libncurses5-dev", "libncursesw5-dev", "libnetcdf-dev", "libnghttp2-dev",
    "libnss3-dev", "libnuma-dev", "libomp-dev", "libopenblas-dev", "libopenjp2-7-dev",
    "libopenmpi-dev", "libopus-dev", "libpango1.0-dev", "libpcap-dev", "libpcre2-dev",
    "libpcre3-dev", "libpng-dev", "libpoppler-cpp-dev", "libpq-dev", "libproj-dev",
    "libprotobuf-dev", "libpulse-dev", "libre2-dev", "libreadline-dev", "librdkafka-dev",
    "libsasl2-dev", "libseccomp-dev", "libsm-dev", "libsnappy-dev", "libsndfile1-dev",
    "libsodium-dev", "libspatialindex-dev", "libsqlite3-dev", "libssh2-1-dev", "libssl-dev",
    "libswresample-dev", "libswscale-dev", "libsystemd-dev", "libtbb-dev", "libtesseract-dev",
    "libtiff-dev", "libtiff5-dev", "libturbojpeg0-dev", "libudev-dev", "libunwind-dev",
    "libusb-1.0-0-dev", "libuv1-dev", "libvips-dev", "libwebp-dev", "libx11-dev", "libxext-dev",
    "libxml2-dev", "libxmlsec1-dev", "libxrender-dev", "libxslt1-dev", "libyaml-dev",
    "libzbar-dev", "libzmq3-dev", "libzstd-dev", "portaudio19-dev", "unixodbc-dev", "zlib1g-dev",
})

# a runtime library package: starts so, and is not itself a development or tool package
_KEEP = re.compile(r"^(lib|gir1\.2-)")
_DROP = re.compile(r"(-dev|-multidev|-dev-bin|-bin|-tools|-utils|-doc|-plugins-[a-z]+)$")


def indexes(cache: Path) -> dict[str, dict[str, dict[str, str]]]:
    """release -> package name -> its fields (Source, Depends), from the cached Packages files."""
    cache.mkdir(parents=True, exist_ok=True)
    out: dict[str, dict[str, dict[str, str]]] = {}
    for release, urls in ARCHIVES.items():
        packages: dict[str, dict[str, str]] = {}
        for url in urls:
            local = cache / (release + "-" + url.split("/dists/")[1].split("/")[1] + ".xz")
            if not local.exists():
                with urllib.request.urlopen(url, timeout=60) as response:
                    local.write_bytes(response.read())
            packages = {**_read(local), **packages}
        out[release] = packages
    return out


def _read(path: Path) -> dict[str, dict[str, str]]:
    packages: dict[str, dict[str, str]] = {}
    record: dict[str, str] = {}
    with lzma.open(path, "rt", encoding="utf-8", errors="replace") as fh:
        for line in [*fh, "\n"]:
            if line == "\n":
                if "Package" in record:
                    packages.setdefault(record["Package"], record)
                record = {}
            elif line[0] not in " \t":
                key, _, value = line.partition(":")
                record[key] = value.strip()
    return packages


def _source(fields: dict[str, str], name: str) -> str:
    return (fields.get("Source") or name).split()[0]


def runtime_libs(dev: str, packages: dict[str, dict[str, str]], depth: int = 0) -> list[str]:
    """The runtime library packages ``dev`` pins at its own version (same source package);
    a transitional or "-defaults" -dev package is followed to the -dev package it points at."""
    fields = packages.get(dev)
    if fields is None or depth > 2:
        return []
    source = _source(fields, dev)
    libs: list[str] = []
    follow: list[str] = []
    for alternative in re.split(r",\s*", fields.get("Depends", "")):
        first = alternative.split("|")[0].strip()
        match = re.match(r"([^\s(:]+)", first)
        if not match:
            continue
        name = match.group(1)
        dep = packages.get(name)
        if dep is None:
            continue
        same_source = _source(dep, name) == source
        if name.endswith("-dev") and (same_source or source.endswith("-defaults")):
            follow.append(name)
        elif same_source and re.search(r"\(\s*=", first) and _KEEP.match(name) and not _DROP.search(name):
            libs.append(name)
    if not libs:
        for name in follow:
            libs.extend(runtime_libs(name, packages, depth + 1))
    return sorted(dict.fromkeys(libs))


def render(tables: dict[str, dict[str, list[str]]]) -> str:
    lines = [
        "# GENERATED by tests/gen_runtime_libs.py from the Debian and Ubuntu Packages indexes: do not",
        "# edit by hand (add a hand-written entry to packages.toml [apt.runtime_libs.<release>]",
        "# instead; those win). A -dev package -> the runtime library packages it pins at its own",
        "# version, per release. A -dev package missing from a release's table is unknown there.",
        "",
    ]
    for release in sorted(tables):
        lines.append(f"[apt.{release}]")
        for dev, libs in sorted(tables[release].items()):
            lines.append(f'"{dev}" = [{", ".join(chr(34) + lib + chr(34) for lib in libs)}]')
        lines.append("")
    return "\n".join(lines)


def generate(cache: Path) -> str:
    tables: dict[str, dict[str, list[str]]] = {}
    for release, packages in indexes(cache).items():
        tables[release] = {dev: libs for dev in DEV_PACKAGES if (libs := runtime_libs(dev, packages))}
    return render(tables)


def default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dockerslim" / "packages"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the data file differs")
    parser.add_argument("--cache", type=Path, default=default_cache())
    args = parser.parse_args()
    text = generate(args.cache)
    if args.check:
        if OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is stale: run tests/gen_runtime_libs.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
