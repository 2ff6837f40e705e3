# Stand-in for node:<version>-slim: Debian bookworm's Node.js 18 and npm without recommends, no compilers
# beyond what Debian's npm itself depends on.
FROM debian:bookworm
COPY host-ca.crt /usr/local/share/dockerslim/host-ca.crt
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/dockerslim/host-ca.crt SSL_CERT_FILE=/usr/local/share/dockerslim/host-ca.crt
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm ca-certificates \
    && rm -rf /var/lib/apt/lists/*
CMD ["node"]
