"""Issue 19: Consul's KV store, sessions, locks and transactions on the default durable agent,
through Debian's python3-consul (python-consul 0.7.1, unmodified) where it has the call and raw
HTTP where it has not: values and their indexes, blocking reads, CAS, a lock taken by one
session and refused to another, a lock freed when its session stops renewing or its check
fails, transactions, bad input, and what survives a kill -9.
"""

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from harness import Server, binary, wait_until

try:
    import consul
except ImportError:  # pragma: no cover - depends on the machine
    consul = None


def durable(test, data_dir=None):
    """A durable agent (Raft on, the default) on `data_dir` (a new one if None)."""
    if data_dir is None:
        data_dir = tempfile.mkdtemp(prefix="concierge-kv-")
        test.addClassCleanup(shutil.rmtree, data_dir, True)
    agent = Server("-data-dir", data_dir, "-http-addr", "127.0.0.1:0", "-server-port", "0",
                   "-dns-port", "-1")
    agent.start()
    return agent, data_dir


@unittest.skipIf(consul is None, "python3-consul is not installed (apt-get install python3-consul)")
class KvTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.agent, cls.data_dir = durable(cls)
        cls.addClassCleanup(lambda: cls.agent.stop())

    def client(self):
        return consul.Consul(host=self.agent.host, port=self.agent.port)

    def test_put_get_recurse_keys_delete(self):
        c = self.client()
        self.assertTrue(c.kv.put("app/db/host", "10.0.0.5"))
        self.assertTrue(c.kv.put("app/db/port", "5432", flags=42))
        self.assertTrue(c.kv.put("app/web", b"\x00\xffbinary"))
        index, entry = c.kv.get("app/db/port")
        self.assertEqual(entry["Value"], b"5432")
        self.assertEqual(entry["Flags"], 42)
        self.assertEqual(entry["CreateIndex"], entry["ModifyIndex"])
        self.assertGreaterEqual(int(index), entry["ModifyIndex"])
        self.assertEqual(c.kv.get("app/web")[1]["Value"], b"\x00\xffbinary")
        self.assertEqual(self.agent.get("/v1/kv/app/db/host?raw").body, b"10.0.0.5")
        _, entries = c.kv.get("app/", recurse=True)
        self.assertEqual([e["Key"] for e in entries], ["app/db/host", "app/db/port", "app/web"])
        _, keys = c.kv.get("app/", keys=True, separator="/")
        self.assertEqual(keys, ["app/db/", "app/web"])
        self.assertIsNone(c.kv.get("app/nothing")[1])
        r = self.agent.get("/v1/kv/app/nothing")
        self.assertEqual(r.status, 404)
        self.assertTrue(r.header("X-Consul-Index"))
        self.assertTrue(c.kv.delete("app/db", recurse=True))
        _, keys = c.kv.get("app/", keys=True)
        self.assertEqual(keys, ["app/web"])

    def test_cas_creates_once_and_refuses_a_stale_index(self):
        c = self.client()
        self.assertTrue(c.kv.put("cas/k", "1", cas=0))
        self.assertFalse(c.kv.put("cas/k", "2", cas=0))
        _, entry = c.kv.get("cas/k")
        self.assertFalse(c.kv.put("cas/k", "2", cas=entry["ModifyIndex"] - 1))
        self.assertTrue(c.kv.put("cas/k", "2", cas=entry["ModifyIndex"]))
        _, entry = c.kv.get("cas/k")
        self.assertFalse(c.kv.delete("cas/k", cas=entry["ModifyIndex"] + 1))
        self.assertTrue(c.kv.delete("cas/k", cas=entry["ModifyIndex"]))
        self.assertIsNone(c.kv.get("cas/k")[1])

    def test_a_blocking_get_wakes_on_its_key_and_on_a_delete_under_a_prefix(self):
        c = self.client()
        c.kv.put("watch/a", "1")
        index, _ = c.kv.get("watch/a")
        got = {}

        def watch():
            got["key"] = self.client().kv.get("watch/a", index=index, wait="30s")

        t = threading.Thread(target=watch)
        started = time.monotonic()
        t.start()
        time.sleep(0.5)
        c.kv.put("other", "unrelated")  # another key written or deleted: it keeps waiting
        c.kv.delete("other")
        time.sleep(0.3)
        self.assertTrue(t.is_alive())
        c.kv.put("watch/a", "2")
        t.join(20)
        self.assertFalse(t.is_alive())
        self.assertLess(time.monotonic() - started, 20)
        self.assertEqual(got["key"][1]["Value"], b"2")
        # A prefix watch wakes when a key under it goes.
        c.kv.put("watch/b", "x")
        index, _ = c.kv.get("watch/", recurse=True)

        def watch_prefix():
            got["prefix"] = self.client().kv.get("watch/", recurse=True, index=index, wait="30s")

        t = threading.Thread(target=watch_prefix)
        t.start()
        time.sleep(0.3)
        c.kv.delete("watch/b")
        t.join(20)
        self.assertFalse(t.is_alive())
        self.assertEqual([e["Key"] for e in got["prefix"][1]], ["watch/a"])

    def test_one_session_holds_a_lock_and_another_is_refused(self):
        c = self.client()
        s1 = c.session.create(name="head-concierge", lock_delay=0)
        s2 = c.session.create(name="standby", lock_delay=0)
        self.assertTrue(c.kv.put("service/hotel/leader", "s1", acquire=s1))
        self.assertFalse(c.kv.put("service/hotel/leader", "s2", acquire=s2))
        _, entry = c.kv.get("service/hotel/leader")
        self.assertEqual(entry["Session"], s1)
        self.assertEqual(entry["LockIndex"], 1)
        self.assertFalse(c.kv.put("service/hotel/leader", "", release=s2))
        self.assertTrue(c.kv.put("service/hotel/leader", "", release=s1))
        self.assertTrue(c.kv.put("service/hotel/leader", "s2", acquire=s2))
        _, entry = c.kv.get("service/hotel/leader")
        self.assertEqual((entry["Session"], entry["LockIndex"]), (s2, 2))
        info = c.session.info(s2)[1]
        self.assertEqual(info["Name"], "standby")
        self.assertEqual(info["Behavior"], "release")
        self.assertIn(s1, [s["ID"] for s in c.session.list()[1]])
        self.assertTrue(c.session.destroy(s2))
        self.assertIsNone(c.session.info(s2)[1])
        self.assertNotIn("Session", c.kv.get("service/hotel/leader")[1])
        self.assertTrue(c.session.destroy(s1))

    def test_a_lock_is_freed_when_its_session_stops_renewing(self):
        c = self.client()
        s = c.session.create(name="holder", ttl=10, lock_delay=0)
        self.assertTrue(c.kv.put("ttl/leader", "me", acquire=s))
        renewed = c.session.renew(s)
        self.assertEqual(renewed["ID"], s)
        self.assertEqual(renewed["TTL"], "10s")
        renewed_at = time.monotonic()
        # No renewal from here: gone within the TTL (and a generous margin), not 2 x TTL.
        wait_until(lambda: c.kv.get("ttl/leader")[1].get("Session") is None, 20,
                   what="the lock to be released")
        self.assertGreater(time.monotonic() - renewed_at, 9)
        self.assertIsNone(c.session.info(s)[1])
        with self.assertRaises(consul.NotFound):
            c.session.renew(s)
        self.assertIn("ended: its TTL lapsed", self.agent.stderr)

    def test_a_session_bound_to_a_failing_check_ends_and_its_delete_behaviour_applies(self):
        c = self.client()
        c.agent.service.register("kvdb", service_id="kvdb-1", check=consul.Check.ttl("60s"))
        self.assertTrue(c.agent.check.ttl_pass("service:kvdb-1"))
        s = c.session.create(name="db-primary", checks=["service:kvdb-1"], behavior="delete",
                             lock_delay=0)
        self.assertTrue(c.kv.put("db/primary", "kvdb-1", acquire=s))
        self.assertTrue(c.agent.check.ttl_fail("service:kvdb-1"))
        wait_until(lambda: c.kv.get("db/primary")[1] is None, 10, what="the key to go")
        self.assertIsNone(c.session.info(s)[1])
        # A session cannot be bound to a critical check.
        with self.assertRaises(consul.ConsulException):
            c.session.create(checks=["service:kvdb-1"])

    def test_transactions_are_all_or_nothing(self):
        def b64(s):
            return base64.b64encode(s.encode()).decode()

        ok = self.agent.put("/v1/txn", [
            {"KV": {"Verb": "set", "Key": "txn/a", "Value": b64("1")}},
            {"KV": {"Verb": "cas", "Key": "txn/b", "Value": b64("2"), "Index": 0}},
            {"KV": {"Verb": "get", "Key": "txn/a"}},
        ])
        self.assertEqual(ok.status, 200, ok.text)
        results = ok.json()["Results"]
        self.assertEqual([r["KV"]["Key"] for r in results], ["txn/a", "txn/b", "txn/a"])
        self.assertIsNone(results[0]["KV"]["Value"])
        self.assertEqual(results[2]["KV"]["Value"], b64("1"))
        index = results[0]["KV"]["ModifyIndex"]
        failed = self.agent.put("/v1/txn", [
            {"KV": {"Verb": "set", "Key": "txn/c", "Value": b64("3")}},
            {"KV": {"Verb": "check-index", "Key": "txn/a", "Index": index + 100}},
        ])
        self.assertEqual(failed.status, 409, failed.text)
        self.assertEqual(failed.json()["Errors"][0]["OpIndex"], 1)
        self.assertIn("current modify index", failed.json()["Errors"][0]["What"])
        self.assertEqual(self.agent.get("/v1/kv/txn/c").status, 404)
        # Reads only: answered without a log entry (the registry's index stays), same checks.
        before = self.agent.get("/v1/kv/txn/a").header("X-Consul-Index")
        raft_before = self.agent.get_json("/v1/agent/self")[0]["Stats"]["registry"]["index"]
        reads = self.agent.put("/v1/txn", [
            {"KV": {"Verb": "get", "Key": "txn/a"}},
            {"KV": {"Verb": "check-index", "Key": "txn/a", "Index": index}},
            {"KV": {"Verb": "get-tree", "Key": "txn/"}},
        ])
        self.assertEqual(reads.status, 200, reads.text)
        self.assertEqual([r["KV"]["Key"] for r in reads.json()["Results"]],
                         ["txn/a", "txn/a", "txn/a", "txn/b"])
        refused = self.agent.put("/v1/txn", [
            {"KV": {"Verb": "check-not-exists", "Key": "txn/b"}}])
        self.assertEqual(refused.status, 409, refused.text)
        self.assertIn("exists", refused.json()["Errors"][0]["What"])
        self.assertEqual(self.agent.get("/v1/kv/txn/a").header("X-Consul-Index"), before)
        self.assertEqual(self.agent.get_json("/v1/agent/self")[0]["Stats"]["registry"]["index"],
                         raft_before)

    def test_bad_input_gets_a_clear_error(self):
        cases = [
            ("PUT", "/v1/kv/big", b"x" * (512 * 1024 + 1), 413, "too large"),
            ("PUT", "/v1/kv/k?flags=-1", b"v", 400, "flags"),
            ("PUT", "/v1/kv/k?cas=abc", b"v", 400, "cas"),
            ("PUT", "/v1/kv/", b"v", 400, "Missing key name"),
            ("GET", "/v1/kv/", None, 400, "Missing key name"),
            ("PUT", "/v1/kv/k?acquire=not-a-session", b"v", 200, "false"),
            ("PUT", "/v1/kv/" + "k" * 3000, b"v", 400, "limit"),
            ("PUT", "/v1/txn", b"{}", 400, "array"),
            ("PUT", "/v1/txn", json.dumps([{"KV": {"Verb": "explode", "Key": "k"}}]), 400, "verb"),
            ("PUT", "/v1/txn", json.dumps([{"KV": {"Verb": "set", "Key": "k", "Value": "%%%"}}]),
             400, "base64"),
            ("PUT", "/v1/txn", json.dumps([{"Node": {"Verb": "get"}}]), 400, "only KV"),
            ("PUT", "/v1/txn", json.dumps([{"KV": {"Verb": "get", "Key": "k"}}] * 129), 413,
             "too many"),
            ("PUT", "/v1/txn", b"[" * 100000, 400, "JSON"),
            ("PUT", "/v1/session/create", json.dumps({"TTL": "1s"}), 400, "TTL"),
            ("PUT", "/v1/session/create", json.dumps({"Behavior": "vanish"}), 400, "Behavior"),
            ("PUT", "/v1/session/create", json.dumps({"LockDelay": "2m"}), 400, "LockDelay"),
            ("PUT", "/v1/session/create", json.dumps({"Checks": ["no-such-check"]}), 400, "Missing check"),
            ("PUT", "/v1/session/renew/no-such-session", None, 404, "not found"),
        ]
        for method, path, body, status, why in cases:
            with self.subTest(path=path[:60], body=(body or b"")[:40]):
                r = self.agent.request(method, path, body)
                self.assertEqual(r.status, status, r.text)
                self.assertIn(why.lower(), r.text.lower())
        self.assertIsNone(self.agent.proc.poll())


