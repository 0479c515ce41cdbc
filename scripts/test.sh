#!/usr/bin/env bash
# Every check, as CI runs it: formatting, lints, all tests (unit, in-memory simulation,
# real-socket integration, property tests, protocol-doc vectors) and every criterion
# benchmark once in quick test mode so they can't rot. Needs only the Rust toolchain.
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
