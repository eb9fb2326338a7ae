"""GET /v1/agent/metrics against the real agent: Prometheus text checked by Debian's promtool
(skipped when promtool is not installed), Consul's JSON shape, the route labels, and the
fan-out histogram (one observation per blocking query a change wakes)."""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import harness  # noqa: E402

FANOUT = "concierge_watch_fanout_seconds"


class MetricsTest(harness.AgentTestCase):
    def exercise(self):
        self.agent.register({"Name": "web", "ID": "web-1", "Port": 80,
                             "Check": {"TTL": "10s", "Status": "passing"}})
        self.agent.put_ok("/v1/agent/check/pass/service:web-1")
        self.agent.get("/v1/health/service/web?passing")
        self.agent.get("/v1/health/service/nope")

    def test_prometheus_text_passes_promtool(self):
        self.exercise()
        r = self.agent.get("/v1/agent/metrics?format=prometheus")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/plain; version=0.0.4"))
        text = r.text
        self.assertIn('concierge_http_requests_total{route="/v1/health/service/:name",code="200"}',
                      text)
        self.assertNotIn('route="/v1/health/service/web"', text)
        self.assertIn('concierge_instances{status="passing"} 1', text)
        self.assertRegex(text, r"concierge_heartbeats_total [1-9]")
        self.assertRegex(text, r"process_resident_memory_bytes [1-9]")
        promtool = shutil.which("promtool")
        if promtool is None:
            self.skipTest("promtool is not installed (Debian: apt-get install prometheus)")
        check = subprocess.run([promtool, "check", "metrics"], input=r.body,
                               capture_output=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_json_has_consul_shape(self):
        self.exercise()
        body = json.loads(self.agent.get("/v1/agent/metrics").body)
        for key in ("Timestamp", "Gauges", "Points", "Counters", "Samples"):
            self.assertIn(key, body)
        names = {g["Name"] for g in body["Gauges"]}
        self.assertIn("concierge.instances", names)
        counters = {c["Name"] for c in body["Counters"]}
        self.assertIn("concierge.heartbeats", counters)

    def test_unknown_format_is_a_400(self):
        self.assertEqual(self.agent.get("/v1/agent/metrics?format=xml").status, 400)


class FanOutMetricTest(harness.AgentTestCase):
    """concierge_watch_fanout_seconds: one observation per blocking query a change wakes, on
    an agent of its own (its instances would change the other tests' gauges)."""

    def metric(self, pattern):
        text = self.agent.get("/v1/agent/metrics?format=prometheus").text
        m = re.search(pattern, text, re.M)
        return float(m.group(1)) if m else 0

    def fanout_count(self):
        return self.metric(r"^%s_count (\S+)" % FANOUT)

    def parked(self):
        return self.metric(r"^concierge_blocking_queries (\S+)")

    def park(self, paths):
        """GETs each path on its own thread; returns the threads and their statuses."""
        statuses = {}

        def get(path):
            statuses[path] = self.agent.get(path, timeout=60).status
        threads = [threading.Thread(target=get, args=(p,)) for p in paths]
        base = self.parked()
        for t in threads:
            t.start()
        harness.wait_until(lambda: self.parked() >= base + len(paths), 30,
                           what="%d blocking queries to park" % len(paths))
        return threads, statuses

    def join(self, threads, statuses, n):
        for t in threads:
            t.join(60)
        self.assertEqual(list(statuses.values()), [200] * n, statuses)

    def test_fanout_counts_each_query_a_change_wakes(self):
        self.agent.register({"Name": "fan", "ID": "fan-1", "Port": 80,
                             "Check": {"TTL": "60s", "Status": "passing"}})
        _, index = self.agent.get_json("/v1/health/service/fan")
        self.agent.put_ok("/v1/kv/fan/a", "1")
        _, kv_index = self.agent.get_json("/v1/kv/fan/a")
        start = int(self.fanout_count())

        # Not fan-out: a query that ends by its wait, and one whose client goes away.
        self.assertEqual(self.agent.get("/v1/health/service/fan?index=%d&wait=100ms" % index,
                                        timeout=30).status, 200)
        base = self.parked()
        sock = self.agent.raw_socket()
        sock.sendall(b"GET /v1/health/service/fan?index=%d&wait=60s HTTP/1.1\r\n"
                     b"Host: x\r\n\r\n" % index)
        harness.wait_until(lambda: self.parked() > base, 30, what="the query to park")
        sock.close()
        harness.wait_until(lambda: self.parked() == base, 30, what="the query to unpark")
        self.assertEqual(self.fanout_count(), start)

        # One status change wakes every query on the service: health, catalog, the delta stream.
        paths = ["/v1/health/service/fan?index=%d&wait=60s" % index,
                 "/v1/health/service/fan?passing&index=%d&wait=60s" % index,
                 "/v1/health/checks/fan?index=%d&wait=60s" % index,
                 "/v1/catalog/service/fan?index=%d&wait=60s" % index,
                 "/v1/concierge/delta/service/fan?index=%d&wait=60s" % index]
        threads, statuses = self.park(paths)
        self.agent.put_ok("/v1/agent/check/warn/service:fan-1")
        self.join(threads, statuses, len(paths))
        self.assertEqual(self.fanout_count(), start + len(paths))

        # KV (a change to another key wakes the watch, which parks again: one answer, counted
        # once) and Consul's ?hash on the agent's services.
        services = self.agent.get("/v1/agent/services")
        paths = ["/v1/kv/fan/a?index=%d&wait=60s" % kv_index,
                 "/v1/agent/services?hash=%s&wait=60s" % services.header("X-Consul-ContentHash")]
        threads, statuses = self.park(paths)
        self.agent.put_ok("/v1/kv/fan/b", "1")
        self.agent.put_ok("/v1/kv/fan/a", "2")
        self.agent.register({"Name": "fan-2", "ID": "fan-2", "Port": 80})
        self.join(threads, statuses, len(paths))
        self.assertEqual(self.fanout_count(), start + 7)

        text = self.agent.get("/v1/agent/metrics?format=prometheus").text
        self.assertIn("# TYPE %s histogram" % FANOUT, text)
        self.assertIn('%s_bucket{le="+Inf"} %d' % (FANOUT, start + 7), text)
        body = json.loads(self.agent.get("/v1/agent/metrics").body)
        samples = {s["Name"]: s for s in body["Samples"]}
        self.assertEqual(samples["concierge.watch.fanout"]["Count"], start + 7)


if __name__ == "__main__":
    unittest.main()
