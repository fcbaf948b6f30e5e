# syntax=docker/dockerfile:1
# uc-operator container image.
#
# The binary is linked statically against musl so the final image needs no libc: it is
# distroless/static (CA certificates, /etc/passwd with the nonroot user, tzdata; no shell, no
# package manager). rustls with the ring provider means no OpenSSL either.

ARG RUST_VERSION=1.89

FROM rust:${RUST_VERSION}-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
# The same build the tests run (`cargo build --release --locked -p uc-operator`), for the musl
# target; the cache mounts keep the registry and target dir between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p uc-operator --target x86_64-unknown-linux-musl \
 && install -D -m 0755 target/x86_64-unknown-linux-musl/release/uc-operator /out/uc-operator

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="uc-operator" \
      org.opencontainers.image.description="Kubernetes operator for a Databricks Unity Catalog integration" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/uc-operator/uc-operator" \
      org.opencontainers.image.documentation="https://github.com/uc-operator/uc-operator/tree/main/docs"
COPY --from=build /out/uc-operator /usr/local/bin/uc-operator
# 65532 is distroless's "nonroot"; numeric so runAsNonRoot can verify it without /etc/passwd.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/uc-operator"]
CMD ["run"]
