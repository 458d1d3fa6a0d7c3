#!/usr/bin/env bash
# The snapshot tests (tests/engine/test_snapshot.py) make a btrfs filesystem in a loop-mounted
# image: they need Debian's btrfs-progs. CI is a fresh Debian machine as root: install it when it
# is missing (elsewhere the tests skip, naming what they lack).
set -euo pipefail
if command -v mkfs.btrfs >/dev/null && command -v btrfs >/dev/null; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "the snapshot tests need btrfs-progs: run 'sudo apt-get install -y btrfs-progs'" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q btrfs-progs >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q btrfs-progs >/dev/null; }
