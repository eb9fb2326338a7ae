#!/usr/bin/python3
"""DNS against the real agent with `dig`: A, SRV with the targets' addresses, tag filter,
NXDOMAIN, truncation and TCP retry, and an instance that goes critical leaving the answers.

Standard library and `dig` (Debian dnsutils) only. The binary comes from CONCIERGE_BIN (set
by ctest); the agent runs with -http-addr 127.0.0.1:0 -dns-port 0 and reports its ports.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest
import urllib.request

STARTUP_TIMEOUT = 30.0
_HTTP = re.compile(r"HTTP API listening on http://([0-9.]+):(\d+)")
_DNS = re.compile(r"DNS listening on ([0-9.]+):(\d+) \(udp\+tcp\)")


class Agent:
    def __init__(self, *extra):
        binary = os.environ.get("CONCIERGE_BIN")
        if not binary:
            raise unittest.SkipTest("CONCIERGE_BIN is not set (run through ctest)")
        self.args = [binary, "agent", "-dev", "-node", "node1", "-http-addr", "127.0.0.1:0",
                     "-dns-port", "0", *extra]
        self.http_port = None
        self.dns_port = None
        self.lines = []
        self._ready = threading.Event()

    def start(self):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(STARTUP_TIMEOUT):
            self.stop()
            raise RuntimeError("agent did not report its ports:\n" + "".join(self.lines))

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            if m := _HTTP.search(line):
                self.http_port = int(m.group(2))
            if m := _DNS.search(line):
                self.dns_port = int(m.group(2))
            if self.http_port and self.dns_port:
                self._ready.set()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def put(self, path, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.http_port, path), data=data,
                                     method="PUT")
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status


class Answer:
    """What dig printed: status, flags and the records of each section."""

    def __init__(self, text):
        self.text = text
        m = re.search(r"status: (\w+)", text)
        self.status = m.group(1) if m else None
        m = re.search(r";; flags: ([a-z ]*);", text)
        self.flags = set(m.group(1).split()) if m else set()
        self.sections = {}
        section = None
        for line in text.splitlines():
            m = re.match(r";; (\w+) SECTION:", line)
            if m:
                section = m.group(1)
                self.sections[section] = []
            elif not line.strip():
                section = None
            elif section and not line.startswith(";"):
                self.sections[section].append(line.split())

    def records(self, section="ANSWER", rtype=None):
        return [r for r in self.sections.get(section, []) if rtype is None or r[3] == rtype]

    def data(self, section="ANSWER", rtype=None):
        return sorted(" ".join(r[4:]) for r in self.records(section, rtype))


class DigTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not shutil.which("dig"):
            raise unittest.SkipTest("dig is not installed (Debian package dnsutils)")
        cls.agent = Agent()
        cls.agent.start()
        cls.register("web-1", "web", "10.0.0.1", 8080, tags=["primary"])
        cls.register("web-2", "web", "10.0.0.2", 8081)
        cls.register("web-3", "web", "127.0.0.1", 8082)

    @classmethod
    def tearDownClass(cls):
        code = cls.agent.stop()
        assert code == 0, "agent exited with %s:\n%s" % (code, "".join(cls.agent.lines))

    @classmethod
    def register(cls, sid, name, address, port, tags=(), ttl="60s", status="passing"):
        cls.agent.put("/v1/agent/service/register", {
            "ID": sid, "Name": name, "Address": address, "Port": port, "Tags": list(tags),
            "Check": {"TTL": ttl, "Status": status}})

    def dig(self, name, rtype="A", *options):
        out = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.agent.dns_port), name, rtype,
                              "+time=2", "+tries=2", *options],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        return Answer(out.stdout)

    def wait_for(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            answer = predicate()
            if answer or time.monotonic() > deadline:
                return answer
            time.sleep(0.05)

    def test_a_records_of_healthy_instances(self):
        a = self.dig("web.service.consul")
        self.assertEqual(a.status, "NOERROR")
        self.assertIn("aa", a.flags)
        self.assertEqual(a.data(rtype="A"), ["10.0.0.1", "10.0.0.2", "127.0.0.1"])

    def test_srv_with_targets_in_additional(self):
        a = self.dig("web.service.consul", "SRV")
        self.assertEqual(a.status, "NOERROR")
        self.assertEqual(a.data(rtype="SRV"), ["1 1 8080 0a000001.addr.dc1.consul.",
                                               "1 1 8081 0a000002.addr.dc1.consul.",
                                               "1 1 8082 node1.node.dc1.consul."])
        extra = sorted(r[0] + " " + r[4] for r in a.records("ADDITIONAL", "A"))
        self.assertEqual(extra, ["0a000001.addr.dc1.consul. 10.0.0.1",
                                 "0a000002.addr.dc1.consul. 10.0.0.2",
                                 "node1.node.dc1.consul. 127.0.0.1"])
        rfc = self.dig("_web._tcp.service.dc1.consul", "SRV")
        self.assertEqual(len(rfc.records(rtype="SRV")), 3)

    def test_tag_filter(self):
        self.assertEqual(self.dig("primary.web.service.consul").data(), ["10.0.0.1"])
        self.assertEqual(self.dig("_web._primary.service.consul", "SRV").data(),
                         ["1 1 8080 0a000001.addr.dc1.consul."])

    def test_nxdomain_and_nodata_carry_soa(self):
        a = self.dig("nosuch.service.consul")
        self.assertEqual(a.status, "NXDOMAIN")
        self.assertEqual(len(a.records("AUTHORITY", "SOA")), 1)
        a = self.dig("web.service.consul", "AAAA")
        self.assertEqual(a.status, "NOERROR")
        self.assertEqual(a.records(), [])
        self.assertEqual(len(a.records("AUTHORITY", "SOA")), 1)
        self.assertEqual(self.dig("web.service.dc2.consul").status, "NXDOMAIN")

    def test_outside_the_domain_is_refused(self):
        self.assertEqual(self.dig("example.com").status, "REFUSED")

    def test_node_name(self):
        self.assertEqual(self.dig("node1.node.consul").data(), ["127.0.0.1"])

    def test_names_ignore_case(self):
        self.register("mixed-1", "MixedCase", "10.0.5.1", 80)
        self.assertEqual(self.dig("mixedcase.service.consul").data(), ["10.0.5.1"])
        self.assertEqual(self.dig("WEB.SERVICE.CONSUL").data(rtype="A"),
                         ["10.0.0.1", "10.0.0.2", "127.0.0.1"])

    def test_large_answers_truncate_over_udp_and_retry_over_tcp(self):
        for i in range(100):
            self.register("big-%d" % i, "big", "10.1.0.%d" % i, 80)
        udp = self.dig("big.service.consul", "A", "+ignore", "+noedns")
        self.assertIn("tc", udp.flags)
        self.assertLess(len(udp.records()), 100)
        # dig retries over TCP by itself when it sees TC.
        self.assertEqual(len(self.dig("big.service.consul", "A", "+noedns").records()), 100)
        self.assertEqual(len(self.dig("big.service.consul", "A", "+tcp").records()), 100)
        # An EDNS0 client with a large buffer gets them all over UDP.
        edns = self.dig("big.service.consul", "A", "+bufsize=4096", "+ignore")
        self.assertNotIn("tc", edns.flags)
        self.assertEqual(len(edns.records()), 100)

    def test_instance_that_goes_critical_disappears_at_once(self):
        self.register("flaky-1", "flaky", "10.0.9.1", 80)
        self.register("flaky-2", "flaky", "10.0.9.2", 80)
        self.assertEqual(self.dig("flaky.service.consul").data(), ["10.0.9.1", "10.0.9.2"])
        self.agent.put("/v1/agent/check/fail/service:flaky-1")
        # The write has been applied when the PUT returns: the next query must not see it.
        self.assertEqual(self.dig("flaky.service.consul").data(), ["10.0.9.2"])
        self.agent.put("/v1/agent/check/pass/service:flaky-1")
        self.assertEqual(self.dig("flaky.service.consul").data(), ["10.0.9.1", "10.0.9.2"])

    def test_missed_heartbeats_remove_the_instance_within_the_ttl(self):
        self.register("beat-1", "beat", "10.0.8.1", 80, ttl="1s")
        self.assertEqual(self.dig("beat.service.consul").data(), ["10.0.8.1"])
        start = time.monotonic()
        gone = self.wait_for(lambda: self.dig("beat.service.consul").status == "NXDOMAIN",
                             timeout=10)
        self.assertTrue(gone, "still answered 10 s after its 1 s TTL")
        self.assertLess(time.monotonic() - start, 3.0)

    def test_garbage_is_survived(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(1.0)
            for packet in [b"", b"\x00", b"\xff" * 11, b"\x12\x34\x01\x00\x00\x01" + b"\xc0" * 40,
                           os.urandom(300), b"\x12\x34" + b"\x00" * 10 + b"\x3f" * 500]:
                s.sendto(packet, ("127.0.0.1", self.agent.dns_port))
        with socket.create_connection(("127.0.0.1", self.agent.dns_port), timeout=5) as t:
            t.sendall(b"\x00\x05hello")
            t.sendall(b"\xff\xff" + os.urandom(100))
        self.assertEqual(self.dig("web.service.consul").status, "NOERROR")
        self.assertEqual(self.dig("web.service.consul", "A", "+tcp").status, "NOERROR")


if __name__ == "__main__":
    unittest.main(verbosity=2)
