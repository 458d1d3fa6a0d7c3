#!/usr/bin/env bash
# The console's browser tests drive Debian's Chromium (never `playwright install`: no browser
# download). CI is a fresh Debian machine as root: install the package when it is missing.
set -euo pipefail
if [ -x /usr/lib/chromium/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "the console tests need Debian's chromium: run 'sudo apt-get install -y chromium'" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q chromium
