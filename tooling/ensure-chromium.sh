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
. "$(dirname "$0")/apt-install.sh"
apt_install ensure-chromium chromium "set CHROME_PATH to a Chromium/Chrome binary" --no-install-recommends
find_chromium || { echo "ensure-chromium: installed chromium but it is not on PATH" >&2; exit 1; }
