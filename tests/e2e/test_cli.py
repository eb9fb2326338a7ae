"""The `concierge` command line against a real agent: every client command, its output and
its exit codes (0 ok, 1 the agent refused or cannot be reached, 2 bad flags), and the
agent's own flags (-config-file with SIGHUP reload, -deregister-critical-after).
"""

import json
import os
import queue
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from harness import Agent, AgentTestCase, binary, wait_until

CLI_TIMEOUT = 30


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


class CliTestCase(AgentTestCase):

    def cli(self, *args, env=None, address=None):
        """Runs `concierge ARGS -http-addr <agent>`; returns CompletedProcess (text)."""
        full = [binary(), *args]
        if address is not False:
            full += ["-http-addr", address or self.agent.address]
        return subprocess.run(full, capture_output=True, text=True, timeout=CLI_TIMEOUT,
                              env=env, stdin=subprocess.DEVNULL)

    def ok(self, *args, **kw):
        p = self.cli(*args, **kw)
        self.assertEqual(p.returncode, 0, "%s: stdout %r stderr %r" % (args, p.stdout, p.stderr))
        return p.stdout

    def status_of(self, check_id):
        checks, _ = self.agent.get_json("/v1/agent/checks")
        c = checks[check_id]
        return c["Status"], c["Output"]


