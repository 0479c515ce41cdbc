#!/usr/bin/env bash
# Fuzzes decode + validate + one sim tick (fuzz/fuzz_targets/decode_tick.rs) with libFuzzer
# for a bounded time: `./scripts/fuzz.sh [SECONDS]` (default 60). The toolchain is stable, so
# cargo-fuzz runs with RUSTC_BOOTSTRAP=1 and no sanitizer. Installs cargo-fuzz if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
mkdir -p fuzz/corpus/decode_tick
RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none decode_tick fuzz/corpus/decode_tick -- \
  -max_total_time="$SECS" -rss_limit_mb=2048 -print_final_stats=1
