# Stand-in for an ML base image whose Python is itself a virtualenv (/opt/mlenv over Debian's
# python3), with CPU torch installed into that virtualenv: a second virtualenv made from it with
# --system-site-packages would see Debian's site-packages, not torch (venvs do not chain).
FROM python:3.12-slim
COPY wheels/ /opt/wheels/
RUN python3 -m venv /opt/mlenv \
    && if ls /opt/wheels/torch-*.whl >/dev/null 2>&1; then /opt/mlenv/bin/pip install --no-cache-dir /opt/wheels/torch-*.whl; \
       else mkdir -p /opt/mlenv/lib/python3.11/site-packages/torch && echo "__version__ = 'stand-in'" > /opt/mlenv/lib/python3.11/site-packages/torch/__init__.py; fi \
    && rm -rf /opt/wheels
ENV VIRTUAL_ENV=/opt/mlenv PATH=/opt/mlenv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
