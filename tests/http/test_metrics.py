"""GET /v1/agent/metrics against the real agent: Prometheus text checked by Debian's promtool
(skipped when promtool is not installed), Consul's JSON shape, and the route labels."""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import harness  # noqa: E402


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


if __name__ == "__main__":
    unittest.main()
