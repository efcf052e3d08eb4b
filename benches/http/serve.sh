# Sourced by benches/http.sh and benches/load.sh: builds the release binary, starts
# `hotspots serve` on the embedded default data at ${BIND:-127.0.0.1:0}, waits until it
# listens, and sets $addr (http://HOST:PORT) and $pid; the server is killed on exit.
cargo build --release --quiet
log="$(mktemp)"
./target/release/hotspots serve --bind "${BIND:-127.0.0.1:0}" --rejects /dev/null 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 240); do
  addr="$(sed -n 's/^listening on //p' "$log")"
  [ -n "$addr" ] && break
  sleep 0.5
done
[ -n "$addr" ] || { cat "$log"; echo "server did not start"; exit 1; }
