#!/usr/bin/env bash
# Bounded fuzzing of the parsers with libFuzzer (cargo-fuzz). Each target runs for
# FUZZ_SECONDS (default 30) starting from the seed corpus (RFC 4475 messages and more).
# Installs cargo-fuzz when missing. On a stable toolchain RUSTC_BOOTSTRAP=1 lets
# cargo-fuzz use the sanitizer flags it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-30}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1
cd fuzz
for target in parse_message parse_sdp; do
  corpus="target/corpus/$target"
  mkdir -p "$corpus"
  seed="corpus_seed/$target"
  [ -d "$seed" ] || seed=""
  echo "== fuzz $target for ${secs}s"
  cargo fuzz run "$target" "$corpus" $seed -- -max_total_time="$secs" -max_len=4096 -print_final_stats=1 2>&1 \
    | grep -E '^(#[0-9]+ +DONE|Done|stat::number_of_executed_units|==[0-9]+== ERROR|SUMMARY)' || true
  # cargo fuzz exits non-zero on a crash; PIPESTATUS keeps that visible.
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz.sh: $target found a crash (see fuzz/artifacts/$target)"; exit 1; }
done
