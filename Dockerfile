# keyward: build with the Rust toolchain, run as a non-root user on a slim Debian.
#   docker build -t keyward .
#   docker run -p 8080:8080 -v keyward-keys:/var/lib/keyward/keys \
#     -e KEYWARD_ISSUER=https://id.example.com -e KEYWARD_DATABASE_URL=postgres://… keyward

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml clippy.toml ./
COPY src src
COPY migrations migrations
COPY assets assets
COPY templates templates
COPY benches benches
RUN cargo build --release --locked \
    && strip target/release/keyward

FROM debian:bookworm-slim
# curl serves the health check only; ca-certificates lets keyward reach TLS endpoints (rediss://).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/keyward --shell /usr/sbin/nologin keyward \
    && mkdir -p /var/lib/keyward/keys /var/lib/keyward/data \
    && chown -R keyward:keyward /var/lib/keyward \
    && chmod 700 /var/lib/keyward/keys
COPY --from=build /src/target/release/keyward /usr/local/bin/keyward
USER keyward
WORKDIR /var/lib/keyward
ENV KEYWARD_BIND=0.0.0.0:8080 \
    KEYWARD_KEYS_DIR=/var/lib/keyward/keys \
    KEYWARD_DATABASE_URL=sqlite:///var/lib/keyward/data/keyward.db
EXPOSE 8080
VOLUME ["/var/lib/keyward/keys", "/var/lib/keyward/data"]
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1:8080/health || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["keyward"]
CMD ["serve"]