class CommandsTest(CliTestCase):

    def test_version(self):
        for args in (["version"], ["--version"]):
            p = self.cli(*args, address=False)
            self.assertEqual(p.returncode, 0)
            self.assertRegex(p.stdout.strip(), r"^concierge [0-9]+\.[0-9]+\.[0-9]+")

    def test_register_with_flags_then_list_health_heartbeat_deregister(self):
        name = unique("web")
        sid = name + "-1"
        out = self.ok("services", "register", "-name", name, "-id", sid, "-port", "8080",
                      "-tag", "blue", "-tag", "v2", "-meta", "Env=prod", "-ttl", "10s",
                      "-deregister-critical-after", "1m")
        self.assertIn("Registered service: " + sid, out)
        self.assertIn("concierge heartbeat service:" + sid, out)

        s, _ = self.agent.get_json("/v1/agent/service/" + sid)
        self.assertEqual((s["Service"], s["Port"], s["Tags"], s["Meta"], s["Address"]),
                         (name, 8080, ["blue", "v2"], {"Env": "prod"}, "127.0.0.1"))
        self.assertEqual(self.status_of("service:" + sid)[0], "critical")

        listing = self.ok("services", "list")
        self.assertRegex(listing.splitlines()[0], r"^ID\s+Name\s+Address:Port\s+Tags$")
        row = [line.split() for line in listing.splitlines() if line.startswith(sid + " ")]
        self.assertEqual(row, [[sid, name, "127.0.0.1:8080", "blue,v2"]])

        health = self.ok("health", name)
        self.assertRegex(health.splitlines()[0], r"^ID\s+Address:Port\s+Status")
        self.assertEqual(health.splitlines()[1].split()[:3], [sid, "127.0.0.1:8080", "critical"])
        self.assertEqual(self.ok("health", name, "--passing").splitlines()[1:], [])

        self.assertIn("Check service:%s: passing" % sid,
                      self.ok("heartbeat", "service:" + sid))
        self.assertEqual(self.status_of("service:" + sid)[0], "passing")
        self.assertEqual(self.ok("health", name, "-passing").splitlines()[1].split()[:3],
                         [sid, "127.0.0.1:8080", "passing"])
        self.assertEqual(len(self.ok("health", name, "-tag", "blue").splitlines()), 2)
        self.assertEqual(len(self.ok("health", name, "-tag", "red").splitlines()), 1)

        self.ok("heartbeat", "service:" + sid, "-status", "warning", "-note", "disk 91% full")
        self.assertEqual(self.status_of("service:" + sid), ("warning", "disk 91% full"))
        self.assertIn("disk 91% full", self.ok("health", name))

        self.assertIn("Deregistered service: " + sid, self.ok("services", "deregister", sid))
        self.assertEqual(self.agent.get("/v1/agent/service/" + sid).status, 404)
        self.assertNotIn(sid, self.ok("services", "list"))

    def test_register_from_json_file(self):
        name = unique("file")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"Name": name, "ID": name + "-7", "Port": 7000, "Address": "10.0.0.7",
                       "Meta": {"CamelKey": "v"},
                       "Check": {"TTL": "30s", "Status": "passing"}}, f)
        self.addCleanup(os.unlink, f.name)
        self.assertIn("Registered service: %s-7" % name, self.ok("services", "register", f.name))
        s, _ = self.agent.get_json("/v1/agent/service/%s-7" % name)
        self.assertEqual((s["Address"], s["Port"], s["Meta"]), ("10.0.0.7", 7000, {"CamelKey": "v"}))
        self.assertEqual(self.status_of("service:%s-7" % name)[0], "passing")

    def test_http_addr_from_environment(self):
        env = dict(os.environ, CONCIERGE_HTTP_ADDR=self.agent.address)
        name = unique("env")
        p = self.cli("services", "register", "-name", name, env=env, address=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.agent.get("/v1/agent/service/" + name).status, 200)

    def test_watch_prints_changes_and_stops_cleanly(self):
        name = unique("watched")
        proc = subprocess.Popen([binary(), "watch", name, "-http-addr", self.agent.address],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)
        def cleanup():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()

        self.addCleanup(cleanup)
        lines = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout], daemon=True)
        reader.start()

        def expect(fragment, timeout=15):
            deadline = time.monotonic() + timeout
            seen = []
            while time.monotonic() < deadline:
                try:
                    line = lines.get(timeout=0.1)
                except queue.Empty:
                    continue
                seen.append(line)
                if fragment in line:
                    return line
            self.fail("watch printed no line with %r within %ss; got %r" % (fragment, timeout, seen))

        expect("no instances of " + name)
        self.agent.register({"Name": name, "ID": name + "-1", "Port": 81,
                             "Check": {"TTL": "30s"}})
        line = expect("+ %s-1" % name)
        self.assertIn("127.0.0.1:81", line)
        self.assertIn("critical", line)
        self.agent.put_ok("/v1/agent/check/pass/service:%s-1" % name)
        expect("~ %s-1 critical -> passing" % name)
        self.agent.put_ok("/v1/agent/service/deregister/%s-1" % name)
        expect("- %s-1" % name)

        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(10), 0, proc.stderr.read())
        reader.join(5)

    def test_agent_refusal_exits_1(self):
        for args in (["heartbeat", "service:no-such-check"],
                     ["services", "deregister", "no-such-service"]):
            with self.subTest(args):
                p = self.cli(*args)
                self.assertEqual(p.returncode, 1, p)
                self.assertIn("404", p.stderr)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"Port": 1}, f)  # no Name: the agent answers 400
        self.addCleanup(os.unlink, f.name)
        p = self.cli("services", "register", f.name)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("400", p.stderr)

    def test_unreachable_agent_exits_1(self):
        # A port that was free a moment ago: nothing listens there.
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        p = self.cli("services", "list", address="127.0.0.1:%d" % port)
        self.assertEqual(p.returncode, 1, p)
        self.assertTrue(p.stderr.strip())

    def test_bad_flags_exit_2(self):
        cases = [
            [],
            ["services"],
            ["services", "register", "-bogus"],
            ["services", "register", "-port", "8080"],  # no -name
            ["services", "register", "-name", "x", "-ttl", "ten"],
            ["services", "register", "-name", "x", "-port", "eighty"],
            ["services", "register", "-name", "x", "-deregister-critical-after", "1m"],
            ["services", "deregister"],
            ["heartbeat", "service:x", "-status", "green"],
            ["health"],
            ["no-such-command"],
        ]
        for args in cases:
            with self.subTest(args):
                p = self.cli(*args, address=False)
                self.assertEqual(p.returncode, 2, "%s: %r" % (args, p))
                self.assertTrue(p.stderr.strip())
        p = self.cli("services", "list", address="not-an-address")
        self.assertEqual(p.returncode, 2, p)


