#!/bin/sh
# Sourced by the tooling/ensure-*.sh scripts: installs one Debian package with apt-get (one
# `apt-get update` first), as root or through sudo, or says why it cannot and what to do.
#   apt_install <who is asking> <package> <what to do without apt-get> [apt-get install flags]
apt_install() {
  who=$1 package=$2 otherwise=$3
  shift 3
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "$who: $package is missing and this user cannot run apt-get; install it (apt-get install -y $package) or $otherwise" >&2
      exit 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$who: no apt-get here; $otherwise" >&2
    exit 1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" "$package" >/dev/null
}
