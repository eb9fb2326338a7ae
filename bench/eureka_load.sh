#!/usr/bin/env bash
# Eureka's REST API (issue 20) on one agent: renewals/s through PUT /eureka/apps/<APP>/<id>
# against Consul's heartbeat (PUT /v1/agent/check/pass/<check>) of the same instances with
# the same client (wrk), and GET /eureka/apps and /eureka/apps/delta (time, bytes) at the
# size registered.
#
#   bench/eureka_load.sh BUILD_DIR
#
# Environment: INSTANCES (10000, registered through Eureka's API in 100 apps), RUNS (3),
# DURATION (10s), CONNECTIONS (64), AGENT_FLAGS (extra agent flags). The agent runs -dev.
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
agent=$build/src/cli/concierge
command -v wrk >/dev/null || { echo "installing wrk" >&2; apt-get install -y --no-install-recommends wrk >&2; }

tmp=$(mktemp -d)
agent_pid=
cleanup() {
  [[ -n $agent_pid ]] && { kill "$agent_pid" 2>/dev/null || true; wait "$agent_pid" 2>/dev/null || true; }
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# shellcheck disable=SC2086 # AGENT_FLAGS is a list of flags
"$agent" agent -dev -http-addr "127.0.0.1:$port" -dns-port -1 ${AGENT_FLAGS:-} >/dev/null 2>"$tmp/agent.log" &
agent_pid=$!
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$port/v1/status/leader" && break
  sleep 0.1
done

echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $CONCIERGE_INSTANCES instances;" \
  "wrk -t1 -c$connections -d$duration, $runs runs, medians; agent flags: ${AGENT_FLAGS:-none}"

# Registrations through Eureka's API (4 connections), then the registry's first and second
# fetch (the first encodes, the second is the shared copy).
python3 - "$port" "$CONCIERGE_INSTANCES" <<'PY'
import http.client, json, sys, threading, time
port, n = int(sys.argv[1]), int(sys.argv[2])
def register(ids):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in ids:
        body = json.dumps({"instance": {
            "instanceId": f"web-{i}", "hostName": f"host-{i}", "app": f"WEB-{i % 100}",
            "ipAddr": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", "status": "UP",
            "port": {"$": 8080, "@enabled": "true"}, "vipAddress": f"web-{i % 100}",
            "dataCenterInfo": {"@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
                               "name": "MyOwn"},
            "leaseInfo": {"durationInSecs": 600}, "metadata": {"zone": "z1"}}})
        conn.request("POST", f"/eureka/apps/WEB-{i % 100}", body=body,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status != 204:
            sys.exit(f"register web-{i}: {r.status}")
start = time.monotonic()
threads = [threading.Thread(target=register, args=(range(k + 1, n + 1, 4),)) for k in range(4)]
for t in threads: t.start()
for t in threads: t.join()
s = time.monotonic() - start
print(f"register through /eureka/apps/<APP>: {n} in {s:.1f} s ({n / s:.0f}/s, 4 connections)")
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
def get(path, accept, gzip, label):
    headers = {"Accept": accept}
    if gzip: headers["Accept-Encoding"] = "gzip"
    start = time.monotonic()
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    ms = (time.monotonic() - start) * 1000
    print(f"GET {path:20s} {accept:16s}{' gzip' if gzip else '     '} {label:14s}: "
          f"{ms:8.1f} ms {len(body):>12,} bytes")
for path in ("/eureka/apps", "/eureka/apps/delta"):
    for accept, gzip in (("application/json", False), ("application/json", True),
                         ("application/xml", False)):
        for label in ("first", "again"):
            get(path, accept, gzip, label)
# One change (a status override): the registry is encoded again, from the records' shared
# encodings but the changed one.
conn.request("PUT", "/eureka/apps/WEB-1/web-1/status?value=OUT_OF_SERVICE")
r = conn.getresponse()
r.read()
assert r.status == 200, r.status
for accept in ("application/json", "application/xml"):
    for label in ("after 1 change", "again"):
        get("/eureka/apps", accept, False, label)
PY

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() {
  local label=$1 script=$2
  : >"$tmp/$label.all"
  for i in $(seq "$runs"); do
    wrk -t1 -c"$connections" -d"$duration" --latency -s "$script" "http://127.0.0.1:$port" >"$tmp/wrk.out"
    local rps p99 bad
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.out")
    p99=$(awk '$1 == "99%" {print $2}' "$tmp/wrk.out")
    bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$tmp/wrk.out")
    printf '%-22s run %d: %10.0f req/s   p99 %s%s\n' "$label" "$i" "$rps" "$p99" "${bad:+  ($bad non-2xx: invalid)}"
    [[ -z $bad ]] || { cat "$tmp/wrk.out" >&2; exit 1; }
    echo "$rps" >>"$tmp/$label.all"
  done
  echo "$label median: $(median <"$tmp/$label.all") req/s"
}
# Alternated, so that both see the same machine.
measure "eureka renewals" "$here/eureka_renew.lua"
measure "consul heartbeats" "$here/heartbeat.lua"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
