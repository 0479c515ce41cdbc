#!/usr/bin/env bash
# Installs the web client's npm packages (only when package-lock.json changed) and builds it
# into web-client/dist, which the server serves at /. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../web-client"
if ! cmp -s package-lock.json node_modules/.package-lock.json 2>/dev/null; then
  # npm ci keeps node_modules/.package-lock.json in step with package-lock.json.
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
