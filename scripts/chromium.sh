#!/usr/bin/env bash
# Makes sure a headless Chromium is there for the console's browser tests
# (web/console, TestConsoleInChromium), then runs them. On Debian or Ubuntu
# it installs the distribution's chromium package when none is found
# (needs root or sudo). $CHROMIUM names another binary; screenshots go to
# $TOCSIN_ARTIFACTS/browser (default web/artifacts/browser, git-ignored).
# With --install it only installs (make test does that before the unit
# tests, which then run the browser tests too).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GO=${GO:-go}

found() {
  [ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ] && return 0
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1
}

if ! found; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium: not found and no apt-get here; install Chromium and set CHROMIUM=/path/to/chromium" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "chromium: installing the distribution's package"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium
fi

[ "${1:-}" = "--install" ] && exit 0

cd "$root"
set +e
"$GO" test -count=1 -run 'TestConsoleInChromium' -v ./web/console/ | grep -vE '^\s+logger\.go'
exit "${PIPESTATUS[0]}"
