#!/usr/bin/env bash
# Heartbeat throughput of the agent against the floor (bench/trivial_server), over loopback.
#
#   bench/heartbeat_load.sh BUILD_DIR
#
# Builds nothing: BUILD_DIR must hold bench/trivial_server and src/cli/concierge. Runs
# `wrk -t1 -c64 -d10s` RUNS times (median) against the trivial server and then against
# `concierge agent -dev` with INSTANCES registered TTL checks, both driven by
# bench/heartbeat.lua, and prints req/s, the ratio to the floor and p99 latencies.
# Environment: RUNS (3), DURATION (10s), CONNECTIONS (64), INSTANCES (10000), AGENT_FLAGS
# (extra agent flags, e.g. "-workers 1" to give it the floor's one I/O thread; with
# "-acl-enabled" the heartbeats carry a management token).
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
runs=${RUNS:-3}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-64}
export CONCIERGE_INSTANCES=${INSTANCES:-10000}
trivial=$build/bench/trivial_server
agent=$build/src/cli/concierge
lua=$here/heartbeat.lua

if [[ ! -x $trivial ]]; then
  echo "$trivial not found: build it with ninja -C $build trivial_server" >&2
  exit 2
fi
if ! command -v wrk >/dev/null; then
  echo "installing wrk" >&2
  apt-get install -y --no-install-recommends wrk >&2
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until something answers HTTP on 127.0.0.1:$1 while process $2 lives.
wait_http() {
  for _ in $(seq 100); do
    kill -0 "$2" 2>/dev/null || return 1
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/v1/status/leader" || true)
    [[ $code != 000 ]] && return 0
    sleep 0.1
  done
  return 1
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Runs wrk RUNS times against 127.0.0.1:$2 and prints "<label> run i: ..." lines; leaves the
# medians of req/s and p99 (ms) in $tmp/$1.rps and $tmp/$1.p99.
measure() {
  local label=$1 port=$2
  : >"$tmp/$label.rps-all"
  : >"$tmp/$label.p99-all"
  for i in $(seq "$runs"); do
    wrk -t1 -c"$connections" -d"$duration" --latency -s "$lua" "http://127.0.0.1:$port" \
      >"$tmp/wrk.out"
    local rps p99 errors
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.out")
    p99=$(awk '$1 == "99%" {v=$2; u=v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                 f = (u == "us") ? 0.001 : (u == "s") ? 1000 : 1; print v * f}' "$tmp/wrk.out")
    errors=$(awk '/Non-2xx or 3xx responses:/ {n=$NF} /Socket errors:/ {s=$0} END {
                 if (n) print n " non-2xx"; if (s) print s}' "$tmp/wrk.out")
    printf '%-8s run %d: %10.0f req/s   p99 %7.3f ms%s\n' "$label" "$i" "$rps" "$p99" \
      "${errors:+  ($errors)}"
    if [[ -n $errors ]]; then
      cat "$tmp/wrk.out" >&2
      echo "$label: errors during the run; the numbers are not valid" >&2
      if [[ -n ${agent_pid:-} ]]; then
        kill -0 "$agent_pid" 2>/dev/null || echo "the agent is not running any more" >&2
        echo "the agent's log, last lines:" >&2
        tail -20 "$tmp/agent.log" >&2
      fi
      exit 1
    fi
    echo "$rps" >>"$tmp/$label.rps-all"
    echo "$p99" >>"$tmp/$label.p99-all"
  done
  median <"$tmp/$label.rps-all" >"$tmp/$label.rps"
  median <"$tmp/$label.p99-all" >"$tmp/$label.p99"
}

echo "wrk -t1 -c$connections -d$duration --latency -s bench/heartbeat.lua, $runs runs, medians;" \
  "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); agent flags: ${AGENT_FLAGS:-none}"

# The floor.
"$trivial" --port 0 >"$tmp/trivial.out" &
pids+=($!)
for _ in $(seq 50); do
  grep -q '^listening on' "$tmp/trivial.out" && break
  sleep 0.1
done
floor_port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/trivial.out")
[[ -n $floor_port ]] || { echo "trivial_server did not start" >&2; exit 1; }
measure floor "$floor_port"
kill "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null || true
unset 'pids[-1]'

if [[ ! -x $agent ]]; then
  echo "floor: $(cat "$tmp/floor.rps") req/s, p99 $(cat "$tmp/floor.p99") ms"
  echo "$agent not found: build it with ninja -C $build concierge" >&2
  exit 1
fi

# The agent, with INSTANCES instances of service "web", each with a TTL check.
port=$(free_port)
# shellcheck disable=SC2086 # AGENT_FLAGS is a list of flags
"$agent" agent -dev -http-addr "127.0.0.1:$port" ${AGENT_FLAGS:-} >"$tmp/agent.out" \
  2>"$tmp/agent.log" &
agent_pid=$!
pids+=("$agent_pid")
if ! wait_http "$port" "$agent_pid"; then
  echo "the agent did not answer on 127.0.0.1:$port; its log:" >&2
  tail -20 "$tmp/agent.log" >&2
  exit 1
fi
# With -acl-enabled in AGENT_FLAGS (-dev: default allow), the heartbeats carry the bootstrap
# (management) token, so each one pays the token's SHA-256 and lookup.
if [[ " ${AGENT_FLAGS:-} " == *" -acl-enabled "* ]]; then
  CONCIERGE_TOKEN=$(curl -s -X PUT "http://127.0.0.1:$port/v1/acl/bootstrap" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["SecretID"])')
  export CONCIERGE_TOKEN
fi
# One keep-alive connection; every answer must be 200. The first heartbeat of each check
# turns it from critical (Consul's initial TTL status) to passing, so it is sent here and
# the measured runs see passing checks only.
python3 - "$port" "$CONCIERGE_INSTANCES" <<'PY'
import http.client, json, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
def put(path, body=None):
    conn.request("PUT", path, body=body, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit(f"PUT {path}: {r.status} {data[:200]!r}")
for phase, path, body in (
        ("register", "/v1/agent/service/register",
         lambda i: json.dumps({"ID": f"web-{i}", "Name": "web", "Port": 8080,
                               "Check": {"TTL": "30s"}})),
        ("first heartbeat (critical -> passing)", None, None)):
    start = time.monotonic()
    for i in range(1, n + 1):
        if path:
            put(path, body(i))
        else:
            put(f"/v1/agent/check/pass/service:web-{i}")
    s = time.monotonic() - start
    print(f"agent: {phase}: {n} in {s:.2f} s ({n / s:.0f}/s, one connection)")
PY
measure agent "$port"
if ! kill -0 "$agent_pid" 2>/dev/null; then
  echo "the agent exited during the runs; its log:" >&2
  tail -20 "$tmp/agent.log" >&2
  exit 1
fi

floor=$(cat "$tmp/floor.rps")
beats=$(cat "$tmp/agent.rps")
echo
printf 'floor (trivial_server):  %10.0f req/s         p99 %7.3f ms\n' "$floor" "$(cat "$tmp/floor.p99")"
printf 'agent heartbeats:        %10.0f heartbeats/s  p99 %7.3f ms\n' "$beats" "$(cat "$tmp/agent.p99")"
awk -v a="$beats" -v f="$floor" 'BEGIN {printf "ratio agent/floor:       %10.2f\n", a / f}'
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
