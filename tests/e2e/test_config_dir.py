"""Config directories (-config-dir, docs/configuration.md) and `concierge validate`.

Every *.json file of a directory is read in lexical order: services come from all files, any
other key of a later file wins. SIGHUP reads the directory again (a new file's service is
registered, a removed file's is deregistered). A bad file stops the agent, and fails
`concierge validate`, with a message naming the file and the key.

In a 3-server cluster, each server's config services are registered whether it leads or
follows: a follower sends them to the leader (waiting for one while the cluster forms), at
start and on SIGHUP.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

from harness import Agent, binary, wait_until
from test_cluster import FORM_TIMEOUT, ClusterTestCase, Spec, free_ports


def write(directory, name, config):
    path = os.path.join(directory, name)
    with open(path + ".new", "w") as f:
        json.dump(config, f)
    os.replace(path + ".new", path)
    return path


def service(sid, name, port=8080):
    return {"ID": sid, "Name": name, "Port": port}


class ConfigDirTest(unittest.TestCase):

    def make_dir(self):
        d = tempfile.mkdtemp(prefix="concierge-config-dir-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def test_files_merge_in_order_and_sighup_reads_the_directory_again(self):
        d = self.make_dir()
        write(d, "20-web.json", {"datacenter": "east", "services": [service("web-1", "web")]})
        write(d, "10-base.json", {"datacenter": "west", "ports": {"dns": -1},
                                  "services": [service("db-1", "db", 5432)]})
        with open(os.path.join(d, "notes.txt"), "w") as f:
            f.write("not read\n")
        agent = Agent("-config-dir", d)
        self.addCleanup(agent.stop)
        agent.start()
        self.assertEqual(sorted(agent.get_json("/v1/agent/services")[0]), ["db-1", "web-1"])
        self.assertEqual(agent.get_json("/v1/agent/self")[0]["Config"]["Datacenter"], "east")

        write(d, "30-cache.json", {"services": [service("cache-1", "cache", 6379)]})
        os.remove(os.path.join(d, "20-web.json"))
        agent.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: sorted(agent.get_json("/v1/agent/services")[0]) == ["cache-1", "db-1"],
                   20, what="the reloaded directory's services")
        wait_until(lambda: "datacenter changed; it takes effect when the agent restarts"
                   in agent.stderr, 20, what="the restart warning for datacenter")

        # A broken file: the reload changes nothing and says which file and key.
        bad = write(d, "40-bad.json", {"services": [service("x-1", "x")], "workers": -1})
        agent.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload failed" in agent.stderr, 20, what="the failed reload")
        self.assertIn(bad + ": workers: expected an integer from 0 to 512, got -1", agent.stderr)
        self.assertEqual(sorted(agent.get_json("/v1/agent/services")[0]), ["cache-1", "db-1"])

    def test_a_bad_file_stops_the_agent_naming_file_and_key(self):
        d = self.make_dir()
        write(d, "a.json", {"services": [service("web-1", "web")]})
        cases = [
            ({"limits": {"max_instances": "many"}},
             "b.json: limits.max_instances: expected an integer of at least 0, got \"many\""),
            ({"services": [service("web-1", "web")]},
             "b.json: services[0]: ID \"web-1\" is already defined in " +
             os.path.join(d, "a.json")),
        ]
        for config, message in cases:
            write(d, "b.json", config)
            p = subprocess.run([binary(), "agent", "-dev", "-http-addr", "127.0.0.1:0",
                                "-dns-port", "-1", "-config-dir", d],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                               text=True)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(os.path.join(d, message), p.stderr)

    def validate(self, *paths):
        return subprocess.run([binary(), "validate", *paths], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=30, text=True)

    def test_validate_checks_files_and_directories_without_starting_anything(self):
        d = self.make_dir()
        write(d, "10-base.json", {"http_addr": "127.0.0.1:1", "ports": {"server": 1}})
        write(d, "20-web.json", {"services": [service("web-1", "web")]})
        single = write(self.make_dir(), "agent.json", {"log_level": "debug"})
        p = self.validate(d, single)
        self.assertEqual((p.returncode, p.stdout, p.stderr),
                         (0, "Configuration is valid!\n", ""))

        bad = write(d, "30-bad.json", {"tls": {"defaults": {"cert": "x.pem"}}})
        p = self.validate(d)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn(bad + ': unknown key "tls.defaults.cert"', p.stderr)
        os.remove(bad)

        # What one key cannot tell: certificate files that are not there, -dev with a cluster.
        missing = write(d, "30-tls.json", {"tls": {"defaults": {
            "cert_file": os.path.join(d, "missing.pem"),
            "key_file": os.path.join(d, "missing-key.pem")}}})
        p = self.validate(d)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("missing.pem", p.stderr)
        os.remove(missing)

        p = self.validate(os.path.join(d, "nothing-here"))
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("nothing-here", p.stderr)


class ConfigServicesOnFollowersTest(ClusterTestCase):

    def test_every_server_registers_its_config_services_through_the_leader(self):
        n = 3
        ports = free_ports(2 * n)
        root = self.make_dir()
        specs, dirs = [], []
        for i in range(n):
            name = "n%d" % (i + 1)
            spec = Spec(name, os.path.join(root, name), ports[2 * i], ports[2 * i + 1],
                        ports[0], n)
            d = os.path.join(root, name + "-config")
            os.mkdir(d)
            write(d, "web.json", {"services": [service("cfg-" + name, "cfg")]})
            spec.args += ["-config-dir", d]
            specs.append(spec)
            dirs.append(d)
        servers = [self.start(*spec.args) for spec in specs]
        leader = self.wait_for_leader(servers, specs, FORM_TIMEOUT)
        self.wait_visible(servers, "cfg", ["cfg-n1", "cfg-n2", "cfg-n3"])

        # SIGHUP on a follower: a new file's service is registered, a removed one's goes.
        f = (leader + 1) % n
        follower, name = servers[f], specs[f].name
        write(dirs[f], "db.json", {"services": [service("cfgdb-" + name, "cfgdb", 5432)]})
        os.remove(os.path.join(dirs[f], "web.json"))
        follower.proc.send_signal(signal.SIGHUP)
        self.wait_visible(servers, "cfgdb", ["cfgdb-" + name])
        remaining = sorted("cfg-" + s.name for s in specs if s.name != name)
        self.wait_visible(servers, "cfg", remaining)
        self.assertNotIn("not registered", follower.stderr)


if __name__ == "__main__":
    unittest.main()
