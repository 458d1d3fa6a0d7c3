#!/usr/bin/env bash
# Installs the peers that bench/compare.py measures cairn against. Idempotent.
#   restic 0.14 from Debian's package; borg 1.4 from PyPI into bench/.venv-borg (built from the
#   sdist: PyPI has no binary wheel of borg 1.4 for Linux, so the C headers it links against are
#   installed first).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
borg_venv="$here/.venv-borg"
python="${PYTHON:-$repo/.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"

# Headers and tools that `pip install borgbackup` needs to build its C extensions.
build_pkgs=(build-essential pkg-config libacl1-dev libssl-dev liblz4-dev libzstd-dev libxxhash-dev)

missing_debs() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || printf '%s\n' "$pkg"
    done
}

apt_install() {
    local want
    mapfile -t want < <(missing_debs "$@")
    [ "${#want[@]}" -eq 0 ] && return 0
    if [ -z "${apt_updated:-}" ]; then
        apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}"
}

borg_ok() {
    [ -x "$borg_venv/bin/borg" ] && "$borg_venv/bin/borg" --version 2>/dev/null | grep -q '^borg 1\.4\.'
}

command -v restic >/dev/null || apt_install restic

if ! borg_ok; then
    apt_install "${build_pkgs[@]}"
    [ -x "$borg_venv/bin/python" ] || "$python" -m venv "$borg_venv"
    "$borg_venv/bin/pip" install --quiet --upgrade pip
    "$borg_venv/bin/pip" install --quiet --prefer-binary 'borgbackup>=1.4,<1.5'
fi

echo "restic: $(restic version)"
echo "borg:   $("$borg_venv/bin/borg" --version) ($borg_venv/bin/borg)"
