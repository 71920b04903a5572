#!/usr/bin/env bash
# Generates the conference bridge's prompts as G.711 µ-law (8 kHz, mono, headerless .ul)
# from crates/viawork/prompts/<lang>.txt with espeak-ng and sox, into
# crates/viawork/prompts/<lang>/. The output is committed: the build does not run this.
# Usage: scripts/make-prompts.sh [lang ...]   (default: every prompts/*.txt)
set -euo pipefail
cd "$(dirname "$0")/../crates/viawork/prompts"
for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null || { echo "needs $tool: apt-get install -y espeak-ng sox" >&2; exit 1; }
done
langs=("$@")
[ ${#langs[@]} -gt 0 ] || langs=($(ls *.txt | sed 's/\.txt$//'))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for lang in "${langs[@]}"; do
    voice=$(echo "$lang" | tr 'A-Z' 'a-z')
    mkdir -p "$lang"
    while IFS='|' read -r name text; do
        [[ -z "$name" || "$name" == \#* ]] && continue
        espeak-ng -v "$voice" -s 150 -w "$tmp/$name.wav" "$text"
        # 8 kHz µ-law, peaks at -3 dBFS, 150 ms of silence after the words; no dither (-D), so
        # the same text gives the same bytes.
        sox -D "$tmp/$name.wav" -r 8000 -c 1 -e u-law -t ul "$lang/$name.ul" norm -3 pad 0 0.15
    done < "$lang.txt"
    # The tone before a name recording: 400 ms of 1000 Hz.
    sox -D -n -r 8000 -c 1 -e u-law -t ul "$lang/beep.ul" synth 0.4 sine 1000 vol 0.5
    echo "$lang: $(ls "$lang" | wc -l) prompts"
done
