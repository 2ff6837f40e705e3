# Stand-in for node:<version> (the full image, on buildpack-deps): Debian bookworm's Node.js 18 and npm
# with their recommends, compilers for native modules, git and curl. The real node:lts/node:20 carry a
# newer Node from nodejs.org; the benchmark uses this only where Node 18 runs the fixture.
FROM debian:bookworm
COPY host-ca.crt /usr/local/share/dockerslim/host-ca.crt
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/dockerslim/host-ca.crt SSL_CERT_FILE=/usr/local/share/dockerslim/host-ca.crt
RUN apt-get update && apt-get install -y nodejs npm build-essential python3 git curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*
CMD ["node"]
