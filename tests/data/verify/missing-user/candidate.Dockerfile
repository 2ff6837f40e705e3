FROM debian:bookworm-slim AS builder
RUN groupadd --system app && useradd --system --gid app app && mkdir /data && chown app:app /data \
    && head -c 3000000 /dev/urandom > /var/cache/build-leftover.bin

FROM debian:bookworm-slim
COPY --from=builder /data /data
USER app
CMD ["id", "-un"]
