#!/usr/bin/env bash
# DNS load: dnsperf against the agent and, in the same run, against NSD serving an equivalent
# static zone (N A records for web.service.consul, rotated per answer like ours). Same client,
# same concurrency, same query file; RUNS runs each, median queries/s, and the ratio.
#
#   bench/dns_load.sh [path/to/concierge]
#
# The server under test gets one core (taskset -c 0, one worker / one NSD server process);
# dnsperf gets the other (taskset -c 1). Needs dnsperf, nsd and curl (Debian packages); NSD
# is started on loopback from a temp dir and stopped by PID, never as a system service.
# Environment: INSTANCES (100), SECONDS_PER_RUN (10), RUNS (3), CLIENTS (4), OUTSTANDING
# (100), QTYPE (A), EDNS (1: dnsperf -e, so that all N records fit in one UDP answer).
set -euo pipefail

BIN=${1:-${CONCIERGE_BIN:-build/src/cli/concierge}}
INSTANCES=${INSTANCES:-100}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
RUNS=${RUNS:-3}
CLIENTS=${CLIENTS:-4}
OUTSTANDING=${OUTSTANDING:-100}
QTYPE=${QTYPE:-A}
EDNS=${EDNS:-1}

for tool in dnsperf nsd curl taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install dnsperf nsd curl)"; exit 1; }
done
[[ -x $BIN ]] || { echo "no concierge binary at $BIN"; exit 1; }

SERVER_CPU=0
CLIENT_CPU=1
if [[ $(nproc) -lt 2 ]]; then CLIENT_CPU=0; fi

WORK=$(mktemp -d /tmp/dns-load.XXXXXX)
AGENT_PID=""
NSD_PID=""
cleanup() {
  [[ -n $AGENT_PID ]] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null || true
  [[ -n $NSD_PID ]] && kill "$NSD_PID" 2>/dev/null && wait "$NSD_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
t = socket.socket(); t.bind(("127.0.0.1", u.getsockname()[1])); print(u.getsockname()[1])'
}

echo "web.service.consul $QTYPE" >"$WORK/queries.txt"
PERF_FLAGS=(-l "$SECONDS_PER_RUN" -c "$CLIENTS" -q "$OUTSTANDING" -T 1 -d "$WORK/queries.txt")
[[ $EDNS == 1 ]] && PERF_FLAGS+=(-e)

# One dnsperf run; prints queries/s.
perf() {
  local port=$1
  taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$port" "${PERF_FLAGS[@]}" >"$WORK/perf.out" 2>&1
  if ! grep -q "Queries per second" "$WORK/perf.out"; then cat "$WORK/perf.out" >&2; exit 1; fi
  local lost
  lost=$(awk '/Queries lost:/ {print $3}' "$WORK/perf.out")
  [[ $lost == 0 ]] || echo "  (lost $lost queries)" >&2
  awk '/Queries per second:/ {printf "%d\n", $4}' "$WORK/perf.out"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# --- the agent ---
taskset -c "$SERVER_CPU" "$BIN" agent -dev -http-addr 127.0.0.1:0 -dns-port 0 -workers 1 \
  -node bench 2>"$WORK/agent.log" &
AGENT_PID=$!
for _ in $(seq 100); do
  grep -q "DNS listening" "$WORK/agent.log" && break
  sleep 0.1
done
HTTP_PORT=$(sed -n 's/.*HTTP API listening on http:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$WORK/agent.log")
DNS_PORT=$(sed -n 's/.*DNS listening on [0-9.]*:\([0-9]*\) .*/\1/p' "$WORK/agent.log")
[[ -n $HTTP_PORT && -n $DNS_PORT ]] || { cat "$WORK/agent.log"; exit 1; }
for i in $(seq 1 "$INSTANCES"); do
  curl -sf -X PUT "http://127.0.0.1:$HTTP_PORT/v1/agent/service/register" \
    -d "{\"ID\":\"web-$i\",\"Name\":\"web\",\"Address\":\"10.0.$((i / 250)).$((i % 250 + 1))\",\"Port\":8080}"
done
answers=$(dig @127.0.0.1 -p "$DNS_PORT" +bufsize=4096 +short web.service.consul | wc -l)
echo "agent: DNS on port $DNS_PORT, web.service.consul has $answers A records"

# --- NSD with the same records ---
NSD_PORT=$(free_port)
{
  echo '$ORIGIN consul.'
  echo '$TTL 0'
  echo '@ IN SOA ns.consul. hostmaster.consul. 1 3600 600 86400 0'
  echo '@ IN NS ns.consul.'
  echo 'ns IN A 127.0.0.1'
  for i in $(seq 1 "$INSTANCES"); do echo "web.service IN A 10.0.$((i / 250)).$((i % 250 + 1))"; done
} >"$WORK/consul.zone"
cat >"$WORK/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@$NSD_PORT
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$WORK"
  database: ""
  pidfile: "$WORK/nsd.pid"
  xfrdfile: "$WORK/xfrd.state"
  zonelistfile: "$WORK/zone.list"
  logfile: "$WORK/nsd.log"
  round-robin: yes
  rrl-ratelimit: 0
  do-ip6: no
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: consul
  zonefile: consul.zone
EOF
taskset -c "$SERVER_CPU" nsd -d -c "$WORK/nsd.conf" 2>>"$WORK/nsd.log" &
NSD_PID=$!
for _ in $(seq 100); do
  dig @127.0.0.1 -p "$NSD_PORT" +short +time=1 +tries=1 ns.consul >/dev/null 2>&1 && break
  sleep 0.1
done
answers=$(dig @127.0.0.1 -p "$NSD_PORT" +bufsize=4096 +short web.service.consul | wc -l)
echo "nsd $(nsd -v 2>&1 | head -1 | awk '{print $3}'): port $NSD_PORT, web.service.consul has $answers A records"

echo "dnsperf ${PERF_FLAGS[*]} (server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU)"
agent_runs=()
nsd_runs=()
for run in $(seq 1 "$RUNS"); do
  a=$(perf "$DNS_PORT")
  n=$(perf "$NSD_PORT")
  echo "run $run: agent $a q/s, nsd $n q/s"
  agent_runs+=("$a")
  nsd_runs+=("$n")
done
agent_median=$(printf '%s\n' "${agent_runs[@]}" | median)
nsd_median=$(printf '%s\n' "${nsd_runs[@]}" | median)
echo "median: agent $agent_median q/s, nsd $nsd_median q/s, ratio agent/nsd $(
  awk -v a="$agent_median" -v n="$nsd_median" 'BEGIN {printf "%.2f", a / n}')"
