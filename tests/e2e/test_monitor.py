"""`concierge monitor` and GET /v1/agent/monitor against the real agent: log lines stream as
they are written, and every status transition is one line with the instance, the old and the
new status, and why."""

import http.client
import signal
import socket
import subprocess
import threading
import time
import unittest

import harness


class MonitorReader:
    """GET /v1/agent/monitor on its own connection; collects the lines as they arrive."""

    def __init__(self, agent, query="", timeout=30):
        self.conn = http.client.HTTPConnection(agent.host, agent.port, timeout=timeout)
        self.conn.request("GET", "/v1/agent/monitor" + query)
        # The connection lets go of its socket when the answer says it will close.
        self.sock = self.conn.sock
        self.response = self.conn.getresponse()
        self.lines = []
        self.lock = threading.Lock()
        self.thread = None
        if self.response.status == 200:
            self.thread = threading.Thread(target=self._read, daemon=True)
            self.thread.start()

    def _read(self):
        pending = b""
        try:
            while True:
                data = self.response.read1(65536)
                if not data:
                    return
                pending += data
                *complete, pending = pending.split(b"\n")
                with self.lock:
                    self.lines.extend(line.decode("utf-8", "replace") for line in complete)
        except (OSError, ValueError, http.client.HTTPException):
            return

    def text(self):
        with self.lock:
            return "\n".join(self.lines)

    def wait_for(self, fragment, timeout=15):
        return harness.wait_until(lambda: fragment in self.text(), timeout,
                                  what="monitor line containing %r" % fragment)

    def close(self):
        # shutdown() wakes the reading thread and sends the FIN; close() alone would do
        # neither while that thread is inside recv().
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.conn.close()


class MonitorTest(harness.AgentTestCase):
    def reader(self, query=""):
        r = MonitorReader(self.agent, query)
        self.addCleanup(r.close)
        return r

    def test_transitions_stream_with_their_reasons(self):
        r = self.reader()
        self.assertEqual(r.response.status, 200)
        self.assertEqual(r.response.getheader("Transfer-Encoding"), "chunked")
        self.agent.register({"Name": "mon", "ID": "mon-1",
                             "Check": {"TTL": "300ms", "Status": "passing"}})
        line = r.wait_for("check service:mon-1 of service mon-1 (mon): passing -> critical: "
                          "TTL expired: no heartbeat for ")
        self.assertIn(" (at 20", r.text(), "the expiry says when it was decided")
        self.agent.put_ok("/v1/agent/check/pass/service:mon-1")
        r.wait_for("check service:mon-1 of service mon-1 (mon): critical -> passing: heartbeat")
        self.agent.put_ok("/v1/agent/check/fail/service:mon-1?note=disk%20full")
        r.wait_for("passing -> critical: heartbeat: disk full")
        self.agent.put_ok("/v1/agent/service/maintenance/mon-1?enable=true&reason=deploying")
        r.wait_for("service mon-1 (mon): maintenance mode enabled: deploying")
        # Once each: the transition to critical by expiry is one line.
        self.assertEqual(r.text().count("passing -> critical: TTL expired"), 1)
        self.assertTrue(line)

    def test_a_lower_level_than_the_agents_reaches_only_the_monitor(self):
        r = self.reader("?loglevel=debug")
        self.assertEqual(r.response.status, 200)
        self.agent.register({"Name": "mon-debug", "ID": "mon-debug-1"})
        r.wait_for("service mon-debug-1 (mon-debug): registered")
        self.assertNotIn("mon-debug-1 (mon-debug): registered", self.agent.stderr,
                         "the agent's own -log-level (info) still applies to stderr")

    def test_bad_parameters_are_refused(self):
        for query, message in (("?loglevel=loud", "loglevel: expected trace, debug"),
                               ("?logjson=true", "logjson")):
            with self.subTest(query=query):
                r = self.agent.get("/v1/agent/monitor" + query)
                self.assertEqual(r.status, 400)
                self.assertIn(message, r.text)

    def test_concierge_monitor_prints_lines_until_interrupted(self):
        proc = subprocess.Popen([harness.binary(), "monitor", "-http-addr", self.agent.address],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(proc.kill)
        lines = []

        def read():
            for raw in proc.stdout:
                lines.append(raw.decode("utf-8", "replace"))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        # The command subscribes once it has connected; transitions before that are not shown.
        self.agent.register({"Name": "mon-cli", "ID": "mon-cli-1",
                             "Check": {"TTL": "30s", "Status": "passing"}})
        deadline = time.monotonic() + 15
        while not any("mon-cli-1 (mon-cli): passing -> critical" in l for l in lines):
            self.assertLess(time.monotonic(), deadline, "no transition line: %r" % lines)
            self.agent.put_ok("/v1/agent/check/fail/service:mon-cli-1")
            time.sleep(0.2)
            self.agent.put_ok("/v1/agent/check/pass/service:mon-cli-1")
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        self.assertIsNotNone(proc.wait(10))
        reader.join(5)

    def test_a_reader_that_goes_away_is_forgotten(self):
        for _ in range(40):  # more than the 32 readers allowed at once
            r = MonitorReader(self.agent)
            self.assertEqual(r.response.status, 200)
            r.close()
            harness.wait_until(lambda: r.thread is None or not r.thread.is_alive(), 10,
                               what="the reader to end")
        self.agent.register({"Name": "mon-gone", "ID": "mon-gone-1"})  # makes a log line
        r = self.reader()
        self.assertEqual(r.response.status, 200)


if __name__ == "__main__":
    unittest.main()
