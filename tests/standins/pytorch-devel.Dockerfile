# Stand-in for pytorch/pytorch:*-devel: the runtime stand-in plus compilers and headers.
FROM pytorch/pytorch:2.7.1-cuda11.8-cudnn9-runtime
RUN apt-get update && apt-get install -y --no-install-recommends build-essential python3-dev \
    && rm -rf /var/lib/apt/lists/*