class AgentFlagsTest(unittest.TestCase):

    def run_agent(self, *args):
        return subprocess.run([binary(), "agent", "-dev", *args], capture_output=True, text=True,
                              timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL)

    def test_agent_configuration_errors_exit_1(self):
        for args in (["-http-addr", "nonsense"], ["-http-addr", "127.0.0.1:0",
                                                  "-deregister-critical-after", "ten"],
                     ["-http-addr", "127.0.0.1:0", "-log-level", "loud"],
                     ["-http-addr", "127.0.0.1:0", "-config-file", "/nonexistent/c.json"]):
            with self.subTest(args):
                p = self.run_agent(*args)
                self.assertEqual(p.returncode, 1, p)
                self.assertIn("error", p.stderr)

    def test_agent_bad_flags_exit_2(self):
        for args in (["-bogus"], ["-workers", "many"]):
            with self.subTest(args):
                self.assertEqual(self.run_agent(*args).returncode, 2)

    def test_default_deregister_critical_after(self):
        with Agent("-deregister-critical-after", "1s") as a:
            a.register({"Name": "reaped", "Check": {"TTL": "200ms", "Status": "passing"}})
            a.register({"Name": "kept", "Check": {"TTL": "200ms", "Status": "passing",
                                                  "DeregisterCriticalServiceAfter": "1h"}})
            start = time.monotonic()
            wait_until(lambda: a.get("/v1/agent/service/reaped").status == 404, 10,
                       what="the agent default to deregister the critical service")
            self.assertGreaterEqual(time.monotonic() - start, 0.9)
            self.assertEqual(a.get("/v1/agent/service/kept").status, 200)

    def test_config_file_services_and_sighup_reload(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            path = f.name
        self.addCleanup(os.unlink, path)

        def write(services):
            with open(path, "w") as out:
                json.dump({"datacenter": "cfg-dc", "node_name": "cfg-node",
                           "services": services}, out)

        write([{"Name": "cfg", "ID": "cfg-1", "Port": 1},
               {"Name": "cfg", "ID": "cfg-2", "Port": 2}])
        with Agent("-config-file", path) as a:
            # Not asserted at once: the agent applies the file's services on its state thread
            # and may print "listening" (and answer) a moment before that (see the report).
            wait_until(lambda: sorted(e["Service"]["ID"] for e in
                                      a.get_json("/v1/health/service/cfg")[0]) == ["cfg-1", "cfg-2"],
                       10, what="the config file's services")
            self_, _ = a.get_json("/v1/agent/self")
            self.assertEqual((self_["Config"]["Datacenter"], self_["Config"]["NodeName"]),
                             ("cfg-dc", "cfg-node"))
            # A service registered over HTTP is not the config file's to remove.
            a.register({"Name": "cfg", "ID": "cfg-http"})
            write([{"Name": "cfg", "ID": "cfg-2", "Port": 22}])
            a.proc.send_signal(signal.SIGHUP)

            def reloaded():
                es, _ = a.get_json("/v1/health/service/cfg")
                return sorted((e["Service"]["ID"], e["Service"]["Port"]) for e in es) == \
                    [("cfg-2", 22), ("cfg-http", 0)]

            wait_until(reloaded, 10, what="the reload to apply")

            # A broken file on reload keeps the running config.
            with open(path, "w") as out:
                out.write("{ not json")
            a.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: "reload failed" in a.stderr, 10, what="the reload error")
            self.assertTrue(reloaded())


if __name__ == "__main__":
    unittest.main()
