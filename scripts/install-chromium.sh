#!/usr/bin/env bash
# Installs Debian's chromium for the browser end-to-end test, if it is not there yet.
# Idempotent; needs root (or sudo) and the Debian package mirror.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "installing chromium (Debian package) for the browser tests"
"$(dirname "$0")/apt-install.sh" chromium
/usr/bin/chromium --version
