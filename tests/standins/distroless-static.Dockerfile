# Stand-in for gcr.io/distroless/static-debian12: no shell, just users, certificates and /tmp.
FROM debian:bookworm AS files
RUN mkdir -p /out/etc /out/tmp && chmod 1777 /out/tmp \
    && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > /out/etc/passwd \
    && printf 'root:x:0:\nnonroot:x:65532:\n' > /out/etc/group
FROM scratch
COPY --from=files /out/ /
USER 0