@unittest.skipIf(consul is None, "python3-consul is not installed (apt-get install python3-consul)")
class KvDurabilityTest(unittest.TestCase):

    def test_acknowledged_writes_and_sessions_survive_a_kill_9(self):
        agent, data_dir = durable(self)
        self.addCleanup(shutil.rmtree, data_dir, True)
        try:
            c = consul.Consul(host=agent.host, port=agent.port)
            s = c.session.create(name="survivor", lock_delay=0)
            for i in range(50):
                self.assertTrue(c.kv.put("durable/%02d" % i, str(i)))
            self.assertTrue(c.kv.put("durable/lock", "held", acquire=s))
        finally:
            agent.reap()  # kill -9
        agent, _ = durable(self, data_dir)
        try:
            c = consul.Consul(host=agent.host, port=agent.port)
            _, keys = c.kv.get("durable/", keys=True)
            self.assertEqual(len(keys), 51)
            self.assertEqual(c.kv.get("durable/lock")[1]["Session"], s)
            self.assertEqual(c.session.info(s)[1]["Name"], "survivor")
            # A restored snapshot of the store replaces it whole.
            backup = agent.get("/v1/snapshot")
            self.assertEqual(backup.status, 200)
            self.assertTrue(c.kv.delete("durable/", recurse=True))
            self.assertEqual(agent.put("/v1/snapshot", backup.body).status, 200)
            _, keys = c.kv.get("durable/", keys=True)
            self.assertEqual(len(keys), 51)
        finally:
            agent.stop()


