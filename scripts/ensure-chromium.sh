#!/usr/bin/env bash
# Makes sure the Chromium that the browser tests drive (test/browser, through playwright-core) is
# installed at /usr/bin/chromium: installs the distribution's package when it is missing.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "ensure-chromium: /usr/bin/chromium is missing; installing it (apt-get install -y chromium)" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
"${sudo[@]}" apt-get install -y chromium || { "${sudo[@]}" apt-get update && "${sudo[@]}" apt-get install -y chromium; }
test -x /usr/bin/chromium
