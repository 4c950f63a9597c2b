"""A throw-away Mesos/Marathon stack on loopback, for tests that need a real Marathon
API: a private ZooKeeper (Debian's ``zookeeper`` package) on a free port, one Mesos
master stand-in (standalone), one agent stand-in (``mesos`` containerizer: tasks are
local processes, no docker needed) and one or more Marathon stand-ins, all started
from the source tree in tests/standins with this Python (which must have kazoo).

    with StandinStack(tmpdir, marathons=1, credentials="ops:secret") as stack:
        stack.marathon_urls -> ["http://127.0.0.1:<port>"]

``zookeeper_classpath()`` returns None when ZooKeeper is not installed; callers skip.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import base64

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STANDINS = os.path.join(ROOT, "tests", "standins")
JAVA_DIR = "/usr/share/java"
# Jars the ZooKeeper server needs (3.8: jute for the wire format, netty only if
# configured, metrics-core for the metrics provider).
ZK_JARS = ("zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-simple.jar", "metrics-core.jar",
           "netty-handler.jar", "netty-common.jar", "netty-transport.jar", "netty-buffer.jar",
           "netty-codec.jar", "netty-resolver.jar", "netty-transport-native-epoll.jar",
           "netty-transport-native-unix-common.jar")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def zookeeper_classpath():
    if shutil.which("java") is None or not os.path.exists(os.path.join(JAVA_DIR, "zookeeper.jar")):
        return None
    jars = [os.path.join(JAVA_DIR, j) for j in ZK_JARS if os.path.exists(os.path.join(JAVA_DIR, j))]
    conf = ["/etc/zookeeper/conf"] if os.path.isdir("/etc/zookeeper/conf") else []
    return ":".join(conf + jars)


def zk_ok(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"ruok")
            return s.recv(16) == b"imok"
    except OSError:
        return False


def start_zookeeper(tmp, port, timeout=40, super_digest=None):
    """A standalone ZooKeeper (Debian's package) on 127.0.0.1:port with its data in tmp/zk;
    returns its Proc once it serves clients. StackError when it is missing or does not start.
    super_digest ("super:<base64 sha1>") makes that digest user ZooKeeper's superuser."""
    cp = zookeeper_classpath()
    if cp is None:
        raise StackError("ZooKeeper is not installed (apt-get install zookeeper)")
    zkdir = os.path.join(tmp, "zk")
    os.makedirs(os.path.join(zkdir, "data"), exist_ok=True)
    cfg = os.path.join(zkdir, "zoo.cfg")
    with open(cfg, "w") as fh:
        fh.write("tickTime=2000\ndataDir=%s/data\nclientPort=%d\nclientPortAddress=127.0.0.1\n"
                 "4lw.commands.whitelist=*\nadmin.enableServer=false\n" % (zkdir, port))
    jvm = ["-Dzookeeper.DigestAuthenticationProvider.superDigest=" + super_digest] if super_digest else []
    proc = Proc("zk", ["java", "-Xmx256m"] + jvm + ["-cp", cp, "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg],
                tmp)
    deadline = time.time() + timeout
    while not zk_ok(port):
        if not proc.alive() or time.time() > deadline:
            proc.stop()
            raise StackError("ZooKeeper on port %d did not start:\n%s" % (port, proc.tail()))
        time.sleep(0.3)
    return proc


def loopback_zookeeper(tmp, super_digest=None):
    """Generator for a module fixture: (port) of a standalone ZooKeeper on loopback, stopped
    afterwards; the test module is skipped when ZooKeeper is missing or does not start."""
    import pytest
    if zookeeper_classpath() is None:
        pytest.skip("ZooKeeper is not installed (apt-get install zookeeper)")
    port = free_port()
    try:
        proc = start_zookeeper(tmp, port, super_digest=super_digest)
    except StackError as exc:
        pytest.skip("ZooKeeper could not be started: %s" % str(exc)[:300])
    try:
        yield port
    finally:
        proc.stop()


class StackError(RuntimeError):
    pass


class Proc:
    def __init__(self, name, argv, log_dir, env=None):
        self.name = name
        self.log_path = os.path.join(log_dir, name + ".log")
        self.log = open(self.log_path, "ab")
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("MESOS_", "MARATHON_", "PYTHON"))}
        full_env.update(env or {})
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=full_env,
                                  start_new_session=True)

    def alive(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.alive():
            try:
                os.killpg(self.p.pid, sig)
            except OSError:
                self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except OSError:
                    self.p.kill()
                self.p.wait(5)
        self.log.close()

    def tail(self, n=30):
        try:
            with open(self.log_path, "rb") as fh:
                return b"\n".join(fh.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""


class StandinStack:
    def __init__(self, tmp, marathons=1, credentials=None):
        self.tmp = tmp
        self.n_marathons = marathons
        self.credentials = credentials
        self.procs = {}
        self.zk_port = free_port()
        self.master_port = free_port()
        self.agent_port = free_port()
        self.marathon_ports = [free_port() for _ in range(marathons)]
        base = 31000 + (self.agent_port % 20) * 1000
        self.agent_ports_range = "%d-%d" % (base, base + 499)

    @property
    def marathon_urls(self):
        return ["http://127.0.0.1:%d" % p for p in self.marathon_ports]

    # -- life cycle -------------------------------------------------------------------------
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.procs["zk"] = start_zookeeper(self.tmp, self.zk_port)

        py = sys.executable
        self.procs["master"] = Proc("master", [
            py, os.path.join(STANDINS, "mesos", "sbin", "mesos-master"), "--ip=127.0.0.1",
            "--port=%d" % self.master_port, "--hostname=127.0.0.1",
            "--work_dir=%s" % os.path.join(self.tmp, "master"), "--allocation_interval=200ms"], self.tmp)
        self.wait(lambda: self.get_json("http://127.0.0.1:%d/master/health" % self.master_port, raw=True),
                  30, "the Mesos master", "master")
        self.procs["agent"] = Proc("agent", [
            py, os.path.join(STANDINS, "mesos", "sbin", "mesos-agent"), "--ip=127.0.0.1",
            "--hostname=127.0.0.1", "--port=%d" % self.agent_port, "--master=127.0.0.1:%d" % self.master_port,
            "--work_dir=%s" % os.path.join(self.tmp, "agent"), "--containerizers=mesos",
            "--resources=cpus:8;mem:4096;disk:1000;ports:[%s]" % self.agent_ports_range], self.tmp)
        self.wait(lambda: len(self.get_json("http://127.0.0.1:%d/master/slaves" % self.master_port)
                              .get("slaves", [])) == 1, 30, "the Mesos agent to register", "agent")
        for i in range(self.n_marathons):
            self.start_marathon(i)
        for i in range(self.n_marathons):
            self.wait(lambda: self.get_json(self.marathon_urls[i] + "/v2/info").get("frameworkId"),
                      40, "Marathon %d to register" % i, "marathon%d" % i)

    def start_marathon(self, i):
        argv = [sys.executable, os.path.join(STANDINS, "marathon", "bin", "marathon"),
                "--master", "127.0.0.1:%d" % self.master_port,
                "--zk", "zk://127.0.0.1:%d/marathon" % self.zk_port, "--hostname", "127.0.0.1",
                "--http_port", str(self.marathon_ports[i]), "--http_address", "127.0.0.1",
                "--min_revive_offers_interval", "500", "--zk_session_timeout", "3000"]
        if self.credentials:
            argv += ["--http_credentials", self.credentials]
        self.procs["marathon%d" % i] = Proc("marathon%d" % i, argv, self.tmp)

    def marathon_leader(self):
        """Index of the Marathon instance that leads, or None."""
        for i, url in enumerate(self.marathon_urls):
            if not self.procs["marathon%d" % i].alive():
                continue
            try:
                leader = self.get_json(url + "/v2/leader").get("leader")
            except (OSError, ValueError):
                continue
            for j, port in enumerate(self.marathon_ports):
                if leader == "127.0.0.1:%d" % port:
                    return j
        return None

    def kill(self, name):
        """SIGKILL one process (a crash: no clean hand-over)."""
        self.procs[name].stop(signal.SIGKILL)

    def stop(self):
        for name in reversed(list(self.procs)):
            self.procs[name].stop()
        # Local task processes run in their own sessions and outlive the agent (like
        # upstream): kill the ones the agent checkpointed, if they still run in our sandbox.
        for info in glob.glob(os.path.join(self.tmp, "agent", "meta", "**", "container.info"), recursive=True):
            try:
                with open(info) as fh:
                    pid = int(json.load(fh).get("pid") or 0)
                if pid and os.readlink("/proc/%d/cwd" % pid).startswith(self.tmp):
                    os.killpg(pid, signal.SIGKILL)
            except (OSError, ValueError, TypeError):
                pass

    # -- helpers ----------------------------------------------------------------------------
    def get_json(self, url, raw=False):
        req = urllib.request.Request(url, headers={"Accept": "application/json"})
        if self.credentials and url.startswith(tuple(self.marathon_urls)):
            req.add_header("Authorization", "Basic " + base64.b64encode(self.credentials.encode()).decode())
        with urllib.request.urlopen(req, timeout=5) as resp:
            data = resp.read()
        return True if raw else json.loads(data.decode("utf-8"))

    def wait(self, fn, timeout, what, proc=None):
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            if proc and not self.procs[proc].alive():
                raise StackError("%s exited while waiting for %s:\n%s" % (proc, what, self.procs[proc].tail()))
            try:
                if fn():
                    return
            except (OSError, ValueError, KeyError) as exc:
                last = exc
            time.sleep(0.3)
        tail = self.procs[proc].tail() if proc else ""
        raise StackError("timed out waiting for %s (last error %r)\n%s" % (what, last, tail))