class KvLimitsTest(unittest.TestCase):
    """-max-kv-bytes and -max-sessions: with ACLs off (the default) anyone may write, so the
    store's size and the number of sessions are bounded; past them a clear 429, and what does not
    grow the store (overwrites no larger, deletes) still works."""

    def test_the_store_size_and_the_sessions_are_bounded(self):
        data_dir = tempfile.mkdtemp(prefix="concierge-kv-limits-")
        self.addCleanup(shutil.rmtree, data_dir, True)
        # Each entry counts its key, its value and 128 bytes: room for about three of these.
        agent = Server("-data-dir", data_dir, "-http-addr", "127.0.0.1:0", "-server-port", "0",
                       "-dns-port", "-1", "-max-kv-bytes", "3500", "-max-sessions", "2")
        agent.start()
        self.addCleanup(agent.stop)
        value = b"v" * 1000
        for i in range(3):
            self.assertEqual(agent.put("/v1/kv/full/%d" % i, value).status, 200)
        r = agent.put("/v1/kv/full/3", value)
        self.assertEqual(r.status, 429, r.body)
        self.assertIn(b"-max-kv-bytes", r.body)
        txn = json.dumps([{"KV": {"Verb": "set", "Key": "full/t",
                                  "Value": base64.b64encode(value).decode()}}]).encode()
        self.assertEqual(agent.put("/v1/txn", txn).status, 429)
        self.assertEqual(agent.put("/v1/kv/full/0", b"smaller").status, 200)
        self.assertEqual(agent.request("DELETE", "/v1/kv/full/1").status, 200)
        self.assertEqual(agent.put("/v1/kv/full/3", value).status, 200)
        for _ in range(2):
            self.assertEqual(agent.put("/v1/session/create", b"{}").status, 200)
        r = agent.put("/v1/session/create", b"{}")
        self.assertEqual(r.status, 429, r.body)
        self.assertIn(b"-max-sessions", r.body)
        self.assertEqual(len(json.loads(agent.get("/v1/session/list").body)), 2)


