"""HTTPS: an agent run with -tls-cert-file/-tls-key-file/-tls-ca-file/-tls-verify-incoming
serves HTTPS only. A client with a certificate signed by the CA gets answers (Python's ssl
module, the CLI with flags and with CONCIERGE_* variables, the gateway as a registry
client); a client without a certificate, or with one from another CA, is refused in the
handshake; plain HTTP gets a 400 in plain text that says to use HTTPS. The gateway's own
listener speaks HTTPS too. Certificates come from scripts/make-test-ca.
"""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

from harness import Agent, binary, wait_until
from test_gateway import HTTP_BACKEND, Backend, Gateway

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def make_ca():
    if shutil.which("openssl") is None:
        raise unittest.SkipTest("openssl is not installed")
    tmp = tempfile.mkdtemp(prefix="concierge-tls-")
    subprocess.run([os.path.join(ROOT, "scripts", "make-test-ca"), tmp], check=True,
                   stdout=subprocess.DEVNULL)
    return tmp


def client_context(ca_dir, cert="client"):
    ctx = ssl.create_default_context(cafile=os.path.join(ca_dir, "ca.pem"))
    if cert:
        ctx.load_cert_chain(os.path.join(ca_dir, cert + ".pem"),
                            os.path.join(ca_dir, cert + "-key.pem"))
    return ctx


class TlsAgentTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ca = make_ca()
        cls.addClassCleanup(shutil.rmtree, cls.ca, True)
        pem = lambda name: os.path.join(cls.ca, name)
        cls.agent = Agent("-tls-cert-file", pem("server.pem"), "-tls-key-file",
                          pem("server-key.pem"), "-tls-ca-file", pem("ca.pem"),
                          "-tls-verify-incoming")
        cls.agent.ssl_context = client_context(cls.ca)
        cls.addClassCleanup(cls.agent.stop)
        cls.agent.start()

    def pem(self, name):
        return os.path.join(self.ca, name)

    def handshake_fails(self, ctx):
        """True if a request with `ctx` fails in or right after the TLS handshake."""
        with socket.create_connection((self.agent.host, self.agent.port), timeout=10) as raw:
            try:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    # TLS 1.3: the server checks the client certificate after the client
                    # finished, so the refusal arrives with the first read.
                    tls.sendall(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\n\r\n")
                    return tls.recv(1024) == b""
            except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
                return True

    def test_https_with_a_client_certificate(self):
        self.agent.register({"ID": "tls-web-1", "Name": "tls-web", "Port": 8080})
        services, index = self.agent.get_json("/v1/health/service/tls-web")
        self.assertEqual([s["Service"]["ID"] for s in services], ["tls-web-1"])
        self.assertGreater(index, 0)

    def test_without_a_client_certificate_the_handshake_fails(self):
        self.assertTrue(self.handshake_fails(client_context(self.ca, cert=None)))

    def test_a_certificate_from_another_ca_is_refused(self):
        ctx = ssl.create_default_context(cafile=self.pem("ca.pem"))
        ctx.load_cert_chain(self.pem("other-client.pem"), self.pem("other-client-key.pem"))
        self.assertTrue(self.handshake_fails(ctx))

    def test_plain_http_gets_a_400_that_says_https(self):
        with self.agent.raw_socket() as s:
            s.sendall(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 400 "), data)
        self.assertIn(b"HTTPS", data)

    def test_the_client_must_trust_the_server(self):
        # The agent's certificate is not signed by other-ca: the client refuses the server.
        ctx = ssl.create_default_context(cafile=self.pem("other-ca.pem"))
        with socket.create_connection((self.agent.host, self.agent.port), timeout=10) as raw:
            with self.assertRaises(ssl.SSLCertVerificationError):
                ctx.wrap_socket(raw, server_hostname="127.0.0.1")

    def cli(self, *args, env=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        return subprocess.run([binary(), *args, "-http-addr", self.agent.address],
                              capture_output=True, text=True, timeout=30, env=full_env)

    def test_cli_with_flags_and_with_environment_variables(self):
        r = self.cli("services", "register", "-name", "tls-cli", "-id", "tls-cli-1", "-port",
                     "81", "-ca-file", self.pem("ca.pem"), "-client-cert", self.pem("client.pem"),
                     "-client-key", self.pem("client-key.pem"))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.cli("services", "list", env={"CONCIERGE_CACERT": self.pem("ca.pem"),
                                              "CONCIERGE_CLIENT_CERT": self.pem("client.pem"),
                                              "CONCIERGE_CLIENT_KEY": self.pem("client-key.pem")})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("tls-cli-1", r.stdout)

    def test_cli_errors_name_the_tls_problem(self):
        r = self.cli("services", "list", "-ca-file", self.pem("other-ca.pem"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not trusted", r.stderr)
        r = self.cli("services", "list", "-ca-file", self.pem("ca.pem"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("client certificate", r.stderr)
        r = self.cli("services", "list", "-ca-file", self.pem("missing.pem"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("cannot read", r.stderr)

    def test_gateway_reaches_the_registry_and_serves_https(self):
        backend = Backend(HTTP_BACKEND, "tls-backend")
        self.addCleanup(backend.kill)
        self.agent.register({"ID": "tls-gw-1", "Name": "tls-gw", "Address": "127.0.0.1",
                             "Port": backend.port})
        gateway = Gateway("-http-addr", "https://" + self.agent.address,
                          "-ca-file", self.pem("ca.pem"), "-client-cert", self.pem("client.pem"),
                          "-client-key", self.pem("client-key.pem"),
                          "-tls-cert-file", self.pem("server.pem"),
                          "-tls-key-file", self.pem("server-key.pem"),
                          "-listen", "127.0.0.1:0", "-route", "/=tls-gw")
        self.addCleanup(gateway.stop)
        gateway.wait_listening(http=True, tcp_routes=0)
        self.assertIn("https://", gateway.stderr)

        def fetch():
            import http.client
            c = http.client.HTTPSConnection("127.0.0.1", gateway.http_port, timeout=10,
                                            context=client_context(self.ca, cert=None))
            try:
                c.request("GET", "/")
                r = c.getresponse()
                return r.status == 200 and r.read() == b"tls-backend"
            except OSError:
                return False
            finally:
                c.close()
        wait_until(fetch, 30, what="the gateway to answer over HTTPS")


class TlsFlagsTest(unittest.TestCase):

    def test_bad_tls_flags_stop_the_agent_with_a_message(self):
        ca = make_ca()
        self.addCleanup(shutil.rmtree, ca, True)
        pem = lambda name: os.path.join(ca, name)
        cases = [
            (["-tls-cert-file", pem("server.pem")], "go together"),
            (["-tls-cert-file", pem("server.pem"), "-tls-key-file", pem("client-key.pem")],
             "not the key of the certificate"),
            (["-tls-cert-file", pem("nope.pem"), "-tls-key-file", pem("server-key.pem")],
             "cannot read"),
            (["-tls-cert-file", pem("server.pem"), "-tls-key-file", pem("server-key.pem"),
              "-tls-verify-incoming"], "-tls-ca-file"),
            (["-tls-ca-file", pem("ca.pem")], "TLS is off without them"),
        ]
        for args, message in cases:
            r = subprocess.run([binary(), "agent", "-dev", "-http-addr", "127.0.0.1:0",
                                "-dns-port", "-1", *args], capture_output=True, text=True,
                               timeout=30)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(message, r.stderr, args)


if __name__ == "__main__":
    unittest.main()
