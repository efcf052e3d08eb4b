#!/usr/bin/env bash
# The nightly refresh and the service on its output, whole processes, on generated data:
#   bash benches/refresh.sh [RUNS] [COUNTS...]     (defaults: 3 runs; 200000 1000000 incidents)
# For each size: `hotspots refresh` from an ingested snapshot (.hsnap) — fastest and median
# wall time and peak RSS — then `serve --layers` on the result: time from start to the first
# answer of /collections/grip/items.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
shift || true
COUNTS=("${@:-200000 1000000}")
cargo build --release -q
H=$PWD/target/release/hotspots
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
for n in ${COUNTS[@]}; do
  "$H" fixtures generate --seed 7 --count "$n" --out "$W/f$n.csv" 2>/dev/null
  "$H" ingest --incidents "$W/f$n.csv" --rejects /dev/null --out "$W/f$n.hsnap" 2>/dev/null
  times=()
  for r in $(seq 1 "$RUNS"); do
    sleep 1.1  # a new run id each time
    /usr/bin/time -f "%e %M" -o "$W/t" "$H" refresh --incidents "$W/f$n.hsnap" --rejects /dev/null \
      --out "$W/pub$n" --force --retain 2 2>/dev/null
    times+=("$(cat "$W/t")")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v n="$n" '{t[NR]=$1; m[NR]=$2} END {
    printf "refresh %d incidents: fastest %.2f s, median %.2f s, peak RSS %.0f MB\n", n, t[1], t[int((NR+1)/2)], m[NR]/1024 }'
  port=$((18900 + RANDOM % 500))
  start=$(date +%s.%N)
  "$H" serve --layers "$W/pub$n" --bind 127.0.0.1:$port >/dev/null 2>&1 &
  pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port/collections/grip/items"; do sleep 0.01; done
  end=$(date +%s.%N)
  kill $pid; wait $pid 2>/dev/null || true
  echo "serve --layers $n incidents: first answer after $(echo "$end - $start" | bc -l | cut -c1-5) s"
done