class KvCliTest(unittest.TestCase):
    """`concierge kv` and `concierge lock` against the durable agent."""

    @classmethod
    def setUpClass(cls):
        cls.agent, cls.data_dir = durable(cls)
        cls.addClassCleanup(lambda: cls.agent.stop())
        cls.address = "%s:%d" % (cls.agent.host, cls.agent.port)

    def cli(self, *args, stdin=None):
        return subprocess.run([binary(), args[0], *args[1:2], "-http-addr", self.address,
                               *args[2:]], capture_output=True, text=True, timeout=60,
                              input=stdin)

    def test_put_get_export_import(self):
        self.assertEqual(self.cli("kv", "put", "cli/a", "1").returncode, 0)
        self.assertEqual(self.cli("kv", "put", "cli/b/c", "2", "-flags", "7").returncode, 0)
        self.assertEqual(self.cli("kv", "get", "cli/a").stdout, "1\n")
        self.assertEqual(self.cli("kv", "get", "cli/", "-recurse").stdout, "cli/a:1\ncli/b/c:2\n")
        self.assertEqual(self.cli("kv", "get", "cli/", "-keys").stdout, "cli/a\ncli/b/\n")
        missing = self.cli("kv", "get", "cli/none")
        self.assertEqual(missing.returncode, 1)
        self.assertIn("No key exists", missing.stderr)
        stale = self.cli("kv", "put", "cli/a", "x", "-cas", "-modify-index", "1")
        self.assertEqual(stale.returncode, 1, stale.stderr)
        exported = self.cli("kv", "export", "cli/")
        self.assertEqual(exported.returncode, 0, exported.stderr)
        entries = json.loads(exported.stdout)
        self.assertEqual([(e["key"], e["flags"]) for e in entries], [("cli/a", 0), ("cli/b/c", 7)])
        self.assertEqual(self.cli("kv", "delete", "cli/", "-recurse").returncode, 0)
        self.assertEqual(self.cli("kv", "get", "cli/", "-keys").stdout, "")
        imported = self.cli("kv", "import", "-", stdin=exported.stdout)
        self.assertEqual(imported.returncode, 0, imported.stderr)
        self.assertEqual(self.cli("kv", "get", "cli/b/c", "-detailed").stdout.count("Flags            7"), 1)

    def test_lock_hands_over_within_the_ttl_when_the_holder_is_killed(self):
        work = tempfile.mkdtemp(prefix="concierge-lock-")
        self.addCleanup(shutil.rmtree, work, True)
        marker = os.path.join(work, "standby-ran")
        lock = [binary(), "lock", "-http-addr", self.address, "-ttl", "10s", "hotel/head"]
        holder = subprocess.Popen(lock + ["sleep 120"], start_new_session=True,
                                  stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: holder.poll() is None and os.killpg(holder.pid, signal.SIGKILL))
        wait_until(lambda: (self.agent.get("/v1/kv/hotel/head/.lock").status == 200 and
                            "Session" in self.agent.get("/v1/kv/hotel/head/.lock").json()[0]),
                   20, what="the holder to take the lock")
        standby = subprocess.Popen(lock + ["touch %s" % marker], stdin=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        self.addCleanup(lambda: standby.poll() is None and standby.kill())
        time.sleep(1)
        self.assertFalse(os.path.exists(marker), "the standby ran while the lock was held")
        os.killpg(holder.pid, signal.SIGKILL)  # the holder and its command
        killed = time.monotonic()
        self.assertEqual(standby.wait(40), 0, standby.stderr.read())
        handover = time.monotonic() - killed
        self.assertTrue(os.path.exists(marker))
        # Within the session's TTL (10 s) of the kill, with a margin for a loaded machine.
        self.assertLess(handover, 10 + 5)
        # The standby released the lock when its command finished.
        entry = self.agent.get("/v1/kv/hotel/head/.lock").json()[0]
        self.assertNotIn("Session", entry)

    def test_a_semaphore_lets_n_commands_run_at_once(self):
        """-n 2: Consul's semaphore (a contender key per session, PREFIX/.lock with the holders
        changed by CAS): of three commands, never more than two run at once, and all run."""
        work = tempfile.mkdtemp(prefix="concierge-semaphore-")
        self.addCleanup(shutil.rmtree, work, True)
        running = os.path.join(work, "running")
        os.mkdir(running)
        procs = []
        for i in range(3):
            command = "touch {0}/{1}; sleep 2; rm {0}/{1}".format(running, i)
            procs.append(subprocess.Popen([binary(), "lock", "-http-addr", self.address, "-n", "2",
                                           "pool/db", command], stdin=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE))
        for p in procs:
            self.addCleanup(lambda p=p: p.poll() is None and p.kill())
        most = 0
        while any(p.poll() is None for p in procs):
            most = max(most, len(os.listdir(running)))
            time.sleep(0.05)
        for p in procs:
            self.assertEqual(p.returncode, 0, p.stderr.read())
        self.assertLessEqual(most, 2)
        self.assertGreaterEqual(most, 1)
        # Every holder left: the holders list is empty and the contender keys are gone.
        entries = self.agent.get_json("/v1/kv/pool/db/?recurse")[0]
        self.assertEqual([e["Key"] for e in entries], ["pool/db/.lock"])
        self.assertEqual(json.loads(base64.b64decode(entries[0]["Value"])),
                         {"Limit": 2, "Holders": {}})
        # Another limit on the same prefix is refused, as Consul's.
        other = subprocess.run([binary(), "lock", "-http-addr", self.address, "-n", "3",
                                "pool/db", "true"], capture_output=True, text=True, timeout=60,
                               stdin=subprocess.DEVNULL)
        self.assertEqual(other.returncode, 1)
        self.assertIn("semaphore limit conflict (lock: 2, local: 3)", other.stderr)


if __name__ == "__main__":
    unittest.main()
