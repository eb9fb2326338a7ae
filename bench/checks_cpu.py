#!/usr/bin/python3
"""CPU the agent spends on active checks (issue 8).

    bench/checks_cpu.py BUILD_DIR [--checks 1000] [--interval 10s] [--seconds 60]
                        [--kind http|tcp|grpc]

Starts `concierge agent -dev`, registers CHECKS services, and reads the agent's CPU time
(utime + stime from /proc/PID/stat) over SECONDS twice: first with the services registered
without checks (the idle baseline), then after giving each service an HTTP (or TCP) check
with INTERVAL against a local backend. The difference is the cost of the checks. The backend
is a trivial HTTP server in another process (its CPU is not counted); it counts the requests
it answers, which says how many runs the agent made. With --kind grpc the same process also
serves grpc.health.v1.Health/Check (python3-grpcio, messages written by hand) and counts
those calls.
"""

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time

BACKEND = r"""
import http.server, sys, threading
count = [0]
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with lock:
            count[0] += 1
        if self.path == "/count":
            body = str(count[0]).encode()
        else:
            body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
if len(sys.argv) > 1 and sys.argv[1] == "grpc":
    import grpc
    from concurrent import futures
    def check(request, context):
        with lock:
            count[0] += 1
        return b"\x08\x01"  # SERVING
    g = grpc.server(futures.ThreadPoolExecutor(max_workers=8), handlers=[
        grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
            "Check": grpc.unary_unary_rpc_method_handler(check)})])
    print(g.add_insecure_port("127.0.0.1:0"), flush=True)
    g.start()
s.serve_forever()
"""


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def request(port, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=json.dumps(body) if body is not None else None)
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != 200:
        raise RuntimeError("%s %s: %d %s" % (method, path, r.status, data[:200]))
    return data


def measure(pid, seconds):
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build_dir")
    p.add_argument("--checks", type=int, default=1000)
    p.add_argument("--interval", default="10s")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--kind", choices=["http", "tcp", "grpc"], default="http")
    args = p.parse_args()
    interval = float(re.fullmatch(r"([0-9.]+)s", args.interval).group(1))

    backend = subprocess.Popen(["/usr/bin/python3", "-c", BACKEND, args.kind],
                               stdout=subprocess.PIPE)
    backend_port = int(backend.stdout.readline())
    grpc_port = int(backend.stdout.readline()) if args.kind == "grpc" else None
    log = tempfile.NamedTemporaryFile(prefix="checks_cpu_", suffix=".log")
    agent = subprocess.Popen([os.path.join(args.build_dir, "src/cli/concierge"), "agent", "-dev",
                              "-http-addr", "127.0.0.1:0", "-dns-port", "-1",
                              "-deregister-critical-after", "0"], stderr=log)
    try:
        port = None
        for _ in range(200):
            m = re.search(r"HTTP API listening on http://127\.0\.0\.1:(\d+)",
                          open(log.name).read())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.05)
        if port is None:
            raise RuntimeError("agent did not start")
        for i in range(args.checks):
            request(port, "PUT", "/v1/agent/service/register",
                    {"Name": "bench", "ID": "bench-%d" % i, "Port": backend_port})
        time.sleep(2)
        idle = measure(agent.pid, args.seconds)

        for i in range(args.checks):
            if args.kind == "http":
                check = {"HTTP": "http://127.0.0.1:%d/health" % backend_port}
            elif args.kind == "grpc":
                check = {"GRPC": "127.0.0.1:%d" % grpc_port}
            else:
                check = {"TCP": "127.0.0.1:%d" % backend_port}
            check.update({"Interval": args.interval, "Timeout": "5s"})
            request(port, "PUT", "/v1/agent/service/register",
                    {"Name": "bench", "ID": "bench-%d" % i, "Port": backend_port,
                     "Check": check})
        time.sleep(interval + 2)  # every check has run once and turned passing
        states = json.loads(request(port, "GET", "/v1/agent/checks"))
        passing = sum(1 for c in states.values() if c["Status"] == "passing")
        before = int(request(backend_port, "GET", "/count"))
        busy = measure(agent.pid, args.seconds)
        runs = int(request(backend_port, "GET", "/count")) - before - 1
        if args.kind == "tcp":
            runs = round(args.checks * args.seconds / interval)  # connects are not counted
    finally:
        agent.terminate()
        agent.wait(10)
        backend.kill()

    per_1000 = (busy - idle) * 1000 / args.checks
    print("checks: %d %s checks every %s; %d passing before measuring" %
          (args.checks, args.kind.upper(), args.interval, passing))
    print("agent CPU, idle with %d services: %.2f%% of a core" % (args.checks, idle * 100))
    print("agent CPU, with the checks:       %.2f%% of a core (%d runs in %.0fs, %.0f runs/s)" %
          (busy * 100, runs, args.seconds, runs / args.seconds))
    print("cost of the checks: %.2f%% of a core per 1,000 checks at %s (%.0f us of CPU per run)"
          % (per_1000 * 100, args.interval,
             (busy - idle) * args.seconds / max(runs, 1) * 1e6))


if __name__ == "__main__":
    main()
