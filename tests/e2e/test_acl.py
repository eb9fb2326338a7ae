"""ACLs against the real binary (docs/acl.md): with -acl-enabled (default deny) an anonymous
client can neither register nor deregister, a token scoped to `web` can register and
heartbeat `web` but not touch `db`, a management token can, reads are filtered, tokens and
policies survive kill -9 and restart, bootstrap happens once, DNS follows the anonymous
token, and the CLI and python3-consul work with tokens.

One durable agent per test class, in its own temporary data directory.
"""

import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import unittest

from harness import Agent, Server, binary, wait_until
from test_cluster import FORM_TIMEOUT, ClusterTestCase, Spec, free_ports

try:
    import consul
except ImportError:  # pragma: no cover - depends on the machine
    consul = None

CLI_TIMEOUT = 30
FILTERED = "X-Consul-Results-Filtered-By-ACLs"


def dns_answers(port, name, qtype=33):
    """Number of answers to one UDP query (SRV by default), and the rcode."""
    header = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.strip(".").split(".")) + b"\0"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    try:
        s.sendto(header + qname + struct.pack(">HH", qtype, 1), ("127.0.0.1", port))
        data, _ = s.recvfrom(4096)
    finally:
        s.close()
    _, flags, _, ancount, _, _ = struct.unpack(">HHHHHH", data[:12])
    return ancount, flags & 0xF


class AclTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.data_dir = tempfile.mkdtemp(prefix="concierge-acl-")
        cls.addClassCleanup(shutil.rmtree, cls.data_dir, True)
        cls.server = cls.start_server()

    @classmethod
    def start_server(cls):
        server = Server("-data-dir", cls.data_dir, "-http-addr", "127.0.0.1:0", "-server-port",
                        "0", "-dns-port", "0", "-acl-enabled", "-node", "acl-node")
        cls.addClassCleanup(server.reap)
        server.start()
        wait_until(lambda: server.get("/v1/status/leader").json(), 20, what="a leader")
        return server

    # -- helpers ---------------------------------------------------------------------------

    def call(self, method, path, body=None, token=None, header="X-Consul-Token"):
        headers = {}
        if token is not None:
            headers[header] = ("Bearer " + token) if header == "Authorization" else token
        return self.server.request(method, path, body=body, headers=headers)

    def ok(self, method, path, body=None, token=None, **kw):
        r = self.call(method, path, body, token, **kw)
        self.assertEqual(r.status, 200, "%s %s: %r" % (method, path, r))
        return r

    def denied(self, method, path, body=None, token=None, right=None):
        r = self.call(method, path, body, token)
        self.assertEqual(r.status, 403, "%s %s: %r" % (method, path, r))
        self.assertIn("Permission denied", r.text)
        if right:
            self.assertIn(right, r.text)
        return r

    @staticmethod
    def service(name, instance):
        return {"Name": name, "ID": instance, "Port": 8080, "Check": {"TTL": "30s"}}

    def management(self):
        if not hasattr(type(self), "root"):
            r = self.ok("PUT", "/v1/acl/bootstrap")
            type(self).root = r.json()["SecretID"]
        return type(self).root

    def make_token(self, policy_name, rules):
        root = self.management()
        r = self.call("GET", "/v1/acl/policy/name/" + policy_name, token=root)
        if r.status == 404:
            self.ok("PUT", "/v1/acl/policy",
                    {"Name": policy_name, "Rules": json.dumps(rules)}, token=root)
        t = self.ok("PUT", "/v1/acl/token", {"Description": policy_name,
                                              "Policies": [{"Name": policy_name}]}, token=root)
        return t.json()

    def web_token(self):
        return self.make_token("web-writer", {"service": {"web": {"policy": "write"}},
                                              "node_prefix": {"": {"policy": "read"}}})["SecretID"]

    # -- tests -----------------------------------------------------------------------------

    def test_1_anonymous_cannot_write_and_bootstrap_happens_once(self):
        self.denied("PUT", "/v1/agent/service/register", self.service("web", "web-anon"),
                    right="lacks permission 'service:write' on \"web\"")
        r = self.call("GET", "/v1/acl/policies")
        self.assertEqual(r.status, 403, r)
        root = self.management()
        again = self.call("PUT", "/v1/acl/bootstrap")
        self.assertEqual(again.status, 403, again)
        self.assertIn("ACL bootstrap no longer allowed", again.text)
        # The secret is shown once: never again in reads.
        tokens = self.ok("GET", "/v1/acl/tokens", token=root).json()
        self.assertTrue(tokens)
        self.assertNotIn(root, json.dumps(tokens))
        self.assertTrue(all("SecretID" not in t for t in tokens))
        # A secret no token has.
        r = self.call("GET", "/v1/agent/services", token="not-a-token")
        self.assertEqual(r.status, 403, r)
        self.assertIn("ACL not found", r.text)

    def test_2_scoped_token_touches_only_its_service(self):
        root = self.management()
        web = self.web_token()
        self.ok("PUT", "/v1/agent/service/register", self.service("web", "web-1"), token=web)
        self.denied("PUT", "/v1/agent/service/register", self.service("db", "db-1"), token=web,
                    right="lacks permission 'service:write' on \"db\"")
        # The management token, through Authorization: Bearer.
        self.ok("PUT", "/v1/agent/service/register", self.service("db", "db-1"), token=root,
                header="Authorization")
        # Heartbeats need write on the check's service; ?token= works too.
        self.ok("PUT", "/v1/agent/check/pass/service:web-1", token=web)
        self.ok("PUT", "/v1/agent/check/pass/service:web-1?token=" + web)
        self.denied("PUT", "/v1/agent/check/pass/service:db-1", token=web, right="service:write")
        self.denied("PUT", "/v1/agent/check/pass/service:web-1")
        self.denied("PUT", "/v1/agent/service/deregister/db-1", token=web)
        self.denied("PUT", "/v1/agent/service/deregister/web-1")
        # Taking over db's instance ID under the name web needs write on db as well.
        self.denied("PUT", "/v1/agent/service/register", self.service("web", "db-1"), token=web,
                    right="on \"db\"")
        self.denied("PUT", "/v1/agent/service/maintenance/db-1?enable=true", token=web)
        self.denied("GET", "/v1/snapshot", token=web, right="acl:write")
        self.denied("GET", "/v1/operator/raft/configuration", token=web, right="operator:read")
        self.ok("GET", "/v1/snapshot", token=root)
        self.ok("PUT", "/v1/agent/service/register", self.service("web", "web-tmp"), token=web)
        self.ok("PUT", "/v1/agent/service/deregister/web-tmp", token=web)
        self.assertEqual(self.ok("GET", "/v1/acl/token/self", token=web).json()["Policies"][0]["Name"],
                         "web-writer")

    def test_2b_heartbeat_batches_are_checked_entry_by_entry(self):
        root = self.management()
        web = self.web_token()
        for token, name, inst in ((web, "web", "web-1"), (root, "db", "db-1")):
            self.ok("PUT", "/v1/agent/service/register", self.service(name, inst), token=token)
        batch = {"Checks": ["service:web-1", "service:db-1", "service:nope"]}
        r = self.ok("PUT", "/v1/concierge/heartbeats", batch, token=web).json()
        self.assertEqual(r["Results"], [200, 403, 404])
        self.assertIn("lacks permission 'service:write' on \"db\"", r["Errors"][0]["Error"])
        r = self.ok("PUT", "/v1/concierge/heartbeats", batch).json()
        self.assertEqual(r["Results"], [403, 403, 404])
        # An entry's own token (as a follower forwards them) decides for that entry.
        batch = {"Checks": [{"ID": "service:db-1", "Token": root}, "service:web-1",
                            {"ID": "service:web-1", "Token": "not-a-token"}]}
        r = self.ok("PUT", "/v1/concierge/heartbeats", batch, token=web).json()
        self.assertEqual(r["Results"], [200, 200, 403])
        self.assertIn("ACL not found", r["Errors"][0]["Error"])
        self.denied("GET", "/v1/concierge/heartbeats", token=web, right="operator:read")

    def test_3_reads_are_filtered(self):
        root = self.management()
        web = self.web_token()
        for token, name, inst in ((web, "web", "web-1"), (root, "db", "db-1")):
            self.ok("PUT", "/v1/agent/service/register", self.service(name, inst), token=token)
        r = self.ok("GET", "/v1/catalog/services")
        self.assertEqual(r.json(), {})
        self.assertEqual(r.header(FILTERED), "true")
        r = self.ok("GET", "/v1/catalog/services", token=web)
        self.assertEqual(sorted(r.json()), ["web"])
        self.assertEqual(r.header(FILTERED), "true")
        r = self.ok("GET", "/v1/health/service/db", token=web)
        self.assertEqual(r.json(), [])
        self.assertEqual(r.header(FILTERED), "true")
        self.assertEqual(len(self.ok("GET", "/v1/health/service/web", token=web).json()), 1)
        r = self.ok("GET", "/v1/catalog/services", token=root)
        self.assertEqual(sorted(r.json()), ["db", "web"])
        self.assertIsNone(r.header(FILTERED))
        self.assertEqual(sorted(self.ok("GET", "/v1/agent/services", token=web).json()), ["web-1"])
        self.denied("GET", "/v1/agent/service/db-1", token=web, right="service:read")

    def test_4_anonymous_reads_per_service_and_dns(self):
        root = self.management()
        self.ok("PUT", "/v1/agent/service/register", self.service("web", "web-1"), token=root)
        self.ok("PUT", "/v1/agent/check/pass/service:web-1", token=root)
        self.ok("PUT", "/v1/agent/service/register", self.service("db", "db-1"), token=root)
        self.ok("PUT", "/v1/agent/check/pass/service:db-1", token=root)
        port = int(self.server.stderr.split("DNS listening on 127.0.0.1:")[1].split(" ")[0])
        self.assertEqual(dns_answers(port, "web.service.consul")[0], 0)
        self.ok("PUT", "/v1/acl/policy",
                {"Name": "anonymous-web", "Rules": json.dumps(
                    {"service": {"web": {"policy": "read"}}, "node_prefix": {"": {"policy": "read"}}})},
                token=root)
        anonymous = "00000000-0000-0000-0000-000000000002"
        self.ok("PUT", "/v1/acl/token/" + anonymous,
                {"Description": "Anonymous Token", "Policies": [{"Name": "anonymous-web"}]},
                token=root)
        self.assertEqual(len(self.ok("GET", "/v1/health/service/web").json()), 1)
        self.assertEqual(self.ok("GET", "/v1/health/service/db").json(), [])
        self.assertEqual(dns_answers(port, "web.service.consul")[0], 1)
        self.assertEqual(dns_answers(port, "db.service.consul")[0], 0)
        self.denied("PUT", "/v1/agent/service/deregister/web-1")

    def test_5_rules_are_json_only(self):
        root = self.management()
        r = self.call("PUT", "/v1/acl/policy",
                      {"Name": "hcl", "Rules": 'service "web" { policy = "write" }'}, token=root)
        self.assertEqual(r.status, 400, r)
        self.assertIn("HCL", r.text)
        r = self.call("PUT", "/v1/acl/policy",
                      {"Name": "bad", "Rules": '{"service": {"web": {"policy": "admin"}}}'},
                      token=root)
        self.assertEqual(r.status, 400, r)
        self.assertIn("admin", r.text)

    def test_6_cli_with_tokens(self):
        root = self.management()
        addr = ["-http-addr", self.server.address]

        def cli(*args, env_token=None, check=True):
            env = dict(os.environ)
            env.pop("CONCIERGE_HTTP_TOKEN", None)
            env.pop("CONSUL_HTTP_TOKEN", None)
            if env_token:
                env["CONSUL_HTTP_TOKEN"] = env_token
            p = subprocess.run([binary(), *args], capture_output=True, text=True, env=env,
                               timeout=CLI_TIMEOUT)
            if check:
                self.assertEqual(p.returncode, 0, p)
            return p

        out = cli("acl", "policy", "create", "-name", "cli-api", "-rules",
                  '{"service_prefix": {"api": {"policy": "write"}}}', *addr, "-token", root).stdout
        self.assertIn("Name:         cli-api", out)
        out = cli("acl", "token", "create", "-policy-name", "cli-api", "-description", "api",
                  *addr, env_token=root).stdout
        secret = [l.split()[-1] for l in out.splitlines() if l.startswith("SecretID:")][0]
        cli("services", "register", "-name", "api-v2", "-port", "9000", *addr, "-token", secret)
        p = cli("services", "register", "-name", "db", "-port", "9000", *addr, "-token", secret,
                check=False)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("Permission denied", p.stderr)
        p = cli("services", "register", "-name", "api-v3", "-port", "9000", *addr, check=False)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("cli-api", cli("acl", "policy", "list", *addr, "-token", root).stdout)

    @unittest.skipIf(consul is None, "python3-consul is not installed")
    def test_7_python_consul_with_a_token(self):
        # python-consul 0.7 sends Consul(token=...) as ?token= on the calls that take one
        # (register, health, catalog); its ttl_pass and deregister send none (anonymous).
        web = self.web_token()
        c = consul.Consul(host=self.server.host, port=self.server.port, token=web)
        self.assertTrue(c.agent.service.register("web", service_id="web-py", port=81,
                                                 check=consul.Check.ttl("30s")))
        with self.assertRaises(consul.base.ACLPermissionDenied):
            c.agent.service.register("db", service_id="db-py", port=81)
        with self.assertRaises(consul.base.ACLPermissionDenied):
            c.agent.check.ttl_pass("service:web-py")
        _, nodes = c.health.service("web")
        self.assertIn("web-py", [n["Service"]["ID"] for n in nodes])
        _, services = c.catalog.services()
        self.assertIn("web", services)
        self.assertNotIn("db", services)

    def test_8_acls_survive_kill_9(self):
        root = self.management()
        web = self.web_token()
        self.ok("PUT", "/v1/agent/service/register", self.service("web", "web-1"), token=web)
        type(self).server.reap()
        type(self).server = self.start_server()
        wait_until(lambda: self.call("GET", "/v1/acl/token/self", token=root).status == 200, 20,
                   what="the management token after restart")
        self.ok("PUT", "/v1/agent/service/register", self.service("web", "web-2"), token=web)
        self.denied("PUT", "/v1/agent/service/register", self.service("db", "db-9"), token=web)
        self.denied("PUT", "/v1/agent/service/register", self.service("web", "web-9"))
        again = self.call("PUT", "/v1/acl/bootstrap")
        self.assertEqual(again.status, 403, again)


