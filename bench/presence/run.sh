#!/usr/bin/env bash
# Presence fan-out benchmark: a directory of DIRECTORY users (default 100,000, imported
# from CSV), WATCHERS of them (default 1,000) signed in with an open Server-Sent Events
# stream each and subscribed to one target user, whose presence `presence-load` changes
# FLIPS times; it reports p50/p99 of the delay from the PUT to each watcher's stream.
#
#   bench/presence/run.sh                      # 100,000 users, 1,000 watchers, 50 flips
#   DIRECTORY=20000 WATCHERS=200 FLIPS=20 bench/presence/run.sh   # quicker
#
# Everything runs on loopback; the server is started here, bounded by `timeout`, and
# stopped by its PID. Knobs (environment):
#   DIRECTORY     users in the directory (default 100000; at least WATCHERS + 1)
#   WATCHERS      watcher users signed in and subscribed (default 1000)
#   FLIPS         presence changes of the target (default 50, at most 10000)
#   INTERVAL_MS   pause between changes (default 100)
#   MESSAGES      IM mode: instead of presence changes, this many messages between pairs of
#                 watchers (one conversation per pair), offered at RATE per second
#                 (default 200); reports messages/s end to end and delivery p50/p99
#   CONCURRENCY   sign-ins and subscriptions in flight at once (default 16). The server's
#                 RSS at the end is dominated by the password hashing of parallel sign-ins
#                 (see docs/performance.md); CONCURRENCY=1 keeps that part to about 100 MB
#   WORK          where logs, the store and results go (default a new /tmp dir)
#   VW_TARGET     target dir of the server build (default <repo>/target)
#   VW_BIN        a viawork binary to use as it is (skips the server build)
#   LOAD_TARGET   target dir of presence-load (default <repo>/target/presence-load)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/bench/presence
WORK=${WORK:-$(mktemp -d /tmp/viawork-bench-presence.XXXXXX)}
mkdir -p "$WORK"
DIRECTORY=${DIRECTORY:-100000}
WATCHERS=${WATCHERS:-1000}
FLIPS=${FLIPS:-50}
INTERVAL_MS=${INTERVAL_MS:-100}
CONCURRENCY=${CONCURRENCY:-16}
MESSAGES=${MESSAGES:-0}
RATE=${RATE:-200}
VW_TARGET=${VW_TARGET:-$ROOT/target}
LOAD_TARGET=${LOAD_TARGET:-$ROOT/target/presence-load}
PASSWORD=Bench-pass-presence
HTTP=127.0.0.1:18090
SIP_PORT=15160

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

[ "$DIRECTORY" -gt "$WATCHERS" ] || { echo "DIRECTORY must be more than WATCHERS" >&2; exit 1; }
for port in ${HTTP##*:} $SIP_PORT; do
    if ss -Hlntu "( sport = :$port )" 2>/dev/null | grep -q .; then
        echo "port $port is in use; stop what holds it or change the ports at the top of $0" >&2
        exit 1
    fi
done
for tool in curl timeout; do
    command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done

SERVER_PID=
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -0 "$SERVER_PID" 2>/dev/null && kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}
trap stop_server EXIT

log "building viawork (release) and presence-load; machine load $(loadavg)"
if [ -n "${VW_BIN:-}" ]; then
    VW=$VW_BIN
else
    (cd "$ROOT" && cargo build --release -p viawork --target-dir "$VW_TARGET" --quiet)
    VW=$VW_TARGET/release/viawork
fi
(cd "$BENCH" && CARGO_TARGET_DIR=$LOAD_TARGET cargo build --release --quiet)
LOAD=$LOAD_TARGET/release/presence-load

DB="sqlite://$WORK/viawork.db"
CONFIG=$WORK/viawork.toml
cat >"$CONFIG" <<TOML
domain = "example.com"
sip_listen = ["udp:127.0.0.1:$SIP_PORT"]
http_listen = "$HTTP"
database = "$DB"
TOML

# --- the directory: DIRECTORY users from one CSV (no passwords), then passwords for the
# target (pt0000) and the watchers (pw0001..), set with the CLI two at a time.
log "importing $DIRECTORY users into $DB"
{
    echo "SipAddress,DisplayName"
    for i in $(seq 1 "$WATCHERS"); do printf 'sip:pw%04d@example.com,Watcher %d\n' "$i" "$i"; done
    echo "sip:pt0000@example.com,Presence Target"
    for i in $(seq 1 $((DIRECTORY - WATCHERS - 1))); do printf 'sip:dir%06d@example.com,Directory %d\n' "$i" "$i"; done
} >"$WORK/users.csv"
"$VW" --config "$CONFIG" user import "$WORK/users.csv" >"$WORK/import.out"
log "setting $((WATCHERS + 1)) passwords"
{
    echo "sip:pt0000@example.com"
    for i in $(seq 1 "$WATCHERS"); do printf 'sip:pw%04d@example.com\n' "$i"; done
} | xargs -P 2 -I{} "$VW" --config "$CONFIG" user set --sip-uri {} --password "$PASSWORD" >/dev/null

log "starting the server"
# Not under `timeout`: $SERVER_PID must be the server's own (its RSS is read from /proc);
# the EXIT trap stops it.
VIAWORK_LOG=warn "$VW" --config "$CONFIG" serve >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 100); do
    curl -fsS "http://$HTTP/healthz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "viawork did not start: $(tail -5 "$WORK/server.err")" >&2; exit 1; }
    sleep 0.1
done
users=$(sqlite3 "$WORK/viawork.db" 'SELECT COUNT(*) FROM users' 2>/dev/null || echo "$DIRECTORY")

CMD=("$LOAD" --http "$HTTP" --target sip:pt0000@example.com --watchers "$WATCHERS"
     --watcher-format 'sip:pw{:04}@example.com' --password "$PASSWORD" --flips "$FLIPS"
     --interval-ms "$INTERVAL_MS" --concurrency "$CONCURRENCY")
[ "$MESSAGES" -gt 0 ] && CMD+=(--messages "$MESSAGES" --rate "$RATE")
log "running: ${CMD[*]} (load $(loadavg))"
status=0
timeout -k 5 600 "${CMD[@]}" >"$WORK/load.out" 2>"$WORK/load.err" || status=$?
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)
cat "$WORK/load.err" >&2
cat "$WORK/load.out"
echo
echo "directory: $users users; server RSS at the end: $((rss / 1024)) MiB; machine load $(loadavg)"
echo "command: DIRECTORY=$DIRECTORY WATCHERS=$WATCHERS FLIPS=$FLIPS INTERVAL_MS=$INTERVAL_MS CONCURRENCY=$CONCURRENCY MESSAGES=$MESSAGES RATE=$RATE bench/presence/run.sh"
echo "logs and store: $WORK"
exit $status
