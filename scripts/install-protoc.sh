#!/usr/bin/env bash
# Installs Debian's protobuf-compiler (protoc) and libprotobuf-dev (the well-known types,
# google/protobuf/*.proto, which protoc finds in /usr/include), which the `agones` cargo feature
# needs: the agones crate compiles the Agones SDK's .proto files when it builds. Idempotent;
# needs root (or sudo) and the Debian package mirror the first time.
set -euo pipefail
if command -v protoc >/dev/null 2>&1 && [ -f /usr/include/google/protobuf/descriptor.proto ]; then
  exit 0
fi
echo "installing protobuf-compiler and libprotobuf-dev (Debian packages) for the agones feature"
"$(dirname "$0")/apt-install.sh" protobuf-compiler libprotobuf-dev
protoc --version
