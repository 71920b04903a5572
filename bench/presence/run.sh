#!/usr/bin/env bash
# Presence fan-out benchmark: a directory of DIRECTORY users (default 100,000, imported
# from CSV), WATCHERS of them (default 1,000) signed in with an open event stream each
# (Server-Sent Events; WebSocket with TRANSPORT=ws) and subscribed to one target user,
# whose presence `presence-load` changes FLIPS times; it reports p50/p99 of the delay from
# the PUT to each watcher's stream.
#
#   bench/presence/run.sh                      # 100,000 users, 1,000 watchers, 50 flips
#   DIRECTORY=20000 WATCHERS=200 FLIPS=20 bench/presence/run.sh   # quicker
#
# IM with 10,000 WebSocket clients (docs/performance.md):
#   DIRECTORY=12000 WATCHERS=10000 MESSAGES=1 RATE=500,1000,1500 STEP_SECS=20 bench/presence/run.sh
#
# Users are provisioned with one `viawork user import --password` (the argon2 hash computed
# once); the file-descriptor limit is raised to what WATCHERS needs. Everything runs on
# loopback; the server is started here and stopped by its PID. Knobs (environment):
#   DIRECTORY     users in the directory (default 100000; at least WATCHERS + 1)
#   WATCHERS      watcher users signed in and subscribed (default 1000)
#   FLIPS         presence changes of the target (default 50, at most 10000)
#   INTERVAL_MS   pause between changes (default 100)
#   MESSAGES      IM mode: instead of presence changes, this many messages between pairs of
#                 watchers (one conversation per pair), offered at RATE per second
#                 (default 200); reports messages/s end to end and delivery p50/p99
#   RATE          IM mode: one rate, or a ladder "500,1000,1500" run in turn on the same
#                 clients until a rate is not sustained
#   STEP_SECS     IM mode: each rate runs this many seconds (messages = rate x seconds)
#                 instead of MESSAGES messages
#   TRANSPORT     ws or sse: how the clients' event streams are opened (default ws in IM
#                 mode, sse for presence)
#   CONCURRENCY   stream openings and subscriptions in flight at once (default 16)
#   SIGN_IN_CONCURRENCY  sign-ins in flight at once (default 2, the server verifies as
#                 many passwords at once as it has cores). The server's RSS is dominated by
#                 the password hashing of parallel sign-ins (see docs/performance.md)
#   LOAD_TIMEOUT  seconds presence-load may run in all (default 1800)
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
SIGN_IN_CONCURRENCY=${SIGN_IN_CONCURRENCY:-2}
MESSAGES=${MESSAGES:-0}
RATE=${RATE:-200}
STEP_SECS=${STEP_SECS:-}
TRANSPORT=${TRANSPORT:-}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-1800}
VW_TARGET=${VW_TARGET:-$ROOT/target}
LOAD_TARGET=${LOAD_TARGET:-$ROOT/target/presence-load}
PASSWORD=Bench-pass-presence
HTTP=127.0.0.1:18090
SIP_PORT=15160

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

[ "$DIRECTORY" -gt "$WATCHERS" ] || { echo "DIRECTORY must be more than WATCHERS" >&2; exit 1; }
[ "$WATCHERS" -le 99999 ] || { echo "WATCHERS is at most 99999" >&2; exit 1; }
# Each process holds a socket per watcher plus the POSTs in flight (at most 4,096), the
# store and some slack; the server and presence-load inherit this shell's limit.
need_fds=$((WATCHERS + 5120))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need_fds" ]; then
    ulimit -n "$need_fds" 2>/dev/null || {
        echo "$WATCHERS watchers need $need_fds file descriptors; the hard limit is $(ulimit -Hn)" >&2
        exit 1
    }
fi
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

# --- the directory: the target (pt0000) and the watchers (pw00001..) imported from one CSV
# with one initial password (hashed once), then the rest of the DIRECTORY users without.
log "importing $((WATCHERS + 1)) users with a password and $((DIRECTORY - WATCHERS - 1)) without into $DB"
{
    echo "SipAddress,DisplayName"
    for i in $(seq 1 "$WATCHERS"); do printf 'sip:pw%05d@example.com,Watcher %d\n' "$i" "$i"; done
    echo "sip:pt0000@example.com,Presence Target"
} >"$WORK/signed-in.csv"
{
    echo "SipAddress,DisplayName"
    for i in $(seq 1 $((DIRECTORY - WATCHERS - 1))); do printf 'sip:dir%06d@example.com,Directory %d\n' "$i" "$i"; done
} >"$WORK/directory.csv"
t0=$(date +%s.%N)
"$VW" --config "$CONFIG" user import "$WORK/signed-in.csv" --password "$PASSWORD" >"$WORK/import.out"
t1=$(date +%s.%N)
"$VW" --config "$CONFIG" user import "$WORK/directory.csv" >>"$WORK/import.out"
log "imported in $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s (with the password) and $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $t1 }") s"

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
     --watcher-format 'sip:pw{:05}@example.com' --password "$PASSWORD" --flips "$FLIPS"
     --interval-ms "$INTERVAL_MS" --concurrency "$CONCURRENCY"
     --sign-in-concurrency "$SIGN_IN_CONCURRENCY" --server-pid "$SERVER_PID")
[ "$MESSAGES" -gt 0 ] && CMD+=(--messages "$MESSAGES" --rate "$RATE")
[ "$MESSAGES" -gt 0 ] && [ -n "$STEP_SECS" ] && CMD+=(--step-secs "$STEP_SECS")
[ -n "$TRANSPORT" ] && CMD+=(--transport "$TRANSPORT")
log "running: ${CMD[*]} (load $(loadavg); fd limit $(ulimit -n))"
status=0
timeout -k 5 "$LOAD_TIMEOUT" "${CMD[@]}" >"$WORK/load.out" 2>"$WORK/load.err" || status=$?
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)
cat "$WORK/load.err" >&2
cat "$WORK/load.out"
echo
echo "directory: $users users; server RSS at the end: $((rss / 1024)) MiB; machine load $(loadavg)"
echo "command: DIRECTORY=$DIRECTORY WATCHERS=$WATCHERS FLIPS=$FLIPS INTERVAL_MS=$INTERVAL_MS CONCURRENCY=$CONCURRENCY SIGN_IN_CONCURRENCY=$SIGN_IN_CONCURRENCY MESSAGES=$MESSAGES RATE=$RATE STEP_SECS=$STEP_SECS TRANSPORT=$TRANSPORT bench/presence/run.sh"
echo "logs and store: $WORK"
exit $status
