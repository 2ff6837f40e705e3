FROM python:3.12 AS builder
RUN apt-get update && apt-get install -y --no-install-recommends libsnappy-dev && rm -rf /var/lib/apt/lists/*
COPY tool.cc /tmp/src/tool.cc
RUN g++ -O2 -o /usr/local/bin/snaptool /tmp/src/tool.cc -lsnappy

FROM python:3.12-slim
COPY --from=builder /usr/local/bin/snaptool /usr/local/bin/snaptool
CMD ["snaptool"]
