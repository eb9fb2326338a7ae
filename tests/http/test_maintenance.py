"""Maintenance mode against the real agent: Consul's endpoints and `concierge maint`."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import harness  # noqa: E402


class MaintenanceTest(harness.AgentTestCase):
    def passing_ids(self, name):
        body = self.agent.get("/v1/health/service/%s?passing" % name).json()
        return sorted(e["Service"]["ID"] for e in body)

    def register(self, name, sid):
        self.agent.register({"Name": name, "ID": sid,
                             "Check": {"TTL": "30s", "Status": "passing"}})

    def test_service_maintenance_fails_passing_and_keeps_the_reason(self):
        self.register("maint-a", "maint-a-1")
        self.register("maint-a", "maint-a-2")
        self.agent.put_ok("/v1/agent/service/maintenance/maint-a-1?enable=true&reason=deploy%20v2")
        self.assertEqual(self.passing_ids("maint-a"), ["maint-a-2"])
        checks = self.agent.get("/v1/agent/checks").json()
        m = checks["_service_maintenance:maint-a-1"]
        self.assertEqual(m["Status"], "critical")
        self.assertEqual(m["Name"], "Service Maintenance Mode")
        self.assertEqual(m["Notes"], "deploy v2")
        self.assertEqual(m["ServiceID"], "maint-a-1")
        # A heartbeat does not clear maintenance.
        self.agent.put_ok("/v1/agent/check/pass/service:maint-a-1")
        self.assertEqual(self.passing_ids("maint-a"), ["maint-a-2"])
        self.agent.put_ok("/v1/agent/service/maintenance/maint-a-1?enable=false")
        self.assertEqual(self.passing_ids("maint-a"), ["maint-a-1", "maint-a-2"])

    def test_errors(self):
        self.assertEqual(self.agent.put("/v1/agent/service/maintenance/nope?enable=true").status,
                         404)
        self.register("maint-b", "maint-b-1")
        self.assertEqual(self.agent.put("/v1/agent/service/maintenance/maint-b-1").status, 400)
        self.assertEqual(
            self.agent.put("/v1/agent/service/maintenance/maint-b-1?enable=maybe").status, 400)
        self.assertEqual(self.agent.get("/v1/agent/maintenance?enable=true").status, 405)

    def test_node_maintenance_and_the_cli(self):
        self.register("maint-c", "maint-c-1")
        env = dict(os.environ, CONCIERGE_HTTP_ADDR=self.agent.address)
        cli = [harness.binary()]
        r = subprocess.run(cli + ["maint", "-enable", "-reason", "kernel upgrade"], env=env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        try:
            self.assertEqual(self.passing_ids("maint-c"), [])
            checks = self.agent.get("/v1/agent/checks").json()
            self.assertEqual(checks["_node_maintenance"]["Notes"], "kernel upgrade")
            self.assertEqual(checks["_node_maintenance"]["ServiceID"], "")
            listing = subprocess.run(cli + ["maint"], env=env, capture_output=True, text=True,
                                     timeout=30)
            self.assertIn("kernel upgrade", listing.stdout)
        finally:
            r = subprocess.run(cli + ["maint", "-disable"], env=env, capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.passing_ids("maint-c"), ["maint-c-1"])
        r = subprocess.run(cli + ["maint", "-service", "maint-c-1", "-enable"], env=env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.passing_ids("maint-c"), [])


if __name__ == "__main__":
    unittest.main()
