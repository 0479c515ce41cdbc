#!/usr/bin/env bash
# Runs the Autobahn|Testsuite fuzzing client against the server's WebSocket accept path (the
# `echo` example, which uses the server's own head reader, handshake and tungstenite config),
# sections 1-7 and 10 (9 = performance, 12-13 = compression, which the server does not
# offer). Needs Python 2.7 (pyenv's 2.7.18 where present); skips with a message otherwise.
# Bounded: the suite run is killed after 15 minutes. Compares the outcome with
# docs/autobahn/expected.json and fails on any FAILED case or a difference.
set -euo pipefail
cd "$(dirname "$0")/.."

PY2=""
for c in python2.7 "$HOME"/.pyenv/versions/2.7*/bin/python; do
  if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (2, 7))' 2>/dev/null; then
    PY2="$c"; break
  fi
done
if [ -z "$PY2" ]; then
  echo "SKIP autobahn: Python 2.7 not found (install it, e.g. 'pyenv install 2.7.18')"
  exit 0
fi

VENV=target/autobahn/venv
if [ ! -x "$VENV/bin/wstest" ]; then
  "$PY2" -m pip install --quiet virtualenv
  "$PY2" -m virtualenv -q "$VENV"
  "$VENV/bin/pip" install --quiet autobahntestsuite
fi

cargo build --release --locked -p skirmish-server --example echo
PORT=${AUTOBAHN_PORT:-9001}
target/release/examples/echo "127.0.0.1:$PORT" & ECHO=$!
trap 'kill $ECHO 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

OUT=target/autobahn
cat > "$OUT/spec.json" <<JSON
{
  "outdir": "$PWD/$OUT/report",
  "servers": [{ "agent": "skirmish", "url": "ws://127.0.0.1:$PORT" }],
  "cases": ["*"],
  "exclude-cases": ["9.*", "12.*", "13.*"],
  "exclude-agent-cases": {}
}
JSON
(cd "$OUT" && timeout 900 "$OLDPWD/$VENV/bin/wstest" -m fuzzingclient -s spec.json >wstest.log 2>&1)

python3 - "$OUT/report/index.json" docs/autobahn/expected.json <<'PY'
import json, sys, collections
report = json.load(open(sys.argv[1]))["skirmish"]
got = {case: r["behavior"] + "/" + r["behaviorClose"] for case, r in sorted(report.items())}
counts = collections.Counter(r["behavior"] for r in report.values())
print("autobahn:", len(got), "cases;", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
failed = sorted(c for c, r in report.items() if r["behavior"] == "FAILED" or r["behaviorClose"] == "FAILED")
try:
    expected = json.load(open(sys.argv[2]))
except FileNotFoundError:
    expected = None
if "--update" in sys.argv or expected is None:
    json.dump(got, open(sys.argv[2], "w"), indent=1, sort_keys=True)
    print("wrote", sys.argv[2])
    expected = got
diff = sorted(c for c in set(got) | set(expected) if got.get(c) != expected.get(c))
if failed:
    print("FAILED cases:", ", ".join(failed))
if diff:
    print("differs from docs/autobahn/expected.json:", ", ".join(f"{c} {expected.get(c)} -> {got.get(c)}" for c in diff))
sys.exit(1 if failed or diff else 0)
PY
