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


if __name__ == "__main__":
    unittest.main()
