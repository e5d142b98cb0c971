#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/ui) unless /usr/bin/chromium is
# already there. Idempotent and quiet (apt's output is shown only if it fails); needs root
# or sudo. The tests drive this browser through the Python playwright package, so no
# Playwright-managed browser is ever downloaded.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    env DEBIAN_FRONTEND=noninteractive "$@"
  else
    sudo env DEBIAN_FRONTEND=noninteractive "$@"
  fi
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { as_root apt-get update -q && as_root apt-get install -y -q --no-install-recommends chromium; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-browser.sh: installing chromium with apt-get failed" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "install-browser.sh: apt-get finished but /usr/bin/chromium is missing" >&2
  exit 1
fi
