#!/usr/bin/python3
"""The KV store and sessions (issue 19): Concierge against etcd, same client, same run.

    bench/kv_vs_etcd.py BUILD_DIR [--runs 3] [--duration 10] [--conns 64] [--ttl 10]

BUILD_DIR holds src/cli/concierge (ninja -C BUILD_DIR concierge). Needs wrk, and Debian's
etcd-server and etcd-client (installed if missing). Each run starts fresh servers with
temporary data directories on loopback:

  concierge  `concierge agent -data-dir TMP` (Raft on: the durable single voter)
  etcd       3.4 with its defaults (its WAL fsyncs each batch, as our log does)

Figures (medians of the runs, which alternate between the systems):

  puts/s         wrk, CONNS connections, DURATION s: PUT /v1/kv/bench/<unique> with a 64-byte
                 value, each answered once committed and synced; etcd: POST /v3/kv/put through
                 its HTTP/JSON gateway with the same key and value
  renewals/s     wrk, CONNS connections: PUT /v1/session/renew/<id> of one session, against
                 PUT /v1/agent/check/pass/<id> of one TTL check (the heartbeat figure), and
                 etcd's POST /v3/lease/keepalive of one lease
  handover       a lock held by a process that is SIGKILLed, with a TTL of --ttl s: the time
                 until a waiting process runs its command; `concierge lock` against
                 `etcdctl lock --ttl` (one run each)

Prints a Markdown table and one JSON line. Every process is stopped by its PID and every
directory removed, on success, failure or ^C.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

from benchlib import (PROCS, cleanup, ensure_packages, http, start_concierge, start_etcd, stop,
                      tempdir)

PUT_CONCIERGE = r"""
local n = 0
local id = 0
local value = string.rep("v", 64)
setup = function(thread) id = id + 1; thread:set("id", id) end
request = function()
  n = n + 1
  return wrk.format("PUT", "/v1/kv/bench/" .. id .. "-" .. n, nil, value)
