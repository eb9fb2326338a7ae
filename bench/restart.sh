#!/usr/bin/env bash
# Durable registrations/s and restart time with many registered instances (issue 4).
#   bench/restart.sh BUILD_DIR [SECONDS]
# Registers instances with wrk (64 keep-alive connections, one new instance per request)
# for SECONDS (default 30) against a fresh durable agent (single-voter Raft), then kills it
# with SIGKILL and restarts it, timing how long until every instance is back.
set -euo pipefail
build=${1:?usage: bench/restart.sh BUILD_DIR [SECONDS]}
seconds=${2:-30}
bin="$build/src/cli/concierge"
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$dir"' EXIT
command -v wrk > /dev/null || apt-get install -y -qq --no-install-recommends wrk > /dev/null

start() {  # start LOG -> sets pid and port
  "$bin" agent -data-dir "$dir/data" -http-addr 127.0.0.1:0 -server-port 0 -dns-port -1 \
      > "$1" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    port=$(grep -o 'http://127.0.0.1:[0-9]*' "$1" 2>/dev/null | head -1 | cut -d: -f3 || true)
    [ -n "$port" ] && return 0
    sleep 0.05
  done
  echo "agent did not start" >&2
  exit 1
}
count() {
  curl -s "127.0.0.1:$port/v1/agent/self" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Stats"]["registry"]["instances"])'
}

start "$dir/agent1.log"
wrk -t1 -c64 -d"${seconds}s" -s "$here/register.lua" "http://127.0.0.1:$port" > "$dir/wrk.txt"
n=$(count)
rps=$(awk '/Requests\/sec/ {print $2}' "$dir/wrk.txt")
echo "registered: $n instances in ${seconds}s  (wrk: $rps registrations/s)"
du -sh "$dir/data/raft" | awk '{print "raft dir on disk: " $1}'
ls "$dir/data/raft" | grep -c snapshot | awk '{print "snapshot files: " $1}'
kill -9 $pid
wait $pid 2>/dev/null || true

t0=$(date +%s.%N)
start "$dir/agent2.log"
until [ "$(count 2>/dev/null || echo 0)" = "$n" ]; do sleep 0.01; done
t1=$(date +%s.%N)
echo "restart after kill -9: $(python3 -c "print(round(($t1-$t0)*1000))") ms until all $n instances were back"
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
echo "agent RSS after restart: $((rss / 1024)) MiB ($(( rss * 1024 / n )) bytes per instance)"