class AclClusterTest(ClusterTestCase):
    """Three servers with ACLs: the state replicates, followers enforce it, and heartbeats a
    follower batches to the leader keep their clients' tokens."""

    def test_tokens_replicate_and_followers_forward_them(self):
        ports = free_ports(6)
        root_dir = self.make_dir()
        specs = [Spec("n%d" % (i + 1), os.path.join(root_dir, "n%d" % (i + 1)), ports[2 * i],
                      ports[2 * i + 1], ports[0], 3) for i in range(3)]
        servers = [self.start(*spec.args, "-acl-enabled") for spec in specs]
        leader = self.wait_for_leader(servers, specs, FORM_TIMEOUT)
        follower = servers[(leader + 1) % 3]

        def call(server, method, path, body=None, token=None):
            return server.request(method, path, body=body,
                                  headers={"X-Consul-Token": token} if token else {})

        r = call(follower, "PUT", "/v1/acl/bootstrap")  # forwarded to the leader
        self.assertEqual(r.status, 200, r)
        root = r.json()["SecretID"]
        wait_until(lambda: all(call(s, "GET", "/v1/acl/token/self?stale", token=root).status == 200
                               for s in servers), 15, what="the root token on every server")
        rules = {"service": {"web": {"policy": "write"}}, "node_prefix": {"": {"policy": "read"}}}
        r = call(follower, "PUT", "/v1/acl/policy", {"Name": "web", "Rules": json.dumps(rules)},
                 token=root)
        self.assertEqual(r.status, 200, r)
        r = call(follower, "PUT", "/v1/acl/token", {"Policies": [{"Name": "web"}]}, token=root)
        self.assertEqual(r.status, 200, r)
        web = r.json()["SecretID"]
        wait_until(lambda: all(call(s, "GET", "/v1/acl/token/self?stale", token=web).status == 200
                               for s in servers), 15, what="the web token on every server")

        for name, token in (("web", web), ("db", root)):
            body = {"Name": name, "ID": name + "-1", "Check": {"TTL": "30s"}}
            r = call(follower, "PUT", "/v1/agent/service/register", body, token=token)
            self.assertEqual(r.status, 200, r)
        r = call(follower, "PUT", "/v1/agent/service/register", {"Name": "db", "ID": "db-2"},
                 token=web)
        self.assertEqual(r.status, 403, r)
        # Batched to the leader with the client's token, which the leader checks again.
        r = call(follower, "PUT", "/v1/agent/check/pass/service:web-1", token=web)
        self.assertEqual(r.status, 200, r)
        for token in (web, None):
            r = call(follower, "PUT", "/v1/agent/check/pass/service:db-1", token=token)
            self.assertEqual(r.status, 403, r)
        r = call(follower, "PUT", "/v1/agent/check/pass/service:web-1")
        self.assertEqual(r.status, 403, r)


class AclOffTest(unittest.TestCase):
    """Without -acl-enabled nothing changes, and the ACL endpoints say ACLs are off."""

    def test_acl_endpoints_answer_401(self):
        with Agent() as agent:
            r = agent.put("/v1/acl/bootstrap")
            self.assertEqual(r.status, 401, r)
            self.assertIn("ACL support disabled", r.text)
            agent.register({"Name": "web", "ID": "web-1"})


if __name__ == "__main__":
    unittest.main()
