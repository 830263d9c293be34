#!/bin/sh
# Makes sure a nats-server binary is on PATH (the provider-nats tests start a real one).
# Idempotent: does nothing when one is already there; otherwise installs Debian's
# nats-server package (2.9.x) with one apt-get update. Needs root (or sudo) for apt.
set -eu
if command -v nats-server >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-nats-server: nats-server is missing and this user cannot run apt-get; install it (apt-get install -y nats-server) or put a nats-server binary on PATH" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-nats-server: no apt-get here; put a nats-server 2.9+ binary from https://github.com/nats-io/nats-server/releases on PATH" >&2
  exit 1
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nats-server >/dev/null
command -v nats-server >/dev/null 2>&1 || { echo "ensure-nats-server: installed nats-server but it is not on PATH" >&2; exit 1; }
nats-server --version
