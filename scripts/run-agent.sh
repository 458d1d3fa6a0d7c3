#!/usr/bin/env bash
# `make run`: the agent on the local default vault, in the foreground.
#
# On a first start with nothing registered in CAIRN_HOME (default ~/.local/share/cairn), the agent
# creates a local vault under CAIRN_HOME, registers this machine with a generated passphrase (kept
# in CAIRN_HOME/passphrase, mode 0600) and applies the default policy: your home folder without
# caches, daily at 21:00, kept 30 days, Sundays' kept 12 weeks. Then this script shows the policy
# and its next runs, runs a Back Up Now through the agent with live progress (Ctrl-C offers to let
# it go on in the background), lists the jobs, and leaves the agent running until Ctrl-C. It prints
# a login link to the console first: everything that follows can be done from the browser too.
set -euo pipefail
cd "$(dirname "$0")/.."
CAIRN=${CAIRN:-$PWD/.venv/bin/cairn}
HOME_DIR=${CAIRN_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/cairn}
export CAIRN_HOME=$HOME_DIR
unset CAIRN_PASSPHRASE

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "start the agent (CAIRN_HOME $CAIRN_HOME)"
"$CAIRN" agent run &
agent=$!
stop() { kill -TERM "$agent" 2>/dev/null || true; wait "$agent" 2>/dev/null || true; }
trap stop EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 300); do
    [ -f "$CAIRN_HOME/agent.json" ] && break
    kill -0 "$agent" 2>/dev/null || { wait "$agent"; exit $?; }
    sleep 0.1
done

step "the console: open this link in a browser (once, within 5 minutes; \`cairn console\` gives a new one)"
"$CAIRN" console || echo "(no console link: exit code $?)"

step "the backup policy"
"$CAIRN" policy show

step "the next scheduled backups"
"$CAIRN" policy next-runs --count 3

step "Back Up Now, through the agent (Ctrl-C: go on in the background or cancel)"
"$CAIRN" backup || echo "(the backup ended with exit code $?)"

step "the jobs"
"$CAIRN" jobs --last 5

step "the agent goes on running the schedule; Ctrl-C stops it"
wait "$agent"
