# Stand-in for python:3.X (the full image): slim plus compilers, headers and common -dev packages.
FROM python:3.12-slim
RUN apt-get update && apt-get install -y --no-install-recommends build-essential python3-dev libpq-dev curl git pkg-config \
    && rm -rf /var/lib/apt/lists/*
