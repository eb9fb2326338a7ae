"""Hundreds of malformed, oversized and hostile requests against the real agent
(docs/limits.md): the checked-in corpus (bad_input_corpus.txt: request lines, headers,
framing, chunked encoding, paths, percent-encoding, NUL bytes, bodies) plus generated ones
(every prefix of a registration, wrong types and out-of-range values for every field, bad
durations, unicode garbage, oversized names, tags and meta, pipelined garbage), and slow
clients against a short -http-read-timeout.

Every request gets a 4xx with a message, or a close where HTTP allows nothing better;
never a 5xx (but the 501 of a Consul feature refused by design), never a hang. Afterwards the agent still serves and the data registered before
is unchanged.
"""

import codecs
import json
import os
import re
import socket
import time
import unittest

from harness import AgentTestCase

CORPUS = os.path.join(os.path.dirname(__file__), "bad_input_corpus.txt")
STATUS = re.compile(rb"HTTP/1\.[01] (\d{3}) [^\r\n]*\r\n")

GOOD = {"ID": "keep-1", "Name": "keep", "Address": "10.1.2.3", "Port": 8080,
        "Tags": ["a", "b"], "Meta": {"k": "v"},
        "Check": {"TTL": "30s", "Status": "passing", "DeregisterCriticalServiceAfter": "1h"}}


def request(method, path, body=b"", headers=()):
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    head = "%s %s HTTP/1.1\r\nHost: x\r\n" % (method, path)
    for h in headers:
        head += h + "\r\n"
    head += "Content-Length: %d\r\n\r\n" % len(body)
    return head.encode("latin-1") + body


def register(body):
    return request("PUT", "/v1/agent/service/register", body)


