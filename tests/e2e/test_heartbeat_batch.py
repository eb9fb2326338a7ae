"""The native batch of heartbeats, PUT /v1/concierge/heartbeats (docs/clustering.md): many
check IDs in one request, one result per ID, the same effects as the single endpoints
(a heartbeat, a status change, a note), and a clear 400 for every malformed body."""

import time
import unittest

from harness import AgentTestCase, wait_until

BATCH = "/v1/concierge/heartbeats"


class HeartbeatBatchTest(AgentTestCase):

    def register(self, service, n, ttl="30s", status="passing"):
        ids = []
        for i in range(n):
            sid = "%s-%d" % (service, i)
            self.agent.register({"ID": sid, "Name": service, "Port": 8000 + i,
                                 "Check": {"TTL": ttl, "Status": status}})
            ids.append("service:" + sid)
        return ids

    def statuses(self, service):
        entries, _ = self.agent.get_json("/v1/health/checks/" + service)
        return {c["CheckID"]: (c["Status"], c["Output"]) for c in entries}

    def test_batch_records_every_heartbeat_and_answers_per_id(self):
        ids = self.register("batch-a", 3, status="critical")
        r = self.agent.put(BATCH, {"Checks": ids + ["service:no-such-check"]})
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["Results"], [200, 200, 200, 404])
        self.assertEqual(len(body["Errors"]), 1)
        self.assertEqual(body["Errors"][0]["Position"], 3)
        self.assertIn("unknown check ID", body["Errors"][0]["Error"])
        self.assertGreaterEqual(body["Index"], 1)
        self.assertEqual(r.header("X-Consul-Index"), str(body["Index"]))
        # Critical -> passing went through the log before the answer.
        self.assertEqual({s for s, _ in self.statuses("batch-a").values()}, {"passing"})

    def test_statuses_and_notes_per_entry_and_as_defaults(self):
        ids = self.register("batch-b", 3)
        r = self.agent.put(BATCH, {"Status": "warning", "Note": "slow", "Checks": [
            ids[0], {"ID": ids[1], "Status": "critical", "Note": "disk full"},
            {"id": ids[2], "status": "passing"}]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["Results"], [200, 200, 200])
        got = self.statuses("batch-b")
        self.assertEqual(got[ids[0]], ("warning", "slow"))
        self.assertEqual(got[ids[1]], ("critical", "disk full"))
        self.assertEqual(got[ids[2]][0], "passing")

    def test_batch_keeps_checks_alive(self):
        ids = self.register("batch-c", 2, ttl="1s")
        # Heartbeat only the first, for 2.5 s: the second expires, the first does not.
        for _ in range(10):
            self.assertEqual(self.agent.put(BATCH, {"Checks": [ids[0]]}).status, 200)
            time.sleep(0.25)
        wait_until(lambda: self.statuses("batch-c")[ids[1]][0] == "critical", 5,
                   what="the silent check to expire")
        got = self.statuses("batch-c")
        self.assertEqual(got[ids[0]][0], "passing")
        self.assertEqual(got[ids[1]][0], "critical")

    def test_bad_bodies_get_400_with_the_reason(self):
        cases = [
            ("not json", "not valid JSON"),
            ("[]", "expected a JSON object"),
            ("{}", "Checks: expected an array"),
            ('{"Checks": "service:x"}', "Checks: expected an array"),
            ('{"Checks": [1]}', "Checks[0]: expected a check ID"),
            ('{"Checks": [""]}', "Checks[0]: the check ID is empty"),
            ('{"Checks": [{"Status": "passing"}]}', "Checks[0].ID"),
            ('{"Checks": ["a", {"ID": "b", "Status": "dead"}]}', "Checks[1].Status"),
            ('{"Status": 3, "Checks": []}', "Status: expected a string"),
            ('{"Note": [], "Checks": []}', "Note: expected a string"),
            ('{"Checks": [' + ",".join(['"x"'] * 10001) + "]}", "at most 10000"),
            ("[" * 100000, "not valid JSON"),
        ]
        for body, message in cases:
            r = self.agent.put(BATCH, body)
            self.assertEqual(r.status, 400, (body[:40], r))
            self.assertIn(message, r.text, body[:40])
        r = self.agent.request("DELETE", BATCH)
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.header("Allow"), "GET, HEAD, PUT")
        # An empty batch is valid and answers nothing.
        r = self.agent.put(BATCH, {"Checks": []})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["Results"], [])

    def test_note_too_long_fails_only_its_entry(self):
        ids = self.register("batch-d", 2)
        r = self.agent.put(BATCH, {"Checks": [{"ID": ids[0], "Note": "x" * 5000}, ids[1]]})
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["Results"], [400, 200])
        self.assertEqual(body["Errors"][0]["Position"], 0)


if __name__ == "__main__":
    unittest.main()
