#!/usr/bin/env bash
# HTTPS against HTTP on the same agent build, same run: heartbeats on keep-alive connections
# (bench/heartbeat.lua) and new connections per request (a TLS handshake each).
#   bench/tls_load.sh BUILD_DIR [RUNS]
# Two agents (-dev, -workers 1): one plain, one with a certificate from scripts/make-test-ca
# (ECDSA P-256, TLS 1.3, no client certificate). wrk -t1 -c64 -d10s; runs alternate between
# the two; prints each run and the medians. Cleans up its agents and files.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: bench/tls_load.sh BUILD_DIR [RUNS]}
runs=${2:-3}
bin=$build/src/cli/concierge
instances=1000
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
scripts/make-test-ca "$tmp/ca" > /dev/null

start() {  # start NAME [flags]: sets $port
  local name=$1
  shift
  "$bin" agent -dev -workers 1 -dns-port -1 -http-addr 127.0.0.1:0 "$@" > /dev/null \
    2> "$tmp/$name.log" &
  pids+=($!)
  for _ in $(seq 100); do
    grep -qE "listening on https?://" "$tmp/$name.log" && break
    sleep 0.1
  done
  port=$(grep -oE "listening on https?://[0-9.]+:[0-9]+" "$tmp/$name.log" | grep -oE "[0-9]+$")
}
start plain
plain=$port
start tls -tls-cert-file "$tmp/ca/server.pem" -tls-key-file "$tmp/ca/server-key.pem"
tls=$port
curl_tls=(--cacert "$tmp/ca/ca.pem")

for target in "http://127.0.0.1:$plain" "https://127.0.0.1:$tls"; do
  for i in $(seq "$instances"); do
    printf '{"ID":"web-%d","Name":"web","Port":80,"Check":{"TTL":"300s","Status":"passing"}}' "$i" |
      curl -sf "${curl_tls[@]}" -X PUT --data-binary @- "$target/v1/agent/service/register" \
        > /dev/null
  done
done

rate() {  # rate URL [wrk args]: requests/s and p99
  wrk -t1 -c64 -d10s --latency "$@" 2>&1 |
    awk '/Requests\/sec/ {r=$2} / 99%/ {p=$2} END {printf "%s %s\n", r, p}'
}
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A results
for run in $(seq "$runs"); do
  for mode in keepalive close; do
    for scheme in http https; do
      port=$plain
      [ "$scheme" = https ] && port=$tls
      extra=()
      [ "$mode" = close ] && extra=(-H "Connection: close")
      out=$(CONCIERGE_INSTANCES=$instances rate "$scheme://127.0.0.1:$port" \
              -s bench/heartbeat.lua "${extra[@]}")
      echo "run $run $mode $scheme: ${out%% *} req/s, p99 ${out##* }"
      results[$mode-$scheme]+="${out%% *} "
    done
  done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for mode in keepalive close; do
  h=$(echo "${results[$mode-http]}" | median)
  s=$(echo "${results[$mode-https]}" | median)
  echo "median $mode: http $h req/s, https $s req/s, ratio $(awk -v a="$s" -v b="$h" 'BEGIN {printf "%.2f", a/b}')"
done