def load_corpus():
    cases = []
    with open(CORPUS, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            expect, raw = line.split("\t", 1)
            raw = re.sub(r"\{BIG:(\d+)\}", lambda m: "a" * int(m.group(1)), raw)
            data = codecs.decode(raw, "unicode_escape").encode("latin-1")
            if b"{LEN}" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                data = head.replace(b"{LEN}", str(len(body)).encode()) + b"\r\n\r\n" + body
            cases.append(("corpus line %d" % n, expect, data))
    return cases


def generated():
    """(name, expect, bytes) for requests made here rather than written out."""
    good = json.dumps(GOOD)
    # Every proper prefix of a valid body is invalid JSON.
    for i in range(1, len(good)):
        yield "prefix %d" % i, "4xx", register(good[:i])
    # Wrong types and bad values for each field, one at a time.
    bad_values = {
        "Name": [None, 1, True, [], {}, "", "a" * 257, "a\u0000b", "a\nb", "\u0007"],
        "ID": [1, [], {}, "a/b", "a" * 257, "\u0000", "a\tb"],
        "Address": [1, [], "a" * 257],
        "Port": ["abc", -1, 65536, 1e400, 3.5, "", [], {}, True, 2 ** 64, -2 ** 63],
        "Tags": ["x", 1, [1], [None], [[]], ["a" * 257], ["t%d" % i for i in range(65)]],
        "Meta": [[], "x", 1, {"k": 1}, {"k": None}, {"k" * 129: "v"}, {"k": "v" * 513},
                 {"k%d" % i: "v" for i in range(65)}, {"": "v"}],
        "Check": ["x", 1, [], {"TTL": "ten"}, {"TTL": "-1s"}, {"TTL": "1y"}, {"TTL": 1.5},
                  {"TTL": "99999999999999999999h"}, {"TTL": "1ms"}, {"TTL": ""},
                  {"TTL": "10s", "Status": "purple"}, {"TTL": "10s", "Status": 1},
                  {"TTL": "10s", "DeregisterCriticalServiceAfter": "soon"},
                  {"TTL": "10s", "DeregisterCriticalServiceAfter": -5},
                  {"TTL": "10s", "CheckID": "a/b"}, {"TTL": "10s", "CheckID": 7}],
        "Checks": ["x", {}, [1], [{"TTL": "x"}], [{"TTL": "10s"}] * 33],
        "Weights": ["x", [], {"Passing": "x"}, {"Passing": -1}, {"Warning": 1e400}],
        "EnableTagOverride": ["yes", 2],
    }
    for field, values in bad_values.items():
        for i, value in enumerate(values):
            body = dict(GOOD, ID="bad-%s-%d" % (field.lower(), i))
            body[field] = value
            try:
                text = json.dumps(body, allow_nan=True)
            except (TypeError, ValueError):
                continue
            yield "%s=%r" % (field, value)[:80], "4xx", register(text.replace("Infinity",
                                                                                   "1e400"))
    # Numbers JSON cannot hold, and JSON that is deeply nested or huge.
    for text in ['{"Name":"n","Port":1e99999}', '{"Name":"n","Port":-0.0e-99999}',
                 '{"Name":"n","Port":123456789012345678901234567890}',
                 '{"Name":' + "[" * 100000 + "]" * 100000 + '}', '{"Name":"' + "a" * 900000 + '"}',
                 '{"Name":"n","Meta":{' + ",".join('"k%d":"v"' % i for i in range(50000)) + '}}',
                 '{"Name":"n","Tags":[' + ",".join(['"t"'] * 100000) + ']}']:
        yield "number/nesting %d bytes" % len(text), "4xx", register(text)
    # Unicode garbage: invalid UTF-8, lone surrogates, overlong forms, in names and tags.
    for i, raw in enumerate([b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
                             b"\xff", b"\x80", b"\xf4\x90\x80\x80"]):
        yield "invalid utf-8 %d" % i, "4xx", register(b'{"Name":"n' + raw + b'"}')
        yield "invalid utf-8 tag %d" % i, "4xx", register(b'{"Name":"n","Tags":["' + raw + b'"]}')
    for escape in ["\\ud800", "\\udfff", "\\ud800\\u0041", "\\u0000", "\\u001f"]:
        yield "escape %s" % escape, "4xx", register('{"Name":"n%s"}' % escape)
    # Check updates with the wrong body, on a check that exists.
    for body in ["", "x", "[]", '{"Status":"bad"}', '{"Status":null}', '{"Output":1}',
                 '{"Output":"' + "o" * 5000 + '"}']:
        yield "check update %r" % body[:30], "4xx", request(
            "PUT", "/v1/agent/check/update/service:keep-1", body)
    # Heartbeat notes too long, and for checks that do not exist.
    yield "note too long", "4xx", request("PUT", "/v1/agent/check/pass/service:keep-1?note=" +
                                          "n" * 5000)
    for path in ["/v1/agent/check/pass/nope", "/v1/agent/check/warn/service:nope",
                 "/v1/agent/check/fail/%2e%2e", "/v1/agent/service/deregister/nope/../keep-1"]:
        yield "unknown " + path, "4xx", request("PUT", path)
    # Methods that are not allowed on each route.
    for method in ["DELETE", "PATCH", "FOO", "get", "G-E-T"]:
        for path in ["/v1/agent/service/register", "/v1/agent/services", "/v1/snapshot",
                     "/v1/health/service/keep", "/v1/agent/check/update/service:keep-1"]:
            yield "%s %s" % (method, path), "4xx", request(method, path)
    # Pipelined: a good request, then garbage on the same connection.
    for garbage in [b"\x00\x01\x02\r\n\r\n", b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
                    b"PUT /v1/agent/service/register HTTP/1.1\r\nContent-Length: 3\r\n\r\n{x}"]:
        yield "pipelined %r" % garbage[:20], "4xx|close", request("GET", "/v1/agent/self") + garbage
    # Many small headers, and headers just over the limit.
    # The agent answers as soon as it sees too much and closes while the rest is still
    # coming: the client may get a reset instead of the answer.
    yield "3000 headers", "4xx|close", request("GET", "/v1/agent/services",
                                         headers=["X-%d: %d" % (i, i) for i in range(3000)])
    yield "header over 16 KiB", "4xx|close", request("GET", "/v1/agent/services",
                                               headers=["X-Big: " + "b" * 17000])
    # A body over the 1 MiB limit, sent whole.
    yield "body over 1 MiB", "4xx|close", register('{"Name":"' + "a" * (1 << 20) + '"}')


class BadInputTest(AgentTestCase):
    # Slow clients are cut off after 2 s (the default is 60 s).
    agent_args = ("-http-read-timeout", "2s", "-dns-port", "-1")

    def exchange(self, data, timeout=10.0):
        """Sends `data`, half-closes, reads until the agent closes. Returns the statuses and
        bodies of the answers, in order."""
        with socket.create_connection((self.agent.host, self.agent.port), timeout=timeout) as s:
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # it closed early (e.g. on a huge header): what it said is read below
            raw = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                raw += chunk
            else:
                self.fail("the agent did not close within %ss" % timeout)
        answers = []
        for m in STATUS.finditer(raw):
            head_end = raw.find(b"\r\n\r\n", m.start())
            length = re.search(rb"(?i)content-length: *(\d+)", raw[m.start():head_end])
            body = raw[head_end + 4:head_end + 4 + int(length.group(1))] if length else b""
            answers.append((int(m.group(1)), body))
        return answers

    def check(self, name, expect, data):
        answers = self.exchange(data)
        for status, body in answers:
            self.assertTrue(status < 500 or expect == "501", "%s: %d %r" % (name, status,
                                                                             body[:200]))
            self.assertNotIn(b"root:", body, "%s: leaked a file" % name)
        if not answers:
            self.assertIn("close", expect, "%s: closed without an answer" % name)
            return None
        status, body = answers[-1]
        if expect == "no5xx":
            return status
        if expect == "501":
            self.assertEqual(status, 501, "%s: %r" % (name, body[:200]))
        else:
            self.assertTrue(400 <= status < 500, "%s: %d %r" % (name, status, body[:200]))
        self.assertTrue(body.strip(), "%s: %d without a message" % (name, status))
        return status

    def test_hostile_requests_get_4xx_and_change_nothing(self):
        self.agent.register(GOOD)
        before, _ = self.agent.get_json("/v1/agent/service/keep-1")
        cases = load_corpus() + list(generated())
        self.assertGreaterEqual(len(cases), 300)
        statuses = {}
        for name, expect, data in cases:
            with self.subTest(name=name):
                status = self.check(name, expect, data)
                statuses[status] = statuses.get(status, 0) + 1
            # Still serving, after every single one.
            self.assertEqual(self.agent.get("/v1/status/leader", timeout=10).status, 200, name)
        print("\n%d hostile requests; answers by status: %s" % (len(cases), sorted(
            statuses.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))))
        after, _ = self.agent.get_json("/v1/agent/service/keep-1")
        self.assertEqual(before, after)
        services, _ = self.agent.get_json("/v1/agent/services")
        self.assertEqual(sorted(services), ["keep-1"], "nothing else got registered")

    def test_slow_clients_are_cut_off_and_others_are_served(self):
        partials = [b"", b"GET /v1/agent/services HTTP/1.1\r\n", b"GET /v1/agent/ser",
                    b"PUT /v1/agent/service/register HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: 100\r\n\r\n{\"Name\":"]
        socks = []
        for data in partials * 5:
            s = socket.create_connection((self.agent.host, self.agent.port), timeout=10)
            s.sendall(data)
            socks.append(s)
        try:
            started = time.monotonic()
            self.assertEqual(self.agent.get("/v1/status/leader").status, 200)
            for s in socks:
                while s.recv(65536):  # whatever it says, it must close within the timeout
                    pass
            self.assertLess(time.monotonic() - started, 8.0)
        finally:
            for s in socks:
                s.close()
        # A client that trickles one byte a second does not get more time.
        s = socket.create_connection((self.agent.host, self.agent.port), timeout=10)
        started = time.monotonic()
        try:
            for byte in b"GET /v1/agent/services HTTP/1.1\r\nHost: x\r\n":
                s.sendall(bytes([byte]))
                time.sleep(0.25)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            s.close()
        self.assertLess(time.monotonic() - started, 6.0)


if __name__ == "__main__":
    unittest.main()
