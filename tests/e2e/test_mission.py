"""The mission scenario, end to end against the real agent.

A service with a TTL check heartbeats, then stops; a blocking watcher sees it go critical
shortly after the TTL and disappear after DeregisterCriticalServiceAfter, while a watcher of
another service is not woken. Plus scale (many services, many instances) and recovery.
"""

import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

from harness import AgentTestCase, wait_until

TTL = 1.0
DEREGISTER_AFTER = 2.0
SLACK = 1.0  # generous: the design promises milliseconds


class Watcher(threading.Thread):
    """Loops blocking queries on /v1/health/service/<name>, recording (time, entries, index)."""

    def __init__(self, agent, name, wait="30s"):
        super().__init__(daemon=True)
        self.agent, self.name, self.wait = agent, name, wait
        self.seen = []
        self.errors = []
        self.stopping = threading.Event()
        self.changed = threading.Condition()

    def run(self):
        index = 0
        conn = self.agent.connection(timeout=60)
        try:
            while not self.stopping.is_set():
                path = "/v1/health/service/%s?index=%d&wait=%s" % (self.name, index, self.wait)
                r = self.agent.get(path, conn=conn)
                if r.status != 200:
                    self.errors.append(repr(r))
                    return
                received = int(r.header("X-Consul-Index"))
                with self.changed:
                    self.seen.append((time.monotonic(), r.json(), received))
                    self.changed.notify_all()
                if received < index:
                    self.errors.append("X-Consul-Index went backwards: %d after %d" %
                                       (received, index))
                    return
                index = received
        except Exception as e:  # noqa: BLE001 - reported by the test
            if not self.stopping.is_set():
                self.errors.append(repr(e))
        finally:
            conn.close()

    def wait_for(self, predicate, timeout):
        """First recorded (time, entries) after which predicate(entries) holds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for t, entries, _ in self.seen:
                    if predicate(entries):
                        return t, entries
                left = deadline - time.monotonic()
                if left <= 0 or self.errors:
                    raise AssertionError("watcher of %s: condition not seen within %ss; errors %s; "
                                         "last %s" % (self.name, timeout, self.errors,
                                                      self.seen[-1:] if self.seen else None))
                self.changed.wait(left)


def statuses(entries):
    return [c["Status"] for e in entries for c in e["Checks"]]


class MissionTest(AgentTestCase):

    def test_ttl_expiry_critical_then_deregistered_and_other_watchers_stay_parked(self):
        a = self.agent
        a.register({"Name": "A", "ID": "A-1", "Port": 8001,
                    "Check": {"TTL": "1s", "Status": "passing",
                              "DeregisterCriticalServiceAfter": "2s"}})
        a.register({"Name": "B", "ID": "B-1", "Port": 8002})

        watcher = Watcher(a, "A")
        watcher.start()
        self.addCleanup(watcher.stopping.set)
        watcher.wait_for(lambda es: statuses(es) == ["passing"], 10)

        # Heartbeats keep it passing well past the TTL.
        for _ in range(6):
            sent = time.monotonic()
            a.put_ok("/v1/agent/check/pass/service:A-1")
            time.sleep(0.3)
        self.assertEqual(statuses(a.get_json("/v1/health/service/A")[0]), ["passing"])

        # Park a watcher of B for 3s while A changes; A's changes must not wake it.
        _, b_index = a.get_json("/v1/health/service/B")
        b_result = {}

        def watch_b():
            start = time.monotonic()
            r = a.get("/v1/health/service/B?index=%d&wait=3s" % b_index)
            b_result.update(elapsed=time.monotonic() - start, status=r.status,
                            index=int(r.header("X-Consul-Index")))

        b_thread = threading.Thread(target=watch_b, daemon=True)
        b_thread.start()

        # Stop heartbeating (the last one was sent at `sent`): critical after ~TTL.
        t_critical, _ = watcher.wait_for(lambda es: statuses(es) == ["critical"],
                                         TTL + SLACK + 5)
        self.assertLessEqual(t_critical - sent, TTL + SLACK + 0.3,
                             "A went critical later than TTL + slack after the last heartbeat")
        self.assertGreaterEqual(t_critical - sent, TTL - 0.2,
                                "A went critical before its TTL ran out")

        t_gone, _ = watcher.wait_for(lambda es: es == [], DEREGISTER_AFTER + SLACK + 5)
        self.assertLessEqual(t_gone - t_critical, DEREGISTER_AFTER + SLACK,
                             "A was not deregistered within DeregisterCriticalServiceAfter + slack")
        self.assertGreaterEqual(t_gone - t_critical, DEREGISTER_AFTER - 0.5,
                                "A was deregistered before DeregisterCriticalServiceAfter")
        self.assertEqual(a.get("/v1/agent/service/A-1").status, 404)

        b_thread.join(15)
        self.assertFalse(b_thread.is_alive())
        self.assertEqual(b_result["status"], 200)
        self.assertGreaterEqual(b_result["elapsed"], 2.8,
                                "the watcher of B was woken by a change to A")
        self.assertLess(b_result["elapsed"], 3 + 3 / 16 + 3, "wait=3s was not honoured")
        self.assertEqual(b_result["index"], b_index, "B's index moved though B did not change")
        self.assertEqual(watcher.errors, [])

    def test_many_services_with_many_instances_are_all_listed(self):
        a = self.agent
        services, instances = 50, 20
        local = threading.local()

        def register(k):
            if not hasattr(local, "conn"):
                local.conn = a.connection()
            s, i = divmod(k, instances)
            a.register({"Name": "many-%02d" % s, "ID": "many-%02d-%02d" % (s, i),
                        "Port": 10000 + k, "Tags": ["s%d" % s],
                        "Check": {"TTL": "60s", "Status": "passing"}}, conn=local.conn)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(register, range(services * instances)))

        catalog, _ = a.get_json("/v1/catalog/services")
        for s in range(services):
            self.assertEqual(catalog.get("many-%02d" % s), ["s%d" % s])
        for s in range(services):
            name = "many-%02d" % s
            entries, index = a.get_json("/v1/health/service/" + name)
            self.assertGreater(index, 0)
            self.assertEqual(sorted(e["Service"]["ID"] for e in entries),
                             ["%s-%02d" % (name, i) for i in range(instances)])
            self.assertEqual(sorted(e["Service"]["Port"] for e in entries),
                             [10000 + s * instances + i for i in range(instances)])
            self.assertTrue(all(statuses([e]) == ["passing"] for e in entries))
            flat, _ = a.get_json("/v1/catalog/service/" + name)
            self.assertEqual(len(flat), instances)
        agent_services, _ = a.get_json("/v1/agent/services")
        ours = [k for k in agent_services if k.startswith("many-")]
        self.assertEqual(len(ours), services * instances)

    def test_two_instances_of_one_service_with_distinct_ids(self):
        a = self.agent
        a.register({"Name": "pair", "ID": "pair-1", "Port": 9001})
        a.register({"Name": "pair", "ID": "pair-2", "Port": 9002})
        entries, _ = a.get_json("/v1/health/service/pair")
        self.assertEqual(sorted((e["Service"]["ID"], e["Service"]["Port"]) for e in entries),
                         [("pair-1", 9001), ("pair-2", 9002)])
        a.put_ok("/v1/agent/service/deregister/pair-1")
        entries, _ = a.get_json("/v1/health/service/pair")
        self.assertEqual([e["Service"]["ID"] for e in entries], ["pair-2"])

    def test_heartbeat_to_a_critical_check_makes_it_passing_again(self):
        a = self.agent
        a.register({"Name": "revive", "ID": "revive-1",
                    "Check": {"TTL": "500ms", "Status": "passing"}})
        wait_until(lambda: statuses(a.get_json("/v1/health/service/revive")[0]) == ["critical"],
                   10, what="revive-1 to go critical")
        _, index = a.get_json("/v1/health/service/revive")
        a.put_ok("/v1/agent/check/pass/service:revive-1")
        entries, new_index = a.get_json("/v1/health/service/revive")
        self.assertEqual(statuses(entries), ["passing"])
        self.assertGreater(new_index, index)
        # Consul's agent default for deregistration is an hour: without a heartbeat it goes
        # critical again, and stays registered.
        wait_until(lambda: statuses(a.get_json("/v1/health/service/revive")[0]) == ["critical"],
                   10, what="revive-1 to go critical again")


if __name__ == "__main__":
    unittest.main()
