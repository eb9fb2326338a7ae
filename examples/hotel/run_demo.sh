#!/usr/bin/env bash
# The hotel demo: an agent, three room services and a guest. One room service is killed with
# SIGKILL while the guest calls them; the demo passes when every request of the guest
# succeeded and the killed instance was no longer chosen once its failure was seen.
#
#   CONCIERGE_BIN=build/src/cli/concierge ROOM_SERVICE_BIN=build/examples/room_service \
#   GUEST_BIN=build/examples/guest examples/hotel/run_demo.sh
set -euo pipefail

CONCIERGE_BIN=${CONCIERGE_BIN:-concierge}
ROOM_SERVICE_BIN=${ROOM_SERVICE_BIN:-room_service}
GUEST_BIN=${GUEST_BIN:-guest}
RATE=${RATE:-50}
SECONDS_TO_RUN=${SECONDS_TO_RUN:-8}
KILL_AFTER=${KILL_AFTER:-3}
TTL_MS=${TTL_MS:-1500}

dir=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

fail() {
  echo "FAILED: $*" >&2
  for f in "$dir"/*.log; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done
  exit 1
}

now_ms() { date +%s%3N; }

"$CONCIERGE_BIN" agent -dev -http-addr 127.0.0.1:0 -dns-port 0 >"$dir/agent.log" 2>&1 &
pids+=($!)
agent=""
for _ in $(seq 100); do
  agent=$(sed -n 's|.*HTTP API listening on http://\([0-9.]*:[0-9]*\).*|\1|p' "$dir/agent.log" |
          head -n1)
  [[ -n "$agent" ]] && break
  sleep 0.1
done
[[ -n "$agent" ]] || fail "the agent did not start"
echo "agent at $agent"

declare -A room_pid
for i in 1 2 3; do
  "$ROOM_SERVICE_BIN" -agent "$agent" -id "room-$i" -ttl-ms "$TTL_MS" >"$dir/room-$i.log" 2>&1 &
  room_pid[room-$i]=$!
  pids+=($!)
done

"$GUEST_BIN" -agent "$agent" -rate "$RATE" -seconds "$SECONDS_TO_RUN" -min-instances 3 \
  >"$dir/guest.log" 2>&1 &
guest=$!
pids+=($guest)

# Kill room-2 once the guest has been running a while.
for _ in $(seq 100); do grep -q ' ok ' "$dir/guest.log" && break; sleep 0.1; done
sleep "$KILL_AFTER"
kill -KILL "${room_pid[room-2]}"
wait "${room_pid[room-2]}" 2>/dev/null || true
killed_at=$(now_ms)  # room-2 is gone: no call made from here on can reach it
echo "killed room-2 at $killed_at"

guest_status=0
wait "$guest" || guest_status=$?
cat "$dir/guest.log" | grep -v ' ok ' || true

summary=$(grep '^[0-9]* summary' "$dir/guest.log" || true)
[[ -n "$summary" ]] || fail "the guest printed no summary"
requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$summary")
failed=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$summary")
retries=$(sed -n 's/.*retries=\([0-9]*\).*/\1/p' <<<"$summary")

# Calls made after the kill that each room answered (by when the call was made: an answer
# already on its way when room-2 died may be read just after the kill).
after_kill() {
  awk -v t="$killed_at" -v id="$1" \
    '$2 == "ok" && $4 == id { split($6, sent, "="); if (sent[2] >= t) n++ } END { print n + 0 }' \
    "$dir/guest.log"
}
# The last time room-2 was chosen (an attempt that failed), and when the watcher dropped it.
last_try=$(awk '$2 == "retry" && $4 == "room-2" {t = $1} END {print t}' "$dir/guest.log")
dropped=$(awk -v t="$killed_at" '$1 >= t && $2 == "watch" && $3 !~ /room-2/ {print $1; exit}' \
          "$dir/guest.log")

echo "requests=$requests failed=$failed retries=$retries"
echo "after the kill: room-1=$(after_kill room-1) room-2=$(after_kill room-2) room-3=$(after_kill room-3)"
[[ -n "$last_try" ]] && echo "room-2 last chosen $((last_try - killed_at)) ms after the kill"
[[ -n "$dropped" ]] && echo "registry dropped room-2 $((dropped - killed_at)) ms after the kill"

[[ "$guest_status" == 0 ]] || fail "the guest exited with $guest_status"
[[ "$failed" == 0 ]] || fail "$failed requests failed"
[[ "$requests" -ge $((RATE * SECONDS_TO_RUN / 2)) ]] || fail "only $requests requests"
[[ "$(after_kill room-2)" == 0 ]] || fail "room-2 answered after it was killed"
[[ "$(after_kill room-1)" -gt 0 && "$(after_kill room-3)" -gt 0 ]] ||
  fail "room-1 and room-3 should both have served after the kill"
# Local ejection: room-2 is tried once (the failed attempt that ejects it), then never again.
tries=$(awk '$2 == "retry" && $4 == "room-2"' "$dir/guest.log" | wc -l)
[[ "$tries" -le 1 ]] || fail "room-2 was chosen $tries times after failing"
[[ -n "$dropped" ]] || fail "the registry never dropped room-2"
echo "PASS"
