#!/usr/bin/env bash
# Debian's headless Chromium and its WebDriver, for the dashboard's browser tests.
#   scripts/chromium.sh    installs `chromium` and `chromium-driver` with apt-get if absent (as root),
#                          then prints two lines on stdout: the browser's path, the driver's path.
# The tests start the browser themselves (headless, fresh profile, no network beyond 127.0.0.1).
set -euo pipefail

find_browser() {
  local b
  for b in /usr/bin/chromium /usr/lib/chromium/chromium /usr/bin/chromium-browser; do
    [ -x "$b" ] && { echo "$b"; return 0; }
  done
  return 1
}

find_driver() {
  local d
  for d in /usr/bin/chromedriver /usr/lib/chromium/chromedriver; do
    [ -x "$d" ] && { echo "$d"; return 0; }
  done
  return 1
}

if ! browser=$(find_browser) || ! driver=$(find_driver); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "chromium.sh: installing chromium and chromium-driver with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver >&2 \
      || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver >&2; }
  fi
  browser=$(find_browser) || { echo "chromium.sh: chromium is not installed and cannot be installed" >&2; exit 69; }
  driver=$(find_driver) || { echo "chromium.sh: chromium-driver is not installed and cannot be installed" >&2; exit 69; }
fi
echo "$browser"
echo "$driver"
