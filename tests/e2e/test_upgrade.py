"""Upgrades (docs/operations.md): an agent of this build starts on the data directory of
every earlier release kept in fixtures/ (made by make_fixture.py with that release's binary)
and serves what it held: the instances with their tags, meta, addresses and checks. It then
takes writes, and starts again on the directory it wrote. A data directory of a newer format
than this build knows is refused with a message, not misread.
"""

import glob
import json
import os
import subprocess
import tarfile
import unittest

from harness import binary
from test_cluster import E2ETestCase

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


class UpgradeTest(E2ETestCase):

    def extract(self, tarball):
        root = self.make_dir()
        with tarfile.open(tarball) as tar:
            tar.extractall(root)
        return os.path.join(root, "data")

    def check_catalog(self, server, fixture):
        services = server.json("/v1/agent/services")
        self.assertEqual(sorted(services), fixture["instances"])
        for body in fixture["services"]:
            got = services[body["ID"]]
            self.assertEqual(got["Service"], body["Name"])
            self.assertEqual(got["Port"], body["Port"])
            self.assertEqual(got.get("Tags") or [], body.get("Tags", []))
            self.assertEqual(got.get("Meta") or {}, body.get("Meta", {}))
            if "Address" in body:
                self.assertEqual(got["Address"], body["Address"])
        checks = server.json("/v1/agent/checks")
        for body in fixture["services"]:
            defs = body.get("Checks") or ([body["Check"]] if "Check" in body else [])
            mine = [c for c in checks.values() if c["ServiceID"] == body["ID"]]
            self.assertEqual(len(mine), len(defs), (body["ID"], mine))
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


if __name__ == "__main__":
    unittest.main()
