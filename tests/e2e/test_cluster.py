"""Clusters and durability with the real binary: three servers on one machine form a cluster
(-join, -bootstrap-expect), followers forward writes to the leader, a killed leader is
replaced and comes back, a dead server is removed with `operator raft remove-peer`, a single
durable server keeps its catalog across kill -9 and SIGTERM, and `snapshot save|restore`
round-trips the catalog.

Every server runs from its own temporary data directory on 127.0.0.1 with ports picked free
for the test; every process is killed and every directory removed when its test ends.
Timing: generous bounds only (an election takes about a second; bounds are 15-20 s).
"""

import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

import harness
from harness import Agent, binary, wait_until

CLI_TIMEOUT = 30
FORM_TIMEOUT = 20.0  # three fresh servers until they agree on a leader
ELECTION_TIMEOUT = 15.0  # a killed leader until the survivors agree on a new one
CATCH_UP_TIMEOUT = 15.0  # a write until every server shows it with ?stale
# A second loopback address to register from: forwarding must keep the client's address,
# and on one machine the servers' own address is 127.0.0.1, so only another one tells them
# apart.
OTHER_CLIENT_ADDRESS = "127.0.0.9"


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def free_ports(n):
    """`n` distinct TCP ports free on 127.0.0.1, below the usual ephemeral range (32768+) so
    that outgoing connections do not take them between here and the agent's bind."""
    ports = []
    while len(ports) < n:
        port = random.randrange(20000, 32000)
        if port in ports:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        ports.append(port)
    return ports


class Server(harness.Server):
    """A durable `concierge agent` (no -dev) with exactly the given flags."""

    def json(self, path, **kw):
        r = self.get(path, **kw)
        if r.status != 200:
            raise AssertionError("GET %s on %s: %r" % (path, self.address, r))
        return r.json()

    def try_json(self, path, **kw):
        """The parsed answer, or None on an error status or a refused connection."""
        try:
            r = self.get(path, timeout=kw.pop("timeout", 5), **kw)
        except OSError:
            return None
        return r.json() if r.status == 200 else None


class Spec:
    """How to (re)start one server of a test cluster."""

    def __init__(self, name, data_dir, http_port, raft_port, join_port, expect):
        self.name = name
        self.data_dir = data_dir
        self.http_address = "127.0.0.1:%d" % http_port
        self.raft_address = "127.0.0.1:%d" % raft_port
        self.args = ["-node", name, "-data-dir", data_dir, "-http-addr", self.http_address,
                     "-server-port", str(raft_port), "-dns-port", "-1",
                     "-bootstrap-expect", str(expect), "-join", "127.0.0.1:%d" % join_port]


