#!/usr/bin/env bash
# Load test of `hotspots serve` from a cold start (issue 17): wrk, 256 connections for 60 s
# over item pages, vector tiles and heatmap tiles (benches/http/mixed.lua), right after the
# service starts on the embedded default data. Reports wrk's latency distribution and
# errors (socket errors, non-2xx answers), and the server's resident memory every 5 s:
# after warm-up it should stay flat.
# Usage: [BIND=127.0.0.1:PORT] bash benches/load.sh [seconds, default 60] [connections, default 256]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
conns="${2:-256}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 2; }
. benches/http/serve.sh
echo "server at $addr ($(nproc) cores, shared with wrk), RSS at start $(ps -o rss= -p $pid) KB"
(
  for _ in $(seq 5 5 "$secs"); do
    sleep 5
    echo "  RSS $(ps -o rss= -p $pid) KB, connections $(ls /proc/$pid/fd | wc -l) fds"
  done
) &
sampler=$!
wrk -t2 -c"$conns" -d"${secs}s" --timeout 10s --latency -s benches/http/mixed.lua "$addr"
wait $sampler || true
echo "after: RSS $(ps -o rss= -p $pid) KB; a normal request: $(curl -s -o /dev/null -w '%{http_code} in %{time_total}s' "$addr/collections/hotspots/items")"
