#!/usr/bin/env bash
# Every check, as CI runs it: formatting, lints, all Rust tests (unit, in-memory simulation,
# real-socket integration, property tests, protocol-doc and client vectors), every criterion
# benchmark once in quick test mode so they can't rot, the web client's lint and unit tests,
# and the browser end-to-end test in headless Chromium. Installs what it needs (npm packages,
# Debian's chromium) idempotently.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (-D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test (lib, bins, tests, benches in test mode)"
cargo test --workspace --all-targets --locked
echo "== cargo test --doc"
cargo test --workspace --doc --locked

echo "== web client: install, build, lint, unit tests"
./scripts/build-web.sh
(cd web-client && npm run --silent lint && npm test)

echo "== browser end-to-end (headless Chromium)"
./scripts/install-chromium.sh
# `cargo test` above built target/debug/skirmish for the integration tests; a plain
# `cargo build` would rebuild dependencies with a different feature set.
[ -x target/debug/skirmish ] || cargo build --locked --bin skirmish
(cd web-client && SKIRMISH_BIN="$PWD/../target/debug/skirmish" npm run e2e)
