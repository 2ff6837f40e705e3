# The base's own Python is a virtualenv holding "basepkg" (as conda/pytorch-style bases do).
FROM python:3.12-slim AS base
RUN python3 -m venv --without-pip /opt/base \
    && site=$(/opt/base/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
    && mkdir -p "$site/basepkg" "$site/basepkg-1.0.dist-info" \
    && echo 'VALUE = 1' > "$site/basepkg/__init__.py" \
    && printf 'Metadata-Version: 2.1\nName: basepkg\nVersion: 1.0\n' > "$site/basepkg-1.0.dist-info/METADATA"
ENV PATH=/opt/base/bin:$PATH

FROM base AS builder
RUN python -m venv --without-pip --system-site-packages /opt/venv

FROM base
COPY --from=builder /opt/venv /opt/venv
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:/opt/base/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY app.py /app/app.py
CMD ["python", "/app/app.py"]
