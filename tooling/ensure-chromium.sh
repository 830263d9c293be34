#!/bin/sh
# Makes sure a Chromium binary is installed (the web console's browser test drives a real
# headless one through playwright-core, which never downloads a browser of its own).
# Idempotent: does nothing when one is already there; otherwise installs Debian's chromium
# package with one apt-get update. Needs root (or sudo) for apt.
# Prints the binary's path; the test finds it the same way (CHROME_PATH, then chromium on PATH).
set -eu
find_chromium() {
  if [ -n "${CHROME_PATH:-}" ] && [ -x "$CHROME_PATH" ]; then echo "$CHROME_PATH"; return 0; fi
  for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  done
  return 1
}
if find_chromium >/dev/null; then
  find_chromium
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-chromium: chromium is missing and this user cannot run apt-get; install it (apt-get install -y chromium) or set CHROME_PATH to a Chromium/Chrome binary" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: no apt-get here; install Chromium with this system's package manager or set CHROME_PATH to a Chromium/Chrome binary" >&2
  exit 1
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
find_chromium || { echo "ensure-chromium: installed chromium but it is not on PATH" >&2; exit 1; }