class E2ETestCase(unittest.TestCase):

    def make_dir(self):
        d = tempfile.mkdtemp(prefix="concierge-cluster-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def start(self, *args):
        server = Server(*args)
        self.addCleanup(server.reap)
        server.start()
        return server

    def cli(self, *args, address=None):
        full = [binary(), *args]
        if address is not None:
            full += ["-http-addr", address]
        return subprocess.run(full, capture_output=True, text=True, timeout=CLI_TIMEOUT,
                              stdin=subprocess.DEVNULL)

    def ok(self, *args, address=None):
        p = self.cli(*args, address=address)
        self.assertEqual(p.returncode, 0, "%s: stdout %r stderr %r" % (args, p.stdout, p.stderr))
        return p.stdout

    def put_until_not_503(self, server, path, body, timeout=ELECTION_TIMEOUT):
        """PUT, retrying while the answer is 503 (no leader yet); returns the last answer."""
        deadline = time.monotonic() + timeout
        while True:
            r = server.put(path, body, timeout=10)
            if r.status != 503 or time.monotonic() > deadline:
                return r
            time.sleep(0.1)

    def instances(self, server, service, stale=True):
        """IDs of the instances of `service` as `server` reads them; None if it cannot."""
        entries = server.try_json("/v1/health/service/%s%s" % (service, "?stale" if stale else ""))
        return None if entries is None else sorted(e["Service"]["ID"] for e in entries)


class ClusterTestCase(E2ETestCase):

    def start_cluster(self, n=3):
        """Starts `n` servers that join the first; returns (specs, servers, leader index)."""
        ports = free_ports(2 * n)
        root = self.make_dir()
        specs = [Spec("n%d" % (i + 1), os.path.join(root, "n%d" % (i + 1)), ports[2 * i],
                      ports[2 * i + 1], ports[0], n) for i in range(n)]
        servers = [self.start(*spec.args) for spec in specs]
        leader = self.wait_for_leader(servers, specs, FORM_TIMEOUT)
        return specs, servers, leader

    def wait_for_leader(self, servers, specs, timeout, not_this=None):
        """Waits until every given server names the same leader (other than `not_this`, a
        Raft address) and that leader is among them; returns its index in `servers`."""
        by_raft = {spec.raft_address: i for i, spec in enumerate(specs)}

        def agreed():
            leaders = {s.try_json("/v1/status/leader") for s in servers}
            if len(leaders) != 1:
                return None
            leader = leaders.pop()
            if not leader or leader == not_this or leader not in by_raft:
                return None
            return (by_raft[leader],)

        return wait_until(agreed, timeout, interval=0.1,
                          what="servers %s to agree on a leader" %
                          [s.address for s in servers])[0]

    def wait_visible(self, servers, service, ids, timeout=CATCH_UP_TIMEOUT):
        for s in servers:
            wait_until(lambda: self.instances(s, service) == sorted(ids), timeout, interval=0.1,
                       what="%s to show %s of %s with ?stale" % (s.address, ids, service))


class FormationAndForwardingTest(ClusterTestCase):

    def test_three_servers_agree_and_followers_forward_writes(self):
        specs, servers, leader = self.start_cluster()
        expected_peers = sorted(spec.raft_address for spec in specs)

        # (a) one leader, three peers, three members, as every server sees it.
        for s in servers:
            self.assertEqual(s.json("/v1/status/leader"), specs[leader].raft_address)
            wait_until(lambda: sorted(s.json("/v1/status/peers")) == expected_peers, 10,
                       what="%s to list 3 peers" % s.address)

        def members_table(s):
            out = self.ok("members", address=s.address)
            rows = [line.split() for line in out.splitlines()]
            # Every server knows every other's HTTP address once the join exchange has run.
            if len(rows) != 4 or any(row[2] == "-" for row in rows[1:]):
                return None
            return rows

        for s in servers:
            rows = wait_until(lambda: members_table(s), 15, interval=0.2,
                              what="`concierge members` on %s to list 3 servers" % s.address)
            self.assertEqual(rows[0], ["Name", "Raft", "address", "HTTP", "address", "Status",
                                       "Leader"])
            self.assertEqual(
                rows[1:],
                [[spec.name, spec.raft_address, spec.http_address, "voter",
                  "true" if i == leader else "false"] for i, spec in enumerate(specs)])

        peers = self.ok("operator", "raft", "list-peers", address=servers[0].address)
        rows = [line.split() for line in peers.splitlines()]
        self.assertEqual(rows[0], ["Node", "ID", "Address", "State", "Voter"])
        self.assertEqual(sorted(row[2] for row in rows[1:]), expected_peers)
        self.assertEqual([row[0] for row in rows[1:] if row[3] == "leader"], [specs[leader].name])
        self.assertTrue(all(row[4] == "true" for row in rows[1:]), peers)

        # (b) a write sent to a follower is forwarded, answered, and replicated everywhere.
        follower = servers[(leader + 1) % 3]
        service = unique("fwd")
        r = follower.put("/v1/agent/service/register",
                         {"Name": service, "ID": service + "-1", "Port": 8080})
        self.assertEqual(r.status, 200, r)
        # A default (non-stale) read on the follower goes to the leader: the write is there.
        self.assertEqual(self.instances(follower, service, stale=False), [service + "-1"])
        self.wait_visible(servers, service, [service + "-1"])
        for s in servers:
            entries = s.json("/v1/health/service/%s?stale" % service)
            self.assertEqual(entries[0]["Service"]["Address"], "127.0.0.1",
                             "%s: Address defaults to the registering client's" % s.address)

        # From another address the follower's own (127.0.0.1) would be wrong.
        conn = http.client.HTTPConnection(follower.host, follower.port, timeout=30,
                                          source_address=(OTHER_CLIENT_ADDRESS, 0))
        self.addCleanup(conn.close)
        r = follower.put("/v1/agent/service/register",
                         {"Name": service, "ID": service + "-2", "Port": 8081}, conn=conn)
        self.assertEqual(r.status, 200, r)
        self.wait_visible(servers, service, [service + "-1", service + "-2"])
        for s in servers:
            entries = s.json("/v1/health/service/%s?stale" % service)
            addresses = {e["Service"]["ID"]: e["Service"]["Address"] for e in entries}
            self.assertEqual(addresses, {service + "-1": "127.0.0.1",
                                         service + "-2": OTHER_CLIENT_ADDRESS},
                             "on %s" % s.address)


class FailoverTest(ClusterTestCase):

    def test_killed_leader_is_replaced_and_catches_up_when_restarted(self):
        specs, servers, leader = self.start_cluster()
        before = unique("before")
        r = servers[leader].put("/v1/agent/service/register", {"Name": before, "Port": 1})
        self.assertEqual(r.status, 200, r)
        self.wait_visible(servers, before, [before])

        # (c) kill -9 the leader; the other two elect one of themselves.
        old = specs[leader].raft_address
        servers[leader].kill()
        survivors = [s for i, s in enumerate(servers) if i != leader]
        survivor_specs = [spec for i, spec in enumerate(specs) if i != leader]
        during = unique("during")
        statuses = []

        def new_leader():
            # Writes while the election runs: answered (200) or refused with a reason (503).
            s = survivors[len(statuses) % 2]
            r = s.put("/v1/agent/service/register",
                      {"Name": during, "ID": "%s-%d" % (during, len(statuses)), "Port": 2},
                      timeout=10)
            statuses.append(r.status)
            self.assertIn(r.status, (200, 503), "write during the election on %s: %r" %
                          (s.address, r))
            if r.status == 503:
                self.assertTrue(r.text.strip(), "a 503 says why")
            leaders = {s.try_json("/v1/status/leader") for s in survivors}
            return len(leaders) == 1 and leaders.pop() not in ("", None, old)

        wait_until(new_leader, ELECTION_TIMEOUT, interval=0.1,
                   what="the survivors to elect a new leader")
        new = self.wait_for_leader(survivors, survivor_specs, 5, not_this=old)

        after = unique("after")
        for i, s in enumerate(survivors):
            r = self.put_until_not_503(s, "/v1/agent/service/register",
                                       {"Name": after, "ID": "%s-%d" % (after, i), "Port": 3})
            self.assertEqual(r.status, 200, "write via %s after the election: %r" %
                             (s.address, r))
        after_ids = ["%s-0" % after, "%s-1" % after]
        for s in survivors:
            self.assertEqual(self.instances(s, before, stale=False), [before], s.address)
            self.assertEqual(self.instances(s, after, stale=False), after_ids, s.address)

        # (d) the killed server restarts from its data dir, rejoins and catches up.
        back = self.start(*specs[leader].args)
        self.wait_visible([back], after, after_ids)
        self.assertEqual(self.instances(back, before), [before])
        everyone = survivors + [back]
        self.assertEqual(self.wait_for_leader(everyone, survivor_specs + [specs[leader]], 10),
                         new)
        self.assertEqual(sorted(back.json("/v1/status/peers")),
                         sorted(spec.raft_address for spec in specs))
        # It takes writes again, forwarded to the new leader.
        again = unique("again")
        r = self.put_until_not_503(back, "/v1/agent/service/register", {"Name": again})
        self.assertEqual(r.status, 200, r)
        self.wait_visible(everyone, again, [again])


class FollowerHeartbeatTest(ClusterTestCase):
    """Followers batch their clients' heartbeats to the leader and answer each client only
    once the leader has answered for its heartbeat; without a leader they answer 503."""

    def test_heartbeats_through_a_follower(self):
        specs, servers, leader = self.start_cluster()
        follower = servers[(leader + 1) % 3]
        service = unique("hb")
        ids = ["%s-%d" % (service, i) for i in range(20)]
        for sid in ids:
            servers[leader].put_ok("/v1/agent/service/register",
                                   {"Name": service, "ID": sid, "Port": 1,
                                    "Check": {"TTL": "30s", "Status": "critical"}})

        # Many at once, so that some share a batch; each answer is its own.
        results = {}

        def beat(check):
            results[check] = follower.put("/v1/agent/check/pass/" + check, timeout=10)

        checks = ["service:" + sid for sid in ids] + ["service:%s-unknown" % service]
        threads = [threading.Thread(target=beat, args=(c,)) for c in checks]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c in checks[:-1]:
            self.assertEqual(results[c].status, 200, (c, results[c]))
            self.assertGreater(int(results[c].header("X-Consul-Index")), 1)
            self.assertEqual(results[c].header("X-Consul-KnownLeader"), "true")
        self.assertEqual(results[checks[-1]].status, 404, results[checks[-1]])
        self.assertIn("unknown check ID", results[checks[-1]].text)
        # critical -> passing was committed before the answers: the leader shows it.
        entries = servers[leader].json("/v1/health/checks/" + service)
        self.assertEqual({c["Status"] for c in entries}, {"passing"})

        # warn and fail with a note, and the GET form older clients send.
        r = follower.put("/v1/agent/check/warn/%s?note=slow%%20disk" % checks[0])
        self.assertEqual(r.status, 200, r)
        r = follower.get("/v1/agent/check/fail/" + checks[1])
        self.assertEqual(r.status, 200, r)
        got = {c["CheckID"]: (c["Status"], c["Output"])
               for c in servers[leader].json("/v1/health/checks/" + service)}
        self.assertEqual(got[checks[0]], ("warning", "slow disk"))
        self.assertEqual(got[checks[1]][0], "critical")

        # Alone, the follower has no leader to send heartbeats to: 503, with the reason.
        for i, s in enumerate(servers):
            if s is not follower:
                s.kill()
        r = follower.put("/v1/agent/check/pass/" + checks[2], timeout=15)
        self.assertEqual(r.status, 503, r)
        self.assertTrue(r.text.strip(), "a 503 says why")
        wait_until(lambda: "no cluster leader" in follower.put(
            "/v1/agent/check/pass/" + checks[2], timeout=15).text, ELECTION_TIMEOUT,
            interval=0.2, what="the lone follower to say it has no leader")


class RemovePeerTest(ClusterTestCase):

    def test_remove_a_stopped_server(self):
        specs, servers, leader = self.start_cluster()
        gone = (leader + 1) % 3
        servers[gone].stop()  # for good
        rest = [s for i, s in enumerate(servers) if i != gone]
        follower = next(s for i, s in enumerate(servers) if i not in (leader, gone))

        # Sent to the follower, which forwards it to the leader.
        out = self.ok("operator", "raft", "remove-peer", "-address", specs[gone].raft_address,
                      address=follower.address)
        self.assertIn(specs[gone].raft_address, out)
        expected = sorted(spec.raft_address for i, spec in enumerate(specs) if i != gone)
        for s in rest:
            wait_until(lambda: sorted(p["Address"] for p in s.json(
                "/v1/operator/raft/configuration")["Servers"]) == expected, 10,
                what="%s to list 2 servers" % s.address)
        rows = self.ok("operator", "raft", "list-peers", address=rest[0].address).splitlines()
        self.assertEqual(sorted(row.split()[2] for row in rows[1:]), expected)
        # `members` still knows the removed server, as one that no longer votes.
        rows = [line.split() for line in
                self.ok("members", address=rest[0].address).splitlines()[1:]]
        self.assertEqual({row[0]: row[3] for row in rows},
                         {spec.name: "non-voter" if i == gone else "voter"
                          for i, spec in enumerate(specs)})

        # Two voters of two: writes still commit.
        service = unique("two")
        r = self.put_until_not_503(follower, "/v1/agent/service/register", {"Name": service})
        self.assertEqual(r.status, 200, r)
        self.wait_visible(rest, service, [service])

        # A server that is not (or no longer) a peer: the agent's message, exit 1.
        p = self.cli("operator", "raft", "remove-peer", "-address", specs[gone].raft_address,
                     address=follower.address)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("no server with Raft address", p.stderr)


class JoinFormedClusterTest(ClusterTestCase):

    def test_a_new_server_joins_as_a_voter_and_catches_up(self):
        specs, servers, leader = self.start_cluster()
        service = unique("early")
        r = servers[leader].put("/v1/agent/service/register", {"Name": service})
        self.assertEqual(r.status, 200, r)

        http_port, raft_port = free_ports(2)
        spare = Spec("n4", os.path.join(self.make_dir(), "n4"), http_port, raft_port,
                     int(servers[0].port), 3)
        newcomer = self.start(*spare.args)
        everyone = servers + [newcomer]
        expected = sorted([spec.raft_address for spec in specs] + [spare.raft_address])

        def four_peers():
            for s in everyone:
                if s.proc.poll() is not None:
                    raise AssertionError("%s exited with %s; stderr tail:\n%s" %
                                         (s.address, s.proc.returncode, s.stderr[-1500:]))
            return all(sorted(s.try_json("/v1/status/peers") or []) == expected
                       for s in everyone)

        wait_until(four_peers, 15, interval=0.1, what="every server to list 4 peers")
        self.wait_visible([newcomer], service, [service])


class SingleServerDurabilityTest(E2ETestCase):
    """The default agent (no -dev) keeps its catalog in a single-voter Raft log."""

    COUNT = 100

    def start_single(self, data_dir):
        return self.start("-data-dir", data_dir, "-http-addr", "127.0.0.1:0",
                          "-server-port", "0", "-dns-port", "-1")

    def register_many(self, server, service):
        conn = server.connection()
        self.addCleanup(conn.close)
        for i in range(self.COUNT):
            r = self.put_until_not_503(server, "/v1/agent/service/register",
                                       {"Name": service, "ID": "%s-%03d" % (service, i),
                                        "Port": 10000 + i, "Tags": ["t%d" % (i % 3)]})
            self.assertEqual(r.status, 200, r)
        return ["%s-%03d" % (service, i) for i in range(self.COUNT)]

    def assert_all_back(self, server, service, ids):
        wait_until(lambda: self.instances(server, service, stale=False) == ids, 20, interval=0.1,
                   what="all %d instances back after the restart" % len(ids))
        entries = server.json("/v1/health/service/" + service)
        ports = sorted(e["Service"]["Port"] for e in entries)
        self.assertEqual(ports, list(range(10000, 10000 + self.COUNT)))

    def test_kill_9_then_restart_keeps_every_registration(self):
        data_dir = self.make_dir()
        server = self.start_single(data_dir)
        service = unique("durable")
        ids = self.register_many(server, service)
        server.kill()
        self.assert_all_back(self.start_single(data_dir), service, ids)

    def test_sigterm_then_restart_keeps_every_registration(self):
        data_dir = self.make_dir()
        server = self.start_single(data_dir)
        service = unique("clean")
        ids = self.register_many(server, service)
        server.stop()  # asserts exit status 0
        self.assertTrue(os.path.exists(os.path.join(data_dir, "LOCK")))
        self.assertTrue(os.path.isdir(os.path.join(data_dir, "raft")))
        self.assert_all_back(self.start_single(data_dir), service, ids)


class SnapshotTest(E2ETestCase):

    def setUp(self):
        super().setUp()
        self.server = self.start("-data-dir", self.make_dir(), "-http-addr", "127.0.0.1:0",
                                 "-server-port", "0", "-dns-port", "-1")
        wait_until(lambda: self.server.try_json("/v1/status/leader"), 20,
                   what="the single server to lead")
        r = self.server.get("/v1/snapshot")
        if r.status in (404, 501):
            self.skipTest("the agent does not serve /v1/snapshot yet (GET answered %d: %s)" %
                          (r.status, r.text.strip()))

    def test_save_deregister_restore(self):
        services = {unique("snap-a"): 5, unique("snap-b"): 3}
        registered = {}
        for name, count in services.items():
            for i in range(count):
                sid = "%s-%d" % (name, i)
                r = self.put_until_not_503(self.server, "/v1/agent/service/register",
                                           {"Name": name, "ID": sid, "Port": 7000 + i,
                                            "Tags": ["v%d" % i], "Meta": {"i": str(i)}})
                self.assertEqual(r.status, 200, r)
            registered[name] = self.server.json("/v1/health/service/" + name)

        folder = self.make_dir()
        path = os.path.join(folder, "backup.snap")
        out = self.ok("snapshot", "save", path, address=self.server.address)
        self.assertIn(path, out)
        self.assertGreater(os.path.getsize(path), 0)
        self.assertEqual(os.listdir(folder), ["backup.snap"], "no temporary file left behind")

        for name, count in services.items():
            for i in range(count):
                self.server.put_ok("/v1/agent/service/deregister/%s-%d" % (name, i))
            self.assertEqual(self.instances(self.server, name, stale=False), [])

        self.ok("snapshot", "restore", path, address=self.server.address)

        def services_of(entries):
            return sorted((e["Service"]["ID"], e["Service"]["Port"], e["Service"]["Tags"],
                           e["Service"]["Meta"]) for e in entries)

        for name in services:
            wait_until(lambda: services_of(self.server.json("/v1/health/service/" + name)) ==
                       services_of(registered[name]), 10,
                       what="%s back after the restore" % name)

    def test_restore_refuses_a_file_that_is_not_a_snapshot(self):
        path = os.path.join(self.make_dir(), "garbage.snap")
        with open(path, "wb") as f:
            f.write(b"this is not a snapshot\n")
        p = self.cli("snapshot", "restore", path, address=self.server.address)
        self.assertEqual(p.returncode, 1, p)
        self.assertTrue(p.stderr.startswith("Error: agent answered 4"), p.stderr)


class ClusterCliErrorsTest(E2ETestCase):
    """Exit codes that need no cluster: 2 for bad usage, 1 when the agent cannot be reached."""

    def test_usage_errors_exit_2(self):
        for args in (["operator", "raft", "remove-peer"],
                     ["operator", "raft"],
                     ["snapshot"],
                     ["snapshot", "save"],
                     ["snapshot", "restore", "/nonexistent/backup.snap"]):
            p = self.cli(*args)
            self.assertEqual(p.returncode, 2, "%s: %r" % (args, p))

    def test_unreachable_agent_exits_1(self):
        port = free_ports(1)[0]
        address = "127.0.0.1:%d" % port
        path = os.path.join(self.make_dir(), "backup.snap")
        for args in (["members"], ["operator", "raft", "list-peers"],
                     ["operator", "raft", "remove-peer", "-address", "127.0.0.1:1"],
                     ["snapshot", "save", path]):
            p = self.cli(*args, address=address)
            self.assertEqual(p.returncode, 1, "%s: %r" % (args, p))
            self.assertIn("cannot connect to " + address, p.stderr)
        self.assertFalse(os.path.exists(path))


if __name__ == "__main__":
    unittest.main()
