"""The KV store, sessions and locks on a 3-server cluster: writes sent to a follower are
forwarded to the leader and replicated, a blocking read on a follower wakes on a write made
elsewhere, a lock is refused to a second session from another server, and a lock held when
the leader is killed stays held on the new leader while its session renews through the
survivors, then is freed once the renewals stop (Consul's rule: a new leader restarts every
session's TTL).

Servers, ports and data directories as in test_cluster (generous bounds, everything cleaned up).
"""

import base64
import json
import threading
import time
import unittest

from harness import wait_until
from test_cluster import CATCH_UP_TIMEOUT, ELECTION_TIMEOUT, ClusterTestCase, unique

SESSION_TTL = 10  # seconds, Consul's smallest
# A session that is not renewed ends within 2 x TTL (Consul's grace), plus an election's time.
LAPSE_TIMEOUT = 2 * SESSION_TTL + ELECTION_TIMEOUT


def value_of(entries):
    return base64.b64decode(entries[0]["Value"] or b"").decode()


class KvClusterTest(ClusterTestCase):

    def kv(self, server, key, stale=True):
        """The entry of `key` as `server` reads it, or None."""
        entries = server.try_json("/v1/kv/%s%s" % (key, "?stale" if stale else ""))
        return None if not entries else entries[0]

    def retry_put(self, server, path, body=b""):
        r = self.put_until_not_503(server, path, body)
        self.assertEqual(r.status, 200, "PUT %s on %s: %r" % (path, server.address, r))
        return r.json()

    def test_forwarding_blocking_reads_and_a_lock_across_a_leader_failure(self):
        specs, servers, leader = self.start_cluster()
        followers = [s for i, s in enumerate(servers) if i != leader]
        key = unique("config") + "/db"

        # A write on a follower: forwarded, acknowledged, then on every server.
        self.assertIs(self.retry_put(followers[0], "/v1/kv/" + key, b"primary"), True)
        for s in servers:
            wait_until(lambda: (self.kv(s, key) or {}).get("Value") is not None, CATCH_UP_TIMEOUT,
                       interval=0.1, what="%s to show %s" % (s.address, key))
            self.assertEqual(value_of([self.kv(s, key)]), "primary")
        index = self.kv(followers[1], key, stale=False)["ModifyIndex"]
        # Consistency modes, as Consul's clients read them: ?stale is answered by the follower
        # itself and says how recently it heard the leader; ?consistent confirms leadership.
        for mode in ("stale", "consistent"):
            r = followers[1].get("/v1/kv/%s?%s" % (key, mode), timeout=10)
            self.assertEqual(r.status, 200, "?%s: %r" % (mode, r))
            self.assertEqual(value_of(r.json()), "primary")
            self.assertGreaterEqual(int(r.header("X-Consul-Index")), index)
            self.assertEqual(r.header("X-Consul-KnownLeader"), "true", mode)
            self.assertGreaterEqual(int(r.header("X-Consul-LastContact")), 0, mode)

        # A blocking read on one follower wakes when the other changes the key.
        woke = {}

        def watch():
            woke["answer"] = followers[1].get("/v1/kv/%s?index=%d&wait=30s" % (key, index),
                                              timeout=60)

        watcher = threading.Thread(target=watch)
        watcher.start()
        time.sleep(0.5)  # parked (not a timing assertion: an early answer is also checked)
        self.assertIs(self.retry_put(followers[0], "/v1/kv/" + key, b"replica"), True)
        watcher.join(60)
        self.assertEqual(woke["answer"].status, 200, woke["answer"])
        self.assertEqual(value_of(woke["answer"].json()), "replica")
        self.assertGreater(int(woke["answer"].header("X-Consul-Index")), index)

        # A transaction through a follower applies on the leader, all or nothing.
        txn = [{"KV": {"Verb": "cas", "Key": key, "Index": 1, "Value": ""}},
               {"KV": {"Verb": "set", "Key": key + "-never", "Value": ""}}]
        r = followers[1].put("/v1/txn", json.dumps(txn).encode(), timeout=10)
        self.assertEqual(r.status, 409, r)
        self.assertIsNone(self.kv(servers[leader], key + "-never", stale=False))

        # One session on each follower; the first takes the lock, the second is refused.
        # (The rival's session has no TTL: it must outlive the holder's without renewals.)
        body = json.dumps({"TTL": "%ds" % SESSION_TTL, "LockDelay": "0s"}).encode()
        holder = self.retry_put(followers[0], "/v1/session/create", body)["ID"]
        rival = self.retry_put(followers[1], "/v1/session/create", b'{"LockDelay": "0s"}')["ID"]
        lock = key + "/leader"
        self.assertIs(self.retry_put(followers[0], "/v1/kv/%s?acquire=%s" % (lock, holder),
                                     b"holder"), True)
        self.assertIs(self.retry_put(followers[1], "/v1/kv/%s?acquire=%s" % (lock, rival),
                                     b"rival"), False)

        # The holder renews through whichever survivor answers, while the leader dies.
        renewing = threading.Event()
        renewing.set()
        renew_errors = []

        def renew():
            while renewing.is_set():
                for s in followers:
                    try:
                        r = s.put("/v1/session/renew/" + holder, timeout=5)
                    except OSError:
                        continue
                    if r.status == 200:
                        break
                    if r.status != 503:  # 503 while no leader is known: try again
                        renew_errors.append(r)
                time.sleep(1)

        renewer = threading.Thread(target=renew)
        renewer.start()
        try:
            old = specs[leader].raft_address
            servers[leader].kill()
            survivor_specs = [spec for i, spec in enumerate(specs) if i != leader]
            self.wait_for_leader(followers, survivor_specs, ELECTION_TIMEOUT, not_this=old)
            # Past the session's TTL on the new leader, the lock is still the holder's.
            time.sleep(SESSION_TTL + 2)
            entry = wait_until(lambda: self.kv(followers[1], lock, stale=False),
                               ELECTION_TIMEOUT, interval=0.2, what="the lock on the new leader")
            self.assertEqual(entry["Session"], holder)
            self.assertIs(self.retry_put(followers[1], "/v1/kv/%s?acquire=%s" % (lock, rival),
                                         b"rival"), False)
        finally:
            renewing.clear()
            renewer.join(30)
        self.assertEqual(renew_errors, [])

        # Renewals stop: the session ends on the new leader and the rival can take the lock.
        def taken_by_rival():
            r = followers[1].put("/v1/kv/%s?acquire=%s" % (lock, rival), b"rival", timeout=10)
            return r.status == 200 and r.json() is True

        wait_until(taken_by_rival, LAPSE_TIMEOUT, interval=0.5,
                   what="the lock to pass to the rival once the holder stops renewing")
        for s in followers:
            wait_until(lambda: (self.kv(s, lock) or {}).get("Session") == rival,
                       CATCH_UP_TIMEOUT, interval=0.1, what="%s to show the new holder" % s.address)
        self.assertIsNone(followers[0].try_json("/v1/session/info/" + holder) or None)


if __name__ == "__main__":
    unittest.main()
