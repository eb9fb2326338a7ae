"""The route table against the running agent, in its default durable mode with ACLs on:
every route of docs/consul-compat.md's endpoint table (which tests/http/routes_test.cc checks
against src/http/routes.cc) answers 405 with Allow to the methods it does not take, refuses an
anonymous token where its ACL rule says so, and refuses a body over its limit before reading it.
"""

import os
import re
import shutil
import socket
import tempfile
import unittest

from harness import Server, read_http_reply, wait_until

DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                    "consul-compat.md")
METHODS = ("GET", "PUT", "POST", "DELETE")
LIMITS = {"none": 64 << 10, "1 MiB": 1 << 20, "1 GiB": 1 << 30}


def route_table():
    """[(methods, pattern, acl, body)] from the generated table, 501s with every method."""
    with open(DOCS, encoding="utf-8") as f:
        text = f.read()
    begin = text.index("<!-- route table: begin")
    end = text.index("<!-- route table: end -->")
    routes = []
    for line in text[begin:end].splitlines():
        m = re.match(r"\| ([A-Z, ]+?)(?: \(legacy: ([A-Z, ]+)\))? \| `([^`]+)` \| ([^|]+) \|"
                     r" [^|]+ \| [^|]* \| ([^|]+) \|$", line)
        if m:
            methods = {x.strip() for x in m.group(1).split(",")} - {"HEAD"}
            legacy = {x.strip() for x in (m.group(2) or "").split(",") if x.strip()} - {"HEAD"}
            routes.append((methods | legacy, m.group(3), m.group(4).strip(), m.group(5).strip()))
            continue
        m = re.match(r"- `([^`]+)`: ", line)
        if m:
            routes.append((set(METHODS), m.group(1), "none", "none"))
    return routes


def sample(pattern):
    return re.sub(r":[^/]+", "x1", pattern)


class RouteTableTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.routes = route_table()
        assert len(cls.routes) > 40, "the route table in docs/consul-compat.md was not found"
        cls.data_dir = tempfile.mkdtemp(prefix="concierge-routes-")
        cls.addClassCleanup(shutil.rmtree, cls.data_dir, True)
        cls.server = Server("-data-dir", cls.data_dir, "-http-addr", "127.0.0.1:0",
                            "-server-port", "0", "-dns-port", "-1", "-acl-enabled")
        cls.addClassCleanup(cls.server.reap)
        cls.server.start()
        wait_until(lambda: cls.server.get("/v1/status/leader").json(), 20, what="a leader")
        r = cls.server.put("/v1/acl/bootstrap")
        assert r.status == 200, r
        cls.root = r.json()["SecretID"]
        # The instance and check the sample paths name ("x1"), so that ACL rules that look
        # them up find a service.
        body = '{"Name": "web", "ID": "x1", "Check": {"CheckID": "x1", "TTL": "30s"}}'
        r = cls.server.put("/v1/agent/service/register", body,
                           headers={"X-Consul-Token": cls.root})
        assert r.status == 200, r

    def allowed_at(self, path):
        """The methods of the first pattern that matches `path` (as the agent routes)."""
        first, allowed = None, set()
        for methods, pattern, _, _ in self.routes:
            if first not in (None, pattern):
                continue
            if re.fullmatch(re.sub(r":[^/]+$", ".*", re.sub(r":[^/]+/", "[^/]+/", pattern)),
                            path):
                first = pattern
                allowed |= methods
        return allowed

    def test_every_other_method_is_405_with_allow(self):
        for _, pattern, _, _ in self.routes:
            path = sample(pattern)
            allowed = self.allowed_at(path)
            for method in set(METHODS) - allowed:
                with self.subTest(method=method, path=path):
                    r = self.server.request(method, path, headers={"X-Consul-Token": self.root})
                    self.assertEqual(r.status, 405, r)
                    self.assertEqual(r.text.strip(), "method %s not allowed" % method)
                    allow = {m.strip() for m in r.header("Allow").split(",")} - {"HEAD"}
                    self.assertEqual(allow, allowed)

    def test_an_anonymous_token_is_refused_where_the_rule_needs_a_right(self):
        checked = 0
        for methods, pattern, acl, _ in self.routes:
            if not re.match(r"(service|node|agent|operator|acl):(read|write) ?", acl):
                continue
            if "registered" in acl or "per entry" in acl:
                continue  # decided once the body is decoded
            method = sorted(methods)[0] if methods != {"GET", "PUT"} else "PUT"
            with self.subTest(method=method, pattern=pattern, acl=acl):
                r = self.server.request(method, sample(pattern))
                self.assertEqual(r.status, 403, r)
                self.assertIn("Permission denied", r.text)
                checked += 1
        self.assertGreater(checked, 15)

    def over_limit(self, method, path, size, token=None):
        with self.server.raw_socket() as s:
            head = "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n" % (method, path, size)
            if token:
                head += "X-Consul-Token: %s\r\n" % token
            s.sendall((head + "\r\n").encode())
            return read_http_reply(s)

    def test_a_body_over_the_routes_limit_is_refused_before_it_is_read(self):
        for methods, pattern, _, body in self.routes:
            for method in sorted(methods - {"GET"}):
                with self.subTest(method=method, pattern=pattern, body=body):
                    reply = self.over_limit(method, sample(pattern), LIMITS[body] + 1, self.root)
                    self.assertTrue(reply.startswith(b"HTTP/1.1 413"), reply[:200])

    def test_a_backup_upload_needs_its_token_before_its_body(self):
        reply = self.over_limit("PUT", "/v1/snapshot", 512 << 20)
        self.assertTrue(reply.startswith(b"HTTP/1.1 403"), reply[:200])
        # Any other path with a large body: the small limit, not the backup's.
        reply = self.over_limit("PUT", "/v1/snapshotX", 2 << 20, self.root)
        self.assertTrue(reply.startswith(b"HTTP/1.1 413") or reply.startswith(b"HTTP/1.1 404"),
                        reply[:200])


if __name__ == "__main__":
    unittest.main()
