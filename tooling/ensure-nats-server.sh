#!/bin/sh
# Makes sure a nats-server binary is on PATH (the provider-nats tests start a real one).
# Idempotent: does nothing when one is already there; otherwise installs Debian's
# nats-server package (2.9.x) with one apt-get update. Needs root (or sudo) for apt.
set -eu
if command -v nats-server >/dev/null 2>&1; then
  exit 0
fi
. "$(dirname "$0")/apt-install.sh"
apt_install ensure-nats-server nats-server "put a nats-server 2.9+ binary from https://github.com/nats-io/nats-server/releases on PATH"
command -v nats-server >/dev/null 2>&1 || { echo "ensure-nats-server: installed nats-server but it is not on PATH" >&2; exit 1; }
nats-server --version
