#!/usr/bin/env bash
# HTTP benchmark of `hotspots serve` on loopback with wrk (Debian package `wrk`):
#  1. hotspot items (/collections/hotspots/items: the default page of 10 features, and
#     pages of 100), 64 connections, with and without gzip; target p99 <= 5 ms;
#  2. vector tiles over Kent and Medway, zooms 8-14, four layers, 64 connections, after
#     one warming pass; target >= 20,000 tiles/s on 2 cores.
# Usage: bash benches/http.sh [seconds per run, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 2; }
. benches/http/serve.sh
echo "server at $addr ($(nproc) cores; wrk uses one thread of them)"
for q in "" "?limit=100"; do
  curl -s -o /dev/null "$addr/collections/hotspots/items$q"
  echo "== hotspot items$q, 64 connections, gzip"
  wrk -t1 -c64 -d"${secs}s" --latency -H "Accept-Encoding: gzip" "$addr/collections/hotspots/items$q"
  echo "== hotspot items$q, 64 connections, uncompressed"
  wrk -t1 -c64 -d"${secs}s" --latency "$addr/collections/hotspots/items$q"
done
echo "== vector tiles: warming pass"
wrk -t1 -c64 -d"${secs}s" -s benches/http/tiles.lua "$addr" | grep -E "Requests/sec|distinct"
echo "== vector tiles, warm, 64 connections, gzip"
wrk -t1 -c64 -d"${secs}s" --latency -s benches/http/tiles.lua "$addr"
