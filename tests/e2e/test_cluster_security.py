"""Cluster security with the real binary (docs/clustering.md, "Security"):

- three servers with HTTPS (-tls-verify-incoming, their own certificates as client
  certificates) and a cluster key form a cluster; a follower forwards a write to the leader
  over HTTPS, with the proof that lets the leader take the client's address from it;
- a client cannot forge that address (X-Concierge-Client-Address without the proof);
- a server with another key cannot join: the cluster refuses its join, and it stays out;
- a member restarted with the wrong key gets no replication (Raft refuses its connections)
  until it is restarted with the right key, when it catches up.
"""

import http.client
import os
import shutil
import ssl
import subprocess
import time
import unittest

from harness import wait_until
from test_cluster import (CATCH_UP_TIMEOUT, FORM_TIMEOUT, OTHER_CLIENT_ADDRESS, ClusterTestCase,
                          Server, Spec, free_ports, unique)
from test_tls import make_ca

KEY = "Yl9kW8aPQVqJq0Ui3g9nYw0c7v5V6h8kq1pR2sT3uE4="
OTHER_KEY = "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktISE="


class SecureClusterTestCase(ClusterTestCase):

    def start_secure(self, n, extra, ssl_context=None):
        ports = free_ports(2 * n)
        root = self.make_dir()
        specs = [Spec("n%d" % (i + 1), os.path.join(root, "n%d" % (i + 1)), ports[2 * i],
                      ports[2 * i + 1], ports[0], n) for i in range(n)]
        servers = [self.start_server(spec.args + extra, ssl_context) for spec in specs]
        leader = self.wait_for_leader(servers, specs, FORM_TIMEOUT)
        return specs, servers, leader

    def start_server(self, args, ssl_context=None, wait=True):
        server = Server(*args)
        server.ssl_context = ssl_context
        self.addCleanup(server.reap)
        server.start()
        return server


class TlsClusterTest(SecureClusterTestCase):

    def test_tls_and_key_cluster_forwards_with_the_client_address(self):
        ca = make_ca()
        self.addCleanup(shutil.rmtree, ca, True)
        pem = lambda name: os.path.join(ca, name)
        ctx = ssl.create_default_context(cafile=pem("ca.pem"))
        ctx.load_cert_chain(pem("client.pem"), pem("client-key.pem"))
        tls = ["-tls-cert-file", pem("server.pem"), "-tls-key-file", pem("server-key.pem"),
               "-tls-ca-file", pem("ca.pem"), "-tls-verify-incoming", "-cluster-key", KEY]
        specs, servers, leader = self.start_secure(3, tls, ctx)
        follower = servers[(leader + 1) % 3]
        service = unique("sec")

        conn = http.client.HTTPSConnection(follower.host, follower.port, timeout=30,
                                           context=ctx, source_address=(OTHER_CLIENT_ADDRESS, 0))
        self.addCleanup(conn.close)
        r = self.put_until_not_503(follower, "/v1/agent/service/register",
                                   {"Name": service, "ID": service + "-1", "Port": 1})
        self.assertEqual(r.status, 200, r)
        r = follower.put("/v1/agent/service/register",
                         {"Name": service, "ID": service + "-2", "Port": 2}, conn=conn)
        self.assertEqual(r.status, 200, r)
        self.wait_visible(servers, service, [service + "-1", service + "-2"])
        entries = servers[leader].json("/v1/health/service/%s" % service)
        addresses = {e["Service"]["ID"]: e["Service"]["Address"] for e in entries}
        self.assertEqual(addresses, {service + "-1": "127.0.0.1",
                                     service + "-2": OTHER_CLIENT_ADDRESS})

        # A client that sends the forwarding header itself is not believed.
        r = servers[leader].put("/v1/agent/service/register",
                                {"Name": service, "ID": service + "-3", "Port": 3},
                                headers={"X-Concierge-Client-Address": "10.6.6.6",
                                         "X-Concierge-Cluster-Auth": "1:" + "0" * 64})
        self.assertEqual(r.status, 200, r)
        entries = servers[leader].json("/v1/health/service/%s" % service)
        addresses = {e["Service"]["ID"]: e["Service"]["Address"] for e in entries}
        self.assertEqual(addresses[service + "-3"], "127.0.0.1")


class WrongKeyTest(SecureClusterTestCase):

    def test_a_server_with_another_key_cannot_join_or_replicate(self):
        specs, servers, leader = self.start_secure(3, ["-cluster-key", KEY])
        expected_peers = sorted(spec.raft_address for spec in specs)

        # (a) a newcomer with another key asks to join: refused, it stays out.
        port, raft_port = free_ports(2)
        stranger = self.start_server(
            ["-node", "stranger", "-data-dir", self.make_dir(), "-http-addr",
             "127.0.0.1:%d" % port, "-server-port", str(raft_port), "-dns-port", "-1",
             "-bootstrap-expect", "3", "-join", specs[0].http_address, "-cluster-key",
             OTHER_KEY])
        wait_until(lambda: "refused" in stranger.stderr, 15,
                   what="the stranger to log that the cluster refused it")
        wait_until(lambda: "refused a join" in servers[0].stderr, 5,
                   what="the cluster to log the refused join")
        time.sleep(2)
        for s in servers:
            self.assertEqual(sorted(s.json("/v1/status/peers")), expected_peers)
            members = [m["Name"] for m in s.json("/v1/agent/members")]
            self.assertNotIn("stranger", members)

        # (b) a member restarted with the wrong key gets nothing more through Raft.
        victim = (leader + 1) % 3
        servers[victim].kill()
        servers[victim] = self.start_server(specs[victim].args + ["-cluster-key", OTHER_KEY])
        service = unique("after")
        r = self.put_until_not_503(servers[leader], "/v1/agent/service/register",
                                   {"Name": service, "Port": 1})
        self.assertEqual(r.status, 200, r)
        healthy = [s for i, s in enumerate(servers) if i != victim]
        self.wait_visible(healthy, service, [service])
        wait_until(lambda: "wrong cluster key" in servers[leader].stderr + servers[victim].stderr,
                   15, what="a Raft connection to be refused for the wrong key")
        time.sleep(3)
        self.assertNotEqual(self.instances(servers[victim], service), [service],
                            "a server with the wrong key must not receive the log")

        # (c) back with the right key, it catches up.
        servers[victim].kill()
        servers[victim] = self.start_server(specs[victim].args + ["-cluster-key", KEY])
        self.wait_visible([servers[victim]], service, [service], timeout=CATCH_UP_TIMEOUT)


class KeyFlagsTest(unittest.TestCase):

    def test_keygen_and_bad_keys(self):
        from harness import binary
        r = subprocess.run([binary(), "keygen"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        key = r.stdout.strip()
        self.assertEqual(len(key), 44)
        for bad in ["short", "!!!!", "QUJD"]:
            r = subprocess.run([binary(), "agent", "-dev", "-http-addr", "127.0.0.1:0",
                                "-dns-port", "-1", "-cluster-key", bad],
                               capture_output=True, text=True, timeout=10)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("cluster key", r.stderr)


if __name__ == "__main__":
    unittest.main()
