"""`concierge gateway` against a real agent and real backends on loopback: requests are
routed by path to the healthy instances of a service, a killed backend stops receiving
requests at once (passive ejection, retry on another instance), registry changes arrive
through blocking queries, and a TCP route proxies bytes both ways.
"""

import http.client
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

from harness import AgentTestCase, binary, wait_until

# A tiny keep-alive HTTP backend: answers its name, and what X-Forwarded-For it saw.
HTTP_BACKEND = r'''
import http.server, sys, time
name = sys.argv[1]
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", name)
        self.send_header("X-Seen-Forwarded-For", self.headers.get("X-Forwarded-For", ""))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"6\r\nhello \r\n6\r\nchunks\r\n0\r\n\r\n")
        elif self.path == "/close":
            # No length: the body ends when the connection does.
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until close")
            self.close_connection = True
        elif self.path == "/slow":
            time.sleep(20)
            self.answer(b"late")
        else:
            self.answer(name.encode())
    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.send_header("X-Backend", name)
        self.end_headers()
    def do_POST(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
            self.answer(body)
        else:
            self.answer(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
'''

# A TCP echo backend.
ECHO_BACKEND = r'''
import socket, threading
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
def serve(conn):
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
'''

_HTTP_LISTEN = re.compile(r"Gateway listening on https?://([0-9.]+):(\d+)")
_TCP_LISTEN = re.compile(r"Gateway TCP listening on ([0-9.]+):(\d+)")


