"""Failover with heartbeating instances (issue 4): a 3-server cluster, 1,000 instances
heartbeating through the followers, kill -9 the leader. No instance may go critical (a new
leader restarts every TTL from its election), the survivors serve writes again within a few
seconds, and an instance that really stopped still expires after the failover."""

import http.client
import threading
import time
import unittest

from harness import wait_until
from test_cluster import ELECTION_TIMEOUT, ClusterTestCase, unique

INSTANCES = 1000
TTL = 10.0  # seconds
PERIOD = 3.0  # between two heartbeats of one instance


class Heartbeats:
    """Threads that heartbeat every instance through the given servers, round-robin, and
    keep going (ignoring errors) while servers die and elections run."""

    def __init__(self, servers, check_ids, threads=4):
        self.servers = list(servers)
        self.check_ids = list(check_ids)
        self.stop_event = threading.Event()
        self.sent = 0
        self.failed = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i, threads), daemon=True)
                        for i in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(30)

    def drop(self, check_id):
        with self.lock:
            self.check_ids.remove(check_id)

    def run(self, index, count):
        conns = {}
        try:
            self.beat(index, count, conns)
        finally:
            for conn in conns.values():
                conn.close()

    def beat(self, index, count, conns):
        while not self.stop_event.is_set():
            started = time.monotonic()
            with self.lock:
                mine = self.check_ids[index::count]
            for n, check in enumerate(mine):
                server = self.servers[(n + index) % len(self.servers)]
                ok = False
                try:
                    conn = conns.get(server.address)
                    if conn is None:
                        conn = http.client.HTTPConnection(server.address.split(":")[0],
                                                          int(server.address.split(":")[1]),
                                                          timeout=5)
                        conns[server.address] = conn
                    conn.request("PUT", "/v1/agent/check/pass/" + check)
                    r = conn.getresponse()
                    r.read()
                    ok = r.status == 200
                except (OSError, http.client.HTTPException):
                    dropped = conns.pop(server.address, None)
                    if dropped is not None:
                        dropped.close()
                with self.lock:
                    self.sent += 1
                    self.failed += 0 if ok else 1
                if self.stop_event.is_set():
                    return
            self.stop_event.wait(max(0.0, PERIOD - (time.monotonic() - started)))


