#!/usr/bin/env bash
# Installs the web client's npm packages (only when package-lock.json changed) and builds it
# into web-client/dist: for `--web-root web-client/dist` while working on the client, or for
# SKIRMISH_WEB_DIST where the server is built without node (`cargo build` otherwise builds and
# embeds its own copy, see server/build.rs). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../web-client"
# The package-lock.json node_modules was installed from, kept by this script and server/build.rs
# (npm's node_modules/.package-lock.json differs from package-lock.json even when in step).
stamp=node_modules/.skirmish-package-lock.json
if ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
  rm -f "$stamp"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
npm run --silent build
