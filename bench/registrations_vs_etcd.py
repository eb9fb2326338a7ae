#!/usr/bin/python3
"""Durable registrations/s: Concierge against etcd, same client, same concurrency, same run.

    bench/registrations_vs_etcd.py BUILD_DIR [--runs 3] [--n 20000] [--conns 64]

BUILD_DIR holds src/cli/concierge and bench/loadgen (ninja -C BUILD_DIR concierge loadgen).
Installs Debian's etcd-server if `etcd` is missing. Each run starts a fresh server with a
temporary data directory on loopback and registers N new instances with `loadgen register`
(CONNS keep-alive connections, one request in flight on each):

  concierge  `concierge agent -data-dir TMP` (Raft on: the default durable single voter);
             one PUT /v1/agent/service/register per instance (ID, name, 2 tags, address,
             port, 1 meta, a TTL check), answered once committed and synced
  etcd       3.4 with its defaults; per instance a lease grant (POST /v3/lease/grant) and a
             put bound to it (POST /v3/kv/put) through its HTTP/JSON gateway

Runs alternate between the two; the medians and their ratio are printed, and one JSON line.
Every process is stopped by its PID and every directory removed, on success, failure or ^C.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys

from benchlib import cleanup, ensure_packages, start_concierge, start_etcd, stop


def log(msg):
    print("registrations_vs_etcd: " + msg, file=sys.stderr, flush=True)


def run_concierge(binary, loadgen, args):
    proc, port, d = start_concierge(binary)
    try:
        return register(loadgen, "concierge", port, args)
    finally:
        stop(proc, d)


def run_etcd(loadgen, args):
    proc, port, d = start_etcd()
    try:
        return register(loadgen, "etcd", port, args)
    finally:
        stop(proc, d)


def register(loadgen, target, port, args):
    cmd = [loadgen, "register", "--target", target, "--addr", "127.0.0.1:%d" % port,
           "--n", str(args.n), "--conns", str(args.conns), "--depth", "1", "--ttl", "30",
           "--prefix", "r"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=600)
    if r.returncode != 0 or not r.stdout.strip():
        sys.exit("loadgen failed against %s: %s" % (target, r.stderr.strip()[-1500:]))
    result = json.loads(r.stdout.strip().splitlines()[-1])
    return result["registrations_per_s"], result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build_dir")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=20000, help="instances registered per run")
    ap.add_argument("--conns", type=int, default=64)
    args = ap.parse_args()
    concierge = os.path.join(args.build_dir, "src/cli/concierge")
    loadgen = os.path.join(args.build_dir, "bench/loadgen")
    for path in (concierge, loadgen):
        if not os.access(path, os.X_OK):
            sys.exit("%s not found: ninja -C %s concierge loadgen" % (path, args.build_dir))
    ensure_packages(log, "etcd-server")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    load0 = os.getloadavg()
    c, e, details = [], [], []
    try:
        for i in range(args.runs):
            rate, r = run_concierge(concierge, loadgen, args)
            c.append(rate)
            log("run %d: concierge %.0f registrations/s" % (i + 1, rate))
            rate, r2 = run_etcd(loadgen, args)
            e.append(rate)
            log("run %d: etcd      %.0f registrations/s (lease grant %s/s, put %s/s)" %
                (i + 1, rate, r2.get("grant_per_s"), r2.get("put_per_s")))
            details.append({"concierge": r, "etcd": r2})
    finally:
        cleanup()
    mc, me = statistics.median(c), statistics.median(e)
    print("%d instances per run, %d connections, %d runs (medians); load average %.1f -> %.1f"
          % (args.n, args.conns, args.runs, load0[0], os.getloadavg()[0]))
    print("concierge (durable single voter): %8.0f registrations/s  %s" %
          (mc, ", ".join("%.0f" % x for x in c)))
    print("etcd (lease grant + put):         %8.0f registrations/s  %s" %
          (me, ", ".join("%.0f" % x for x in e)))
    print("ratio concierge / etcd:           %8.1f" % (mc / me))
    print(json.dumps({"concierge": mc, "etcd": me, "ratio": mc / me, "runs": details}))


if __name__ == "__main__":
    main()