end
"""

# etcd's gateway wants base64 keys and values.
PUT_ETCD = r"""
local b = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
local function enc(data)
  return ((data:gsub('.', function(x)
    local r, byte = '', x:byte()
    for i = 8, 1, -1 do r = r .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and '1' or '0') end
    return r
  end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
    if (#x < 6) then return '' end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0) end
    return b:sub(c + 1, c + 1)
  end) .. ({ '', '==', '=' })[#data % 3 + 1])
end
local n = 0
local id = 0
local value = enc(string.rep("v", 64))
setup = function(thread) id = id + 1; thread:set("id", id) end
request = function()
  n = n + 1
  local body = '{"key":"' .. enc("bench/" .. id .. "-" .. n) .. '","value":"' .. value .. '"}'
  return wrk.format("POST", "/v3/kv/put", {["Content-Type"] = "application/json"}, body)
end
"""


def fixed(method, path, body=""):
    return 'request = function() return wrk.format("%s", "%s", nil, %s) end\n' % (
        method, path, json.dumps(body))


def log(msg):
    print("kv_vs_etcd: " + msg, file=sys.stderr, flush=True)


def wrk(port, script, args):
    path = os.path.join(tempdir(), "script.lua")
    with open(path, "w") as f:
        f.write(script)
    r = subprocess.run(["wrk", "-t", "2", "-c", str(args.conns), "-d", "%ds" % args.duration,
                        "-s", path, "http://127.0.0.1:%d" % port],
                       capture_output=True, text=True, timeout=args.duration + 60)
    m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    if not m:
        sys.exit("wrk failed: " + r.stdout + r.stderr)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    if errors:
        sys.exit("wrk saw errors: " + r.stdout)
    return float(m.group(1))


def concierge_run(binary, args):
    proc, port, d = start_concierge(binary)
    try:
        puts = wrk(port, PUT_CONCIERGE, args)
        _, body = http(port, "PUT", "/v1/session/create", '{"TTL": "60s"}')
        session = json.loads(body)["ID"]
        renewals = wrk(port, fixed("PUT", "/v1/session/renew/" + session), args)
        http(port, "PUT", "/v1/agent/service/register",
             '{"ID": "hb-1", "Name": "hb", "Check": {"TTL": "60s"}}')
        heartbeats = wrk(port, fixed("PUT", "/v1/agent/check/pass/service:hb-1"), args)
        return {"puts_per_s": puts, "renewals_per_s": renewals, "heartbeats_per_s": heartbeats}
    finally:
        stop(proc, d)


def etcd_run(args):
    proc, port, d = start_etcd()
    try:
        puts = wrk(port, PUT_ETCD, args)
        _, body = http(port, "POST", "/v3/lease/grant", '{"TTL": 60}')
        lease = json.loads(body)["ID"]
        keepalives = wrk(port, fixed("POST", "/v3/lease/keepalive", '{"ID": "%s"}' % lease), args)
        return {"puts_per_s": puts, "keepalives_per_s": keepalives}
    finally:
        stop(proc, d)


def handover(lock_cmd, ttl, what):
    """Starts a holder (`lock_cmd + ["sleep 300"]`), a waiter, SIGKILLs the holder's process
    group, and times until the waiter's command runs."""
    d = tempdir()
    marker = os.path.join(d, "ran")
    holder = subprocess.Popen(lock_cmd(["sleep", "300"]), start_new_session=True,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    PROCS.append(holder)
    time.sleep(2)
    waiter = subprocess.Popen(lock_cmd(["touch", marker]), start_new_session=True,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    PROCS.append(waiter)
    time.sleep(2)
    if os.path.exists(marker):
        sys.exit("%s: the waiter ran while the lock was held" % what)
    os.killpg(holder.pid, signal.SIGKILL)
    killed = time.monotonic()
    while not os.path.exists(marker):
        if time.monotonic() - killed > ttl * 4 + 30:
            sys.exit("%s: the waiter never got the lock" % what)
        time.sleep(0.005)
    took = time.monotonic() - killed
    holder.wait()
    PROCS.remove(holder)
    try:
        waiter.wait(30)
    except subprocess.TimeoutExpired:
        pass
    return took


def handovers(binary, args):
    proc, port, d = start_concierge(binary)
    try:
        ours = handover(lambda cmd: [binary, "lock", "-http-addr", "127.0.0.1:%d" % port,
                                     "-ttl", "%ds" % args.ttl, "bench/lock"] + cmd,
                        args.ttl, "concierge lock")
    finally:
        stop(proc, d)
    proc, port, d = start_etcd()
    try:
        theirs = handover(lambda cmd: ["etcdctl", "--endpoints", "127.0.0.1:%d" % port, "lock",
                                       "--ttl", str(args.ttl), "bench-lock"] + cmd,
                          args.ttl, "etcdctl lock")
    finally:
        stop(proc, d)
    return ours, theirs


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build_dir")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--ttl", type=int, default=10)
    args = ap.parse_args()
    binary = os.path.join(args.build_dir, "src/cli/concierge")
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    ensure_packages(log, "etcd-server", "etcd-client")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        ours, theirs = [], []
        for i in range(args.runs):
            log("run %d/%d" % (i + 1, args.runs))
            ours.append(concierge_run(binary, args))
            theirs.append(etcd_run(args))
        h_ours, h_theirs = handovers(binary, args)
    finally:
        cleanup()

    def med(runs, key):
        return statistics.median(r[key] for r in runs)

    result = {
        "conns": args.conns, "duration_s": args.duration, "runs": args.runs,
        "concierge_puts_per_s": med(ours, "puts_per_s"),
        "etcd_puts_per_s": med(theirs, "puts_per_s"),
        "concierge_renewals_per_s": med(ours, "renewals_per_s"),
        "concierge_heartbeats_per_s": med(ours, "heartbeats_per_s"),
        "etcd_keepalives_per_s": med(theirs, "keepalives_per_s"),
        "ttl_s": args.ttl, "concierge_handover_s": h_ours, "etcd_handover_s": h_theirs,
    }
    r = result
    print("| figure | Concierge | etcd 3.4 | ratio |")
    print("|---|---:|---:|---:|")
    print("| KV puts/s (%d connections, durable) | %.0f | %.0f | %.1f× |" % (
        args.conns, r["concierge_puts_per_s"], r["etcd_puts_per_s"],
        r["concierge_puts_per_s"] / r["etcd_puts_per_s"]))
    print("| session renewals/s (one session) vs lease keepalives/s | %.0f | %.0f | %.1f× |" % (
        r["concierge_renewals_per_s"], r["etcd_keepalives_per_s"],
        r["concierge_renewals_per_s"] / r["etcd_keepalives_per_s"]))
    print("| TTL heartbeats/s (same client, for scale) | %.0f | | |" % r["concierge_heartbeats_per_s"])
    print("| lock handover after the holder is SIGKILLed (TTL %d s) | %.2f s | %.2f s | |" % (
        args.ttl, r["concierge_handover_s"], r["etcd_handover_s"]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
