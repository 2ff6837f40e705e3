FROM debian:bookworm-slim
RUN groupadd --system app && useradd --system --gid app app && mkdir /data && chown app:app /data
USER app
CMD ["id", "-un"]
