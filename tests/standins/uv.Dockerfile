# Stand-in for ghcr.io/astral-sh/uv:X: the uv and uvx binaries at the image root (taken from
# the uv wheel on PyPI, which ships the same static binaries).
FROM scratch
COPY uv uvx /
