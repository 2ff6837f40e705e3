# Stand-in for condaforge/miniforge3 (its installer is on GitHub, unreachable here). Imitated: the
# image's layout as miniforge's Dockerfile makes it — the OS plus wget, bzip2, ca-certificates, git
# and tini, a self-contained /opt/conda prefix with conda and mamba on PATH, LANG/LC_ALL=C.UTF-8,
# ENTRYPOINT ["tini", "--"]. The prefix is the miniconda3 stand-in's (conda.Dockerfile: Debian's
# Python 3.11 relocated with its libraries, pip, and a `conda` script over pip that is NOT conda;
# `mamba` is a second name for it). Not imitated: the OS is Debian 12, not Ubuntu 22.04 (as for
# every Ubuntu name here), and conda-forge's packages (they come from PyPI as wheels; the real base
# environment also carries conda, mamba and libmamba, about 150 MB more).
FROM continuumio/miniconda3:24.7.1-0 AS conda

FROM debian:bookworm
COPY host-ca.crt /usr/local/share/dockerslim/host-ca.crt
RUN apt-get update && apt-get install -y --no-install-recommends wget bzip2 ca-certificates git tini \
    && rm -rf /var/lib/apt/lists/*
COPY --from=conda /opt/conda /opt/conda
RUN ln -s conda /opt/conda/bin/mamba
ENV CONDA_DIR=/opt/conda LANG=C.UTF-8 LC_ALL=C.UTF-8 \
    PATH=/opt/conda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SSL_CERT_FILE=/usr/local/share/dockerslim/host-ca.crt PIP_CERT=/usr/local/share/dockerslim/host-ca.crt \
    PIP_DEFAULT_TIMEOUT=180 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN test "$(command -v mamba)" = /opt/conda/bin/mamba && test ! -e /usr/bin/python3 \
    && python -c 'import sys; assert sys.prefix == "/opt/conda"'
ENTRYPOINT ["tini", "--"]
CMD ["/bin/bash"]
