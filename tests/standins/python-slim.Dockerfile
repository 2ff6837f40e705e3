# Stand-in for python:3.X-slim: Debian's Python at the python image's paths, no compilers.
FROM debian:bookworm
COPY host-ca.crt /usr/local/share/dockerslim/host-ca.crt
ENV SSL_CERT_FILE=/usr/local/share/dockerslim/host-ca.crt PIP_CERT=/usr/local/share/dockerslim/host-ca.crt \
    REQUESTS_CA_BUNDLE=/usr/local/share/dockerslim/host-ca.crt PIP_DEFAULT_TIMEOUT=180 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LANG=C.UTF-8
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-pip python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* /usr/lib/python3*/EXTERNALLY-MANAGED \
    && ln -s /usr/bin/python3 /usr/local/bin/python && ln -s /usr/bin/pip3 /usr/local/bin/pip
CMD ["python3"]
