"""Fault tests (issue 4) with real processes: a follower killed with -9 and restarted, every
server killed at once and restarted, and a leader cut off from the others by a network
partition (network namespaces, made and removed here; skipped unless root with `ip netns`).

In each, a writer keeps registering new instances through every server while the faults
happen, and records each registration that was answered 200. Afterwards every one of them
must be on every server: an acknowledged write is never lost. The leader kill is in
test_cluster.py and test_failover.py.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import binary, wait_until
from test_cluster import (CATCH_UP_TIMEOUT, ELECTION_TIMEOUT, FORM_TIMEOUT, ClusterTestCase,
                          Server, unique)


class Writer:
    """Registers `<service>-<n>` through the given servers in turn, until stopped; remembers
    the IDs answered 200, and what the others were answered."""

    def __init__(self, servers, service, pause=0.02):
        self.servers = list(servers)
        self.service = service
        self.pause = pause
        self.acked = []
        self.refused = 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        self.thread.join(30)

    def run(self):
        n = 0
        while not self.stop_event.is_set():
            server = self.servers[n % len(self.servers)]
            sid = "%s-%05d" % (self.service, n)
            n += 1
            try:
                r = server.put("/v1/agent/service/register",
                               {"Name": self.service, "ID": sid, "Port": 1}, timeout=5)
                if r.status == 200:
                    self.acked.append(sid)
                else:
                    self.refused += 1
            except OSError:
                self.refused += 1
            self.stop_event.wait(self.pause)


class FaultTestCase(ClusterTestCase):

    def assert_acked_everywhere(self, servers, writer, timeout=CATCH_UP_TIMEOUT):
        self.assertGreater(len(writer.acked), 0, "the writer got no write through")
        acked = set(writer.acked)
        for s in servers:
            def has_all():
                got = self.instances(s, writer.service)
                return got is not None and acked <= set(got)
            wait_until(has_all, timeout, interval=0.2,
                       what="%s to hold all %d acknowledged writes" % (s.address, len(acked)))
        print("\n%d writes acknowledged, %d refused or failed during the faults; all present "
              "on every server" % (len(acked), writer.refused))


class FollowerKillTest(FaultTestCase):

    def test_a_killed_follower_rejoins_and_has_what_was_written_while_it_was_down(self):
        specs, servers, leader = self.start_cluster()
        victim = (leader + 1) % 3
        writer = Writer(servers, unique("fk")).start()
        self.addCleanup(writer.stop)
        time.sleep(1)
        servers[victim].kill()
        time.sleep(2)  # writes go on through the two others (and fail on the dead one)
        down = len(writer.acked)
        servers[victim] = self.start(*specs[victim].args)
        self.wait_for_leader(servers, specs, ELECTION_TIMEOUT)
        time.sleep(1)
        writer.stop()
        self.assertGreater(down, 0)
        self.assert_acked_everywhere(servers, writer)


class RestartAllTest(FaultTestCase):

    def test_every_acknowledged_write_survives_killing_every_server(self):
        specs, servers, leader = self.start_cluster()
        writer = Writer(servers, unique("all")).start()
        self.addCleanup(writer.stop)
        time.sleep(2)
        for s in servers:
            s.kill()
        writer.stop()
        servers = [self.start(*spec.args) for spec in specs]
        self.wait_for_leader(servers, specs, FORM_TIMEOUT)
        self.assert_acked_everywhere(servers, writer)
        # And the restarted cluster takes writes again.
        after = unique("after")
        r = self.put_until_not_503(servers[0], "/v1/agent/service/register", {"Name": after})
        self.assertEqual(r.status, 200, r)


def _netns_unavailable():
    if os.geteuid() != 0:
        return "needs root to make network namespaces (CI runs the tests as root)"
    if shutil.which("ip") is None:
        return "needs `ip` (iproute2) to make network namespaces"
    probe = "concierge-probe-%d" % os.getpid()
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return "cannot make a network namespace here: " + made.stderr.strip()
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class NetnsSpec:
    """One server in its own network namespace, at 10.77.<net>.<i> behind a bridge."""

    HTTP_PORT = 8500
    RAFT_PORT = 8300

    def __init__(self, name, netns, ip, data_dir, join_ip):
        self.name = name
        self.netns = netns
        self.ip = ip
        self.http_address = "%s:%d" % (ip, self.HTTP_PORT)
        self.raft_address = "%s:%d" % (ip, self.RAFT_PORT)
        self.args = ["-node", name, "-data-dir", data_dir, "-http-addr", self.http_address,
                     "-server-port", str(self.RAFT_PORT), "-dns-port", "-1",
                     "-bootstrap-expect", "3", "-join", "%s:%d" % (join_ip, self.HTTP_PORT)]


class NetnsServer(Server):
    def __init__(self, spec):
        super().__init__(*spec.args)
        # `ip netns exec` execs the agent: the PID stays the agent's, so kill() still works.
        self.args = ["ip", "netns", "exec", spec.netns, binary(), "agent", *spec.args]


class PartitionTest(FaultTestCase):
    """Three servers in three network namespaces joined by a bridge; the test (in the host
    namespace) reaches all three. A partition is a pair of blackhole routes between a server
    and the two others; the test's own address stays reachable, so it can watch both sides.
    """

    def setUp(self):
        super().setUp()
        why = _netns_unavailable()
        if why:
            self.skipTest(why)
        tag = "%04x" % (os.getpid() & 0xffff)
        self.net = 100 + os.getpid() % 150
        self.bridge = "ccbr" + tag
        self.netns = ["concierge-%s-%d" % (tag, i) for i in (1, 2, 3)]
        self.ips = ["10.77.%d.%d" % (self.net, i) for i in (1, 2, 3)]
        self.addCleanup(self.teardown_network)
        self.sh("ip", "link", "add", self.bridge, "type", "bridge")
        self.sh("ip", "addr", "add", "10.77.%d.254/24" % self.net, "dev", self.bridge)
        self.sh("ip", "link", "set", self.bridge, "up")
        for i, (ns, ip) in enumerate(zip(self.netns, self.ips)):
            veth = "cc%sh%d" % (tag, i + 1)
            self.sh("ip", "netns", "add", ns)
            self.sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            self.sh("ip", "link", "set", veth, "master", self.bridge, "up")
            self.sh("ip", "netns", "exec", ns, "ip", "addr", "add", ip + "/24", "dev", "eth0")
            self.sh("ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up")
            self.sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

    def sh(self, *args):
        r = subprocess.run(args, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise AssertionError("%s: %s" % (" ".join(args), r.stderr.strip()))

    def teardown_network(self):
        # Cleanups run in reverse order: the servers (added later) are dead by now.
        for ns in self.netns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)

    def cut(self, i, add=True):
        """Cuts server i off from the two others (or heals the cut)."""
        verb = "add" if add else "del"
        for j in range(3):
            if j == i:
                continue
            self.sh("ip", "netns", "exec", self.netns[i], "ip", "route", verb, "blackhole",
                    self.ips[j] + "/32")
            self.sh("ip", "netns", "exec", self.netns[j], "ip", "route", verb, "blackhole",
                    self.ips[i] + "/32")

    def test_a_leader_cut_off_in_the_minority_takes_no_writes_and_nothing_is_lost(self):
        root = self.make_dir()
        specs = [NetnsSpec("n%d" % (i + 1), self.netns[i], self.ips[i],
                           os.path.join(root, "n%d" % (i + 1)), self.ips[0]) for i in range(3)]
        servers = []
        for spec in specs:
            s = NetnsServer(spec)
            self.addCleanup(s.reap)
            s.start()
            servers.append(s)
        old = self.wait_for_leader(servers, specs, FORM_TIMEOUT)
        writer = Writer(servers, unique("part")).start()
        self.addCleanup(writer.stop)
        time.sleep(1)

        # The leader alone on one side, the two others on the other.
        self.cut(old)
        majority = [s for i, s in enumerate(servers) if i != old]
        majority_specs = [spec for i, spec in enumerate(specs) if i != old]
        self.wait_for_leader(majority, majority_specs, ELECTION_TIMEOUT,
                             not_this=specs[old].raft_address)
        cut_off = servers[old]
        # The old leader steps down once it misses a majority for an election timeout.
        wait_until(lambda: cut_off.try_json("/v1/status/leader") != specs[old].raft_address,
                   ELECTION_TIMEOUT, interval=0.1, what="the cut-off leader to step down")

        # The minority takes no write, for as long as it is cut off.
        minority = unique("minority")
        statuses = []
        until = time.monotonic() + 3
        while time.monotonic() < until:
            try:
                r = cut_off.put("/v1/agent/service/register",
                                {"Name": minority, "ID": "%s-%d" % (minority, len(statuses))},
                                timeout=5)
                statuses.append(r.status)
                if r.status != 200:
                    self.assertTrue(r.text.strip(), "a refused write says why")
            except OSError as e:
                statuses.append(str(e))
            time.sleep(0.1)
        print("\nminority answers: %s" % sorted(set(map(str, statuses))))
        self.assertNotIn(200, statuses, "the minority accepted a write")
        # It still answers stale reads from its own copy.
        self.assertIsNotNone(cut_off.try_json("/v1/health/service/%s?stale" % writer.service))
        # The majority does.
        majority_write = unique("majority")
        r = self.put_until_not_503(majority[0], "/v1/agent/service/register",
                                   {"Name": majority_write})
        self.assertEqual(r.status, 200, r)

        self.cut(old, add=False)
        self.wait_for_leader(servers, specs, ELECTION_TIMEOUT)
        time.sleep(1)
        writer.stop()
        self.assert_acked_everywhere(servers, writer)
        self.wait_visible(servers, majority_write, [majority_write])
        for s in servers:
            self.assertEqual(self.instances(s, minority), [],
                             "a write refused by the minority appeared on %s" % s.address)


class StartupFailureTest(unittest.TestCase):
    """An agent that fails after its Raft log has started (here: its HTTP port is taken)
    closes the log and exits 1 with the reason; it used to crash on the way out."""

    def test_a_taken_http_port_is_an_error_not_a_crash(self):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        data = tempfile.mkdtemp(prefix="concierge-startup-")
        try:
            p = subprocess.run([binary(), "agent", "-data-dir", data, "-http-addr",
                                "127.0.0.1:%d" % taken.getsockname()[1], "-server-port", "0",
                                "-dns-port", "-1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=30)
        finally:
            taken.close()
            shutil.rmtree(data, ignore_errors=True)
        self.assertEqual(p.returncode, 1, p.stderr[-2000:])
        self.assertIn("cannot listen on", p.stderr)


if __name__ == "__main__":
    unittest.main()
