"""The delta stream (GET /v1/concierge/delta/service/:name) on the durable agent: what changed
since an index, blocking; "Resync" for an index the agent does not know (0, older than its
history, from before a kill -9 and restart); and the client library's Watcher following a service
with deltas (through `concierge gateway`, whose routes are Watchers): after the first whole
read, a change costs a delta request, not a whole /v1/health/service answer.
"""

import http.client
import re
import shutil
import tempfile
import threading
import unittest

from harness import Server, wait_until
from test_gateway import HTTP_BACKEND, Backend, Gateway

DELTA = "/v1/concierge/delta/service/"


def start_server(data_dir):
    server = Server("-data-dir", data_dir, "-http-addr", "127.0.0.1:0", "-server-port", "0",
                    "-dns-port", "0", "-node", "delta-node")
    server.start()
    wait_until(lambda: server.get("/v1/status/leader").json(), 20, what="a leader")
    return server


class DeltaTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.data_dir = tempfile.mkdtemp(prefix="concierge-delta-")
        cls.addClassCleanup(shutil.rmtree, cls.data_dir, True)
        cls.server = start_server(cls.data_dir)
        cls.addClassCleanup(lambda: cls.server.reap())

    def register(self, service, instance_id, port=80, ttl="30s"):
        self.server.put_ok("/v1/agent/service/register", {
            "Name": service, "ID": instance_id, "Address": "127.0.0.1", "Port": port,
            "Check": {"TTL": ttl}})

    def delta(self, service, index, **kw):
        r = self.server.get(DELTA + service + "?wait=0s&index=%d" % index, **kw)
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(int(r.header("X-Consul-Index")), body["Index"])
        return body

    def changed(self, body):
        return {e["Service"]["ID"]: e["Checks"][0]["Status"] for e in body["Changed"]}

    def parked(self):
        text = self.server.get("/v1/agent/metrics?format=prometheus").text
        m = re.search(r"^concierge_blocking_queries (\d+)", text, re.M)
        return int(m.group(1)) if m else 0

    def metric(self, route):
        text = self.server.get("/v1/agent/metrics?format=prometheus").text
        pattern = r'concierge_http_requests_total\{route="%s",code="200"\} (\d+)' % re.escape(route)
        return sum(int(n) for n in re.findall(pattern, text))

    def test_what_changed_since_an_index_then_resync_after_a_restart(self):
        for i in range(50):
            self.register("delta-web", "delta-web-%d" % i)
        r = self.server.get("/v1/health/service/delta-web")
        self.assertEqual(len(r.json()), 50)
        start = int(r.header("X-Consul-Index"))
        self.assertTrue(self.delta("delta-web", 0)["Resync"])
        nothing = self.delta("delta-web", start)
        self.assertEqual((nothing["Resync"], nothing["Changed"], nothing["Removed"]),
                         (False, [], []))
        self.assertEqual(nothing["Index"], start)

        # A blocking delta wakes with the one instance that changed.
        answer = {}
        def watch():
            r = self.server.get(DELTA + "delta-web?index=%d&wait=20s" % start, timeout=30)
            answer["body"] = r.json()
        t = threading.Thread(target=watch)
        t.start()
        wait_until(lambda: self.parked() >= 1, 10, what="the delta query to park")
        self.server.put_ok("/v1/agent/check/pass/service:delta-web-7")
        t.join(30)
        self.assertFalse(t.is_alive())
        woken = answer["body"]
        self.assertFalse(woken["Resync"])
        self.assertEqual(self.changed(woken), {"delta-web-7": "passing"})
        self.assertEqual(woken["Removed"], [])

        # More changes: one goes, one comes; only those are in the next delta.
        self.server.put_ok("/v1/agent/service/deregister/delta-web-3")
        self.register("delta-web", "delta-web-new")
        later = self.delta("delta-web", woken["Index"])
        self.assertEqual(self.changed(later), {"delta-web-new": "critical"})
        self.assertEqual(later["Removed"], ["delta-web-3"])
        self.assertTrue(self.delta("nothing-here", 5)["Resync"])
        self.assertEqual(self.server.get(DELTA + "delta-web?index=nope").status, 400)

        # kill -9 and restart: the log replays the same catalog at the same indexes, so a
        # client at the last index is up to date; the history of before is gone (resync from
        # an older index), and changes after the restart are deltas again.
        self.server.reap()
        type(self).server = start_server(self.data_dir)
        wait_until(lambda: len(self.server.get("/v1/health/service/delta-web").json()) == 50,
                   20, what="the catalog after the restart")
        same = self.delta("delta-web", later["Index"])
        self.assertEqual((same["Resync"], same["Changed"], same["Removed"], same["Index"]),
                         (False, [], [], later["Index"]))
        self.assertTrue(self.delta("delta-web", woken["Index"])["Resync"])
        self.server.put_ok("/v1/agent/check/pass/service:delta-web-9")
        after = self.delta("delta-web", later["Index"])
        self.assertEqual(self.changed(after), {"delta-web-9": "passing"})

    def test_the_client_library_follows_a_big_service_with_deltas(self):
        # 300 instances, one of them a real backend that passes; the gateway's Watcher (passing
        # only) routes to it once it passes, and stops when it fails.
        backend = Backend(HTTP_BACKEND, "only")
        self.addCleanup(backend.kill)
        for i in range(300):
            self.register("delta-gw", "delta-gw-%d" % i, port=9)
        self.register("delta-gw", "delta-gw-live", port=backend.port)
        health_before = self.metric("/v1/health/service/:name")
        deltas_before = self.metric("/v1/concierge/delta/service/:name")
        g = Gateway("-http-addr", self.server.address, "-listen", "127.0.0.1:0",
                    "-route", "/api/=delta-gw")
        self.addCleanup(g.stop)
        g.wait_listening(http=True, tcp_routes=0)

        def status():
            conn = http.client.HTTPConnection("127.0.0.1", g.http_port, timeout=10)
            try:
                conn.request("GET", "/api/x")
                r = conn.getresponse()
                r.read()
                return r.status
            finally:
                conn.close()

        self.assertEqual(status(), 503)  # nothing passes yet
        for flip in ("pass", "fail", "pass"):
            self.server.put_ok("/v1/agent/check/%s/service:delta-gw-live" % flip)
            want = 200 if flip == "pass" else 503
            wait_until(lambda: status() == want, 10, what="the gateway to see the %s" % flip)
        # One whole read when the watcher started; each change after it was a delta.
        self.assertEqual(self.metric("/v1/health/service/:name") - health_before, 1)
        self.assertGreaterEqual(self.metric("/v1/concierge/delta/service/:name") - deltas_before, 3)


if __name__ == "__main__":
    unittest.main()
