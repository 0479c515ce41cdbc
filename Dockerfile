# syntax=docker/dockerfile:1
# The Skirmish game server as it is deployed: the web client embedded, the Agones SDK in.
#   docker build -t IMAGE .
# Needs BuildKit (the default builder since Docker 23) for the cache mounts below.

# Stage `web`: builds the browser client into web-client/dist with the same script developers
# use, so the Rust stage needs no node.
FROM node:20-bookworm-slim AS web
WORKDIR /src
COPY web-client/package.json web-client/package-lock.json web-client/build.mjs web-client/tsconfig.json web-client/
COPY web-client/src web-client/src
COPY web-client/public web-client/public
COPY scripts/build-web.sh scripts/
RUN ./scripts/build-web.sh

# Stage `build`: builds the server with scripts/build.sh, the script CI runs, so this stage
# and CI build the same way. That script installs protoc (apt) for the `agones` feature.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# The whole workspace: benches/ is a member, so cargo needs it to load the workspace even
# though only the `skirmish` binary is built. web-client/ is left out: the client built above
# is embedded instead (server/build.rs reads SKIRMISH_WEB_DIST and runs no npm).
COPY Cargo.toml Cargo.lock ./
COPY shared shared
COPY server server
COPY benches benches
COPY scripts scripts
COPY --from=web /src/web-client/dist /src/web-client/dist
ENV SKIRMISH_WEB_DIST=/src/web-client/dist
# The cargo registry and target/ live in cache mounts, which vanish when the RUN ends, so the
# binary is copied out in the same RUN.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    ./scripts/build.sh --release \
    && mkdir -p /out \
    && cp target/release/skirmish /out/skirmish

# Final stage: the binary alone on a slim Debian of the same release as the build image (same
# glibc), run as a fixed non-root uid that the Kubernetes securityContext can name.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 skirmish \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin skirmish
COPY --from=build /out/skirmish /usr/local/bin/skirmish
USER 10001:10001
ENV SKIRMISH_ADDR=0.0.0.0:7000
EXPOSE 7000
# No HEALTHCHECK: the image has no curl or wget to call /healthz, and adding one only for this
# would grow the image. Under Agones the SDK health pings decide health (see deploy/README.md);
# under plain Kubernetes use an httpGet probe on /healthz and /readyz.
ENTRYPOINT ["/usr/local/bin/skirmish"]
