#!/usr/bin/env bash
# `make demo`: a walkthrough on a local vault under ./.cairn-demo, printing each step.
# (create, register, back up, list, restore, verify; `make run` starts the agent instead).
set -euo pipefail
cd "$(dirname "$0")/.."
CAIRN=${CAIRN:-.venv/bin/cairn}
DEMO=$PWD/.cairn-demo
rm -rf "$DEMO"
mkdir -p "$DEMO"
export CAIRN_HOME="$DEMO/home"
PASSFILE="$DEMO/passphrase"
umask 077
head -c 24 /dev/urandom | base64 > "$PASSFILE"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "make a sample tree to protect: $DEMO/data"
mkdir -p "$DEMO/data/docs/reports" "$DEMO/data/photos" "$DEMO/data/cache"
for i in $(seq 1 200); do
    printf 'report %d\n%s\n' "$i" "$(seq 1 200 | tr '\n' ' ')" > "$DEMO/data/docs/reports/r$i.txt"
done
head -c 5000000 /dev/urandom > "$DEMO/data/photos/holiday.raw"
cp "$DEMO/data/photos/holiday.raw" "$DEMO/data/photos/holiday-copy.raw"
echo "scratch" > "$DEMO/data/cache/tmp.tmp"
ln -s docs/reports/r1.txt "$DEMO/data/latest-report"
# Files written in the last 2 seconds are read again by the next backup (a write in the same
# timestamp tick could hide); date the sample an hour back, as files usually are.
find "$DEMO/data" -exec touch -h -d '1 hour ago' {} +
echo "sample tree: $(find "$DEMO/data" -type f | wc -l) files, $(du -sh "$DEMO/data" | cut -f1)"

step "cairn vault create $DEMO/vault"
$CAIRN vault create "$DEMO/vault"

step "cairn register $DEMO/vault   (passphrase from a 0600 file: $PASSFILE)"
$CAIRN register "$DEMO/vault" --passphrase-file "$PASSFILE"

step "cairn backup $DEMO/data --exclude '*.tmp'"
$CAIRN backup "$DEMO/data" --exclude '*.tmp'

step "change one file and back up again: only the change is read"
echo "one more line" >> "$DEMO/data/docs/reports/r7.txt"
$CAIRN backup "$DEMO/data" --exclude '*.tmp'

step "cairn recovery-points"
$CAIRN recovery-points

step "cairn ls latest $DEMO/data/docs/reports (first lines)"
$CAIRN ls latest "$DEMO/data/docs/reports" > "$DEMO/ls.txt"
head -5 "$DEMO/ls.txt"

step "cairn restore latest --target $DEMO/restored"
$CAIRN restore latest --target "$DEMO/restored"

step "verify the restored tree against the source"
if diff -r --exclude='*.tmp' "$DEMO/data" "$DEMO/restored$DEMO/data"; then
    echo "restored tree is identical to the source"
else
    echo "restored tree differs from the source" >&2
    exit 1
fi

step "cairn check --read-data"
$CAIRN check --read-data
printf '\nDone. Everything is under %s (delete it when finished).\n' "$DEMO"
