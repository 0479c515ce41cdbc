#!/usr/bin/env bash
# Every check, as CI runs it: formatting, lints, all Rust tests (unit, in-memory simulation,
# real-socket integration, property tests, protocol-doc and client vectors), every criterion
# benchmark once in quick test mode so they can't rot, the web client's lint and unit tests,
# the binary as the Dockerfile builds it (scripts/build.sh, here in debug), and the browser
# end-to-end tests in headless Chromium. Installs what it needs (npm packages, Debian's
# chromium, protoc) idempotently.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
# The agones feature (the Agones SDK lifecycle and its stand-in sidecar tests) is on for
# every step: it needs protoc.
./scripts/install-protoc.sh
features=(--features skirmish-server/agones)
echo "== cargo clippy (-D warnings)"
cargo clippy --workspace --all-targets --locked "${features[@]}" -- -D warnings
echo "== cargo test (lib, bins, tests, benches in test mode)"
cargo test --workspace --all-targets --locked "${features[@]}"
echo "== cargo test --doc"
cargo test --workspace --doc --locked "${features[@]}"

echo "== web client: install, build, lint, unit tests"
./scripts/build-web.sh
(cd web-client && npm run --silent lint && npm test)

echo "== the deployed binary (scripts/build.sh: what the Dockerfile runs, here in debug)"
# No Docker daemon here: what keeps the image's build from rotting is that its steps are these
# scripts, so check that the Dockerfile still calls them.
grep -q '^RUN ./scripts/build-web.sh$' Dockerfile && grep -q '\./scripts/build.sh --release' Dockerfile ||
  { echo "the Dockerfile no longer builds with scripts/build-web.sh and scripts/build.sh" >&2; exit 1; }
./scripts/build.sh

echo "== browser end-to-end (headless Chromium)"
./scripts/install-chromium.sh
(cd web-client && SKIRMISH_BIN="$PWD/../target/debug/skirmish" npm run e2e)
