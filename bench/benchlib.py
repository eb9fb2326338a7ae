"""What the scripts that compare Concierge with a peer share: free loopback ports, servers
started on a temporary data directory and waited for, and every process stopped by its PID and
every directory removed, on success, failure or ^C (call cleanup() in a finally)."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

PROCS = []
TEMPS = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(port, method, path, body=None):
    """(status, body) of one request to 127.0.0.1:port; (None, b"") if it failed."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method,
                                 data=body.encode() if isinstance(body, str) else body)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except OSError:
        return None, b""


def tempdir(prefix="concierge-bench-"):
    d = tempfile.mkdtemp(prefix=prefix)
    TEMPS.append(d)
    return d


def start(argv, ready, what):
    """Starts argv ("{dir}" is a new temporary directory) in a session of its own, logging to
    {dir}/server.log; returns (proc, dir) once ready() is true, or exits with the log."""
    d = tempdir()
    log_file = open(os.path.join(d, "server.log"), "wb")
    proc = subprocess.Popen([a.replace("{dir}", d) for a in argv], stdin=subprocess.DEVNULL,
                            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    PROCS.append(proc)
    deadline = time.monotonic() + 30
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit("%s did not start; its log:\n%s" %
                     (what, open(os.path.join(d, "server.log")).read()[-2000:]))
        time.sleep(0.1)
    return proc, d


def stop(proc, d=None):
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    PROCS.remove(proc)
    if d is not None:
        shutil.rmtree(d, ignore_errors=True)
        TEMPS.remove(d)


def cleanup():
    for proc in PROCS:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
            proc.wait()
    PROCS.clear()
    for d in TEMPS:
        shutil.rmtree(d, ignore_errors=True)
    TEMPS.clear()


def start_concierge(binary):
    """`concierge agent -data-dir TMP` as shipped (Raft on); (proc, http port, dir)."""
    port = free_port()
    argv = [binary, "agent", "-data-dir", "{dir}/data", "-http-addr", "127.0.0.1:%d" % port,
            "-server-port", str(free_port()), "-dns-port", "-1"]
    proc, d = start(argv, lambda: http(port, "GET", "/v1/status/leader")[1] not in (b"", b'""'),
                    "concierge")
    return proc, port, d


def start_etcd():
    """etcd 3.4 with its defaults on loopback; (proc, client port, dir)."""
    port, peer = free_port(), free_port()
    argv = ["etcd", "--name", "bench", "--data-dir", "{dir}/data",
            "--listen-client-urls", "http://127.0.0.1:%d" % port,
            "--advertise-client-urls", "http://127.0.0.1:%d" % port,
            "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
            "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
            "--initial-cluster", "bench=http://127.0.0.1:%d" % peer]
    proc, d = start(argv, lambda: http(port, "GET", "/health")[0] == 200, "etcd")
    return proc, port, d


def ensure_packages(log, *packages):
    """apt-get installs those of the Debian packages whose program is missing (etcd-server:
    etcd, etcd-client: etcdctl). A package may start a system service on its default ports;
    the benchmarks use ports of their own."""
    programs = {"etcd-server": "etcd", "etcd-client": "etcdctl"}
    missing = [p for p in packages if shutil.which(programs.get(p, p)) is None]
    if missing:
        log("installing " + " ".join(missing))
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
                       check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
