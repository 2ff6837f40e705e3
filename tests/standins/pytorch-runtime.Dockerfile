# Stand-in for pytorch/pytorch:*-runtime: CPU torch in the interpreter found at /opt/conda/bin
# (like conda there, a real Python prefix rather than a virtualenv).
FROM python:3.12-slim
COPY wheels/ /opt/wheels/
RUN mkdir -p /opt/conda/bin \
    && ln -s /usr/bin/python3 /opt/conda/bin/python && ln -s /usr/bin/python3 /opt/conda/bin/python3 \
    && ln -s /usr/bin/pip3 /opt/conda/bin/pip \
    && if ls /opt/wheels/torch-*.whl >/dev/null 2>&1; then pip install --no-cache-dir /opt/wheels/torch-*.whl; fi \
    && rm -rf /opt/wheels
ENV PATH=/opt/conda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
