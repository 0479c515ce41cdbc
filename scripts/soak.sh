#!/usr/bin/env bash
# Soak: a release server and a swarm whose bots keep leaving and joining again as new
# players, for a bounded time. Prints the server's RSS, open connections, ticks and mean tick
# time every 10 s, then checks that RSS stayed flat (less than 50% growth after the first
# minute's warm-up), no tick was skipped, every input was answered promptly (input -> ack p99
# at most 100 ms: an input lost or stuck shows here) and the server exits 0 on SIGTERM.
#   ./scripts/soak.sh [MINUTES=3] [CLIENTS=300] [HOSTILE_PCT=0]
# HOSTILE_PCT > 0 adds CLIENTS x PCT / 100 hostile connections beside the bots (swarm
# --hostile; not counted in the bots' figures), hostile i repeating attack i mod 6 until the
# end: (1) join, drop the socket at the welcome, join again as a new player, every 200 ms;
# (2) join, then two inputs a tick until closed (1008 "input flood"), again 1 s later;
# (3) upgrade and never join (1008 after --join-timeout-ms, 5 s), again; (4) join, then
# WebSocket pings as fast as the socket takes them, at most 5,000, until closed (1008), again
# 1 s later; (5) join on a 4 KiB receive buffer and never read, one input every 500 ms, until
# a write fails (the stall limit closed it), again 1 s later; (6) join and read one message
# every two ticks, reporting the tick received in an input after each (the server paces it:
# keyframes instead of a growing backlog). The swarm's output ends with a table of each
# attack's connections and the close codes the server ended them with, and the stalest frame
# a half-rate reader read. The
# server runs with its defaults: loopback peers are exempt from the per-address connection
# cap and join rate (--cap-loopback is not passed), so every hostile connection reaches the
# checks above instead of being turned away at the door. With hostiles the bots' input -> ack
# p99 must also stay within 2 ticks (66.7 ms at the default 30 Hz): the attacks must not cost
# honest players a tick.
# Loopback only; everything it starts, it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-3}
CLIENTS=${2:-300}
HOSTILE_PCT=${3:-0}
HOSTILE=$((CLIENTS * HOSTILE_PCT / 100))
ADDR=${SOAK_ADDR:-127.0.0.1:5077}
cargo build --release --locked --bin skirmish
cargo build --release --locked -p skirmish-benches --bin swarm
target/release/skirmish --addr "$ADDR" --log warn --max-players-per-room $((CLIENTS * 10)) &
SERVER=$!
SWARM=""
trap 'kill $SERVER 2>/dev/null || true; [ -z "$SWARM" ] || kill $SWARM 2>/dev/null || true' EXIT
sleep 1
kill -0 $SERVER 2>/dev/null || { echo "the server did not start (is $ADDR in use?)"; exit 1; }
target/release/swarm --addr "$ADDR" --clients "$CLIENTS" --duration $((MINUTES * 60)) --ramp 5 \
  --churn-secs 10 --hostile "$HOSTILE" --server-pid $SERVER > target/soak-swarm.txt 2>/dev/null &
SWARM=$!

# A metric summed over its labels (rooms); empty if absent.
metric() { awk -v n="$1" 'index($1, n) == 1 && (length($1) == length(n) || substr($1, length(n) + 1, 1) == "{") {s += $2; f = 1} END {if (f) print s}' <<<"$2"; }
printf '%6s %9s %6s %8s %13s %6s\n' "t (s)" "RSS MiB" "conns" "ticks" "mean tick ms" "late"
first_rss=""; last_rss=0; prev_ticks=0; prev_sum=0; samples=0
while kill -0 $SWARM 2>/dev/null; do
  sleep 10
  samples=$((samples + 1))
  rss=$(awk '/VmRSS/ {print $2}' /proc/$SERVER/status)
  m=$(exec 3<>/dev/tcp/${ADDR%:*}/${ADDR#*:}; printf 'GET /metrics HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n' >&3; cat <&3)
  ticks=$(metric skirmish_ticks_total "$m"); sum=$(metric skirmish_tick_duration_seconds_sum "$m")
  if [ -z "$ticks" ] || [ -z "$sum" ]; then echo "metrics unavailable at $((samples * 10)) s"; continue; fi
  late=$(metric skirmish_late_ticks_total "$m"); conns=$(metric skirmish_connections "$m")
  mean=$(python3 -c "d=$ticks-$prev_ticks; print(f'{(($sum)-($prev_sum))/d*1000:.3f}' if d else '-')")
  printf '%6d %9.1f %6s %8s %13s %6s\n' $((samples * 10)) "$(awk "BEGIN{print $rss/1024}")" "$conns" "$ticks" "$mean" "$late"
  prev_ticks=$ticks; prev_sum=$sum; last_rss=$rss
  [ $samples -eq 6 ] && first_rss=$rss
done
wait $SWARM || true
cat target/soak-swarm.txt
skipped=$(metric skirmish_skipped_ticks_total "$m")
kill -TERM $SERVER; code=0; wait $SERVER || code=$?
trap - EXIT
echo "server exit code: $code"
[ -n "$first_rss" ] || first_rss=$last_rss
p99=$(sed -n 's/^ *input -> ack p99 ms *//p' target/soak-swarm.txt)
python3 - "$first_rss" "$last_rss" "$skipped" "${p99:-999999}" "$code" "$HOSTILE" <<'PY'
import sys
first, last, skipped = int(sys.argv[1]), int(sys.argv[2]), int(float(sys.argv[3] or 0))
p99, code, hostile = float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
growth = (last - first) / first * 100
# With hostiles beside them, the bots' inputs must still be answered within 2 ticks at 30 Hz.
limit = 66.7 if hostile > 0 else 100
print(f"RSS after warm-up {first/1024:.1f} MiB, at the end {last/1024:.1f} MiB ({growth:+.1f}%); "
      f"skipped ticks {skipped}; input -> ack p99 {p99:.1f} ms (limit {limit:g}); "
      f"{hostile} hostile connections; server exit {code}")
sys.exit(0 if growth < 50 and skipped == 0 and p99 <= limit and code == 0 else 1)
PY
