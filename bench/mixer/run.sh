#!/usr/bin/env bash
# Conference mixer load benchmark: for each K in the ladder, K conferences of 10 participants,
# each a real UDP socket on loopback sending G.711 µ-law every 20 ms (3 talkers per
# conference), against the media engine's conferences. Prints a table: tick lateness
# (max, worst conference's p99), ticks later than 5 ms, skipped ticks, frames missing at the
# phones, the engine's CPU, and the load average. A step passes with no tick later than 5 ms
# and no frame dropped; the ladder stops at the first step that fails twice.
#
#   bench/mixer/run.sh                        # ladder "20 50 100 150 200 250 300", 10 s each
#   LADDER="10 20" SECS=5 bench/mixer/run.sh  # a quick check
#
# Knobs (environment):
#   LADDER         conferences per step (participants = 10 x K)
#   SECS           measured seconds per step (default 10), after WARMUP (default 3)
#   THREADS        engine tokio worker threads (default 2: "mixed on two cores")
#   MIXING_THREADS, MIXING_PRIORITY
#                  the engine's mixing threads and their priority (normal, high, realtime);
#                  unset: the engine's defaults (one per core up to 4, realtime)
#   ENGINE_CPUS    cpu list for the engine process (taskset), e.g. "0,1"; PHONE_CPUS for the
#                  phones, e.g. "2,3". Unset: both share the machine (on a 2-core machine
#                  the phones' own cost is then part of what the engine competes with)
#   WORK           where logs and JSON go (default a new /tmp dir)
#   LOAD_TARGET    target dir for the harness build (default <repo>/target/bench-mixer)
# Everything runs on loopback; both processes are started here, bounded by `timeout`, and
# waited for (or stopped) by PID.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/bench/mixer
WORK=${WORK:-$(mktemp -d /tmp/viawork-bench-mixer.XXXXXX)}
LADDER=${LADDER:-"20 50 100 150 200 250 300"}
SECS=${SECS:-10}
WARMUP=${WARMUP:-3}
THREADS=${THREADS:-2}
MIXING_THREADS=${MIXING_THREADS:-}
MIXING_PRIORITY=${MIXING_PRIORITY:-}
MIXING_ARGS=()
[[ -n $MIXING_THREADS ]] && MIXING_ARGS+=(--mixing-threads "$MIXING_THREADS")
[[ -n $MIXING_PRIORITY ]] && MIXING_ARGS+=(--mixing-priority "$MIXING_PRIORITY")
LOAD_TARGET=${LOAD_TARGET:-$ROOT/target/bench-mixer}
mkdir -p "$WORK"

echo "building mixer-load (release)..." >&2
CARGO_TARGET_DIR=$LOAD_TARGET cargo build --release --quiet --manifest-path "$BENCH/Cargo.toml"
BIN=$LOAD_TARGET/release/mixer-load

pin() { # pin CPUS cmd...
    local cpus=$1; shift
    if [[ -n $cpus ]]; then taskset -c "$cpus" "$@"; else "$@"; fi
}

json() { # json FILE KEY
    sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1"
}

run_step() { # run_step K TRY -> 0 if it passed
    local k=$1 try=$2
    local ports=$WORK/ports-$k-$try eng=$WORK/engine-$k-$try.json ph=$WORK/phones-$k-$try.json
    rm -f "$ports"
    pin "${ENGINE_CPUS:-}" timeout $((WARMUP + SECS + 60)) "$BIN" engine --conferences "$k" \
        --threads "$THREADS" "${MIXING_ARGS[@]}" --warmup "$WARMUP" --secs "$SECS" --ports "$ports" \
        >"$eng" 2>"$WORK/engine-$k-$try.err" &
    local epid=$!
    local deadline=$((SECONDS + 60))
    while [[ ! -s $ports ]]; do
        if ! kill -0 "$epid" 2>/dev/null || ((SECONDS > deadline)); then
            echo "engine did not start (see $WORK/engine-$k-$try.err)" >&2
            kill "$epid" 2>/dev/null || true
            return 1
        fi
        sleep 0.1
    done
    # The phones outlast the engine's warm-up and measured window by a second.
    pin "${PHONE_CPUS:-}" timeout $((WARMUP + SECS + 30)) "$BIN" phones --ports "$ports" \
        --secs $((WARMUP + SECS + 1)) >"$ph" 2>"$WORK/phones-$k-$try.err" &
    local ppid=$!
    wait "$epid" || { echo "engine failed (see $WORK/engine-$k-$try.err)" >&2; kill "$ppid" 2>/dev/null || true; return 1; }
    wait "$ppid" || { echo "phones failed (see $WORK/phones-$k-$try.err)" >&2; return 1; }
    local load
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    local parts late p99 p99m over skipped sdrop cores gaps recv
    parts=$(json "$eng" participants); late=$(json "$eng" late_max_ms)
    p99=$(json "$eng" late_p99_worst_ms); p99m=$(json "$eng" late_p99_median_ms)
    over=$(json "$eng" late_over_5ms); skipped=$(json "$eng" skipped)
    sdrop=$(json "$eng" send_dropped); cores=$(json "$eng" cpu_cores)
    gaps=$(json "$ph" gaps_in_window); recv=$(json "$ph" received_in_window)
    printf "%6s %12s %9s %11s %12s %9s %8s %10s %9s %11s %10s  %s\n" \
        "$k" "$parts" "$late" "$p99" "$p99m" "$over" "$skipped" "$sdrop" "$gaps" "$recv" "$cores" "$load"
    [[ $over == 0 && $skipped == 0 && $sdrop == 0 && $gaps == 0 ]] && awk "BEGIN{exit !($late <= 5.0)}"
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(nproc) cores, THREADS=$THREADS MIXING_THREADS=${MIXING_THREADS:-default} MIXING_PRIORITY=${MIXING_PRIORITY:-default} SECS=$SECS WARMUP=$WARMUP ENGINE_CPUS=${ENGINE_CPUS:-all} PHONE_CPUS=${PHONE_CPUS:-all}"
printf "%6s %12s %9s %11s %12s %9s %8s %10s %9s %11s %10s  %s\n" \
    confs participants late_max late_p99_max late_p99_med "late>5ms" skipped send_drop gaps received cpu_cores "load(1,5,15)"
best=0
for k in $LADDER; do
    if run_step "$k" 1 || run_step "$k" 2; then
        best=$((k * 10))
    else
        break
    fi
done
echo "largest participant count with no tick later than 5 ms and no dropped frame: $best"
echo "command: LADDER=\"$LADDER\" SECS=$SECS WARMUP=$WARMUP THREADS=$THREADS MIXING_THREADS=$MIXING_THREADS MIXING_PRIORITY=$MIXING_PRIORITY ENGINE_CPUS=${ENGINE_CPUS:-} PHONE_CPUS=${PHONE_CPUS:-} bench/mixer/run.sh"
echo "logs and JSON: $WORK" >&2
