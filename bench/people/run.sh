#!/usr/bin/env bash
# People search benchmark: 100,000 synthetic users (crates/viawork/benches/support/
# people_data.rs), 100,000 searches of a mix of query kinds, p50/p90/p99/p99.9/max per kind,
# the index build time and memory, and (with RELOAD=1, the default) the time a full load
# from SQLite takes through people::Directory. Then, with CRITERION=1, the criterion means.
# Everything is in-process; the harness stops itself after 100,000 searches or 120 s.
#
#   bench/people/run.sh
#   RELOAD=0 bench/people/run.sh        # search only
#   CRITERION=1 bench/people/run.sh     # also the criterion bench (several minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."
args=()
if [ "${RELOAD:-1}" = 1 ]; then args=(-- --reload); fi
timeout 1800 cargo bench -p viawork --bench people_search_p99 "${args[@]}"
if [ "${CRITERION:-0}" = 1 ]; then
    timeout 3600 cargo bench -p viawork --bench people_search
fi
