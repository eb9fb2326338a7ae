"""Upgrades (docs/operations.md): an agent of this build starts on the data directory of
every earlier release kept in fixtures/ (made by make_fixture.py with that release's binary)
and serves what it held: the instances with their tags, meta, addresses and checks. It then
takes writes, and starts again on the directory it wrote. A data directory of a newer format
than this build knows is refused with a message, not misread.

A rolling upgrade of a 3-server cluster (followers first, the leader last, one at a time)
keeps serving reads and writes. The cluster starts on CONCIERGE_OLD_BIN when that names an
older build, and on this build otherwise (then it is a rolling restart: the procedure is
tested, not two formats).
"""

import glob
import json
import os
import socket
import subprocess
import tarfile
import unittest

from harness import binary, wait_until
from test_cluster import (ELECTION_TIMEOUT, ClusterTestCase, E2ETestCase, Server, Spec,
                          free_ports, unique)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def failing(fixture, instance):
    """Whether the fixture gave `instance` a check that always fails."""
    for body in fixture["services"]:
        if body["ID"] == instance:
            checks = body.get("Checks") or ([body["Check"]] if "Check" in body else [])
            return any("127.0.0.1:1/" in c.get("HTTP", "") or c.get("TCP") == "127.0.0.1:1"
                       for c in checks)
    return False


class UpgradeTest(E2ETestCase):

    def extract(self, tarball):
        root = self.make_dir()
        with tarfile.open(tarball) as tar:
            tar.extractall(root)
        return os.path.join(root, "data")

    def check_catalog(self, server, fixture):
        services = server.json("/v1/agent/services")
        # An instance with a check that can never pass (127.0.0.1:1) has been critical since
        # the fixture was made: once the fixture is older than its grace (its own
        # DeregisterCriticalServiceAfter, or the default hour), the agent reaps it on start, as
        # it should. Every other instance must be there.
        expected = [i for i in fixture["instances"] if i in services or not failing(fixture, i)]
        self.assertEqual(sorted(services), expected)
        checks = server.json("/v1/agent/checks")
        # The reap may land between the two reads: what is gone by now is not compared.
        gone = set(services) - set(server.json("/v1/agent/services"))
        self.assertTrue(all(failing(fixture, i) for i in gone), gone)
        services = {i: s for i, s in services.items() if i not in gone}
        for body in fixture["services"]:
            if body["ID"] not in services:
                continue
            got = services[body["ID"]]
            self.assertEqual(got["Service"], body["Name"])
            self.assertEqual(got["Port"], body["Port"])
            self.assertEqual(got.get("Tags") or [], body.get("Tags", []))
            self.assertEqual(got.get("Meta") or {}, body.get("Meta", {}))
            if "Address" in body:
                self.assertEqual(got["Address"], body["Address"])
        for body in fixture["services"]:
            if body["ID"] not in services:
                continue
            defs = body.get("Checks") or ([body["Check"]] if "Check" in body else [])
            mine = [c for c in checks.values() if c["ServiceID"] == body["ID"]]
            self.assertEqual(len(mine), len(defs), (body["ID"], mine))
        if "web-2" in services:
            web2 = {c["Notes"] for c in checks.values() if c["ServiceID"] == "web-2"}
            self.assertIn("warming up", web2)

    def test_this_build_starts_on_every_earlier_release_s_data(self):
        fixtures = sorted(glob.glob(os.path.join(FIXTURES, "data-*.json")))
        self.assertTrue(fixtures, "no fixture in " + FIXTURES)
        for path in fixtures:
            with self.subTest(fixture=os.path.basename(path)):
                with open(path) as f:
                    fixture = json.load(f)
                data = self.extract(path[:-len(".json")] + ".tar.gz")
                args = ["-node", fixture["node"], "-data-dir", data,
                        "-http-addr", "127.0.0.1:0", "-dns-port", "-1",
                        "-server-port", str(fixture["server_port"])]
                # The fixture's Raft address is fixed: wait out whoever else holds the port.
                wait_until(lambda: port_free(fixture["server_port"]), 30,
                           what="port %d to be free" % fixture["server_port"])
                server = self.start(*args)
                self.check_catalog(server, fixture)
                server.put_ok("/v1/agent/service/register", {"ID": "new-1", "Name": "new"})
                server.stop()
                # Again, on the directory this build has written.
                fixture["instances"] = sorted(fixture["instances"] + ["new-1"])
                server = self.start(*args)
                self.check_catalog(server, fixture)
                server.stop()

    def test_a_newer_data_format_is_refused(self):
        data = self.make_dir()
        with open(os.path.join(data, "concierge-data.json"), "w") as f:
            json.dump({"format": 99, "written_by": "concierge 9.9.9"}, f)
        p = subprocess.run([binary(), "agent", "-data-dir", data, "-http-addr", "127.0.0.1:0",
                            "-server-port", "0", "-dns-port", "-1"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("has data format 99, written by concierge 9.9.9", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(data, "raft")), "nothing is started")


class RollingUpgradeTest(ClusterTestCase):

    def start_as(self, program, spec):
        server = Server(*spec.args)
        server.args[0] = program
        self.addCleanup(server.reap)
        server.start()
        return server

    def test_one_server_at_a_time_keeps_the_cluster_serving(self):
        old = os.environ.get("CONCIERGE_OLD_BIN") or binary()
        ports = free_ports(6)
        root = self.make_dir()
        specs = [Spec("n%d" % (i + 1), os.path.join(root, "n%d" % (i + 1)), ports[2 * i],
                      ports[2 * i + 1], ports[0], 3) for i in range(3)]
        servers = [self.start_as(old, spec) for spec in specs]
        leader = self.wait_for_leader(servers, specs, 20)
        service = unique("rolling")
        ids = []

        def write_through(server):
            sid = "%s-%d" % (service, len(ids))
            r = self.put_until_not_503(server, "/v1/agent/service/register",
                                       {"ID": sid, "Name": service, "Port": 8080})
            self.assertEqual(r.status, 200, r)
            ids.append(sid)

        write_through(servers[leader])
        order = [i for i in range(3) if i != leader] + [leader]
        for i in order:
            servers[i].stop()  # clean: a leader hands over first
            others = [s for j, s in enumerate(servers) if j != i]
            # Two of three keep a leader: reads and writes go on while one is down.
            self.wait_for_leader(others, specs, ELECTION_TIMEOUT)
            write_through(others[0])
            self.wait_visible(others, service, ids)
            servers[i] = self.start_as(binary(), specs[i])
            self.wait_for_leader(servers, specs, ELECTION_TIMEOUT)
            self.wait_visible(servers, service, ids)
        version = self.ok("version").split()[1]
        for s in servers:
            self.assertEqual(s.json("/v1/agent/self")["Config"]["Version"], version)


if __name__ == "__main__":
    unittest.main()
