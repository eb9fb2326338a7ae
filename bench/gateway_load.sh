#!/usr/bin/env bash
# L7 gateway throughput: wrk through `concierge gateway` and, in the same run, through
# HAProxy 2.6 proxying the same two backends (round robin, keep-alive to the backends).
#
#   bench/gateway_load.sh [path/to/concierge]
#
# Prints per run and as medians: req/s, p99, and each proxy's CPU time per request (its
# user + system time from /proc over the run, divided by the requests served).
#
# Each proxy has one thread (`-workers 1`, `nbthread 1`) pinned to core 0; wrk and the
# backends share core 1. The backends are one separate HAProxy process that answers every
# request itself (`http-request return`, 2 listeners), so they are cheap and identical for
# both proxies. Everything listens on loopback, from a temp dir; every process is stopped by
# PID. Needs wrk, haproxy, curl, taskset (Debian packages).
# Environment: RUNS (3, alternating, median), DURATION (10s), CONNECTIONS (64).
set -euo pipefail

BIN=${1:-${CONCIERGE_BIN:-build/src/cli/concierge}}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}

for tool in wrk haproxy curl taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install wrk haproxy curl)"; exit 1; }
done
[[ -x $BIN ]] || { echo "no concierge binary at $BIN"; exit 1; }
PROXY_CPU=0
CLIENT_CPU=1
if [[ $(nproc) -lt 2 ]]; then CLIENT_CPU=0; fi

WORK=$(mktemp -d /tmp/gateway-load.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_http() {  # URL
  for _ in $(seq 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "nothing answers at $1" >&2; return 1
}

# Backends: one HAProxy process, two listeners, answering by itself.
B1=$(free_port); B2=$(free_port)
cat > "$WORK/backends.cfg" <<CFG
global
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend b1
  bind 127.0.0.1:$B1
  http-request return status 200 content-type text/plain string "hello from b1"
frontend b2
  bind 127.0.0.1:$B2
  http-request return status 200 content-type text/plain string "hello from b2"
CFG
taskset -c "$CLIENT_CPU" haproxy -f "$WORK/backends.cfg" -db > "$WORK/backends.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$B1/"
wait_http "http://127.0.0.1:$B2/"

# The registry, with both backends registered (no check: passing).
"$BIN" agent -dev -http-addr 127.0.0.1:0 2> "$WORK/agent.log" &
PIDS+=($!)
for _ in $(seq 100); do
  AGENT=$(grep -oE 'HTTP API listening on http://[0-9.]+:[0-9]+' "$WORK/agent.log" | head -1 |
          sed 's|.*http://||') || true
  [[ -n ${AGENT:-} ]] && break
  sleep 0.1
done
[[ -n ${AGENT:-} ]] || { echo "agent did not start"; cat "$WORK/agent.log"; exit 1; }
wait_http "http://$AGENT/v1/status/leader"
for i in 1 2; do
  port=$([[ $i == 1 ]] && echo "$B1" || echo "$B2")
  curl -fs -X PUT "http://$AGENT/v1/agent/service/register" \
    -d "{\"Name\":\"bench\",\"ID\":\"bench-$i\",\"Address\":\"127.0.0.1\",\"Port\":$port}" >/dev/null
done

# The gateway.
GW=$(free_port)
taskset -c "$PROXY_CPU" "$BIN" gateway -http-addr "$AGENT" -listen "127.0.0.1:$GW" -workers 1 \
  -route /=bench 2> "$WORK/gateway.log" &
PIDS+=($!)
GW_PID=$!
wait_http "http://127.0.0.1:$GW/"

# HAProxy as the proxy under comparison.
HP=$(free_port)
cat > "$WORK/haproxy.cfg" <<CFG
global
  nbthread 1
defaults
  mode http
  option http-keep-alive
  option forwardfor
  http-reuse always
  timeout connect 2s
  timeout client 60s
  timeout server 30s
frontend fe
  bind 127.0.0.1:$HP
  default_backend be
backend be
  balance roundrobin
  server b1 127.0.0.1:$B1
  server b2 127.0.0.1:$B2
CFG
taskset -c "$PROXY_CPU" haproxy -f "$WORK/haproxy.cfg" -db > "$WORK/haproxy.log" 2>&1 &
PIDS+=($!)
HP_PID=$!
wait_http "http://127.0.0.1:$HP/"

# The proxy's CPU time so far (user + system, clock ticks), from /proc.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One wrk run: prints "req/s p99_ms non-2xx cpu_us_per_request". The CPU time per request
# (the proxy's user + system time over the run, divided by the requests wrk completed) is
# the figure least disturbed by other processes sharing the cores.
run() {  # PORT PID
  local before after
  before=$(cpu_ticks "$2")
  taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$1/" \
    > "$WORK/wrk.out"
  after=$(cpu_ticks "$2")
  awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" \
     '/requests in/ {n=$1}
      /Requests\/sec/ {rps=$2}
      /^ +99%/ {v=$2; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) {sub("ms","",v)}
                else if (v ~ /s$/) {sub("s","",v); v*=1000}; p99=v}
      /Non-2xx/ {bad=$NF}
      END {printf "%.0f %.3f %s %.1f\n", rps, p99, (bad==""?0:bad), ticks / hz * 1e6 / n}' \
     "$WORK/wrk.out"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: > "$WORK/gw"; : > "$WORK/hp"
for r in $(seq "$RUNS"); do
  g=$(run "$GW" "$GW_PID"); h=$(run "$HP" "$HP_PID")
  echo "run $r: gateway $g | haproxy $h   (req/s p99_ms non-2xx cpu_us/req), load $(cut -d' ' -f1 /proc/loadavg)"
  echo "$g" >> "$WORK/gw"; echo "$h" >> "$WORK/hp"
done
GRPS=$(cut -d' ' -f1 "$WORK/gw" | median); HRPS=$(cut -d' ' -f1 "$WORK/hp" | median)
GP99=$(cut -d' ' -f2 "$WORK/gw" | median); HP99=$(cut -d' ' -f2 "$WORK/hp" | median)
GCPU=$(cut -d' ' -f4 "$WORK/gw" | median); HCPU=$(cut -d' ' -f4 "$WORK/hp" | median)
echo
echo "| proxy (1 thread) | req/s (median of $RUNS) | p99 ms | CPU µs per request |"
echo "|---|---:|---:|---:|"
echo "| concierge gateway | $GRPS | $GP99 | $GCPU |"
echo "| HAProxy $(haproxy -v | head -1 | awk '{print $3}') | $HRPS | $HP99 | $HCPU |"
awk -v g="$GRPS" -v h="$HRPS" -v gp="$GP99" -v hp="$HP99" -v gc="$GCPU" -v hc="$HCPU" \
  'BEGIN {printf "gateway/haproxy: throughput %.2f, p99 %.2f, CPU per request %.2f\n", g/h, gp/hp, gc/hc}'
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
