#!/usr/bin/env bash
# What one connection costs the server in memory: starts the release server on a free local
# port, reads its RSS when empty, opens N connections with the swarm (joined and idle, or
# upgraded and never joining), reads the RSS again once they are all open and settled, and
# prints the difference per connection.
#   ./scripts/rss-per-connection.sh [joined|unjoined] [N=10000] [ROOMS=100]
# Joined players are spread over ROOMS named rooms (100 a room by default: one room of 10,000
# would measure the n² bytes of 10,000 welcomes, each a keyframe of everyone, instead).
# Needs 2×N file descriptors of headroom (server and swarm are separate processes, each
# raises its own soft limit to the hard one). With TLS=1 the server serves https/wss (a
# certificate made here with openssl) and the connections are wss.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-joined}
N=${2:-10000}
ROOMS=${3:-100}
case "$MODE" in
  joined) SWARM_FLAGS=(--idle --rooms "$ROOMS") ;;
  unjoined) SWARM_FLAGS=(--no-join) ;;
  *) echo "mode must be joined or unjoined" >&2; exit 2 ;;
esac
SERVER_TLS=()
SCHEME=http
CERTS=
if [ "${TLS:-0}" = 1 ]; then
  CERTS=$(mktemp -d)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -keyout "$CERTS/key.pem" -out "$CERTS/cert.pem" -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost" -addext "basicConstraints=critical,CA:FALSE" \
    -addext "extendedKeyUsage=serverAuth" 2>/dev/null
  SERVER_TLS=(--tls-cert "$CERTS/cert.pem" --tls-key "$CERTS/key.pem")
  SWARM_FLAGS+=(--tls-ca "$CERTS/cert.pem")
  SCHEME=https
fi
cargo build --release -q -p skirmish-server -p skirmish-benches
ulimit -n "$(ulimit -Hn)"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/skirmish --addr "127.0.0.1:$PORT" --max-connections $((N + 100)) \
  --max-players-per-room $((N / ROOMS + 10)) --max-rooms $((ROOMS + 1)) --join-timeout-ms 600000 \
  "${SERVER_TLS[@]}" > target/rss-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; [ -z "$CERTS" ] || rm -rf "$CERTS"' EXIT
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
for _ in $(seq 1 50); do
  curl -kfs "$SCHEME://127.0.0.1:$PORT/healthz" > /dev/null && break
  sleep 0.1
done
EMPTY=$(rss)
RAMP=$(( N / 1000 + 2 ))
HOLD=$(( RAMP + 12 ))
target/release/swarm --addr "127.0.0.1:$PORT" --clients "$N" --ramp "$RAMP" --duration "$HOLD" \
  "${SWARM_FLAGS[@]}" > target/rss-swarm.txt 2>&1 &
SWARM=$!
# Read the RSS once every connection is open and the joins have settled: well after the ramp.
sleep $(( RAMP + 10 ))
LOADED=$(rss)
CONNS=$(curl -kfs "$SCHEME://127.0.0.1:$PORT/metrics" | awk '/^skirmish_connections / {print $2}')
wait $SWARM || true
python3 - "$MODE" "$N" "$EMPTY" "$LOADED" "${CONNS:-0}" <<'EOF'
import sys
mode, n, empty, loaded, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
print(f"{mode}{' (TLS)' if __import__('os').environ.get('TLS') == '1' else ''}: {int(conns)} of {n} connections open; RSS empty {empty/1024:.1f} MiB, loaded {loaded/1024:.1f} MiB; "
      f"{(loaded-empty)/max(conns,1):.2f} KiB per connection")
EOF
