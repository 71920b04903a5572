#!/usr/bin/env bash
# Call Via Work load benchmark: SIPp plays the PBX (tests/sipp/pbx_uas.xml answers both
# legs, the join re-INVITEs and the BYEs), `calls-load` posts click-to-call requests and
# hangs them up, and the same SIPp load goes through Kamailio as a stateful proxy for the
# baseline. Prints a table per measurement and leaves every run's JSON in $WORK.
#
#   bench/calls/run.sh                 # everything, about 9 minutes on 2 cores
#   LADDER="500 1000" CONC_TARGET=20000 bench/calls/run.sh   # shorter
#
# Everything runs on loopback; every process is started here, bounded by an outer
# `timeout`, and stopped by its PID. Knobs (environment):
#   STAGES          which measurements (default "ladder latency kamailio b2bua rss concurrent";
#                   without the ladder, CONC_RATE defaults to 100)
#   LADDER          rates (calls/s) tried in order, hold 0; a failed step is tried once
#                   more (the machine is shared), then the ladder stops
#   STEP_SECS       seconds per ladder step (default 15)
#   MAX_POST_P99_MS a step counts as sustained only with zero failures and a POST p99 under
#                   this (default 1000): above it requests queue and a longer run collapses
#   LAT_RATE        rate of the latency + CPU-per-call run (default 500), LAT_SECS (20)
#   RSS_CALLS       calls held up for the memory measurement (default 10000), posted at
#                   RSS_RATE (default CONC_RATE); RSS and heap (viawork_heap_allocated_bytes)
#                   per live call at the peak (setups' transactions included), again
#                   RSS_STEADY s (default 40) after the last POST with every call still
#                   up (the setups' transactions, kept 32 s by RFC 6026, gone), and
#                   both again 30 s after the last call ended
#   CONC_TARGET     concurrent calls to aim for (default 100000), posted at CONC_RATE
#                   (default half the ladder's best, at most 2000: a run of minutes at the
#                   ladder's rate collapses the server) for at most CONC_MAX_SECS (default
#                   100; 240 at most), each held until all are up. To reach 100,000 here:
#                   STAGES=concurrent CONC_RATE=500 CONC_MAX_SECS=200 (about 8 minutes)
#   KAM_LADDER      rates for Kamailio's ceiling (default "1000 2000 3000 4000 5000"), 10 s
#                   each, a failed step tried once more
#   USERS           users provisioned (default 20; each may start 100000 calls a minute)
#   WORK            where logs, the store and results go (default a new /tmp dir)
#   VW_TARGET       target dir of the server build (default <repo>/target)
#   VW_BIN          a viawork binary to use as it is (skips the server build)
#   LOAD_TARGET     target dir of calls-load (default /work/target-bench)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/bench/calls
WORK=${WORK:-$(mktemp -d /tmp/viawork-bench-calls.XXXXXX)}
mkdir -p "$WORK"
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
STAGES=${STAGES:-"ladder latency kamailio b2bua rss concurrent"}
stage() { case " $STAGES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
LADDER=${LADDER:-"250 500 750 1000 1500 2000 2500"}
STEP_SECS=${STEP_SECS:-15}
MAX_POST_P99_MS=${MAX_POST_P99_MS:-1000}
LAT_RATE=${LAT_RATE:-500}
LAT_SECS=${LAT_SECS:-20}
RSS_CALLS=${RSS_CALLS:-10000}
RSS_RATE=${RSS_RATE:-}
RSS_STEADY=${RSS_STEADY:-40}
CONC_TARGET=${CONC_TARGET:-100000}
CONC_RATE=${CONC_RATE:-}
CONC_MAX_SECS=${CONC_MAX_SECS:-100}
KAM_LADDER=${KAM_LADDER:-"1000 2000 3000 4000 5000"}
USERS=${USERS:-20}
VW_TARGET=${VW_TARGET:-$ROOT/target}
LOAD_TARGET=${LOAD_TARGET:-/work/target-bench}

# Fixed loopback ports (below the ephemeral range, so tests elsewhere do not take them).
HTTP=127.0.0.1:18080
SIP_PORT=15060
PBX_PORT=15070     # SIPp as the PBX
PBX_MEDIA=15072
KAM_PORT=15090     # Kamailio; kamailio-proxy.cfg relays to 15091
KAM_UAS_PORT=15091
KAM_UAC_PORT=15092

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# --- processes we start, stopped by PID ------------------------------------------------
SERVER_PID= PBX_PID= KAM_PID= KAM_WRAP_PID= KAM_UAS_PID= PBX_EXIT=0
stop_pid() { # PID SIGNAL: signal, wait up to 10 s, then KILL
    local pid=$1 sig=${2:-TERM}
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -s "$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -s KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop_pid "$SERVER_PID" TERM
    stop_pid "$PBX_PID" INT
    stop_pid "$KAM_UAS_PID" INT
    stop_pid "$KAM_WRAP_PID" TERM
}
trap cleanup EXIT

for port in ${HTTP##*:} $SIP_PORT $PBX_PORT $KAM_PORT $KAM_UAS_PORT $KAM_UAC_PORT; do
    if ss -Hlntu "( sport = :$port )" 2>/dev/null | grep -q .; then
        echo "port $port is in use; stop what holds it or change the ports at the top of $0" >&2
        exit 1
    fi
done
for tool in sipp kamailio jq curl timeout; do
    command -v "$tool" >/dev/null || { echo "$tool is needed (see /work/shared/PEERS.md)" >&2; exit 1; }
done

# --- build -------------------------------------------------------------------------------
log "building viawork (release) and calls-load; machine load $(loadavg)"
if [ -n "${VW_BIN:-}" ]; then
    VW=$VW_BIN
else
    (cd "$ROOT" && cargo build --release -p viawork --target-dir "$VW_TARGET" --quiet) || {
        echo "the server does not build; fix it, or pass VW_BIN=path/to/viawork" >&2
        exit 1
    }
    VW=$VW_TARGET/release/viawork
fi
(cd "$BENCH" && CARGO_TARGET_DIR=$LOAD_TARGET cargo build --release --quiet)
LOAD=$LOAD_TARGET/release/calls-load

# --- provision ---------------------------------------------------------------------------
DB="sqlite://$WORK/viawork.db"
CONFIG=$WORK/viawork.toml
cat >"$CONFIG" <<EOF
domain = "example.com"
sip_listen = ["udp:127.0.0.1:$SIP_PORT"]
http_listen = "$HTTP"
database = "$DB"

[pbx]
address = "127.0.0.1:$PBX_PORT"
options_interval_secs = 0

[calls]
max_calls_per_minute = 100000

[media]
# Two RTP pairs per call while a phone rings, none once joined: 5,000 pairs, apart from
# the 20000-29999 the tests use, so that a benchmark and tests can run side by side.
rtp_port_min = 40000
rtp_port_max = 49999
EOF
log "provisioning $USERS users in $DB"
: >"$WORK/users.txt"
for i in $(seq "$USERS"); do
    n=$(printf '%04d' "$i")
    "$VW" --config "$CONFIG" user new --sip-uri "sip:bench$n@example.com" --name "Bench $n" \
        --password "Bench-pass-$n" --line-uri "tel:+1425556$n" --enterprise-voice >/dev/null
    echo "sip:bench$n@example.com Bench-pass-$n" >>"$WORK/users.txt"
done
"$VW" --config "$CONFIG" policy set --identity Global --enabled true >/dev/null
"$VW" --config "$CONFIG" routing set --call-via-work-caller-id +15551234567 >/dev/null

# --- one Call Via Work run: fresh PBX, fresh server, calls-load --------------------------
start_pbx() { # NAME SECONDS
    timeout -k 5 -s INT "$2" sipp -sf "$ROOT/tests/sipp/pbx_uas.xml" \
        -i 127.0.0.1 -p "$PBX_PORT" -t u1 -mi 127.0.0.1 -mp "$PBX_MEDIA" \
        -key cb_code 200 -key far_code 200 -key challenge 0 -key far_bye 0 -key cb_refer 0 -key refer_code 202 \
        -buff_size 4194304 -l 300000 -nostdin -trace_stat -stf "$WORK/pbx-$1.csv" -fd 1 \
        >"$WORK/pbx-$1.out" 2>&1 &
    PBX_PID=$!
    for _ in $(seq 100); do
        ss -Hlnu "( sport = :$PBX_PORT )" | grep -q . && return 0
        kill -0 "$PBX_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "SIPp PBX did not start: $(tail -5 "$WORK/pbx-$1.out")" >&2
    return 1
}
start_server() { # NAME
    VIAWORK_LOG=warn VIAWORK_PBX_OPTIONS_INTERVAL_SECS=0 \
        "$VW" --config "$CONFIG" serve >"$WORK/server-$1.out" 2>"$WORK/server-$1.err" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        curl -fsS "http://$HTTP/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "viawork did not start: $(tail -5 "$WORK/server-$1.err")" >&2
    return 1
}
# Successful and failed calls SIPp counted (the last line of its -trace_stat file).
sipp_counts() { # CSV -> "successful failed"
    awk -F';' 'NR==1 { for (i = 1; i <= NF; i++) { if ($i == "SuccessfulCall(C)") s = i; if ($i == "FailedCall(C)") f = i } }
               NR>1 { ok = $s; bad = $f } END { print (ok == "" ? 0 : ok) " " (bad == "" ? 0 : bad) }' "$1"
}

# cvw_run NAME RATE SECONDS HOLD [calls-load options...]: appends one JSON line to
# $RESULTS and returns calls-load's status (0 = every call completed).
cvw_run() {
    local name=$1 rate=$2 secs=$3 hold=$4
    shift 4
    local bound=$((secs + ${hold%.*} + 130))
    # `if cvw_run` turns errexit off inside the function: check each step.
    start_pbx "$name" $((bound + 30)) || return 1
    start_server "$name" || { stop_server_and_pbx; return 1; }
    local load_before status=0
    load_before=$(loadavg)
    log "$name: $rate calls/s for $secs s, hold $hold s (load $load_before)"
    # Sign in once (the first run) and reuse the tokens, so that the server's memory
    # "before" is not inflated by the password hashing of the sign-ins.
    local who=(--tokens "$WORK/tokens.txt")
    [ -s "$WORK/tokens.txt" ] || who=(--users "$WORK/users.txt" --write-tokens "$WORK/tokens.txt")
    timeout -k 5 -s INT "$bound" "$LOAD" --http "$HTTP" "${who[@]}" \
        --rate "$rate" --duration "$secs" --hold "$hold" --pid "$SERVER_PID" --label "$name" "$@" \
        >"$WORK/load-$name.out" 2>"$WORK/load-$name.err" || status=$?
    local server_rss_end
    server_rss_end=$(awk '/VmRSS/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)
    stop_server_and_pbx
    grep -v '^RESULT ' "$WORK/load-$name.out" >&2 || true
    local result
    result=$(sed -n 's/^RESULT //p' "$WORK/load-$name.out" | tail -1)
    [ -n "$result" ] || result='{"ok": false, "failures": {"calls-load gave no result": 1}}'
    local counts
    counts=$(sipp_counts "$WORK/pbx-$name.csv" 2>/dev/null || echo "0 0")
    echo "$result" | jq -c --arg load "$load_before" --arg end_load "$(loadavg)" \
        --argjson status "$status" --argjson pbx_ok "${counts% *}" --argjson pbx_failed "${counts#* }" \
        --arg pbx_exit "$PBX_EXIT" \
        '. + {stage_load: $load, stage_end_load: $end_load, exit: $status,
              pbx: {successful_legs: $pbx_ok, failed_legs: $pbx_failed, exit: $pbx_exit}}' >>"$RESULTS"
    log "$name: exit $status; PBX legs ok ${counts% *}, failed ${counts#* } (SIPp exit $PBX_EXIT)"
    [ "$status" -eq 0 ] && [ "${counts#* }" = 0 ]
}
stop_server_and_pbx() {
    stop_pid "$SERVER_PID" TERM
    SERVER_PID=
    # SIPp exits 0 when every call succeeded, 1 when some failed. Its statistics file is
    # written each second: let the last legs' timewait end and one more line be written.
    sleep 1.5
    PBX_EXIT=0
    kill -s INT "$PBX_PID" 2>/dev/null || true
    wait "$PBX_PID" 2>/dev/null || PBX_EXIT=$?
    PBX_PID=
}
last() { tail -1 "$RESULTS"; }

# --- (a) the rate ladder, hold 0 ---------------------------------------------------------
# The last run kept up: its POSTs answered within MAX_POST_P99_MS at the 99th percentile.
keeps_up() {
    tail -1 "$RESULTS" | jq -e --argjson max "$MAX_POST_P99_MS" '.post_ms.p99 != null and .post_ms.p99 <= $max' >/dev/null && return 0
    log "$(tail -1 "$RESULTS" | jq -r .label): POST p99 $(tail -1 "$RESULTS" | jq -r .post_ms.p99) ms is over $MAX_POST_P99_MS ms: not sustained"
    return 1
}
BEST=0
stage ladder || LADDER=
for rate in $LADDER; do
    if cvw_run "ladder-$rate" "$rate" "$STEP_SECS" 0 && keeps_up; then
        BEST=$rate
    elif cvw_run "ladder-$rate-retry" "$rate" "$STEP_SECS" 0 && keeps_up; then
        BEST=$rate
    else
        log "ladder: $rate calls/s not sustained twice; the highest sustained rate is $BEST"
        break
    fi
done
if [ -z "$CONC_RATE" ]; then
    CONC_RATE=$((BEST / 2))   # 0 without a ladder: then 100 below; give CONC_RATE
    [ "$CONC_RATE" -gt 2000 ] && CONC_RATE=2000
    [ "$CONC_RATE" -lt 100 ] && CONC_RATE=100
fi
RSS_RATE=${RSS_RATE:-$CONC_RATE}

# --- (b) + (e) added latency and CPU per call at a fixed rate ----------------------------
if stage latency; then cvw_run "latency-$LAT_RATE" "$LAT_RATE" "$LAT_SECS" 0 || true; fi

# --- (e) Kamailio as a stateful proxy, SIPp uac -> Kamailio -> SIPp uas, same rate -------
kam_cpu_ticks() { # utime+stime of Kamailio's main process and its children
    local total=0 p
    for p in $KAM_PID $(ps -o pid= --ppid "$KAM_PID" 2>/dev/null); do
        total=$((total + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}
kam_run() { # NAME RATE SECONDS -> appends a JSON line; 0 when every call succeeded
    local name=$1 rate=$2 secs=$3 calls=$(($2 * $3)) status=0
    timeout -k 5 -s INT $((secs + 60)) sipp -sf "$BENCH/kam_uas.xml" -i 127.0.0.1 \
        -p "$KAM_UAS_PORT" -t u1 -buff_size 4194304 -default_behaviors all,-abortunexp \
        -nostdin >"$WORK/kam-uas-$name.out" 2>&1 &
    KAM_UAS_PID=$!
    rm -f "$WORK/kamailio.pid"
    timeout -k 5 -s TERM $((secs + 60)) kamailio -f "$BENCH/kamailio-proxy.cfg" -DD -E \
        -m 1024 -M 32 -P "$WORK/kamailio.pid" >"$WORK/kamailio-$name.log" 2>&1 &
    KAM_WRAP_PID=$!
    for _ in $(seq 50); do [ -s "$WORK/kamailio.pid" ] && break; sleep 0.1; done
    KAM_PID=$(cat "$WORK/kamailio.pid" 2>/dev/null || true)
    if [ -z "$KAM_PID" ]; then
        echo "Kamailio did not start: $(tail -5 "$WORK/kamailio-$name.log")" >&2
        stop_pid "$KAM_WRAP_PID" TERM; stop_pid "$KAM_UAS_PID" INT
        return 1
    fi
    sleep 0.5
    local t0 load_before
    t0=$(kam_cpu_ticks)
    load_before=$(loadavg)
    log "$name: Kamailio stateful proxy, $rate calls/s for $secs s (load $load_before)"
    timeout -k 5 -s INT $((secs + 30)) sipp 127.0.0.1:$KAM_PORT -sf "$BENCH/kam_uac.xml" -i 127.0.0.1 \
        -p "$KAM_UAC_PORT" -t u1 -r "$rate" -m "$calls" -l $((rate * 4)) -buff_size 4194304 \
        -default_behaviors all,-abortunexp -timeout $((secs + 20))s -nostdin \
        -trace_stat -stf "$WORK/kam-uac-$name.csv" -fd 1 >"$WORK/kam-uac-$name.out" 2>&1 || status=$?
    local t1
    t1=$(kam_cpu_ticks)
    stop_pid "$KAM_WRAP_PID" TERM   # timeout passes the signal on to Kamailio
    KAM_WRAP_PID= KAM_PID=
    stop_pid "$KAM_UAS_PID" INT
    KAM_UAS_PID=
    local counts
    counts=$(sipp_counts "$WORK/kam-uac-$name.csv" 2>/dev/null || echo "0 0")
    jq -nc --arg name "$name" --argjson rate "$rate" --argjson secs "$secs" \
        --argjson calls "$calls" --argjson ok "${counts% *}" --argjson failed "${counts#* }" \
        --argjson status "$status" --argjson ticks $((t1 - t0)) --arg load "$load_before" \
        '{"label": $name, kamailio: true, rate: $rate, duration_s: $secs, attempted: $calls,
          completed: $ok, failed: ($calls - $ok), sipp_failed: $failed, exit: $status,
          ok: ($status == 0 and $ok == $calls), cpu_ms: ($ticks * 10),
          cpu_us_per_call: (if $ok > 0 then ($ticks * 10000 / $ok * 10 | round / 10) else null end),
          stage_load: $load}' >>"$RESULTS"
    log "$name: SIPp uac exit $status, ok ${counts% *} of $calls, CPU $(((t1 - t0) * 10)) ms"
    [ "$status" -eq 0 ] && [ "${counts% *}" = "$calls" ]
}
KAM_BEST=0
if stage kamailio; then
    kam_run "kamailio-$LAT_RATE" "$LAT_RATE" "$LAT_SECS" || true
else
    KAM_LADDER=
fi
for rate in $KAM_LADDER; do
    if kam_run "kamailio-ladder-$rate" "$rate" 10 || kam_run "kamailio-ladder-$rate-retry" "$rate" 10; then
        KAM_BEST=$rate
    else
        break
    fi
done

# --- plain B2BUA: SIP client -> ViaWork -> PBX -------------------------------------------
# The same SIPp load as Kamailio's (kam_uac.xml -> ... -> kam_uas.xml), through ViaWork's
# plain back-to-back mode (calls.bridge_clients): each call is a new dialog toward the PBX
# with the caller's offer relayed, the answer passed back, the BYE passed on.
b2bua_run() { # NAME RATE SECONDS -> appends a JSON line; 0 when every call succeeded
    local name=$1 rate=$2 secs=$3 calls=$(($2 * $3)) status=0
    timeout -k 5 -s INT $((secs + 60)) sipp -sf "$BENCH/kam_uas.xml" -i 127.0.0.1 \
        -p "$KAM_UAS_PORT" -t u1 -buff_size 4194304 -default_behaviors all,-abortunexp \
        -nostdin >"$WORK/b2bua-uas-$name.out" 2>&1 &
    KAM_UAS_PID=$!
    VIAWORK_LOG=warn VIAWORK_PBX_OPTIONS_INTERVAL_SECS=0 \
        VIAWORK_PBX_ADDRESS=127.0.0.1:$KAM_UAS_PORT VIAWORK_CALLS_BRIDGE_CLIENTS=127.0.0.0/8 \
        "$VW" --config "$CONFIG" serve >"$WORK/server-$name.out" 2>"$WORK/server-$name.err" &
    SERVER_PID=$!
    local up=0
    for _ in $(seq 100); do
        curl -fsS "http://$HTTP/healthz" >/dev/null 2>&1 && { up=1; break; }
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ "$up" != 1 ]; then
        echo "viawork did not start: $(tail -5 "$WORK/server-$name.err")" >&2
        stop_pid "$SERVER_PID" TERM; SERVER_PID=
        stop_pid "$KAM_UAS_PID" INT; KAM_UAS_PID=
        return 1
    fi
    local t0 load_before
    t0=$(awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat")
    load_before=$(loadavg)
    log "$name: ViaWork plain B2BUA, $rate calls/s for $secs s (load $load_before)"
    timeout -k 5 -s INT $((secs + 30)) sipp 127.0.0.1:$SIP_PORT -sf "$BENCH/kam_uac.xml" -i 127.0.0.1 \
        -p "$KAM_UAC_PORT" -t u1 -r "$rate" -m "$calls" -l $((rate * 4)) -buff_size 4194304 \
        -default_behaviors all,-abortunexp -timeout $((secs + 20))s -nostdin \
        -trace_stat -stf "$WORK/b2bua-uac-$name.csv" -fd 1 >"$WORK/b2bua-uac-$name.out" 2>&1 || status=$?
    local t1
    t1=$(awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat")
    stop_pid "$SERVER_PID" TERM; SERVER_PID=
    stop_pid "$KAM_UAS_PID" INT; KAM_UAS_PID=
    local counts
    counts=$(sipp_counts "$WORK/b2bua-uac-$name.csv" 2>/dev/null || echo "0 0")
    jq -nc --arg name "$name" --argjson rate "$rate" --argjson secs "$secs" \
        --argjson calls "$calls" --argjson ok "${counts% *}" --argjson failed "${counts#* }" \
        --argjson status "$status" --argjson ticks $((t1 - t0)) --arg load "$load_before" \
        '{"label": $name, b2bua: true, rate: $rate, duration_s: $secs, attempted: $calls,
          completed: $ok, failed: ($calls - $ok), sipp_failed: $failed, exit: $status,
          ok: ($status == 0 and $ok == $calls), cpu_ms: ($ticks * 10),
          cpu_us_per_call: (if $ok > 0 then ($ticks * 10000 / $ok * 10 | round / 10) else null end),
          stage_load: $load}' >>"$RESULTS"
    log "$name: SIPp uac exit $status, ok ${counts% *} of $calls, CPU $(((t1 - t0) * 10)) ms"
    [ "$status" -eq 0 ] && [ "${counts% *}" = "$calls" ]
}
B2BUA_BEST=0
if stage b2bua; then
    b2bua_run "b2bua-$LAT_RATE" "$LAT_RATE" "$LAT_SECS" || true
    for rate in ${B2BUA_LADDER:-$KAM_LADDER}; do
        if b2bua_run "b2bua-ladder-$rate" "$rate" 10 || b2bua_run "b2bua-ladder-$rate-retry" "$rate" 10; then
            B2BUA_BEST=$rate
        else
            break
        fi
    done
fi

# --- (c) resident memory per active call -------------------------------------------------
RSS_SECS=$(((RSS_CALLS + RSS_RATE - 1) / RSS_RATE))
if stage rss; then
    # Held long enough to sample the steady state RSS_STEADY s after the last POST.
    cvw_run "rss-$RSS_CALLS" "$RSS_RATE" "$RSS_SECS" $((RSS_SECS + RSS_STEADY + 10)) \
        --settle 10 --idle 30 --steady "$RSS_STEADY" || true
fi

# --- (d) the largest number of concurrent calls ------------------------------------------
CONC_SECS=$(((CONC_TARGET + CONC_RATE - 1) / CONC_RATE))
[ "$CONC_SECS" -gt "$CONC_MAX_SECS" ] && CONC_SECS=$CONC_MAX_SECS
if stage concurrent; then
    cvw_run "concurrent-$CONC_TARGET" "$CONC_RATE" "$CONC_SECS" $((CONC_SECS + 10)) \
        --settle 20 --timeout 20 || true
fi

# --- report ------------------------------------------------------------------------------
echo
echo "## Results ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load now $(loadavg))"
echo "Command: bench/calls/run.sh   (LADDER=\"$LADDER\" STEP_SECS=$STEP_SECS LAT_RATE=$LAT_RATE RSS_CALLS=$RSS_CALLS RSS_RATE=$RSS_RATE CONC_TARGET=$CONC_TARGET CONC_RATE=$CONC_RATE CONC_MAX_SECS=$CONC_MAX_SECS KAM_LADDER=\"$KAM_LADDER\")"
echo
echo "| run | rate/s | calls | completed | failed | POST p50/p99 ms | added API→callback INVITE p50/p99 ms | added callback 200→far INVITE p50/p99 ms | server CPU µs/call | live max | RSS before/peak KiB | load |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
jq -r 'def v: if . == null or . == 0 then "–" else tostring end;
  select(.skipped == null) |
  if .kamailio then
    "| \(.label) | \(.rate) | \(.attempted) | \(.completed) | \(.failed) | – | – | – | \(.cpu_us_per_call | v) | – | – | \(.stage_load) |"
  else
    "| \(.label) | \(.rate) | \(.attempted) | \(.completed) | \(.failed + .pbx.failed_legs) | \(.post_ms.p50 | v)/\(.post_ms.p99 | v) | \(.server.added.api_to_callback_invite.p50_ms | v)/\(.server.added.api_to_callback_invite.p99_ms | v) | \(.server.added.callback_answer_to_far_invite.p50_ms | v)/\(.server.added.callback_answer_to_far_invite.p99_ms | v) | \(.server.cpu_us_per_call | v) | \(.server.live_max) | \(.server.rss_before_kib)/\(.server.rss_peak_kib) | \(.stage_load) |"
  end' "$RESULTS"
echo
rss=$(jq -r "select(.label == \"rss-$RSS_CALLS\") | \"at the peak \(.server.rss_per_live_call_bytes // \"n/a\") bytes RSS, \(.server.heap_per_live_call_bytes // \"n/a\") bytes heap; steady (\(.server.steady_s) s after the last POST, \(.server.live_steady) calls up) \(.server.rss_per_call_steady_bytes // \"n/a\") bytes RSS, \(.server.heap_per_call_steady_bytes // \"n/a\") bytes heap; RSS KiB before/peak/after/after \(.server.idle_s) s idle: \(.server.rss_before_kib)/\(.server.rss_peak_kib)/\(.server.rss_after_kib)/\(.server.rss_idle_kib)\"" "$RESULTS")
conc=$(jq -r "select(.label == \"concurrent-$CONC_TARGET\") | \"\(.server.live_max) (\(if .ok then \"no failures\" else \"with failures: \(.failures)\" end))\"" "$RESULTS")
vw_cpu=$(jq -r "select(.label == \"latency-$LAT_RATE\") | .server.cpu_us_per_call // empty" "$RESULTS")
kam_cpu=$(jq -r "select(.label == \"kamailio-$LAT_RATE\") | .cpu_us_per_call // empty" "$RESULTS")
stage ladder && echo "Sustained Call Via Work calls/s (zero failures, POST p99 <= $MAX_POST_P99_MS ms): $BEST (ladder: $LADDER)"
stage kamailio && echo "Kamailio stateful proxy, highest clean rate: $KAM_BEST calls/s (ladder: $KAM_LADDER)"
stage rss && echo "Memory per active call: $rss"
stage concurrent && echo "Largest number of concurrent calls: $conc"
if [ -n "$vw_cpu" ] && [ -n "$kam_cpu" ]; then
    echo "CPU per call at $LAT_RATE/s: ViaWork Call Via Work $vw_cpu µs, Kamailio proxied call $kam_cpu µs, ratio $(printf '%.1f' "$(echo "$vw_cpu / $kam_cpu" | bc -l)")x"
fi
if [ "$KAM_BEST" -gt 0 ] && [ "$BEST" -gt 0 ]; then
    echo "Calls/s ratio, Call Via Work / Kamailio: $(printf '%.2f' "$(echo "$BEST / $KAM_BEST" | bc -l)")"
fi
b2b_cpu=$(jq -r "select(.label == \"b2bua-$LAT_RATE\") | .cpu_us_per_call // empty" "$RESULTS")
stage b2bua && echo "ViaWork plain B2BUA, highest clean rate: $B2BUA_BEST calls/s; CPU per call at $LAT_RATE/s: ${b2b_cpu:-?} µs (Kamailio: ${kam_cpu:-?} µs)"
echo "All runs: $RESULTS"
