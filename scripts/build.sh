#!/usr/bin/env bash
# Builds the server binary as it is deployed: the web client embedded, the Agones SDK in
# (`--features agones`). The Dockerfile runs this with --release and the test command runs it
# without, so the container's build steps can't rot unnoticed.
#   scripts/build.sh [--release]   ->  target/{debug,release}/skirmish
# With SKIRMISH_WEB_DIST=/absolute/dir the prebuilt client there is embedded and no npm runs
# (the Dockerfile's node stage builds it with scripts/build-web.sh); otherwise cargo's build
# script builds it (server/build.rs). Installs protoc the first time (scripts/install-protoc.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=()
case "${1:-}" in
  "") ;;
  --release) profile=(--release) ;;
  *) echo "usage: scripts/build.sh [--release]" >&2; exit 2 ;;
esac
./scripts/install-protoc.sh
cargo build --locked --bin skirmish --features agones "${profile[@]}"
