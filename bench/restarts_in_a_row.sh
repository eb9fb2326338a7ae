#!/usr/bin/env bash
# Restarts after kill -9, K times in a row on one data directory (a crash loop), with N
# instances registered (100 per service) before the first: each restart replays the log
# since the last snapshot, including the elections of the restarts before it.
#   bench/restarts_in_a_row.sh BUILD_DIR [N] [K]     (default 1,000,000 instances, 5 restarts)
# Prints the time of each restart until /v1/agent/self counts every instance again.
set -euo pipefail
build=${1:?usage: bench/restarts_in_a_row.sh BUILD_DIR [N] [K]}
n=${2:-1000000}
k=${3:-5}
dir=$(mktemp -d)
pid=
port=0
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$dir"' EXIT

start() {
  "$build/src/cli/concierge" agent -data-dir "$dir/data" -http-addr "127.0.0.1:$port" \
      -server-port 0 -dns-port -1 > "$dir/log" 2>&1 &
  pid=$!
}
count() {
  curl -s "127.0.0.1:$port/v1/agent/self" 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["Stats"]["registry"]["instances"])' \
      2>/dev/null || true
}

start
for _ in $(seq 1 200); do
  port=$(grep -o 'http://127.0.0.1:[0-9]*' "$dir/log" 2>/dev/null | head -1 | cut -d: -f3 || true)
  [ -n "$port" ] && grep -q leader "$dir/log" && break
  sleep 0.05
done
"$build/bench/loadgen" register --addr "127.0.0.1:$port" --n "$n" --per-service 100 --conns 64 \
    --depth 1 --ttl 3600 > /dev/null
sleep 2
for r in $(seq 1 "$k"); do
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  t0=$(date +%s.%N)
  start
  until [ "$(count)" = "$n" ]; do sleep 0.05; done
  echo "restart $r: $(python3 -c "import time; print(round(time.time() - $t0, 2))") s"
  sleep 1
done