class FailoverWithHeartbeatsTest(ClusterTestCase):

    def register_all(self, server, service):
        ids = ["%s-%04d" % (service, i) for i in range(INSTANCES)]
        errors = []

        def register(chunk):
            for i in chunk:
                r = server.put("/v1/agent/service/register",
                               {"ID": i, "Name": service, "Port": 8000,
                                "Check": {"TTL": "%ds" % TTL, "Status": "passing",
                                          "DeregisterCriticalServiceAfter": "1h"}},
                               timeout=30)
                if r.status != 200:
                    errors.append(r)

        workers = [threading.Thread(target=register, args=(ids[k::16],)) for k in range(16)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        self.assertEqual(errors, [])
        return ids

    def critical(self, server):
        checks = server.try_json("/v1/health/state/critical?stale") or []
        return sorted(c["ServiceID"] for c in checks)

    def test_leader_kill_expires_nobody_and_the_dead_still_expire(self):
        specs, servers, leader = self.start_cluster()
        service = unique("beat")
        ids = self.register_all(servers[leader], service)
        followers = [s for i, s in enumerate(servers) if i != leader]
        follower_specs = [spec for i, spec in enumerate(specs) if i != leader]
        beats = Heartbeats(followers, ["service:" + i for i in ids])
        beats.start()
        self.addCleanup(beats.stop)
        time.sleep(PERIOD + 1)  # every instance has heartbeated at least once
        self.assertEqual(self.critical(servers[leader]), [])

        # Kill the leader; time until a survivor takes a write again.
        killed_at = time.monotonic()
        servers[leader].kill()
        probe = unique("probe")
        r = self.put_until_not_503(followers[0], "/v1/agent/service/register",
                                   {"Name": probe}, timeout=ELECTION_TIMEOUT)
        self.assertEqual(r.status, 200, r)
        failover = time.monotonic() - killed_at
        print("\nfailover: a survivor took writes again %.2f s after kill -9" % failover)
        self.assertLess(failover, ELECTION_TIMEOUT)
        self.wait_for_leader(followers, follower_specs, 5, not_this=specs[leader].raft_address)

        # For longer than a TTL after the failover, nobody goes critical.
        until = time.monotonic() + TTL + 3
        while time.monotonic() < until:
            for s in followers:
                self.assertEqual(self.critical(s), [], "false expiry seen on %s" % s.address)
            time.sleep(0.5)

        # An instance that really stops heartbeating still expires after the failover.
        dead = ids[0]
        beats.drop("service:" + dead)
        wait_until(lambda: dead in self.critical(followers[0]), TTL + PERIOD + 5, interval=0.2,
                   what="%s to go critical after it stopped heartbeating" % dead)
        self.assertEqual(self.critical(followers[0]), [dead])
        print("heartbeats sent: %d, failed (dead leader, election): %d" %
              (beats.sent, beats.failed))


class RepeatedElectionsTest(ClusterTestCase):
    """etcd #9888: a new leader restarts every TTL from its election, so elections faster
    than the TTL could keep a dead instance alive for ever. Leaders mark the checks they
    have not heard from (docs/clustering.md "Elections and TTLs"), which bounds it: an
    instance silent since t goes critical by t + 2 x TTL + 2 s."""

    TTL = 6.0
    GRACE = 2.0
    ELECTION_EVERY = 2.0  # faster than the TTL

    def test_a_dead_instance_expires_within_the_bound_while_leaders_change(self):
        specs, servers, leader = self.start_cluster()
        service = unique("elect")
        for sid in (service + "-dead", service + "-live"):
            r = servers[leader].put("/v1/agent/service/register",
                                    {"Name": service, "ID": sid, "Port": 1,
                                     "Check": {"TTL": "%ds" % self.TTL, "Status": "passing"}})
            self.assertEqual(r.status, 200, r)
        silent_since = time.monotonic()  # the registration counts as its last heartbeat
        stop = threading.Event()
        live_errors = []

        def heartbeat_live():
            n = 0
            while not stop.wait(1.0):
                s = servers[n % 3]
                n += 1
                try:
                    s.put("/v1/agent/check/pass/service:%s-live" % service, timeout=5)
                except OSError as e:
                    live_errors.append(e)

        beater = threading.Thread(target=heartbeat_live, daemon=True)
        beater.start()
        self.addCleanup(beater.join, 10)
        self.addCleanup(stop.set)

        def statuses():
            for s in servers:
                checks = s.try_json("/v1/health/checks/%s?stale" % service)
                if checks:
                    return {c["ServiceID"]: c["Status"] for c in checks}
            return {}

        # The first hand-over through the CLI, the others through the HTTP API, each sent to
        # some server (a follower forwards it to the leader).
        self.ok("operator", "raft", "transfer-leader", address=servers[0].address)
        elections = 1
        critical_after = None
        deadline = silent_since + 2 * self.TTL + self.GRACE + 6
        next_election = time.monotonic() + self.ELECTION_EVERY
        while time.monotonic() < deadline:
            now_statuses = statuses()
            self.assertNotEqual(now_statuses.get(service + "-live"), "critical",
                                "the heartbeating instance must never expire")
            if now_statuses.get(service + "-dead") == "critical":
                critical_after = time.monotonic() - silent_since
                break
            if time.monotonic() >= next_election:
                r = servers[elections % 3].request("POST", "/v1/operator/raft/transfer-leader",
                                                   timeout=10)
                if r.status == 200:
                    elections += 1
                next_election += self.ELECTION_EVERY
            time.sleep(0.1)
        self.assertIsNotNone(critical_after, "the dead instance stayed passing through %d "
                             "elections" % elections)
        print("\ndead instance critical %.1f s after its last heartbeat (TTL %ds, %d leader "
              "changes, one every %.0f s; bound %.0f s)" %
              (critical_after, self.TTL, elections, self.ELECTION_EVERY,
               2 * self.TTL + self.GRACE))
        self.assertGreaterEqual(elections, 2, "leaders changed faster than the TTL")
        # Polling and the hand-overs add a little to the bound.
        self.assertLess(critical_after, 2 * self.TTL + self.GRACE + 3)
        self.assertGreater(critical_after, self.TTL - 1)
        stop.set()
        beater.join(10)
        self.assertEqual(statuses().get(service + "-live"), "passing")

    def test_transfer_leader_errors(self):
        specs, servers, leader = self.start_cluster()
        r = servers[0].request("POST", "/v1/operator/raft/transfer-leader?id=abc")
        self.assertEqual(r.status, 400, r)
        self.assertIn("Raft ID", r.text)
        r = servers[leader].request("POST", "/v1/operator/raft/transfer-leader?id=12345")
        self.assertEqual(r.status, 404, r)
        r = servers[0].request("GET", "/v1/operator/raft/transfer-leader")
        self.assertEqual(r.status, 405, r)
        # To a chosen voter, by the ID list-peers shows.
        target = (leader + 1) % 3
        config = servers[leader].json("/v1/operator/raft/configuration")["Servers"]
        target_id = next(p["ID"] for p in config if p["Address"] == specs[target].raft_address)
        self.ok("operator", "raft", "transfer-leader", "-id", target_id,
                address=servers[leader].address)
        # The others learn of the new leader from its first heartbeat: wait past the old one.
        self.assertEqual(self.wait_for_leader(servers, specs, 10,
                                              not_this=specs[leader].raft_address), target)


if __name__ == "__main__":
    unittest.main()
