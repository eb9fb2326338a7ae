"""End-to-end harness: runs a real `concierge agent -dev` on a free port and talks HTTP to it.

Standard library only. The binary comes from CONCIERGE_BIN (set by ctest). Every agent is
stopped when the test (or class) that started it ends, failing or not: SIGTERM first, then
SIGKILL after a timeout. A clean stop must exit 0 and leave no sanitizer report on stderr.

Timing: real time with generous bounds only. Tests assert "within N seconds", never
"in exactly N milliseconds".
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

STARTUP_TIMEOUT = 30.0  # seconds until the agent prints its address
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
REQUEST_TIMEOUT = 60.0  # socket timeout of one HTTP request (blocking queries stay below)

_LISTENING = re.compile(r"HTTP API listening on https?://([0-9.]+):(\d+)")
_SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error", "ERROR: LeakSanitizer",
                    "WARNING: ThreadSanitizer")


def sanitized():
    """Whether the binary runs under AddressSanitizer (its allocator keeps freed memory in a
    quarantine, so memory figures mean nothing)."""
    return os.environ.get("CONCIERGE_SANITIZED") == "1"


def binary():
    path = os.environ.get("CONCIERGE_BIN")
    if not path:
        raise unittest.SkipTest("CONCIERGE_BIN is not set (run through ctest)")
    if not os.access(path, os.X_OK):
        raise RuntimeError("CONCIERGE_BIN=%s is not an executable" % path)
    return path


class Response:
    """One HTTP reply: status, headers (case-insensitive lookup), raw body."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name)

    def __repr__(self):
        return "Response(%d, %r)" % (self.status, self.text[:300])


class Agent:
    """A running `concierge agent -dev -http-addr 127.0.0.1:0` (plus extra flags)."""

    def __init__(self, *extra_args):
        self.args = [binary(), "agent", "-dev", "-http-addr", "127.0.0.1:0", *extra_args]
        self.proc = None
        self.host = None
        self.port = None
        self.returncode = None
        self._stderr_lines = []
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self._reader = None
        # An ssl.SSLContext: requests go over HTTPS (the agent runs with -tls-cert-file).
        self.ssl_context = None
        # Run in the child before the agent starts (e.g. to set resource limits).
        self.preexec_fn = None

    # -- life cycle --------------------------------------------------------------------------

    def start(self):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=self.preexec_fn)
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._listening.wait(0.05):
            if self.proc.poll() is not None:
                self._reader.join(5)
                raise AssertionError("agent exited with %s before listening; stderr:\n%s" %
                                     (self.proc.returncode, self.stderr))
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("agent did not print its address within %ss; stderr:\n%s" %
                                     (STARTUP_TIMEOUT, self.stderr))
        # Ready means answering, not only listening.
        wait_until(lambda: self._answers(), STARTUP_TIMEOUT, what="the agent to answer HTTP")
        return self

    def _answers(self):
        try:
            return self.get("/v1/status/leader", timeout=5).status == 200
        except OSError:
            return False

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace")
            with self._lock:
                self._stderr_lines.append(line)
            m = _LISTENING.search(line)
            if m and not self._listening.is_set():
                self.host, self.port = m.group(1), int(m.group(2))
                self._listening.set()

    @property
    def stderr(self):
        with self._lock:
            return "".join(self._stderr_lines)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT. Raises if the stop was not clean."""
        if self.proc is None:
            return
        problems = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append("agent did not exit within %ss of SIGTERM (killed)" %
                                STOP_TIMEOUT)
        else:
            problems.append("agent had already exited with %s before the test stopped it" %
                            self.proc.returncode)
        self._reader.join(5)
        self.proc.stderr.close()
        self.returncode = self.proc.returncode
        if not problems and self.returncode != 0:
            problems.append("agent exited with %s after SIGTERM, expected 0" % self.returncode)
        err = self.stderr
        for mark in _SANITIZER_MARKS:
            if mark in err:
                problems.append("stderr contains %r" % mark)
        self.proc = None
        if problems:
            raise AssertionError("; ".join(problems) + "\n--- agent stderr (tail) ---\n" +
                                 err[-6000:])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- HTTP --------------------------------------------------------------------------------

    @property
    def address(self):
        return "%s:%d" % (self.host, self.port)

    @property
    def base_url(self):
        return "http://%s" % self.address

    def connection(self, timeout=REQUEST_TIMEOUT):
        if self.ssl_context is not None:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=self.ssl_context)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=REQUEST_TIMEOUT, conn=None):
        """One request. `body` may be bytes, str, or anything json.dumps takes.

        With `conn`, the request goes over that keep-alive connection; otherwise a fresh one
        is opened and closed.
        """
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        own = conn is None
        c = self.connection(timeout) if own else conn
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return Response(r.status, r.headers, data)
        finally:
            if own:
                c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body, **kw)

    def get_json(self, path, **kw):
        """GET that must answer 200 with JSON; returns (parsed, index)."""
        r = self.get(path, **kw)
        if r.status != 200:
            raise AssertionError("GET %s: %r" % (path, r))
        return r.json(), int(r.header("X-Consul-Index"))

    def put_ok(self, path, body=None, **kw):
        r = self.put(path, body, **kw)
        if r.status != 200:
            raise AssertionError("PUT %s %r: %r" % (path, body, r))
        return r

    def register(self, body, **kw):
        return self.put_ok("/v1/agent/service/register", body, **kw)

    def raw_socket(self, timeout=10.0):
        return socket.create_connection((self.host, self.port), timeout=timeout)


class Server(Agent):
    """A durable agent (no -dev) with exactly these flags."""

    def __init__(self, *args):
        super().__init__()
        self.args = [binary(), "agent", *args]

    def reap(self):
        """kill -9 if still running, and release the stderr pipe."""
        self.kill()
        if self.proc is not None and self.proc.stderr and self._reader:
            self._reader.join(5)
            self.proc.stderr.close()


class AgentTestCase(unittest.TestCase):
    """One agent per test class (agents start in well under a second; sharing keeps the
    suite fast). Tests use service names of their own so that they do not see each other.
    """

    agent_args = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent = Agent(*cls.agent_args)
        cls.addClassCleanup(cls.agent.stop)
        cls.agent.start()


def read_http_reply(sock, limit=1 << 16):
    """Reads until the peer closes (or a timeout), for replies that end a connection."""
    data = b""
    try:
        while len(data) < limit:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, ConnectionResetError, OSError):
        pass
    return data


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Polls `predicate` until it returns something truthy; raises after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def go_duration_seconds(text):
    """Parses a Go duration string such as "1m30s" or "500ms" into seconds (float)."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    parts = re.findall(r"([0-9.]+)(ms|us|µs|ns|h|m|s)", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise ValueError("not a Go duration: %r" % text)
    return sum(float(n) * units[u] for n, u in parts)
