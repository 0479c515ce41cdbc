#!/usr/bin/env bash
# Runs the server with its built-in default configuration on http://127.0.0.1:5000/
# (web client at /, WebSocket at /ws). The web client is built into the binary by cargo
# (server/build.rs runs its npm build).
# Extra arguments go to the server: see --help.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release --locked --bin skirmish -- "$@"
