#!/usr/bin/env bash
# What TLS costs the server: one release server pinned to core 0, the swarm pinned to core 1,
# N bots (default 200) for S seconds (default 10) over plain ws://, then over wss:// (a
# certificate made here with openssl), 30 Hz, every bot moving, 10% of inputs attacking.
# Prints each run's swarm summary lines. Builds the release binaries if needed.
#   scripts/tls-cost.sh [clients] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-200}
seconds=${2:-10}
cargo build --release --locked --bin skirmish -p skirmish-server -q
cargo build --release --locked --bin swarm -p skirmish-benches -q
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost" -addext "basicConstraints=critical,CA:FALSE" \
  -addext "extendedKeyUsage=serverAuth" 2>/dev/null
run() { # plain|tls
  local server=() bots=()
  if [ "$1" = tls ]; then
    server=(--tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem")
    bots=(--tls-ca "$dir/cert.pem")
  fi
  taskset -c 0 target/release/skirmish --addr 127.0.0.1:0 --max-players-per-room 300 \
    --resume-grace-ms 0 --log info "${server[@]}" 2> "$dir/server.log" &
  local pid=$! addr=""
  for _ in $(seq 100); do
    addr=$(sed -n 's/.*serving addr=\(127\.0\.0\.1:[0-9]*\).*/\1/p' "$dir/server.log" | head -1)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { echo "server did not start" >&2; kill "$pid"; exit 1; }
  echo "== $1 ($clients bots, ${seconds}s)"
  taskset -c 1 target/release/swarm --addr "$addr" --server-pid "$pid" --clients "$clients" \
    --duration "$seconds" --ramp 3 --attack 0.1 "${bots[@]}" 2>/dev/null |
    grep -E "ack p50|ack p99|missing ticks|bytes/s per client  |server CPU|swarm CPU"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}
run plain
run tls
