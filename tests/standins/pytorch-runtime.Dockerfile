# Stand-in for pytorch/pytorch:*-runtime: Python in /opt/conda (a venv here) with CPU torch.
FROM python:3.12-slim
COPY wheels/ /opt/wheels/
RUN python3 -m venv /opt/conda \
    && if ls /opt/wheels/torch-*.whl >/dev/null 2>&1; then /opt/conda/bin/pip install --no-cache-dir /opt/wheels/torch-*.whl; fi \
    && rm -rf /opt/wheels
ENV PATH=/opt/conda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
