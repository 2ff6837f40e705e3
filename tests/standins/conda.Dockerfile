# Stand-in for continuumio/miniconda3 (anaconda is unreachable here). It imitates conda's LAYOUT,
# not conda: /opt/conda is a self-contained prefix with its own python (Debian's python3.11
# binary, its stdlib and the shared libraries it and its extension modules load, with the
# RPATHs conda's builds carry: bin/ -> $ORIGIN/../lib, lib/ -> $ORIGIN, lib-dynload/ -> $ORIGIN/../..; CPython
# finds the prefix from the binary's place through lib/python3.11/os.py; Debian's two layout
# patches are undone in the copy: sysconfig's posix_local scheme (edited) and site's
# dist-packages-only path (site is frozen into the binary: a sitecustomize.py adds
# lib/python3.11/site-packages), so packages go where a conda prefix has them), pip in the prefix,
# and a `conda` shell script (conda-stand-in.sh) that implements only what the fixtures use, over
# pip: install, create, env create -f environment.yml, run, clean (pkgs/ is the package cache).
# The miniforge3 and micromamba stand-ins take this prefix and script from this image.
# The image itself, like the real one, has no /usr/bin/python3: the
# final stage holds Debian plus the extra packages the real image installs, and /opt/conda.
FROM debian:bookworm AS prefix
COPY host-ca.crt /usr/local/share/dockerslim/host-ca.crt
RUN apt-get update && apt-get install -y --no-install-recommends python3.11 python3-pip patchelf \
    && rm -rf /var/lib/apt/lists/*
RUN set -e; P=/opt/conda; mkdir -p $P/bin $P/lib $P/pkgs $P/envs $P/conda-meta; \
    cp /usr/bin/python3.11 $P/bin/python3.11; ln -s python3.11 $P/bin/python3; ln -s python3.11 $P/bin/python; \
    cp -a /usr/lib/python3.11 $P/lib/python3.11; \
    rm -rf $P/lib/python3.11/dist-packages $P/lib/python3.11/EXTERNALLY-MANAGED; \
    mkdir -p $P/lib/python3.11/site-packages; \
    sed -i "s/^            prefix_scheme = 'posix_local'\$/            prefix_scheme = 'posix_prefix'/" \
        $P/lib/python3.11/sysconfig.py; \
    rm -f $P/lib/python3.11/__pycache__/sysconfig.* $P/lib/python3.11/sitecustomize.py; \
    printf '%s\n' '"""dockerslim stand-in: conda'"'"'s site-packages (site is frozen into Debian'"'"'s binary)."""' \
        'import os, site, sys' \
        'site.addsitedir(os.path.join(sys.prefix, "lib", "python%d.%d" % sys.version_info[:2], "site-packages"))' \
        > $P/lib/python3.11/sitecustomize.py; \
    for f in $P/bin/python3.11 $P/lib/python3.11/lib-dynload/*.so; do \
      ldd "$f" | awk '/=> \//{print $3}'; \
    done | sort -u | grep -Ev '/(libc|libm|libpthread|libdl|librt|libutil|ld-linux[^/]*)\.so' \
      | xargs -I{} cp -L {} $P/lib/; \
    patchelf --set-rpath '$ORIGIN/../lib' $P/bin/python3.11; \
    for f in $P/lib/*.so*; do patchelf --set-rpath '$ORIGIN' "$f"; done; \
    for f in $P/lib/python3.11/lib-dynload/*.so; do patchelf --set-rpath '$ORIGIN/../..' "$f"; done; \
    echo '{"name": "python", "version": "3.11", "note": "dockerslim stand-in"}' > $P/conda-meta/python.json
RUN set -e; cd / && PIP_CERT=/usr/local/share/dockerslim/host-ca.crt python3 -m pip download -q --no-deps \
        pip==24.2 -d /tmp/wheels \
    && /opt/conda/bin/python /tmp/wheels/pip-24.2-py3-none-any.whl/pip install -q --no-index --no-compile \
        /tmp/wheels/pip-24.2-py3-none-any.whl \
    && test -x /opt/conda/bin/pip && /opt/conda/bin/python -c 'import sys, pip; assert sys.prefix == "/opt/conda" \
        and pip.__file__.startswith("/opt/conda/lib/python3.11/site-packages/"), (sys.prefix, pip.__file__)'
COPY conda-stand-in.sh /opt/conda/bin/conda
RUN chmod 755 /opt/conda/bin/conda

FROM debian:bookworm
COPY host-ca.crt /usr/local/share/dockerslim/host-ca.crt
# the extra Debian packages continuumio/miniconda3 installs (its Dockerfile's apt-get line, abridged)
RUN apt-get update && apt-get install -y --no-install-recommends bzip2 ca-certificates git libglib2.0-0 \
        libsm6 libxext6 libxrender1 procps wget \
    && rm -rf /var/lib/apt/lists/*
COPY --from=prefix /opt/conda /opt/conda
ENV LANG=C.UTF-8 LC_ALL=C.UTF-8 PATH=/opt/conda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SSL_CERT_FILE=/usr/local/share/dockerslim/host-ca.crt PIP_CERT=/usr/local/share/dockerslim/host-ca.crt \
    PIP_DEFAULT_TIMEOUT=180 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN test ! -e /usr/bin/python3 && python -c 'import ssl, sqlite3, ctypes, sys, pip; print(sys.prefix)' | grep -qx /opt/conda
CMD ["/bin/bash"]
