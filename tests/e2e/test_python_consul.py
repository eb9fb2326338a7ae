"""Debian's python3-consul (python-consul 0.7.x), unchanged, against the real agent: the
"point your Consul tooling at Concierge" promise for one popular client.
"""

import threading
import time
import unittest

from harness import AgentTestCase

try:
    import consul
except ImportError:  # pragma: no cover - depends on the machine
    consul = None


@unittest.skipIf(consul is None, "python3-consul is not installed (apt-get install python3-consul)")
class PythonConsulTest(AgentTestCase):

    def client(self):
        # One client per thread: the library shares a requests.Session inside a client.
        return consul.Consul(host=self.agent.host, port=self.agent.port)

    def test_register_pass_list_block_deregister(self):
        c = self.client()
        self.assertTrue(c.agent.service.register("pyweb", service_id="pyweb-1", port=8080,
                                                 tags=["py"], check=consul.Check.ttl("10s")))
        self.assertIn("pyweb-1", c.agent.services())
        checks = c.agent.checks()
        self.assertEqual(checks["service:pyweb-1"]["Status"], "critical")

        index, nodes = c.health.service("pyweb", passing=True)
        self.assertEqual(nodes, [])
        self.assertTrue(c.agent.check.ttl_pass("service:pyweb-1", notes="alive"))
        index, nodes = c.health.service("pyweb", passing=True)
        self.assertEqual([n["Service"]["ID"] for n in nodes], ["pyweb-1"])
        self.assertEqual(nodes[0]["Service"]["Port"], 8080)
        self.assertEqual(nodes[0]["Checks"][0]["Output"], "alive")
        self.assertGreater(int(index), 0)

        index, nodes = c.health.service("pyweb", tag="py")
        self.assertEqual(len(nodes), 1)
        _, services = c.catalog.services()
        self.assertEqual(services["pyweb"], ["py"])
        _, flat = c.catalog.service("pyweb")
        self.assertEqual(flat[0]["ServiceID"], "pyweb-1")
        _, checks = c.health.checks("pyweb")
        self.assertEqual(checks[0]["CheckID"], "service:pyweb-1")

        # A blocking query in a thread returns when the service changes.
        result = {}

        def block():
            start = time.monotonic()
            result["index"], result["nodes"] = self.client().health.service(
                "pyweb", index=index, wait="30s")
            result["elapsed"] = time.monotonic() - start

        t = threading.Thread(target=block, daemon=True)
        t.start()
        time.sleep(0.5)
        self.assertTrue(t.is_alive(), "the blocking query returned before anything changed")
        self.assertTrue(c.agent.check.ttl_fail("service:pyweb-1", notes="down"))
        t.join(15)
        self.assertFalse(t.is_alive(), "the blocking query was not woken by the change")
        self.assertGreater(int(result["index"]), int(index))
        self.assertEqual(result["nodes"][0]["Checks"][0]["Status"], "critical")
        self.assertEqual(result["nodes"][0]["Checks"][0]["Output"], "down")

        self.assertTrue(c.agent.check.ttl_warn("service:pyweb-1"))
        self.assertEqual(c.agent.checks()["service:pyweb-1"]["Status"], "warning")

        self.assertTrue(c.agent.service.deregister("pyweb-1"))
        self.assertNotIn("pyweb-1", c.agent.services())
        _, nodes = c.health.service("pyweb")
        self.assertEqual(nodes, [])

    def test_status_and_agent_self(self):
        c = self.client()
        self.assertEqual(c.status.leader(), self.agent.address)
        self.assertEqual(c.status.peers(), [self.agent.address])
        me = c.agent.self()
        self.assertEqual(me["Config"]["Datacenter"], "dc1")
        self.assertTrue(me["Config"]["NodeName"])

    def test_unsupported_endpoints_raise_a_clear_error(self):
        c = self.client()
        with self.assertRaises(consul.ConsulException) as cm:
            c.event.fire("deploy", "v2")
        self.assertIn("501", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
