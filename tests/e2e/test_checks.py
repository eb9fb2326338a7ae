"""Active checks against the real agent: HTTP checks against a tiny HTTP server this test runs
and TCP checks against a listening socket, with FailuresBeforeCritical honoured."""

import http.server
import socket
import threading
import time
import unittest

import harness
from test_cluster import ELECTION_TIMEOUT, ClusterTestCase

INTERVAL = "200ms"


class Backend:
    """An HTTP server on 127.0.0.1:0 that answers every GET with `code`, counting answers."""

    def __init__(self):
        backend = self
        self.code = 200
        self.served = {}
        self.headers_seen = []
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with backend.lock:
                    code = backend.code
                    backend.served[code] = backend.served.get(code, 0) + 1
                    backend.headers_seen.append(dict(self.headers))
                body = b"status %d from the backend" % code
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def set(self, code):
        with self.lock:
            self.code = code

    def count(self, code):
        with self.lock:
            return self.served.get(code, 0)

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class ActiveChecksTest(harness.AgentTestCase):
    def check(self, check_id):
        checks = self.agent.get("/v1/agent/checks").json()
        return checks.get(check_id)

    def wait_status(self, check_id, status, timeout=15):
        return harness.wait_until(
            lambda: (self.check(check_id) or {}).get("Status") == status and self.check(check_id),
            timeout, what="%s to be %s" % (check_id, status))

    def test_http_check_follows_the_backend(self):
        backend = Backend()
        self.addCleanup(backend.stop)
        url = "http://127.0.0.1:%d/health" % backend.port
        self.agent.register({
            "Name": "checked-web", "ID": "checked-web-1", "Port": backend.port,
            "Check": {"HTTP": url, "Interval": INTERVAL, "Timeout": "1s",
                      "Header": {"X-Probe": ["concierge"]}, "FailuresBeforeCritical": 3}})
        c = self.check("service:checked-web-1")
        self.assertEqual(c["Type"], "http")
        self.assertEqual(c["Definition"]["HTTP"], url)
        self.assertEqual(c["Definition"]["Header"], {"X-Probe": ["concierge"]})
        self.assertEqual(c["Definition"]["FailuresBeforeCritical"], 3)
        self.assertEqual(c["Status"], "critical", "an active check starts critical")

        c = self.wait_status("service:checked-web-1", "passing")
        self.assertEqual(c["Output"],
                         "HTTP GET %s: 200 OK Output: status 200 from the backend" % url)
        self.assertEqual(backend.headers_seen[0].get("X-Probe"), "concierge")
        self.assertEqual(backend.headers_seen[0].get("User-Agent"), "Concierge Health Check")
        passing = self.agent.get("/v1/health/service/checked-web?passing").json()
        self.assertEqual([e["Service"]["ID"] for e in passing], ["checked-web-1"])

        # 500: critical only after three failures in a row.
        backend.set(500)
        c = self.wait_status("service:checked-web-1", "critical")
        self.assertGreaterEqual(backend.count(500), 3, "FailuresBeforeCritical is 3")
        self.assertIn("500 Internal Server Error", c["Output"])
        self.assertEqual(self.agent.get("/v1/health/service/checked-web?passing").json(), [])

        # 429: warning (at once: warning counts as a success, as in Consul).
        backend.set(429)
        c = self.wait_status("service:checked-web-1", "warning")
        self.assertIn("429 Too Many Requests", c["Output"])

        # The backend goes away: critical, with the connection error as output.
        backend.set(200)
        self.wait_status("service:checked-web-1", "passing")
        backend.stop()
        c = self.wait_status("service:checked-web-1", "critical")
        self.assertIn("HTTP GET %s: " % url, c["Output"])
        self.assertIn("refused", c["Output"].lower())

        # Every transition is in the log once, with the reason.
        log = self.agent.stderr
        self.assertIn("check service:checked-web-1 of service checked-web-1 (checked-web): "
                      "critical -> passing: check output: HTTP GET %s: 200 OK" % url, log)
        self.assertIn("passing -> critical: check output: HTTP GET %s: 500" % url, log)
        self.assertIn("critical -> warning: check output: HTTP GET %s: 429" % url, log)

    def test_failures_before_critical_holds_back_a_single_failure(self):
        backend = Backend()
        self.addCleanup(backend.stop)
        url = "http://127.0.0.1:%d/" % backend.port
        self.agent.register({
            "Name": "blip", "ID": "blip-1",
            "Check": {"HTTP": url, "Interval": "300ms", "FailuresBeforeCritical": 3}})
        self.wait_status("service:blip-1", "passing")
        backend.set(500)
        harness.wait_until(lambda: backend.count(500) >= 1, 10, what="a failure")
        # One or two failures in a row: still passing.
        status = self.check("service:blip-1")["Status"]
        if backend.count(500) < 3:  # a loaded machine may let the test fall behind
            self.assertEqual(status, "passing")
        backend.set(200)
        served = backend.count(200)
        harness.wait_until(lambda: backend.count(200) > served + 2, 10, what="successes")
        if backend.count(500) < 3:
            self.assertEqual(self.check("service:blip-1")["Status"], "passing")

    def test_tcp_check_follows_the_listener(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        port = listener.getsockname()[1]
        self.addCleanup(listener.close)
        self.agent.register({
            "Name": "checked-db", "ID": "checked-db-1",
            "Checks": [{"TCP": "127.0.0.1:%d" % port, "Interval": INTERVAL,
                        "FailuresBeforeCritical": 2}]})
        c = self.wait_status("service:checked-db-1:1", "passing")
        self.assertEqual(c["Type"], "tcp")
        self.assertEqual(c["Output"], "TCP connect 127.0.0.1:%d: Success" % port)
        listener.close()
        c = self.wait_status("service:checked-db-1:1", "critical")
        self.assertEqual(c["Output"], "dial tcp 127.0.0.1:%d: Connection refused" % port)

    def test_deregistration_stops_the_check(self):
        backend = Backend()
        self.addCleanup(backend.stop)
        self.agent.register({
            "Name": "gone", "ID": "gone-1",
            "Check": {"HTTP": "http://127.0.0.1:%d/" % backend.port, "Interval": "100ms"}})
        self.wait_status("service:gone-1", "passing")
        self.agent.put_ok("/v1/agent/service/deregister/gone-1")
        time.sleep(0.2)  # a run already under way may still arrive
        served = backend.count(200)
        time.sleep(0.5)
        self.assertEqual(backend.count(200), served, "no runs after deregistration")

    def test_bad_check_definitions_are_refused(self):
        cases = [
            ({"HTTP": "https://127.0.0.1/", "Interval": "10s"}, "https:// checks are not supported"),
            ({"HTTP": "http://127.0.0.1/"}, "Check.Interval: is required"),
            ({"HTTP": "http://127.0.0.1/", "Interval": "10ms"}, "Check.Interval: must be at least"),
            ({"HTTP": "http://127.0.0.1/", "TTL": "10s", "Interval": "1s"}, "not both"),
            ({"TCP": "127.0.0.1", "Interval": "1s"}, "TCP: expected host:port"),
            ({"UDP": "127.0.0.1:1"}, "Check.Interval: is required for udp checks"),
            ({"Args": ["true"], "Interval": "1s"}, "Scripts are disabled on this agent"),
            ({"HTTP": "http://127.0.0.1/", "Interval": "1s", "Header": {"X": "a\r\nB: c"}},
             "must not contain control characters"),
            ({"HTTP": "http://127.0.0.1/", "Interval": "1s", "Header": ["X"]},
             "Check.Header: expected an object"),
        ]
        for check, message in cases:
            with self.subTest(check=check):
                r = self.agent.put("/v1/agent/service/register",
                                   {"Name": "bad-check", "Check": check})
                self.assertEqual(r.status, 400, r)
                self.assertIn(message, r.text)

    def test_heartbeats_are_refused_on_active_checks(self):
        self.agent.register({"Name": "nohb", "ID": "nohb-1",
                             "Check": {"TCP": "127.0.0.1:1", "Interval": "10s"}})
        r = self.agent.put("/v1/agent/check/pass/service:nohb-1")
        self.assertEqual(r.status, 404)
        self.assertIn("pass, warn and fail are for TTL checks", r.text)


class ActiveChecksInAClusterTest(ClusterTestCase):
    """Only the leader runs the checks, and a new leader takes them over."""

    def test_the_leader_runs_the_checks_and_its_successor_takes_over(self):
        specs, servers, leader = self.start_cluster()
        backend = Backend()
        self.addCleanup(backend.stop)
        r = self.put_until_not_503(servers[leader], "/v1/agent/service/register", {
            "Name": "clustered", "ID": "clustered-1",
            "Check": {"HTTP": "http://127.0.0.1:%d/" % backend.port, "Interval": "200ms"}})
        self.assertEqual(r.status, 200, r)

        def status(server):
            checks = server.try_json("/v1/agent/checks?stale") or {}
            return checks.get("service:clustered-1", {}).get("Status")

        for s in servers:
            harness.wait_until(lambda: status(s) == "passing", 15,
                               what="%s to show the check passing" % s.address)
        # One server runs it: about 5 runs a second, not 15.
        before = backend.count(200)
        time.sleep(2)
        runs = backend.count(200) - before
        self.assertGreater(runs, 2)
        self.assertLessEqual(runs, 13, "more than one server runs the check")

        old = specs[leader].raft_address
        servers[leader].kill()
        survivors = [s for i, s in enumerate(servers) if i != leader]
        survivor_specs = [spec for i, spec in enumerate(specs) if i != leader]
        new = self.wait_for_leader(survivors, survivor_specs, ELECTION_TIMEOUT, not_this=old)
        backend.set(500)
        harness.wait_until(lambda: status(survivors[new]) == "critical", 15,
                           what="the new leader to run the check and see the failure")
        harness.wait_until(lambda: all(status(s) == "critical" for s in survivors), 15,
                           what="every survivor to show the check critical")


class AllowedNetworksTest(unittest.TestCase):
    """-check-allowed-networks: a check whose target is outside is critical, not contacted."""

    def test_targets_outside_the_allowed_networks_are_not_contacted(self):
        backend = Backend()
        self.addCleanup(backend.stop)
        with harness.Agent("-dns-port", "-1",
                           "-check-allowed-networks", "10.0.0.0/8, fd00::/8") as agent:
            url = "http://127.0.0.1:%d/health" % backend.port
            agent.register({"Name": "fenced", "ID": "fenced-1",
                            "Check": {"HTTP": url, "Interval": INTERVAL, "Status": "passing"}})
            agent.register({"Name": "fenced", "ID": "fenced-2",
                            "Check": {"TCP": "127.0.0.1:%d" % backend.port,
                                      "Interval": INTERVAL, "Status": "passing"}})
            for check_id in ("service:fenced-1", "service:fenced-2"):
                c = harness.wait_until(
                    lambda: (agent.get("/v1/agent/checks").json().get(check_id, {})
                             .get("Status") == "critical") and
                    agent.get("/v1/agent/checks").json()[check_id], 15,
                    what="%s to be critical" % check_id)
                self.assertIn("address 127.0.0.1 is outside -check-allowed-networks "
                              "(10.0.0.0/8,fd00::/8); not contacted", c["Output"])
            time.sleep(0.5)
            self.assertEqual(backend.served, {})

    def test_a_bad_network_stops_the_agent_with_a_message(self):
        agent = harness.Agent("-dns-port", "-1", "-check-allowed-networks", "10.0.0.0/33")
        with self.assertRaises(AssertionError) as failed:
            agent.start()
        self.assertIn("-check-allowed-networks: expected CIDR blocks", str(failed.exception))


if __name__ == "__main__":
    unittest.main()
