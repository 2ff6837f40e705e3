# Stand-in for golang:1.X: Debian's Go toolchain.
FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends golang-go ca-certificates && rm -rf /var/lib/apt/lists/*
ENV GOPATH=/go GOFLAGS=-mod=mod GOPROXY=off
WORKDIR /go
