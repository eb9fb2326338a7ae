"""Smoke test of bench/loadgen against a real agent (ctest: bench_loadgen_smoke).

The scale harness (bench/run-all) is a benchmark and not part of the test suite; this only
keeps its client from rotting: each mode runs for a second or two at a small scale against
`concierge agent -dev` and must finish with a sane summary. It asserts no speed.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

AGENT = os.environ["CONCIERGE_BIN"]
LOADGEN = os.environ["LOADGEN_BIN"]


def main():
    log = tempfile.TemporaryFile("w+")
    agent = subprocess.Popen([AGENT, "agent", "-dev", "-http-addr", "127.0.0.1:0", "-dns-port", "-1"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    try:
        port = None
        deadline = time.time() + 30
        while port is None and time.time() < deadline and agent.poll() is None:
            log.seek(0)
            m = re.search(r"HTTP API listening on http://127\.0\.0\.1:(\d+)", log.read())
            port = m.group(1) if m else None
            time.sleep(0.05)
        assert port, "the agent did not start"

        def run(mode, *flags):
            r = subprocess.run([LOADGEN, mode, "--addr", "127.0.0.1:" + port,
                                "--server-pid", str(agent.pid), *flags],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
            assert r.returncode == 0, "%s failed (%d): %s" % (mode, r.returncode, r.stderr)
            out = json.loads(r.stdout)
            print(mode, out, flush=True)
            return out

        reg = run("register", "--n", "300", "--conns", "8")
        assert reg["registrations_per_s"] > 0 and reg["register_samples"] == 300, reg
        assert reg["register_longest_gap_ms"] > 0, reg
        hb = run("heartbeat", "--n", "300", "--no-register", "--rate", "0", "--duration", "1",
                 "--warmup", "0.2", "--conns", "8", "--depth", "2")
        assert hb["errors"] == 0 and hb["heartbeats_per_s"] > 0 and hb["server_cpu_cores"] >= 0, hb
        paced = run("heartbeat", "--n", "300", "--no-register", "--rate", "200", "--duration", "1",
                    "--warmup", "0.2", "--conns", "8")
        assert paced["errors"] == 0 and paced["target_rate"] == 200, paced
        watch = run("watch", "--watchers", "20", "--rounds", "2")
        assert watch["samples"] == 40, watch
        expiry = run("expiry", "--prefix", "fd", "--n", "20", "--ttl", "0.5", "--stop", "4",
                     "--stop-gap", "0.05", "--conns", "4")
        assert expiry["seen"] == 4 and expiry["seen_early"] == 0, expiry
        # In a bigger service, seen through the delta stream.
        delta = run("expiry", "--prefix", "fe", "--n", "20", "--ttl", "0.5", "--stop", "4",
                    "--stop-gap", "0.05", "--conns", "4", "--background", "200", "--delta")
        assert delta["seen"] == 4 and delta["watch"] == "delta", delta
        bad = subprocess.run([LOADGEN, "heartbeat", "--addr", "127.0.0.1:" + port, "--rate", "x"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
        assert bad.returncode != 0 and "--rate" in bad.stderr, bad.stderr
    finally:
        agent.terminate()
        try:
            rc = agent.wait(10)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
            raise
        log.close()
    assert rc == 0, "the agent exited with %d" % rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
