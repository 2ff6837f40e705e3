# Stand-in for nvidia/cuda:*-runtime-*: the OS plus the variables NVIDIA's images set. Ubuntu 22.04
# (what the real image is built on) lets pip install into the system Python; Debian 12 needs
# PIP_BREAK_SYSTEM_PACKAGES for that.
FROM debian:bookworm
COPY host-ca.crt /usr/local/share/dockerslim/host-ca.crt
ENV SSL_CERT_FILE=/usr/local/share/dockerslim/host-ca.crt PIP_CERT=/usr/local/share/dockerslim/host-ca.crt \
    PIP_DEFAULT_TIMEOUT=180 NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    PIP_BREAK_SYSTEM_PACKAGES=1
