"""Eureka's REST API (issue 20) against the durable agent, with the npm client eureka-js-client
4.5.0 (a Netflix-compatible client, driven by driver.js): it registers, heartbeats, fetches
the registry (full, then deltas), finds instances by app and by VIP, re-registers when told
its instance is unknown, and deregisters. The same instances are seen through Consul's
/v1/health/service and DNS; a Consul-registered instance is seen by the Eureka client; a
SIGKILLed client's instance is gone from Eureka's answers within its lease + 1 s; renewals
are heartbeats, not writes (the index does not move).

eureka-js-client is installed by `npm ci` here (package-lock.json) when it is missing.
"""

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from xml.etree import ElementTree

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from harness import Server, wait_until  # noqa: E402

APP = "EUREKA-E2E"
SERVICE = "eureka-e2e"
VIP = "e2e-vip"
LEASE_SECONDS = 3


def install_client():
    if os.path.exists(os.path.join(HERE, "node_modules", "eureka-js-client", "package.json")):
        return
    sys.stderr.write("eureka-js-client is missing: npm ci in tests/eureka\n")
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE)
    if r.returncode != 0:
        raise AssertionError("npm ci in tests/eureka failed (is the npm registry reachable?)")


class Client:
    """One eureka-js-client process (driver.js): its events, and its answers to commands."""

    def __init__(self, server, instance_id, host, port):
        config = {
            "shouldUseDelta": True,
            "instance": {
                "app": APP,
                "instanceId": instance_id,
                "hostName": host,
                "ipAddr": "127.0.0.1",
                "port": {"$": port, "@enabled": True},
                "vipAddress": VIP,
                "statusPageUrl": "http://127.0.0.1:%d/info" % port,
                "dataCenterInfo": {
                    "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
                    "name": "MyOwn",
                },
                "leaseInfo": {"renewalIntervalInSecs": 1, "durationInSecs": LEASE_SECONDS},
                "metadata": {"zone": "z1"},
            },
            "eureka": {
                "host": server.host,
                "port": server.port,
                "servicePath": "/eureka/apps/",
                "heartbeatInterval": 500,
                "registryFetchInterval": 500,
                "maxRetries": 0,
            },
        }
        self.proc = subprocess.Popen(["node", os.path.join(HERE, "driver.js"), json.dumps(config)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, cwd=HERE)
        self.events = queue.Queue()
        self.replies = queue.Queue()
        self.log = []
        self.counts = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            self.log.append(line)
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "reply" in msg:
                self.replies.put(msg)
            else:
                self.counts[msg["event"]] = self.counts.get(msg["event"], 0) + 1
                self.events.put(msg)

    def wait_event(self, name, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if msg["event"] == name:
                return msg
        raise AssertionError("no %r event within %ss; client output:\n%s" %
                             (name, timeout, "\n".join(self.log[-40:])))

    def ask(self, command):
        self.proc.stdin.write((command + "\n").encode())
        self.proc.stdin.flush()
        return self.replies.get(timeout=10)["ids"]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()


class EurekaJsClientTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if shutil.which("node") is None or shutil.which("npm") is None:
            raise unittest.SkipTest("node and npm are needed for eureka-js-client")
        install_client()
        cls.data_dir = tempfile.mkdtemp(prefix="concierge-eureka-")
        cls.addClassCleanup(shutil.rmtree, cls.data_dir, True)
        cls.server = Server("-data-dir", cls.data_dir, "-http-addr", "127.0.0.1:0",
                            "-server-port", "0", "-dns-port", "0")
        cls.addClassCleanup(cls.server.stop)
        cls.server.start()
        wait_until(lambda: cls.server.get("/v1/status/leader").json(), 20, what="a leader")
        wait_until(lambda: "DNS listening on 127.0.0.1:" in cls.server.stderr, 10, what="DNS")
        cls.dns_port = int(cls.server.stderr.split("DNS listening on 127.0.0.1:")[1].split(" ")[0])

    def client(self, instance_id, host, port):
        c = Client(self.server, instance_id, host, port)
        self.addCleanup(c.kill)
        return c

    def eureka_ids(self, path="/eureka/apps/" + APP):
        r = self.server.get(path, headers={"Accept": "application/json"})
        if r.status == 404:
            return []
        self.assertEqual(r.status, 200, r)
        instances = r.json()["application"]["instance"]
        return sorted(i["instanceId"] for i in instances)

    def health(self):
        return {e["Service"]["ID"]: e["Checks"][0]["Status"]
                for e in self.server.get("/v1/health/service/" + SERVICE).json()}

    def test_the_client_registers_heartbeats_discovers_and_deregisters(self):
        a = self.client("a-1", "host-a", 7001)
        a.wait_event("registered")
        a.wait_event("started")
        self.assertEqual(a.ask("app " + APP), ["a-1"])
        self.assertEqual(a.ask("vip " + VIP), ["a-1"])

        # One catalog: Consul's view and DNS show the same instance.
        self.assertEqual(self.health(), {"a-1": "passing"})
        entry = self.server.get("/v1/health/service/" + SERVICE).json()[0]["Service"]
        self.assertEqual(entry["Port"], 7001)
        self.assertEqual(entry["Meta"]["zone"], "z1")
        self.assertEqual(entry["Meta"]["eureka-vip"], VIP)
        if shutil.which("dig"):
            out = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.dns_port), "+short",
                                  SERVICE + ".service.consul", "SRV"],
                                 capture_output=True, text=True, timeout=10).stdout
            self.assertIn(" 7001 ", out)

        # Renewals are heartbeats: several of them, and the catalog's index does not move.
        index = self.server.get("/v1/health/service/" + SERVICE).header("X-Consul-Index")
        beats = a.counts.get("heartbeat", 0)
        wait_until(lambda: a.counts.get("heartbeat", 0) >= beats + 4, 10, what="4 renewals")
        self.assertEqual(self.server.get("/v1/health/service/" + SERVICE).header("X-Consul-Index"),
                         index)

        # A second instance and a Consul-registered one reach the first client by deltas.
        b = self.client("b-1", "host-b", 7002)
        b.wait_event("registered")
        r = self.server.put("/v1/agent/service/register", json.dumps({
            "ID": "c-1", "Name": SERVICE, "Address": "127.0.0.1", "Port": 7003,
            "Check": {"TTL": "1h", "Status": "passing"}}))
        self.assertEqual(r.status, 200, r)
        wait_until(lambda: a.ask("vip " + VIP) == ["a-1", "b-1"], 10,
                   what="b-1 in the first client's registry")
        wait_until(lambda: "c-1" in a.ask("app " + APP), 10,
                   what="the Consul instance in the first client's registry")
        self.assertGreater(a.counts.get("delta", 0), 0, "the client never fetched a delta")
        self.assertEqual(self.eureka_ids(), ["a-1", "b-1", "c-1"])
        full = self.server.get("/eureka/apps", headers={"Accept": "application/json"}).json()
        self.assertEqual(full["applications"]["apps__hashcode"], "UP_3_")
        vips = self.server.get("/eureka/vips/" + VIP, headers={"Accept": "application/json"})
        self.assertEqual(sorted(i["instanceId"] for app in vips.json()["applications"]["application"]
                                for i in app["instance"]), ["a-1", "b-1"])

        # A client whose instance is gone is told so by its next renewal (404) and registers
        # again.
        registrations = a.counts.get("registered", 0)
        self.assertEqual(self.server.put("/v1/agent/service/deregister/a-1").status, 200)
        wait_until(lambda: a.counts.get("registered", 0) > registrations, 10,
                   what="the client to register again")
        wait_until(lambda: "a-1" in self.eureka_ids(), 5, what="a-1 back")

        # SIGKILL: no cancel, no more renewals; gone from Eureka's answers within the lease.
        b.kill()
        killed = time.monotonic()
        wait_until(lambda: "b-1" not in self.eureka_ids(), LEASE_SECONDS + 5, interval=0.02,
                   what="b-1 to expire")
        gone_after = time.monotonic() - killed
        self.assertLessEqual(gone_after, LEASE_SECONDS + 1,
                             "b-1 was still served %.2f s after its client died" % gone_after)
        sys.stderr.write("b-1 gone from /eureka/apps %.2f s after SIGKILL (lease %d s)\n" %
                         (gone_after, LEASE_SECONDS))
        wait_until(lambda: a.ask("vip " + VIP) == ["a-1"], 10,
                   what="b-1 gone from the first client's registry")
        self.assertEqual(self.health()["b-1"], "critical")

        # Cancel: the client's stop deregisters it everywhere.
        a.proc.stdin.write(b"stop\n")
        a.proc.stdin.flush()
        self.assertIsNone(a.wait_event("stopped")["error"])
        self.assertEqual(self.eureka_ids(), ["c-1"])
        self.assertNotIn("a-1", self.health())

    def test_xml_without_accept_and_json_with_it(self):
        body = json.dumps({"instance": {
            "instanceId": "x-1", "hostName": "host-x", "app": "XML-APP", "ipAddr": "127.0.0.2",
            "status": "STARTING", "port": {"$": 7100, "@enabled": "true"},
            "vipAddress": "xml-vip", "metadata": {"k": "a<b"},
            "dataCenterInfo": {"@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
                               "name": "MyOwn"}}})
        r = self.server.request("POST", "/eureka/v2/apps/XML-APP", body,
                                headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 204, r)
        self.addCleanup(self.server.request, "DELETE", "/eureka/v2/apps/XML-APP/x-1")
        r = self.server.get("/eureka/v2/apps/XML-APP")
        self.assertEqual(r.header("Content-Type"), "application/xml")
        app = ElementTree.fromstring(r.body)
        self.assertEqual(app.tag, "application")
        self.assertEqual(app.findtext("name"), "XML-APP")
        inst = app.find("instance")
        self.assertEqual(inst.findtext("instanceId"), "x-1")
        self.assertEqual(inst.findtext("status"), "STARTING")
        self.assertEqual(inst.find("port").text, "7100")
        self.assertEqual(inst.find("port").get("enabled"), "true")
        self.assertEqual(inst.find("metadata").findtext("k"), "a<b")
        self.assertEqual(inst.find("dataCenterInfo").get("class"),
                         "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo")
        full = ElementTree.fromstring(self.server.get("/eureka/apps").body)
        self.assertEqual(full.tag, "applications")
        self.assertIn("STARTING_1_", full.findtext("apps__hashcode"))
        r = self.server.get("/eureka/apps/XML-APP/x-1", headers={"Accept": "application/json"})
        self.assertEqual(r.json()["instance"]["leaseInfo"]["durationInSecs"], 90)
        # STARTING is warning to Consul's clients.
        entry = self.server.get("/v1/health/service/xml-app").json()[0]
        self.assertEqual(entry["Checks"][0]["Status"], "warning")

    def test_bad_registrations_get_400_and_register_nothing(self):
        for body, message in [
                ('{"instance": {"app": "BAD", "ipAddr": "1.2.3.4"}}', "Missing instanceId"),
                ('{"instance": {"instanceId": "x", "hostName": "h", "app": "OTHER", '
                 '"ipAddr": "1.2.3.4", "dataCenterInfo": {"name": "MyOwn"}}}',
                 "Mismatched appName, expecting BAD but was OTHER"),
                ('{"instance": {"instanceId": "x", "hostName": "h", "app": "BAD", '
                 '"ipAddr": "1.2.3.4"}}', "Missing dataCenterInfo"),
                ('{"instance": ', "not valid JSON"),
                ('<instance><app>BAD</app></instance>', "XML registration bodies")]:
            with self.subTest(body=body):
                r = self.server.request("POST", "/eureka/v2/apps/BAD", body,
                                        headers={"Content-Type": "application/json"})
                self.assertEqual(r.status, 400, r)
                self.assertIn(message, r.text)
        self.assertEqual(self.server.get("/v1/health/service/bad").json(), [])
        self.assertEqual(self.server.get("/eureka/apps/BAD").status, 404)


if __name__ == "__main__":
    unittest.main()
