"""Writes a data directory fixture for test_upgrade: a durable single-server agent of the
build in CONCIERGE_BIN registers a few services of every kind, is stopped cleanly, and its
data directory is kept as fixtures/data-<version>.tar.gz with fixtures/data-<version>.json
(how to start on it, what it holds). Run once per release, with that release's binary:

    CONCIERGE_BIN=build/release/src/cli/concierge python3 tests/e2e/make_fixture.py [NAME]

NAME defaults to the version the binary prints; give one to tell apart builds of one version
(data-0.1.0-2a69a14: the build before the data directory had a format file).

The Raft configuration in the directory names the server by its Raft address, so the test
starts the newer agent on the same -server-port (FIXTURE_SERVER_PORT).
"""

import json
import os
import subprocess
import sys
import tarfile
import tempfile

from harness import binary
from test_cluster import Server

FIXTURE_SERVER_PORT = 28311
NODE = "fixture"

SERVICES = [
    {"ID": "web-1", "Name": "web", "Port": 8080, "Tags": ["v1", "blue"],
     "Meta": {"owner": "team-a"}, "Check": {"TTL": "1h", "Status": "passing"}},
    {"ID": "web-2", "Name": "web", "Address": "10.0.0.2", "Port": 8080,
     "Checks": [{"TTL": "1h", "Status": "warning", "Notes": "warming up"},
                {"TCP": "127.0.0.1:1", "Interval": "1h", "Timeout": "1s"}]},
    {"ID": "db-1", "Name": "db", "Port": 5432,
     "Check": {"HTTP": "http://127.0.0.1:1/health", "Interval": "1h",
               "DeregisterCriticalServiceAfter": "90m"}},
    {"ID": "cache-1", "Name": "cache", "Port": 6379},
]


def main():
    version = subprocess.run([binary(), "version"], capture_output=True, text=True,
                             check=True).stdout.split()[1]
    name = sys.argv[1] if len(sys.argv) > 1 else version
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    with tempfile.TemporaryDirectory(prefix="concierge-fixture-") as tmp:
        data = os.path.join(tmp, "data")
        server = Server("-node", NODE, "-data-dir", data, "-http-addr", "127.0.0.1:0",
                        "-server-port", str(FIXTURE_SERVER_PORT), "-dns-port", "-1")
        server.start()
        try:
            for body in SERVICES:
                server.put_ok("/v1/agent/service/register", body)
            server.put_ok("/v1/agent/service/deregister/cache-1")
            server.put_ok("/v1/agent/service/register", SERVICES[3])
            expected = sorted(server.get_json("/v1/agent/services")[0])
        finally:
            server.stop()
        with tarfile.open(os.path.join(here, "data-%s.tar.gz" % name), "w:gz") as tar:
            tar.add(data, arcname="data")
    with open(os.path.join(here, "data-%s.json" % name), "w") as f:
        json.dump({"version": version, "node": NODE, "server_port": FIXTURE_SERVER_PORT,
                   "services": SERVICES, "instances": expected}, f, indent=2)
        f.write("\n")
    print("wrote fixtures/data-%s.tar.gz" % name)


if __name__ == "__main__":
    main()
