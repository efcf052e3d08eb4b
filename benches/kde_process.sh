#!/usr/bin/env bash
# Whole-process benchmark of `hotspots kde` for the QGIS comparison: 1M incidents, 50 m
# cells, 300 m quartic, Kent extent, GeoTIFF out (QGIS 3.22's heatmap: about 13 s for this
# job on this machine; the goal is 50x faster, 0.26 s).
#  1. from the 96 MB CSV (parse, validate, transform, districts, then the surface);
#  2. from a snapshot of the same incidents made once by `hotspots ingest` (read, surface);
#  3. the snapshot with the binned sum.
# Each run is a fresh process, timed from start to exit, with its peak memory.
# Usage: bash benches/kde_process.sh [runs, default 9]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-9}"
cargo build --release --quiet
bin=./target/release/hotspots
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
$bin fixtures generate --seed 99 --count 1000000 --out "$dir/1m.csv" 2>/dev/null
$bin ingest --incidents "$dir/1m.csv" --rejects "$dir/r.csv" --out "$dir/1m.hsnap"
job=(kde --cell-m 50 --bandwidth-m 300 --rejects "$dir/r.csv")
time_runs() {
  local label="$1"
  shift
  local times=() rss=0
  for _ in $(seq 1 "$runs"); do
    /usr/bin/time -f "%e %M" -o "$dir/t" "$@" 2>/dev/null >/dev/null
    read -r secs kb <"$dir/t"
    times+=("$secs")
    rss=$((kb > rss ? kb : rss))
  done
  sorted="$(printf '%s\n' "${times[@]}" | sort -n)"
  echo "$label: fastest $(head -1 <<<"$sorted") s, median $(sed -n "$(((runs + 1) / 2))p" <<<"$sorted") s, peak RSS $((rss / 1024)) MB ($runs runs, $(nproc) cores)"
}
time_runs "kde from CSV" $bin "${job[@]}" --incidents "$dir/1m.csv" --out "$dir/a.tif"
time_runs "kde from snapshot, exact" $bin "${job[@]}" --incidents "$dir/1m.hsnap" --out "$dir/b.tif"
time_runs "kde from snapshot, binned" $bin "${job[@]}" --incidents "$dir/1m.hsnap" --method binned --out "$dir/c.tif"
cmp -s "$dir/a.tif" "$dir/b.tif" && echo "CSV and snapshot surfaces are byte-identical"
