"""Prometheus-style Consul service discovery (`consul_sd_configs`) against a real agent.

Starts `concierge agent -dev` on a free port, registers two `web` instances and one `db`
instance (TTL checks, passing, each backed by a tiny /metrics server), then starts a scraper
with its own config, data dir and port (never a packaged system service) and checks through
its Prometheus API, /api/v1/targets, that it discovered them with the right `__meta_consul_*`
labels and scrapes them; then deregisters one `web` instance and checks that it is dropped.

Two scrapers, each a Debian package, installed with apt-get when missing and possible
(otherwise the test is skipped, never failed):

- `prometheus` (or $PROMETHEUS_BIN): Debian 12's build (2.42.0+ds) leaves Consul SD out
  ("Disable Consul SD until its Debian package is back in shape", changelog.Debian), so with
  it this test is skipped with that message; an upstream `prometheus` runs it for real.
- `victoria-metrics`: reads the same Prometheus scrape config, has its own Consul SD
  (blocking queries on /v1/catalog/services and /v1/health/service/:name) and serves the same
  /api/v1/targets.

Standard library only; run by ctest (CONCIERGE_BIN). Timing: generous bounds only.
"""

import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

STARTUP_TIMEOUT = 30.0  # seconds until a process listens
DISCOVERY_TIMEOUT = 60.0  # seconds until the scraper shows a change of the catalog
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
APT_TIMEOUT = 600.0

_LISTENING = re.compile(r"HTTP API listening on http://([0-9.]+):(\d+)")


def concierge_binary():
    path = os.environ.get("CONCIERGE_BIN")
    if not path:
        raise unittest.SkipTest("CONCIERGE_BIN is not set (run through ctest)")
    if not os.access(path, os.X_OK):
        raise RuntimeError("CONCIERGE_BIN=%s is not an executable" % path)
    return path


def debian_binary(name, package):
    """Path of `name`, installing Debian's `package` if it is missing and that is possible."""
    found = shutil.which(name)
    if found:
        return found
    why = "%s is not installed" % name
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            r = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                                package], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=APT_TIMEOUT)
            if r.returncode != 0:
                why += " and `apt-get install %s` failed:\n%s" % (
                    package, r.stdout.decode("utf-8", "replace")[-2000:])
        except subprocess.TimeoutExpired:
            why += " and `apt-get install %s` timed out" % package
        found = shutil.which(name)
        if found:
            return found
    else:
        why += " (and this is not root with apt-get; run `scripts/deps test`)"
    raise unittest.SkipTest(why)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc):
    """SIGTERM, then SIGKILL after STOP_TIMEOUT; only this process, by its PID."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def http_request(host, port, method, path, body=None, timeout=30.0):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        conn.request(method, path, body=body)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


class _MetricsHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = b"# TYPE compat_up gauge\ncompat_up 1\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


SCRAPE_CONFIG = """\
global:
  scrape_interval: 2s
  scrape_timeout: 1s
scrape_configs:
  - job_name: concierge
    consul_sd_configs:
      - server: "127.0.0.1:%(port)d"
%(extra)s    relabel_configs:
      - source_labels: [__meta_consul_service]
        regex: "web|db"
        action: keep
      - source_labels: [__meta_consul_service]
        target_label: service
      - source_labels: [__meta_consul_service_id]
        target_label: instance_id
