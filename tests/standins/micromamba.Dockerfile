# Stand-in for mambaorg/micromamba (its binary comes from anaconda.org/GitHub, unreachable here).
# Imitated: the layout micromamba-docker's Dockerfile makes — the OS (Debian 12, minbase as its
# bookworm-slim), one `micromamba` program at /bin/micromamba and nothing else of conda, an EMPTY
# base environment at MAMBA_ROOT_PREFIX=/opt/conda owned by the user mambauser (57439:57439) that
# the image runs as, its variables (MAMBA_USER, MAMBA_EXE, ENV_NAME…), and its entrypoint and
# Dockerfile SHELL scripts that activate the environment (put its bin/ first on PATH) before the
# command. `micromamba` is the conda stand-in's script (conda-stand-in.sh: NOT micromamba; packages
# come from PyPI through pip); the python it installs into an env is the miniconda3 stand-in's
# relocatable Python 3.11 prefix, kept as a 15 MB "package" archive (where the real image has its
# 13 MB static micromamba binary) that an install unpacks into pkgs/ and copies into the env.
FROM continuumio/miniconda3:24.7.1-0 AS conda
RUN tar -C /opt/conda -czf /conda-python.tar.gz --exclude=./bin/conda --exclude=./pkgs --exclude=./envs .

FROM debian:bookworm
COPY host-ca.crt /usr/local/share/dockerslim/host-ca.crt
COPY --from=conda /opt/conda/bin/conda /bin/micromamba
COPY --from=conda /conda-python.tar.gz /usr/local/share/dockerslim/conda-python.tar.gz
ENV MAMBA_USER=mambauser MAMBA_USER_ID=57439 MAMBA_USER_GID=57439 MAMBA_ROOT_PREFIX=/opt/conda \
    MAMBA_EXE=/bin/micromamba ENV_NAME=base LANG=C.UTF-8 LC_ALL=C.UTF-8 \
    SSL_CERT_FILE=/usr/local/share/dockerslim/host-ca.crt PIP_CERT=/usr/local/share/dockerslim/host-ca.crt \
    PIP_DEFAULT_TIMEOUT=180 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd -g "$MAMBA_USER_GID" "$MAMBA_USER" \
    && useradd -m -u "$MAMBA_USER_ID" -g "$MAMBA_USER_GID" -s /bin/bash "$MAMBA_USER" \
    && mkdir -p "$MAMBA_ROOT_PREFIX/conda-meta" && chown -R "$MAMBA_USER:$MAMBA_USER" "$MAMBA_ROOT_PREFIX" \
    && printf '%s\n' '#!/bin/bash' '# stand-in of micromamba-docker'"'"'s: the env activated, then the command' \
        'export PATH="$MAMBA_ROOT_PREFIX/bin:$PATH" CONDA_PREFIX="$MAMBA_ROOT_PREFIX"' 'exec "$@"' \
        > /usr/local/bin/_entrypoint.sh \
    && printf '%s\n' '#!/bin/bash' '# stand-in of micromamba-docker'"'"'s: RUN lines with the env activated' \
        'export PATH="$MAMBA_ROOT_PREFIX/bin:$PATH" CONDA_PREFIX="$MAMBA_ROOT_PREFIX"' 'exec bash -c "$@"' \
        > /usr/local/bin/_dockerfile_shell.sh \
    && chmod 755 /usr/local/bin/_entrypoint.sh /usr/local/bin/_dockerfile_shell.sh
USER mambauser
WORKDIR /tmp
SHELL ["/usr/local/bin/_dockerfile_shell.sh"]
RUN test "$(id -un):$PATH" = "mambauser:/opt/conda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    && test -w /opt/conda && test ! -e /opt/conda/bin/python && test ! -e /usr/bin/python3
ENTRYPOINT ["/usr/local/bin/_entrypoint.sh"]
CMD ["/bin/bash"]
