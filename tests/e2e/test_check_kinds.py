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

os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # the TLS tests' refused handshakes
try:
    import grpc  # python3-grpcio (scripts/deps test)
except ImportError:  # the GRPC and H2PING tests say what to install
    grpc = None

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


class GrpcHealthServer:
    """grpc.health.v1.Health/Check on 127.0.0.1:0 with the status set by the test. The
    messages are written by hand (Debian has no grpc_health package): a HealthCheckResponse is
    field 1, an enum; SERVING is 1, NOT_SERVING 2."""

    SERVING, NOT_SERVING = 1, 2

    def __init__(self, credentials=None):
        from concurrent import futures
        self.status = {"": self.SERVING}
        self.asked = []

        def check(request, context):
            service = request[2:].decode() if request[:1] == b"\x0a" else ""
            self.asked.append(service)
            if service not in self.status:
                context.abort(grpc.StatusCode.NOT_FOUND, "unknown service %r" % service)
            return b"\x08" + bytes([self.status[service]])

        handler = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
            "Check": grpc.unary_unary_rpc_method_handler(check)})
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                                  handlers=[handler])
        if credentials is None:
            self.port = self.server.add_insecure_port("127.0.0.1:0")
        else:
            self.port = self.server.add_secure_port("127.0.0.1:0", credentials)
        self.server.start()

    def stop(self):
        self.server.stop(0)


def make_certificate(directory):
    """A self-signed certificate for 127.0.0.1 (openssl, in scripts/deps test)."""
    import subprocess
    key, cert = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    with open(key, "rb") as k, open(cert, "rb") as c:
        return k.read(), c.read()


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

    # -- GRPC and H2PING ---------------------------------------------------------------------

    @unittest.skipIf(grpc is None, "needs python3-grpcio (scripts/deps test)")
    def test_grpc_check_follows_serving_and_not_serving(self):
        backend = GrpcHealthServer()
        self.addCleanup(backend.stop)
        backend.status["my.Service"] = GrpcHealthServer.SERVING
        target = "127.0.0.1:%d/my.Service" % backend.port
        self.server.register({"Name": "grpc", "ID": "grpc-1", "Checks": [
            {"CheckID": "grpc-svc", "GRPC": target, "Interval": INTERVAL, "Timeout": "2s"},
            {"CheckID": "grpc-whole", "GRPC": "127.0.0.1:%d" % backend.port,
             "Interval": INTERVAL},
            {"CheckID": "grpc-unknown", "GRPC": "127.0.0.1:%d/nope" % backend.port,
             "Interval": INTERVAL, "Status": "passing"}]})
        c = self.wait_status("grpc-svc", "passing")
        self.assertEqual(c["Type"], "grpc")
        self.assertEqual(c["Output"], "gRPC check %s: success" % target)
        self.assertEqual(c["Definition"]["GRPC"], target)
        self.assertFalse(c["Definition"]["GRPCUseTLS"])
        self.wait_status("grpc-whole", "passing")
        self.assertIn("my.Service", backend.asked)
        self.assertIn("", backend.asked)
        c = self.wait_status("grpc-unknown", "critical")
        self.assertIn("rpc error: code = NOT_FOUND desc = unknown service 'nope'", c["Output"])

        backend.status["my.Service"] = GrpcHealthServer.NOT_SERVING
        c = self.wait_status("grpc-svc", "critical")
        self.assertEqual(c["Output"], "gRPC check %s: serving status NOT_SERVING" % target)
        backend.status["my.Service"] = GrpcHealthServer.SERVING
        self.wait_status("grpc-svc", "passing")
        # The server gone: critical, with the reason.
        backend.stop()
        c = self.wait_status("grpc-svc", "critical")
        self.assertIn("Connection refused", c["Output"])

    @unittest.skipIf(grpc is None, "needs python3-grpcio (scripts/deps test)")
    def test_grpc_over_tls_verifies_unless_told_to_skip(self):
        key, cert = make_certificate(self.scripts)
        backend = GrpcHealthServer(grpc.ssl_server_credentials([(key, cert)]))
        self.addCleanup(backend.stop)
        address = "127.0.0.1:%d" % backend.port
        self.server.register({"Name": "grpcs", "ID": "grpcs-1", "Checks": [
            {"CheckID": "grpcs-skip", "GRPC": address, "GRPCUseTLS": True,
             "TLSSkipVerify": True, "Interval": INTERVAL},
            {"CheckID": "grpcs-verify", "GRPC": address, "GRPCUseTLS": True,
             "Interval": INTERVAL, "Status": "passing"},
            {"CheckID": "grpcs-plain", "GRPC": address, "Interval": INTERVAL,
             "Status": "passing"}]})
        self.wait_status("grpcs-skip", "passing")
        c = self.wait_status("grpcs-verify", "critical")
        self.assertIn("certificate verify failed", c["Output"])
        self.wait_status("grpcs-plain", "critical")

    @unittest.skipIf(grpc is None, "needs python3-grpcio (scripts/deps test)")
    def test_h2ping_check_against_an_http2_server_and_not_an_http1_one(self):
        backend = GrpcHealthServer()  # any HTTP/2 server answers a PING
        self.addCleanup(backend.stop)
        plain = socket.socket()
        plain.bind(("127.0.0.1", 0))
        plain.listen(8)
        self.addCleanup(plain.close)

        def refuse():
            # Accepts and answers like an HTTP/1 server would to the HTTP/2 preface.
            while True:
                try:
                    conn, _ = plain.accept()
                except OSError:
                    return
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                conn.close()

        threading.Thread(target=refuse, daemon=True).start()
        self.server.register({"Name": "h2", "ID": "h2-1", "Checks": [
            {"CheckID": "h2-ok", "H2PING": "127.0.0.1:%d" % backend.port,
             "H2PingUseTLS": False, "Interval": INTERVAL},
            {"CheckID": "h2-http1", "H2PING": "127.0.0.1:%d" % plain.getsockname()[1],
             "H2PingUseTLS": False, "Interval": INTERVAL, "Status": "passing"}]})
        c = self.wait_status("h2-ok", "passing")
        self.assertEqual(c["Type"], "h2ping")
        self.assertEqual(c["Output"], "HTTP2 ping was successful")
        self.assertFalse(c["Definition"]["H2PingUseTLS"])
        c = self.wait_status("h2-http1", "critical")
        self.assertIn("HTTP2 ping 127.0.0.1:%d failed" % plain.getsockname()[1], c["Output"])

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

    def test_a_config_file_script_check_needs_the_flag_too(self):
        import json
        import subprocess
        from harness import binary
        tmp = tempfile.mkdtemp(prefix="concierge-script-config-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "agent.json")
        with open(path, "w") as f:
            json.dump({"services": [{"Name": "cfg", "ID": "cfg-1", "Check": {
                "Args": ["true"], "Interval": "10s"}}]}, f)
        p = subprocess.run([binary(), "agent", "-dev", "-http-addr", "127.0.0.1:0",
                            "-dns-port", "-1", "-config-file", path],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        err = p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 1, err)
        self.assertIn('service "cfg-1": Scripts are disabled on this agent', err)


if __name__ == "__main__":
    unittest.main()
