# Stand-in for nvidia/cuda:*-devel-*: the runtime stand-in plus compilers and headers.
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04
RUN apt-get update && apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*
