#!/usr/bin/env bash
# Installs Debian packages (for the scripts that need them: install-chromium.sh,
# install-protoc.sh). Needs root (or sudo) and the Debian package mirror.
#   scripts/apt-install.sh PACKAGE...
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
