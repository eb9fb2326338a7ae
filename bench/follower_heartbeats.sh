#!/usr/bin/env bash
# Heartbeats through a follower against heartbeats sent to the leader, in one 3-server
# cluster on loopback (durable servers, temporary data directories).
#
#   bench/follower_heartbeats.sh CONCIERGE_BINARY
#
# Registers INSTANCES instances (each with a 30 s TTL check) and heartbeats each once, then
# runs `wrk -t1 -cCONNECTIONS -dDURATION -s bench/heartbeat.lua` RUNS times against the
# leader and against a follower, alternating, and prints the medians, with the CPU time the
# three servers spent per heartbeat (steadier than req/s on shared cores). Environment: RUNS (3),
# DURATION (5s), CONNECTIONS (16), INSTANCES (2000).
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 CONCIERGE_BINARY" >&2
  exit 2
fi
agent=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
runs=${RUNS:-3}
duration=${DURATION:-5s}
connections=${CONNECTIONS:-16}
export CONCIERGE_INSTANCES=${INSTANCES:-2000}
command -v wrk >/dev/null || apt-get install -y --no-install-recommends wrk >&2

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r -a ports < <(python3 -c '
import random, socket
ports = set()
while len(ports) < 6:
    p = random.randrange(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); ports.add(p)
    except OSError:
        pass
    finally:
        s.close()
print(*ports)')
for i in 0 1 2; do
  "$agent" agent -node "n$i" -data-dir "$tmp/n$i" -http-addr "127.0.0.1:${ports[2 * i]}" \
    -server-port "${ports[2 * i + 1]}" -dns-port -1 -bootstrap-expect 3 \
    -join "127.0.0.1:${ports[0]}" 2>"$tmp/n$i.log" >/dev/null &
  pids+=($!)
done

# The leader's and a follower's HTTP port, once the three agree on a leader.
read -r leader follower < <(python3 - "${ports[@]}" <<'PY'
import json, sys, time, urllib.request
ports = [int(p) for p in sys.argv[1:]]
http = ports[0::2]
raft = {"127.0.0.1:%d" % r: h for h, r in zip(http, ports[1::2])}
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    seen = set()
    for h in http:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/v1/status/leader" % h, timeout=2) as r:
                seen.add(json.load(r))
        except OSError:
            seen.add(None)
    if len(seen) == 1 and None not in seen and "" not in seen:
        leader = raft[seen.pop()]
        print(leader, [h for h in http if h != leader][0])
        sys.exit(0)
    time.sleep(0.2)
sys.exit("no leader within 30 s")
PY
)

python3 - "$leader" "$CONCIERGE_INSTANCES" <<'PY'
import http.client, json, sys, time
from concurrent.futures import ThreadPoolExecutor
port, n = int(sys.argv[1]), int(sys.argv[2])
def register(chunk):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in chunk:
        conn.request("PUT", "/v1/agent/service/register", json.dumps(
            {"ID": f"web-{i}", "Name": "web", "Port": 8080, "Check": {"TTL": "30s"}}))
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            sys.exit(f"register web-{i}: {r.status}")
start = time.monotonic()
with ThreadPoolExecutor(16) as pool:
    list(pool.map(register, [range(k + 1, n + 1, 16) for k in range(16)]))
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
conn.request("PUT", "/v1/concierge/heartbeats",
             json.dumps({"Checks": [f"service:web-{i}" for i in range(1, n + 1)]}))
r = conn.getresponse()
body = json.loads(r.read())
if r.status != 200 or set(body["Results"]) != {200}:
    sys.exit(f"first heartbeats: {r.status} {body}")
print(f"registered {n} instances in {time.monotonic() - start:.1f} s")
PY

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# CPU time of the three servers together (user + system, clock ticks), from /proc: through a
# follower a heartbeat costs the follower's work and its share of the leader's batch.
cluster_ticks() {
  local t=0 pid
  for pid in "${pids[@]}"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done
  echo "$t"
}
echo "wrk -t1 -c$connections -d$duration, $runs runs each, alternating; $(nproc) cores," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$tmp/leader.all"
: >"$tmp/follower.all"
: >"$tmp/leader.cpu"
: >"$tmp/follower.cpu"
for i in $(seq "$runs"); do
  for label in leader follower; do
    port=${!label}
    before=$(cluster_ticks)
    wrk -t1 -c"$connections" -d"$duration" --latency -s "$here/heartbeat.lua" \
      "http://127.0.0.1:$port" >"$tmp/wrk.out"
    after=$(cluster_ticks)
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.out")
    p99=$(awk '$1 == "99%" {print $2}' "$tmp/wrk.out")
    bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$tmp/wrk.out")
    cpu=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" \
      '/requests in/ {printf "%.1f", t / hz * 1e6 / $1}' "$tmp/wrk.out")
    printf '%-8s run %d: %8.0f heartbeats/s  p99 %s  cluster CPU %s us/heartbeat  load %s%s\n' \
      "$label" "$i" "$rps" "$p99" "$cpu" "$(cut -d' ' -f1 /proc/loadavg)" \
      "${bad:+  ($bad non-2xx: invalid)}"
    [[ -z $bad ]] && echo "$rps" >>"$tmp/$label.all" && echo "$cpu" >>"$tmp/$label.cpu"
  done
done
l=$(median <"$tmp/leader.all")
f=$(median <"$tmp/follower.all")
echo
printf 'to the leader:      %8.0f heartbeats/s (median)\n' "$l"
printf 'through a follower: %8.0f heartbeats/s (median)\n' "$f"
awk -v f="$f" -v l="$l" 'BEGIN {printf "follower / leader:  %8.2f\n", f / l}'
lc=$(median <"$tmp/leader.cpu")
fc=$(median <"$tmp/follower.cpu")
printf 'cluster CPU per heartbeat: %s us to the leader, %s us through a follower (%s)\n' "$lc" \
  "$fc" "$(awk -v f="$fc" -v l="$lc" 'BEGIN {printf "%.2fx", f / l}')"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
