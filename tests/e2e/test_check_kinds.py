"""The check kinds beyond HTTP and TCP against the real durable agent: UDP against sockets this
test opens, script checks (only with -enable-script-checks), alias checks following a TTL
check, and GRPC and H2PING against servers this test starts."""

import os
import shutil
import socket
import stat
import tempfile
import threading
import unittest

from harness import Server, wait_until

INTERVAL = "200ms"


def start_server(test_class, *flags):
    data_dir = tempfile.mkdtemp(prefix="concierge-check-kinds-")
    test_class.addClassCleanup(shutil.rmtree, data_dir, True)
    server = Server("-data-dir", data_dir, "-http-addr", "127.0.0.1:0", "-server-port", "0",
                    "-dns-port", "0", "-node", "kinds-node", *flags)
    test_class.addClassCleanup(server.reap)
    server.start()
    wait_until(lambda: server.get("/v1/status/leader").json(), 20, what="a leader")
    return server


class UdpEcho:
    """A UDP socket on 127.0.0.1:0 that answers every datagram (or, silent, answers none)."""

    def __init__(self, silent=False):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.silent = silent
        self.received = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(2048)
            except OSError:
                continue
            self.received += 1
            if not self.silent:
                self.sock.sendto(b"pong " + data, peer)

    def stop(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


def closed_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class CheckKindsTest(unittest.TestCase):
    """One durable agent that runs script checks."""

    @classmethod
    def setUpClass(cls):
        cls.server = start_server(cls, "-enable-script-checks")
        cls.scripts = tempfile.mkdtemp(prefix="concierge-scripts-")
        cls.addClassCleanup(shutil.rmtree, cls.scripts, True)

    def check(self, check_id):
        return self.server.get("/v1/agent/checks").json().get(check_id)

    def wait_status(self, check_id, status, timeout=15):
        return wait_until(
            lambda: (self.check(check_id) or {}).get("Status") == status and self.check(check_id),
            timeout, what="%s to be %s" % (check_id, status))

    def script(self, name, body):
        path = os.path.join(self.scripts, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body + "\n")
        os.chmod(path, stat.S_IRWXU)
        return path

    # -- UDP --------------------------------------------------------------------------------

    def test_udp_check_passes_on_a_reply_or_silence_and_fails_on_port_unreachable(self):
        echo, silent = UdpEcho(), UdpEcho(silent=True)
        self.addCleanup(echo.stop)
        self.addCleanup(silent.stop)
        closed = closed_udp_port()
        self.server.register({"Name": "udp", "ID": "udp-1", "Checks": [
            {"CheckID": "udp-echo", "UDP": "127.0.0.1:%d" % echo.port, "Interval": INTERVAL,
             "Timeout": "500ms"},
            {"CheckID": "udp-silent", "UDP": "127.0.0.1:%d" % silent.port,
             "Interval": INTERVAL, "Timeout": "300ms"},
            {"CheckID": "udp-closed", "UDP": "127.0.0.1:%d" % closed, "Interval": INTERVAL,
             "Timeout": "500ms", "Status": "passing"}]})
        c = self.wait_status("udp-echo", "passing")
        self.assertEqual(c["Type"], "udp")
        self.assertEqual(c["Output"], "UDP connect 127.0.0.1:%d: Success" % echo.port)
        self.assertGreater(echo.received, 0)
        self.wait_status("udp-silent", "passing")
        c = self.wait_status("udp-closed", "critical")
        self.assertIn("dial udp 127.0.0.1:%d: Connection refused" % closed, c["Output"])
        self.assertEqual(self.check("udp-closed")["Definition"]["UDP"], "127.0.0.1:%d" % closed)

    # -- scripts ----------------------------------------------------------------------------

    def test_script_exit_codes_give_the_status_and_the_output(self):
        code = os.path.join(self.scripts, "code")
        with open(code, "w") as f:
            f.write("0")
        path = self.script("exits.sh", 'echo "exit $(cat %s)"; exit $(cat %s)' % (code, code))
        self.server.register({"Name": "scripted", "ID": "scripted-1", "Check": {
            "CheckID": "script-exit", "Args": [path], "Interval": INTERVAL}})
        c = self.wait_status("script-exit", "passing")
        self.assertEqual(c["Type"], "script")
        self.assertEqual(c["Output"], "exit 0\n")
        self.assertEqual(c["Definition"]["ScriptArgs"], [path])
        for value, status in (("1", "warning"), ("2", "critical"), ("0", "passing")):
            with open(code, "w") as f:
                f.write(value)
            c = self.wait_status("script-exit", status)
            self.assertEqual(c["Output"], "exit %s\n" % value)

    def test_script_is_killed_at_its_timeout(self):
        marker = os.path.join(self.scripts, "survived")
        path = self.script("slow.sh", "sleep 3; touch %s" % marker)
        self.server.register({"Name": "slow", "ID": "slow-1", "Check": {
            "CheckID": "script-slow", "Args": [path], "Interval": "1s", "Timeout": "300ms",
            "Status": "passing"}})
        c = self.wait_status("script-slow", "critical")
        self.assertEqual(c["Output"], "Timed out (300ms) running check")
        self.server.put_ok("/v1/agent/service/deregister/slow-1")
        # The whole process group was killed: the sleep never got to the touch.
        threading.Event().wait(3.5)
        self.assertFalse(os.path.exists(marker))

    def test_script_inherits_no_descriptors_and_output_is_cut_at_4k(self):
        self.server.register({"Name": "fds", "ID": "fds-1", "Checks": [
            {"CheckID": "script-fds", "Args": ["sh", "-c", "ls /proc/$$/fd"],
             "Interval": INTERVAL},
            {"CheckID": "script-big", "Args": ["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"],
             "Interval": INTERVAL}]})
        c = self.wait_status("script-fds", "passing")
        # The shell's own 0, 1, 2 and at most the one ls opens to read the directory (10 is
        # where dash keeps a copy of its script input; nothing of the agent's).
        fds = sorted(int(x) for x in c["Output"].split())
        self.assertEqual(fds[:3], [0, 1, 2], c["Output"])
        self.assertLessEqual(len(fds), 5, "the agent's descriptors reached the script: %s" % fds)
        c = self.wait_status("script-big", "passing")
        self.assertLessEqual(len(c["Output"]), 4096)
        self.assertTrue(c["Output"].startswith("xxxx"))
        self.assertIn("[output cut: 100000 bytes, the first 4096 kept]", c["Output"])


    # -- alias ------------------------------------------------------------------------------

    def test_alias_check_follows_a_ttl_check_to_critical_and_back(self):
        self.server.register({"Name": "aliased-db", "ID": "aliased-db-1",
                              "Check": {"CheckID": "db-ttl", "TTL": "1s", "Status": "passing"}})
        self.server.register({"Name": "aliasing-api", "ID": "aliasing-api-1",
                              "Check": {"CheckID": "api-alias", "AliasService": "aliased-db-1"}})
        c = self.wait_status("api-alias", "passing", timeout=5)
        self.assertEqual(c["Type"], "alias")
        self.assertEqual(c["Definition"]["AliasService"], "aliased-db-1")
        # The TTL runs out: the alias follows the expiry, then the heartbeat back.
        c = self.wait_status("api-alias", "critical", timeout=5)
        self.assertIn('Aliased check', c["Output"])
        self.assertEqual(self.check("db-ttl")["Status"], "critical")
        self.server.put_ok("/v1/agent/check/pass/db-ttl")
        self.wait_status("api-alias", "passing", timeout=2)
        self.server.put_ok("/v1/agent/check/warn/db-ttl")
        self.wait_status("api-alias", "warning", timeout=2)
        # Its service follows too: ?passing leaves the instance out while the alias fails.
        self.server.put_ok("/v1/agent/check/fail/db-ttl")
        self.wait_status("api-alias", "critical", timeout=2)
        self.assertEqual(self.server.get("/v1/health/service/aliasing-api?passing").json(), [])
        # Registered again, then gone: an instance that is not there is critical.
        self.server.register({"Name": "aliased-db", "ID": "aliased-db-1",
                              "Check": {"CheckID": "db-ttl", "TTL": "1m", "Status": "passing"}})
        self.wait_status("api-alias", "passing", timeout=2)
        self.server.put_ok("/v1/agent/service/deregister/aliased-db-1")
        c = self.wait_status("api-alias", "critical", timeout=2)
        self.assertEqual(c["Output"], "Service aliased-db-1 could not be found on this node")

    # -- OS service -------------------------------------------------------------------------

    def test_os_service_check_asks_systemd_where_it_runs(self):
        self.server.register({"Name": "unit", "ID": "unit-1", "Check": {
            "CheckID": "os-unit", "OSService": "concierge-no-such-unit.service",
            "Interval": INTERVAL, "Status": "passing"}})
        c = self.wait_status("os-unit", "critical")
        self.assertEqual(c["Type"], "os_service")
        if os.path.isdir("/run/systemd/system"):
            self.assertIn('Service "concierge-no-such-unit.service" is inactive', c["Output"])
        else:
            self.assertIn("systemd is not running on this host", c["Output"])


class ScriptChecksDisabledTest(unittest.TestCase):
    """The default agent refuses script checks, as Consul does."""

    @classmethod
    def setUpClass(cls):
        cls.server = start_server(cls)

    def test_script_checks_are_refused_unless_enabled(self):
        r = self.server.put("/v1/agent/service/register", {
            "Name": "noscript", "Check": {"Args": ["true"], "Interval": "1s"}})
        self.assertEqual(r.status, 400, r)
        self.assertIn("Scripts are disabled on this agent", r.text)
        self.assertIn("enable_script_checks", r.text)
        self.assertEqual(self.server.get("/v1/agent/service/noscript").status, 404)

    def test_malformed_definitions_are_refused(self):
        cases = [
            ({"UDP": "127.0.0.1", "Interval": "1s"}, "UDP: expected host:port"),
            ({"UDP": "127.0.0.1:53"}, "Check.Interval: is required for udp checks"),
            ({"GRPC": "127.0.0.1:1", "UDP": "127.0.0.1:1", "Interval": "1s"},
             "give one kind of check"),
            ({"OSService": "not a unit", "Interval": "1s"}, "is not a systemd unit name"),
            ({"AliasService": "x", "AliasNode": "elsewhere"}, "Check.AliasNode"),
            ({"AliasService": "x", "Interval": "10s"}, "takes no Interval or Timeout"),
        ]
        for check, message in cases:
            with self.subTest(check=check):
                r = self.server.put("/v1/agent/service/register",
                                    {"Name": "bad-kind", "Check": check})
                self.assertEqual(r.status, 400, r)
                self.assertIn(message, r.text)


if __name__ == "__main__":
    unittest.main()
