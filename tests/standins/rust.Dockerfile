# Stand-in for rust:1.X: Debian bookworm's rustc and cargo (1.63, older than the tag says; enough for
# a crate without dependencies), with the C toolchain the real image has for linking.
FROM debian:bookworm
COPY host-ca.crt /usr/local/share/dockerslim/host-ca.crt
ENV SSL_CERT_FILE=/usr/local/share/dockerslim/host-ca.crt CARGO_HOME=/usr/local/cargo
RUN apt-get update && apt-get install -y --no-install-recommends rustc cargo build-essential ca-certificates \
    && rm -rf /var/lib/apt/lists/*