"""


class ConsulSdTestBase:
    """The scenario; subclasses start a scraper (Prometheus, VictoriaMetrics)."""

    scraper = None  # name used in messages
    sd_extra = ""  # extra lines inside the consul_sd_configs entry

    def find_scraper(self):
        raise NotImplementedError

    def scraper_command(self, config, data_dir, port):
        raise NotImplementedError

    def check_config(self, config):
        """Raises SkipTest if the scraper cannot read consul_sd_configs at all."""

    def setUp(self):
        self.concierge = concierge_binary()
        self.scraper_bin = self.find_scraper()
        self.tmp = tempfile.mkdtemp(prefix="concierge-compat-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.log_path = os.path.join(self.tmp, "scraper.log")
        self._agent_stderr = []
        self._lock = threading.Lock()
        self.start_agent()
        self.instances = {}  # service ID -> (service name, port, tags)
        for sid, name, tags in (("web-1", "web", ["v1", "primary"]),
                                ("web-2", "web", ["v1", "canary"]),
                                ("db-1", "db", ["pg"])):
            port = self.start_metrics_server()
            self.register(sid, name, port, tags)
            self.instances[sid] = (name, port, tags)

    # -- processes ---------------------------------------------------------------------------

    def start_agent(self):
        proc = subprocess.Popen([self.concierge, "agent", "-dev", "-http-addr", "127.0.0.1:0"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        listening = threading.Event()

        def read():
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace")
                with self._lock:
                    self._agent_stderr.append(line)
                m = _LISTENING.search(line)
                if m and not listening.is_set():
                    self.agent_host, self.agent_port = m.group(1), int(m.group(2))
                    listening.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()

        def stop():
            stop_process(proc)
            reader.join(5)
            proc.stderr.close()

        self.addCleanup(stop)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not listening.wait(0.05):
            if proc.poll() is not None or time.monotonic() > deadline:
                self.fail("agent did not start listening; stderr:\n" + self.agent_stderr())
        self.agent = proc

    def agent_stderr(self):
        with self._lock:
            return "".join(self._agent_stderr)[-4000:]

    def start_metrics_server(self):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _MetricsHandler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return server.server_address[1]

    def start_scraper(self):
        self.scraper_port = free_port()
        config = os.path.join(self.tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write(SCRAPE_CONFIG % {"port": self.agent_port, "extra": self.sd_extra})
        self.check_config(config)
        log = open(self.log_path, "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen(self.scraper_command(config, os.path.join(self.tmp, "data"),
                                                     self.scraper_port),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=self.tmp)
        self.addCleanup(stop_process, proc)
        self.scraper_proc = proc
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                self.fail("%s exited with %s:\n%s" % (self.scraper, proc.returncode,
                                                      self.scraper_log()))
            try:
                status, _ = http_request("127.0.0.1", self.scraper_port, "GET",
                                         "/api/v1/targets", timeout=5)
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.fail("%s not serving within %ss:\n%s" % (self.scraper, STARTUP_TIMEOUT,
                                                              self.scraper_log()))
            time.sleep(0.2)

    def scraper_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-6000:]
        except OSError:
            return "(no log)"

    # -- Concierge ---------------------------------------------------------------------------

    def register(self, sid, name, port, tags):
        body = {"ID": sid, "Name": name, "Address": "127.0.0.1", "Port": port, "Tags": tags,
                "Meta": {"team": "compat"},
                "Check": {"TTL": "10m", "Status": "passing"}}
        status, data = http_request(self.agent_host, self.agent_port, "PUT",
                                    "/v1/agent/service/register", body)
        self.assertEqual(status, 200, data)

    def deregister(self, sid):
        status, data = http_request(self.agent_host, self.agent_port, "PUT",
                                    "/v1/agent/service/deregister/" + urllib.parse.quote(sid))
        self.assertEqual(status, 200, data)

    # -- the scraper's view ------------------------------------------------------------------

    def active_targets(self):
        status, data = http_request("127.0.0.1", self.scraper_port, "GET", "/api/v1/targets")
        self.assertEqual(status, 200, data)
        reply = json.loads(data)
        self.assertEqual(reply.get("status"), "success", reply)
        return [t for t in reply["data"]["activeTargets"] if t.get("scrapePool") == "concierge"]

    def wait_for_targets(self, predicate, what):
        deadline = time.monotonic() + DISCOVERY_TIMEOUT
        targets = []
        while time.monotonic() < deadline:
            if self.scraper_proc.poll() is not None:
                self.fail("%s exited with %s:\n%s" % (self.scraper, self.scraper_proc.returncode,
                                                      self.scraper_log()))
            targets = self.active_targets()
            if predicate(targets):
                return targets
            time.sleep(0.5)
        self.fail("timed out after %ss waiting for %s; targets:\n%s\n--- %s log ---\n%s"
                  "\n--- agent stderr ---\n%s" %
                  (DISCOVERY_TIMEOUT, what, json.dumps(targets, indent=1)[-6000:],
                   self.scraper, self.scraper_log(), self.agent_stderr()))

    @staticmethod
    def by_id(targets):
        return {t["discoveredLabels"].get("__meta_consul_service_id"): t for t in targets}

    # -- the test ----------------------------------------------------------------------------

    def test_discovers_and_drops_instances(self):
        self.start_scraper()
        expected = set(self.instances)
        targets = self.wait_for_targets(lambda ts: set(self.by_id(ts)) == expected,
                                        "targets %s" % sorted(expected))
        for sid, t in self.by_id(targets).items():
            name, port, tags = self.instances[sid]
            d = t["discoveredLabels"]
            with self.subTest(sid=sid):
                self.assertEqual(d["__meta_consul_service"], name)
                self.assertEqual(d["__address__"], "127.0.0.1:%d" % port)
                self.assertEqual(d["__meta_consul_service_address"], "127.0.0.1")
                self.assertEqual(d["__meta_consul_service_port"], str(port))
                self.assertEqual(d["__meta_consul_tags"], "," + ",".join(tags) + ",")
                self.assertEqual(d["__meta_consul_dc"], "dc1")
                self.assertEqual(d["__meta_consul_health"], "passing")
                self.assertEqual(d["__meta_consul_service_metadata_team"], "compat")
                self.assertTrue(d.get("__meta_consul_node"), d)
                self.assertEqual(t["labels"]["service"], name)
                self.assertEqual(t["labels"]["instance_id"], sid)
                self.assertEqual(t["labels"]["instance"], "127.0.0.1:%d" % port)

        # The scraper scrapes what it discovered (each instance serves /metrics).
        self.wait_for_targets(lambda ts: len(ts) == 3 and all(t["health"] == "up" for t in ts),
                              "all three targets to be scraped (health up)")

        self.deregister("web-2")
        expected.discard("web-2")
        started = time.monotonic()
        self.wait_for_targets(lambda ts: set(self.by_id(ts)) == expected,
                              "web-2 to disappear from the targets")
        remaining = self.by_id(self.active_targets())
        self.assertEqual(remaining["web-1"]["discoveredLabels"]["__address__"],
                         "127.0.0.1:%d" % self.instances["web-1"][1])
        self.assertEqual(remaining["db-1"]["discoveredLabels"]["__meta_consul_service"], "db")
        print("%s: web-2 left the targets %.1fs after deregistration" %
              (self.scraper, time.monotonic() - started))


class PrometheusTest(ConsulSdTestBase, unittest.TestCase):
    """Prometheus itself: Debian's package, or an upstream build in $PROMETHEUS_BIN."""

    scraper = "prometheus"
    # Prometheus waits refresh_interval between two rounds of blocking queries.
    sd_extra = "        refresh_interval: 1s\n"

    def find_scraper(self):
        path = os.environ.get("PROMETHEUS_BIN")
        if path:
            return path
        return debian_binary("prometheus", "prometheus")

    def check_config(self, config):
        # promtool comes with Prometheus; without it, prometheus itself reports the error.
        promtool = os.path.join(os.path.dirname(self.scraper_bin), "promtool")
        if not os.access(promtool, os.X_OK):
            return
        r = subprocess.run([promtool, "check", "config", config], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = r.stdout.decode("utf-8", "replace")
        if "field consul_sd_configs not found" in out:
            raise unittest.SkipTest(
                "%s is built without Consul service discovery (Debian 12's prometheus "
                "2.42.0+ds disables it: 'Disable Consul SD until its Debian package is back in "
                "shape'); set PROMETHEUS_BIN to an upstream prometheus to run this test" %
                self.scraper_bin)
        self.assertEqual(r.returncode, 0, "promtool check config:\n" + out)

    def scraper_command(self, config, data_dir, port):
        return [self.scraper_bin, "--config.file=" + config, "--storage.tsdb.path=" + data_dir,
                "--web.listen-address=127.0.0.1:%d" % port, "--log.level=debug"]

    def start_scraper(self):
        try:
            super().start_scraper()
        except AssertionError:
            if "field consul_sd_configs not found" in self.scraper_log():
                raise unittest.SkipTest("%s is built without Consul service discovery" %
                                        self.scraper_bin)
            raise


class VictoriaMetricsTest(ConsulSdTestBase, unittest.TestCase):
    """VictoriaMetrics (Debian's `victoria-metrics`): Prometheus' scrape config, own Consul SD."""

    scraper = "victoria-metrics"

    def find_scraper(self):
        return debian_binary("victoria-metrics", "victoria-metrics")

    def check_config(self, config):
        r = subprocess.run([self.scraper_bin, "-promscrape.config=" + config,
                            "-promscrape.config.dryRun", "-loggerLevel=ERROR"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(r.returncode, 0, "victoria-metrics -promscrape.config.dryRun:\n" +
                         r.stdout.decode("utf-8", "replace"))

    def scraper_command(self, config, data_dir, port):
        return [self.scraper_bin, "-promscrape.config=" + config, "-storageDataPath=" + data_dir,
                "-httpListenAddr=127.0.0.1:%d" % port, "-promscrape.consulSDCheckInterval=1s",
                "-loggerLevel=INFO"]


if __name__ == "__main__":
    unittest.main()
