"""The agent's JSON config file (docs/configuration.md): an agent started with only
-config-file (besides the harness's -dev and -http-addr) takes HTTPS with client
certificates, a limit, its DNS port and a service from the file. SIGHUP loads a renewed
certificate for new connections (open ones keep theirs), keeps the old one when the new files
are broken, and warns of changed keys that need a restart. A bad file stops the agent with a
message naming the key.
"""

import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import unittest

from harness import Agent, binary, wait_until
from test_tls import client_context, make_ca


def handshake_ok(agent, ctx):
    """True if a fresh connection with `ctx` gets an answer."""
    saved = agent.ssl_context
    agent.ssl_context = ctx
    try:
        return agent.get("/v1/status/leader", timeout=10).status == 200
    except (ssl.SSLError, OSError):
        return False
    finally:
        agent.ssl_context = saved


class ConfigFileTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ca = make_ca()
        cls.addClassCleanup(shutil.rmtree, cls.ca, True)
        cls.next_ca = make_ca()  # the certificates of the renewal
        cls.addClassCleanup(shutil.rmtree, cls.next_ca, True)
        # The agent reads its certificate from here; the renewal is copied over it.
        cls.live = tempfile.mkdtemp(prefix="concierge-config-")
        cls.addClassCleanup(shutil.rmtree, cls.live, True)
        for name in ("server.pem", "server-key.pem", "ca.pem"):
            shutil.copy(os.path.join(cls.ca, name), cls.live)
        cls.config = {
            "log_level": "info",
            "ports": {"dns": -1},
            "tls": {"defaults": {"cert_file": os.path.join(cls.live, "server.pem"),
                                 "key_file": os.path.join(cls.live, "server-key.pem"),
                                 "ca_file": os.path.join(cls.live, "ca.pem"),
                                 "verify_incoming": True}},
            "limits": {"max_instances": 2},
            "services": [{"ID": "web-1", "Name": "web", "Port": 8080,
                          "Check": {"TTL": "60s", "Status": "passing"}}],
        }
        cls.path = os.path.join(cls.live, "agent.json")
        cls.write_config(cls.config)
        cls.agent = Agent("-config-file", cls.path)
        cls.agent.ssl_context = client_context(cls.ca)
        cls.addClassCleanup(cls.agent.stop)
        cls.agent.start()

    @classmethod
    def write_config(cls, config):
        with open(cls.path + ".new", "w") as f:
            json.dump(config, f)
        os.replace(cls.path + ".new", cls.path)

    def test_1_tls_limit_and_service_from_the_file(self):
        services = self.agent.get_json("/v1/agent/services")[0]
        self.assertEqual(services["web-1"]["Service"], "web")
        self.assertFalse(handshake_ok(self.agent, client_context(self.ca, cert=None)),
                         "verify_incoming: a client without a certificate must be refused")
        self.assertEqual(self.agent.register({"ID": "web-2", "Name": "web", "Port": 8081}).status,
                         200)
        r = self.agent.put("/v1/agent/service/register",
                           {"ID": "web-3", "Name": "web", "Port": 8082})
        self.assertEqual(r.status, 429, r)
        self.assertIn("-max-instances", r.text)

    def test_2_sighup_loads_a_renewed_certificate(self):
        old_ctx, new_ctx = client_context(self.ca), client_context(self.next_ca)
        self.assertFalse(handshake_ok(self.agent, new_ctx))
        open_conn = self.agent.connection()
        self.assertEqual(self.agent.request("GET", "/v1/status/leader", conn=open_conn).status,
                         200)
        for name in ("server.pem", "server-key.pem", "ca.pem"):
            shutil.copy(os.path.join(self.next_ca, name), self.live)
        self.agent.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: handshake_ok(self.agent, new_ctx), 20,
                   what="new connections to get the renewed certificate")
        self.assertFalse(handshake_ok(self.agent, old_ctx))
        # An open connection keeps the certificate it started with.
        self.assertEqual(self.agent.request("GET", "/v1/status/leader", conn=open_conn).status,
                         200)
        open_conn.close()
        self.agent.ssl_context = new_ctx

        # Broken files: the agent says so and keeps the certificate it has.
        with open(os.path.join(self.live, "server.pem"), "w") as f:
            f.write("not a certificate\n")
        self.agent.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload: keeping the current certificate" in self.agent.stderr, 20,
                   what="the failed reload to be logged")
        self.assertTrue(handshake_ok(self.agent, new_ctx))
        shutil.copy(os.path.join(self.next_ca, "server.pem"), self.live)

    def test_3_sighup_warns_of_keys_that_need_a_restart(self):
        config = json.loads(json.dumps(self.config))
        config["limits"]["max_instances"] = 10
        config["services"].append({"ID": "db-1", "Name": "db", "Port": 5432})
        self.write_config(config)
        self.agent.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "db-1" in self.agent.get_json("/v1/agent/services")[0], 20,
                   what="the reloaded service")
        wait_until(lambda: "limits.max_instances changed; it takes effect when the agent "
                   "restarts" in self.agent.stderr, 20, what="the restart warning")
        # Still the limit of the start: web-1, web-2 and now db-1 are three, over 2.
        r = self.agent.put("/v1/agent/service/register", {"ID": "web-4", "Name": "web"})
        self.assertEqual(r.status, 429, r)


class BadConfigFileTest(unittest.TestCase):

    def test_a_bad_value_stops_the_agent_naming_the_key(self):
        tmp = tempfile.mkdtemp(prefix="concierge-config-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "agent.json")
        cases = [
            ({"limits": {"http_max_conns_per_client": -5}},
             "limits.http_max_conns_per_client: expected an integer of at least 0, got -5"),
            ({"tls": {"defaults": {"cert": "x.pem"}}},
             'unknown key "tls.defaults.cert" (known in tls.defaults: cert_file, key_file, '
             'ca_file, verify_incoming)'),
            ({"tls": {"defaults": {"cert_file": os.path.join(tmp, "missing.pem"),
                                   "key_file": os.path.join(tmp, "missing-key.pem")}}},
             "missing.pem"),
        ]
        for config, message in cases:
            with open(path, "w") as f:
                json.dump(config, f)
            p = subprocess.run([binary(), "agent", "-dev", "-http-addr", "127.0.0.1:0",
                                "-dns-port", "-1", "-config-file", path],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
            err = p.stderr.decode("utf-8", "replace")
            self.assertEqual(p.returncode, 1, err)
            self.assertIn(message, err)


if __name__ == "__main__":
    unittest.main()
