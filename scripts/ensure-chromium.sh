#!/usr/bin/env bash
# Makes sure what the browser tests drive (test/browser, through playwright-core) is installed:
# Chromium at /usr/bin/chromium, and dbus-daemon, which runs the private session bus of the
# desktop notification server the service worker test shows notifications on
# (test/fakes/notification-server.ts). Installs the distribution's packages when missing.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v dbus-daemon >/dev/null || missing+=(dbus)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "ensure-chromium: installing ${missing[*]} (apt-get install -y ${missing[*]})" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
"${sudo[@]}" apt-get install -y "${missing[@]}" || { "${sudo[@]}" apt-get update && "${sudo[@]}" apt-get install -y "${missing[@]}"; }
test -x /usr/bin/chromium
command -v dbus-daemon >/dev/null
