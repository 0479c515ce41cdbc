#!/usr/bin/env bash
# The two transports side by side on one server: starts the release server pinned to core 0
# on a free local port, then runs the swarm (pinned to core 1) with N bots over WebSocket,
# then N bots over HTTP long-polling, against that same server, each for SECS seconds, and
# prints both summaries (server CPU, input -> ack, missing ticks, bytes and HTTP overhead).
#   ./scripts/transports.sh [N=200] [SECS=10]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
SECS=${2:-10}
cargo build --release -q -p skirmish-server -p skirmish-benches
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
taskset -c 0 target/release/skirmish --addr "127.0.0.1:$PORT" --max-players-per-room $((N + 10)) \
  --max-connections $((4 * N + 100)) --resume-grace-ms 0 > target/transports-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -fs "http://127.0.0.1:$PORT/healthz" > /dev/null && break
  sleep 0.1
done
for transport in websocket polling; do
  taskset -c 1 target/release/swarm --addr "127.0.0.1:$PORT" --server-pid "$SERVER" \
    --transport "$transport" --clients "$N" --duration "$SECS" --ramp 3 --attack 0.1
  # No resume grace: the last run's players are gone at once, so each run plays in a world of N.
  sleep 1
done
