#!/usr/bin/env bash
# Runs the server with its built-in default configuration on http://127.0.0.1:5000/
# (web client at /, WebSocket at /ws), building the web client first if needed.
# Extra arguments go to the server: see --help.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-web.sh
exec cargo run --release --locked --bin skirmish -- "$@"