class Backend:
    """A backend process; `port` is where it listens."""

    def __init__(self, script, *args):
        self.proc = subprocess.Popen([sys.executable, "-c", script, *args],
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.port = int(self.proc.stdout.readline())

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


class Gateway:
    """A running `concierge gateway`; its HTTP port and TCP listen ports once it printed them."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([binary(), "gateway", *args], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.lines = []
        self.http_port = None
        self.tcp_ports = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace")
            with self._lock:
                self.lines.append(line)
                m = _HTTP_LISTEN.search(line)
                if m:
                    self.http_port = int(m.group(2))
                m = _TCP_LISTEN.search(line)
                if m:
                    self.tcp_ports.append(int(m.group(2)))

    @property
    def stderr(self):
        with self._lock:
            return "".join(self.lines)

    def wait_listening(self, http, tcp_routes):
        wait_until(lambda: self.proc.poll() is not None or
                   ((self.http_port or not http) and len(self.tcp_ports) >= tcp_routes), 30,
                   what="the gateway to listen")
        if self.proc.poll() is not None:
            raise AssertionError("gateway exited with %s:\n%s" % (self.proc.returncode,
                                                                   self.stderr))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("gateway did not exit within 10s of SIGTERM")
        self._reader.join(5)
        self.proc.stderr.close()
        return self.proc.returncode


class GatewayTest(AgentTestCase):

    def setUp(self):
        self.heartbeating = {}  # check ID -> True while a thread should pass it
        self.stop_beats = threading.Event()
        self.beats = threading.Thread(target=self._heartbeat, daemon=True)
        self.beats.start()
        self.addCleanup(self._stop_heartbeats)

    def _heartbeat(self):
        while not self.stop_beats.wait(0.5):
            for check in [c for c, on in list(self.heartbeating.items()) if on]:
                try:
                    self.agent.put("/v1/agent/check/pass/" + check, timeout=5)
                except OSError:
                    pass

    def _stop_heartbeats(self):
        self.stop_beats.set()
        self.beats.join(5)

    def backend(self, script, service, instance_id, *args):
        b = Backend(script, *args)
        self.addCleanup(b.kill)
        r = self.agent.put("/v1/agent/service/register", {
            "Name": service, "ID": instance_id, "Address": "127.0.0.1", "Port": b.port,
            "Check": {"TTL": "3s"}})
        self.assertEqual(r.status, 200, r)
        check = "service:" + instance_id
        self.assertEqual(self.agent.put("/v1/agent/check/pass/" + check).status, 200)
        self.heartbeating[check] = True
        return b

    def gateway(self, *args, tcp_routes=0):
        g = Gateway("-http-addr", self.agent.address, "-listen", "127.0.0.1:0", *args)
        self.addCleanup(g.stop)
        g.wait_listening(http="-route" in args or "-route-host" in args, tcp_routes=tcp_routes)
        return g

    def get(self, conn, path, headers=None):
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheader("X-Backend"), r.read(), r

    def test_routes_balances_and_routes_around_a_killed_backend(self):
        b1 = self.backend(HTTP_BACKEND, "gw-web", "gw-web-1", "one")
        self.backend(HTTP_BACKEND, "gw-web", "gw-web-2", "two")
        g = self.gateway("-route", "/api/=gw-web", "-route", "/none/=gw-nothing")
        conn = http.client.HTTPConnection("127.0.0.1", g.http_port, timeout=10)
        self.addCleanup(conn.close)

        # Round robin over both instances, on one keep-alive connection.
        seen = set()
        def both_seen():
            status, backend, _, _ = self.get(conn, "/api/x")
            self.assertEqual(status, 200)
            seen.add(backend)
            return seen == {"one", "two"}
        wait_until(both_seen, 10, what="requests to reach both backends")

        # X-Forwarded-For carries the caller, after what it already had.
        _, _, _, r = self.get(conn, "/api/x", {"X-Forwarded-For": "10.1.2.3"})
        self.assertEqual(r.getheader("X-Seen-Forwarded-For"), "10.1.2.3, 127.0.0.1")

        # A body goes through.
        conn.request("POST", "/api/echo", body=b"hello gateway")
        r = conn.getresponse()
        self.assertEqual((r.status, r.read()), (200, b"hello gateway"))

        # No route: 404; no instance: 503 that says which service.
        status, _, body, _ = self.get(conn, "/elsewhere")
        self.assertEqual(status, 404, body)
        status, _, body, _ = self.get(conn, "/none/x")
        self.assertEqual(status, 503, body)
        self.assertIn(b'no healthy instance of service "gw-nothing"', body)

        # Kill one backend while the registry still thinks it is healthy (its heartbeats go
        # on): every later request succeeds, on the other.
        b1.kill()
        for _ in range(50):
            status, backend, body, _ = self.get(conn, "/api/x")
            self.assertEqual((status, backend), (200, "two"), body)
        self.assertIn("ejecting", g.stderr)
        # New connections too.
        for _ in range(10):
            c = http.client.HTTPConnection("127.0.0.1", g.http_port, timeout=10)
            status, backend, body, _ = self.get(c, "/api/y")
            c.close()
            self.assertEqual((status, backend), (200, "two"), body)

    def raw(self, port, data, timeout=10):
        """Sends `data` on a new connection; everything read until the gateway closes it."""
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(data)
            got = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                got += chunk
            return got

    def test_http_details(self):
        self.backend(HTTP_BACKEND, "gw-detail", "gw-detail-1", "one")
        g = self.gateway("-route", "/=gw-detail", "-timeout", "1s", "-client-timeout", "2s")
        conn = http.client.HTTPConnection("127.0.0.1", g.http_port, timeout=10)
        self.addCleanup(conn.close)
        wait_until(lambda: self.get(conn, "/")[0] == 200, 10, what="the backend")

        # Chunked and close-delimited answers, a chunked request body, HEAD: all on one
        # keep-alive connection.
        self.assertEqual(self.get(conn, "/chunked")[2], b"hello chunks")
        self.assertEqual(self.get(conn, "/close")[2], b"until close")
        conn.request("POST", "/echo", body=iter([b"in ", b"chunks"]), encode_chunked=True)
        r = conn.getresponse()
        self.assertEqual((r.status, r.read()), (200, b"in chunks"))
        conn.request("HEAD", "/")
        r = conn.getresponse()
        self.assertEqual((r.status, r.getheader("Content-Length"), r.read()), (200, "1000", b""))

        # An HTTP/1.0 caller gets a length, not chunks, and the connection closes after.
        got = self.raw(g.http_port, b"GET /chunked HTTP/1.0\r\n\r\n")
        head, _, body = got.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.0 200"), got)
        self.assertIn(b"Content-Length: 12", head)
        self.assertNotIn(b"chunked", head.lower())
        self.assertEqual(body, b"hello chunks")

        # Two pipelined requests, two answers in order.
        got = self.raw(g.http_port, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                                    b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(got.count(b"HTTP/1.1 200"), 2, got)

        # Expect: 100-continue gets the go-ahead from the gateway, then the answer.
        with socket.create_connection(("127.0.0.1", g.http_port), timeout=10) as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 100 Continue"))
            s.sendall(b"hello")
            got = b""
            while not got.endswith(b"hello"):
                chunk = s.recv(65536)
                self.assertTrue(chunk, got)
                got += chunk
            self.assertTrue(got.startswith(b"HTTP/1.1 200"), got)

        # Refused with a reason, and the connection closed: a malformed request, a head
        # over 8 KiB, a body over the limit.
        got = self.raw(g.http_port, b"GET / HTTP/1.1\r\nBad header\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 400"), got)
        self.assertIn(b"malformed HTTP request", got)
        got = self.raw(g.http_port, b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 431"), got)
        got = self.raw(g.http_port, b"POST / HTTP/1.1\r\nContent-Length: 100000000000\r\n\r\n")
        self.assertTrue(got.startswith(b"HTTP/1.1 413"), got)
        self.assertIn(b"larger than the gateway's limit", got)

        # A caller that stops sending half-way through a head is cut off (-client-timeout).
        got = self.raw(g.http_port, b"GET / HTTP/1.1\r\nHo", timeout=60)
        self.assertEqual(got, b"")

        # An instance that does not answer within -timeout: 504 that says so. (A new
        # connection: the first one idled past -client-timeout meanwhile.)
        fresh = http.client.HTTPConnection("127.0.0.1", g.http_port, timeout=30)
        self.addCleanup(fresh.close)
        status, _, body, _ = self.get(fresh, "/slow")
        self.assertEqual(status, 504, body)
        self.assertIn(b"did not answer within", body)

    def test_follows_registry_changes(self):
        self.backend(HTTP_BACKEND, "gw-live", "gw-live-1", "first")
        g = self.gateway("-route", "/=gw-live")
        conn = http.client.HTTPConnection("127.0.0.1", g.http_port, timeout=10)
        self.addCleanup(conn.close)
        wait_until(lambda: self.get(conn, "/")[1] == "first", 10, what="the first backend")

        # A new instance is used within a second of registering.
        self.backend(HTTP_BACKEND, "gw-live", "gw-live-2", "second")
        wait_until(lambda: self.get(conn, "/")[1] == "second", 2, interval=0.01,
                   what="the gateway to use a newly registered instance")

        # A deregistered instance gets no more requests (it still runs and would answer).
        self.heartbeating["service:gw-live-1"] = False
        self.assertEqual(self.agent.put("/v1/agent/service/deregister/gw-live-1").status, 200)
        time.sleep(0.2)
        for _ in range(20):
            status, backend, body, _ = self.get(conn, "/")
            self.assertEqual((status, backend), (200, "second"), body)

        # Critical (missed heartbeats) is left out too: then nothing is left, 503.
        self.heartbeating["service:gw-live-2"] = False
        wait_until(lambda: self.get(conn, "/")[0] == 503, 10,
                   what="a 503 once the last instance turned critical")

    def test_tcp_route(self):
        self.backend(ECHO_BACKEND, "gw-echo", "gw-echo-1")
        g = self.gateway("-route-tcp", "127.0.0.1:0=gw-echo", tcp_routes=1)
        def echoes():
            try:
                with socket.create_connection(("127.0.0.1", g.tcp_ports[0]), timeout=5) as s:
                    payload = b"x" * 100000
                    s.sendall(payload)
                    s.shutdown(socket.SHUT_WR)
                    got = b""
                    while True:
                        data = s.recv(65536)
                        if not data:
                            break
                        got += data
                    return got == payload
            except OSError:
                return False
        wait_until(echoes, 10, what="bytes echoed through the TCP route")

    def test_bad_route_is_a_usage_error(self):
        p = subprocess.run([binary(), "gateway", "-route", "api=web"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("-route \"api=web\": the path prefix must start with '/'", p.stderr)


if __name__ == "__main__":
    unittest.main()
