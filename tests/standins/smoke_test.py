"""Local integration smoke test of the Mesos and Marathon stand-ins (built release archives).

Needs ZooKeeper on 127.0.0.1:2181, a Docker engine and the local image
``test/systemd:1``; the test is skipped when any of them is missing.
Run with the project's venv::

    .venv/bin/python -m pytest -v tests/standins/smoke_test.py

It builds the release archives, unpacks them, and runs 3 masters (quorum 2),
2 agents (127.0.0.2 and 127.0.0.3 with rack attributes) and 2 Marathons, all
on loopback, then walks through leader elections and failovers.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import uuid

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ZK = "127.0.0.1:2181"
IMAGE = "test/systemd:1"


def _zk_available():
    try:
        with socket.create_connection(("127.0.0.1", 2181), timeout=2) as s:
            s.sendall(b"ruok")
            return s.recv(16) == b"imok"
    except OSError:
        return False


def _docker_available():
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _loopback_alias_works():
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.3", 0))
        return True
    except OSError:
        return False


pytestmark = [
    pytest.mark.skipif(not _zk_available(), reason="no ZooKeeper on 127.0.0.1:2181"),
    pytest.mark.skipif(not _docker_available(), reason="docker or the image %s is not available" % IMAGE),
    pytest.mark.skipif(not _loopback_alias_works(), reason="127.0.0.2/127.0.0.3 are not usable"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(fn, timeout=60.0, interval=0.5, what="condition"):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            value = fn()
            if value:
                return value
        except (requests.RequestException, ValueError, KeyError, IndexError) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last error: %r)" % (what, last))


class Proc:
    def __init__(self, name, argv, log_dir):
        self.name = name
        self.argv = argv
        self.log_path = os.path.join(log_dir, name + ".log")
        self.log = open(self.log_path, "ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MESOS_", "MARATHON_", "PYTHON"))}
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                  start_new_session=True)

    def alive(self):
        return self.p.poll() is None

    def kill(self, sig=signal.SIGKILL):
        if self.alive():
            self.p.send_signal(sig)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)

    def tail(self, n=40):
        try:
            with open(self.log_path, "rb") as fh:
                return b"\n".join(fh.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""


class Cluster:
    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = {}
        self.chroot = "/smoke-%s" % uuid.uuid4().hex[:8]
        self.mesos_zk = "zk://%s%s/mesos" % (ZK, self.chroot)
        self.marathon_zk = "zk://%s%s/marathon" % (ZK, self.chroot)
        self.master_ports = [free_port() for _ in range(3)]
        self.agent_port = free_port()
        self.marathon_ports = [free_port() for _ in range(2)]
        self.agents = {"a2": ("127.0.0.2", "r2", "32100-32199"), "a3": ("127.0.0.3", "r3", "32200-32299")}

    # installation from the release archives ------------------------------------------------
    def install(self):
        import importlib.util
        spec = importlib.util.spec_from_file_location("standins_build", os.path.join(HERE, "build.py"))
        build = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(build)
        out = os.path.join(self.tmp, "releases")
        build.main(["--out", out])
        sums = {}
        with open(os.path.join(out, "SHA256SUMS")) as fh:
            for line in fh:
                digest, name = line.split()
                sums[name] = digest
        for archive in ("mesos-1.11.0.tar.gz", "marathon-1.11.24.tgz"):
            path = os.path.join(out, archive)
            assert build.sha256(path) == sums[archive]
            with tarfile.open(path) as tar:
                tar.extractall(os.path.join(self.tmp, "opt"))
        opt = os.path.join(self.tmp, "opt")
        # like an installation that links the binaries into /usr/local/sbin
        sbin = os.path.join(self.tmp, "usr-local-sbin")
        os.makedirs(sbin)
        for name in ("mesos-master", "mesos-agent"):
            os.symlink(os.path.join(opt, "mesos-1.11.0", "sbin", name), os.path.join(sbin, name))
        self.mesos_master = os.path.join(sbin, "mesos-master")
        self.mesos_agent = os.path.join(sbin, "mesos-agent")
        self.marathon = os.path.join(opt, "marathon-1.11.24", "bin", "marathon")

    # processes ---------------------------------------------------------------------------
    def start_master(self, i):
        port = self.master_ports[i]
        self.procs["m%d" % i] = Proc("m%d" % i, [
            self.mesos_master, "--ip=127.0.0.1", "--port=%d" % port, "--hostname=127.0.0.1",
            "--work_dir=%s" % os.path.join(self.tmp, "master%d" % i), "--zk=%s" % self.mesos_zk, "--quorum=2",
            "--zk_session_timeout=3secs", "--agent_ping_timeout=1secs", "--max_agent_ping_timeouts=3",
            "--allocation_interval=500ms", "--cluster=smoke"], self.tmp)

    def start_agent(self, name):
        ip, rack, ports = self.agents[name]
        self.procs[name] = Proc(name, [
            self.mesos_agent, "--ip=%s" % ip, "--hostname=%s" % ip, "--port=%d" % self.agent_port,
            "--master=%s" % self.mesos_zk, "--work_dir=%s" % os.path.join(self.tmp, name),
            "--containerizers=docker,mesos", "--attributes=rack:%s;dc:dc1" % rack,
            "--resources=cpus:4;mem:2048;disk:1000;ports:[%s]" % ports, "--docker_remove_delay=1secs",
            "--executor_registration_timeout=2mins", "--zk_session_timeout=3secs"], self.tmp)

    def start_marathon(self, i):
        port = self.marathon_ports[i]
        self.procs["mar%d" % i] = Proc("mar%d" % i, [
            self.marathon, "--master", self.mesos_zk, "--zk", self.marathon_zk, "--hostname", "127.0.0.1",
            "--http_port", str(port), "--http_address", "127.0.0.1", "--zk_session_timeout", "3000",
            "--min_revive_offers_interval", "1000"], self.tmp)

    def master_url(self, i):
        return "http://127.0.0.1:%d" % self.master_ports[i]

    def marathon_url(self, i):
        return "http://127.0.0.1:%d" % self.marathon_ports[i]

    def leading_master(self):
        """Index of the master that reports itself as the elected leader (and all agree on it)."""
        leaders = set()
        elected = []
        for i in range(3):
            if not self.procs["m%d" % i].alive():
                continue
            st = requests.get(self.master_url(i) + "/master/state", timeout=3).json()
            leaders.add(st.get("leader"))
            if st.get("elected_time"):
                elected.append(i)
        if len(elected) == 1 and leaders == {"master@127.0.0.1:%d" % self.master_ports[elected[0]]}:
            return elected
        return None

    def marathon_leader(self):
        out = set()
        for i in range(2):
            if self.procs["mar%d" % i].alive():
                r = requests.get(self.marathon_url(i) + "/v2/leader", timeout=3)
                if r.status_code != 200:
                    return None
                out.add(r.json()["leader"])
        return out.pop() if len(out) == 1 else None

    def stop(self):
        for p in self.procs.values():
            p.kill(signal.SIGTERM)
        names = subprocess.run(["docker", "ps", "-a", "--format", '{{.Names}}\t{{.Label "mesos.work_dir"}}'],
                               capture_output=True, text=True).stdout.splitlines()
        for line in names:
            name, _, work_dir = line.partition("\t")
            if name.startswith("mesos-") and work_dir.startswith(self.tmp):
                subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        try:
            from kazoo.client import KazooClient
            zk = KazooClient(ZK)
            zk.start(timeout=5)
            zk.delete(self.chroot, recursive=True)
            zk.stop()
        except Exception:
            pass


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("standins"))
    c = Cluster(tmp)
    c.install()
    try:
        yield c
    finally:
        for name, p in c.procs.items():
            sys.stderr.write("---- %s (%s) ----\n%s\n" % (name, "alive" if p.alive() else "exited", p.tail(25)))
        c.stop()


def app_tasks(cluster, i, app_id):
    r = requests.get(cluster.marathon_url(i) + "/v2/apps%s" % app_id, timeout=5)
    r.raise_for_status()
    return r.json()["app"]


def http_ok(host, port):
    try:
        return requests.get("http://%s:%d/" % (host, port), timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_01_three_masters_elect_one_leader(cluster):
    for i in range(3):
        cluster.start_master(i)
    leader = wait_until(cluster.leading_master, 30, what="one leading master")
    from kazoo.client import KazooClient
    zk = KazooClient(ZK)
    zk.start(timeout=5)
    try:
        children = sorted(c for c in zk.get_children(cluster.chroot + "/mesos") if c.startswith("json.info_"))
        assert len(children) == 3
        info = json.loads(zk.get("%s/mesos/%s" % (cluster.chroot, children[0]))[0])
        assert info["address"] == {"hostname": "127.0.0.1", "ip": "127.0.0.1", "port": info["port"]}
        assert info["pid"] == "master@127.0.0.1:%d" % info["port"] and info["version"] == "1.11.0"
        assert info["ip"] == 16777343
        assert cluster.master_ports.index(info["port"]) == leader[0]    # lowest sequence leads
    finally:
        zk.stop()
    for i in range(3):
        r = requests.get(cluster.master_url(i) + "/master/redirect", allow_redirects=False, timeout=3)
        assert r.status_code == 307 and r.headers["Location"] == "//127.0.0.1:%d" % cluster.master_ports[leader[0]]
        assert requests.get(cluster.master_url(i) + "/master/health", timeout=3).status_code == 200
    follower = [i for i in range(3) if i != leader[0]][0]
    r = requests.post(cluster.master_url(follower) + "/api/v1", json={"type": "GET_AGENTS"}, allow_redirects=False)
    assert r.status_code == 307


def test_02_agents_register_with_attributes(cluster):
    for name in ("a2", "a3"):
        cluster.start_agent(name)
    leader = cluster.leading_master()[0]

    def agents():
        r = requests.post(cluster.master_url(leader) + "/api/v1", json={"type": "GET_AGENTS"}, timeout=3)
        got = r.json()["get_agents"]["agents"]
        return got if len(got) == 2 else None
    got = wait_until(agents, 30, what="2 agents")
    by_host = {a["agent_info"]["hostname"]: a for a in got}
    assert set(by_host) == {"127.0.0.2", "127.0.0.3"}
    racks = {h: {x["name"]: x.get("text", {}).get("value") for x in a["agent_info"]["attributes"]}
             for h, a in by_host.items()}
    assert racks == {"127.0.0.2": {"rack": "r2", "dc": "dc1"}, "127.0.0.3": {"rack": "r3", "dc": "dc1"}}
    cluster.agent_ids = {h: a["agent_info"]["id"]["value"] for h, a in by_host.items()}
    for name, (ip, _, _) in cluster.agents.items():
        st = requests.get("http://%s:%d/state" % (ip, cluster.agent_port), timeout=3).json()
        assert st["id"] == cluster.agent_ids[ip] and st["master_hostname"] == "127.0.0.1"
        latest = os.path.join(cluster.tmp, name, "meta", "slaves", "latest")
        assert os.path.realpath(latest).endswith(st["id"])


def test_03_marathon_leader_elected(cluster):
    for i in range(2):
        cluster.start_marathon(i)
        time.sleep(0.5)
    leader = wait_until(cluster.marathon_leader, 30, what="a Marathon leader")
    assert leader == "127.0.0.1:%d" % cluster.marathon_ports[0]
    assert requests.get(cluster.marathon_url(1) + "/ping", timeout=3).text == "pong"
    info = wait_until(lambda: requests.get(cluster.marathon_url(1) + "/v2/info", timeout=3).json().get("frameworkId"),
                      30, what="framework registration")
    cluster.framework_id = info
    mleader = cluster.leading_master()[0]
    fws = requests.get(cluster.master_url(mleader) + "/master/frameworks", timeout=3).json()["frameworks"]
    assert [(f["name"], f["id"], f["active"]) for f in fws] == [("marathon", info, True)]


def test_04_unique_app_runs_one_task_per_agent(cluster):
    app = {"id": "/smoke/web", "instances": 2, "cpus": 0.1, "mem": 64,
           "cmd": "exec python3 -m http.server $PORT0",
           "container": {"type": "DOCKER", "docker": {"image": IMAGE}},
           "networks": [{"mode": "host"}], "constraints": [["hostname", "UNIQUE"]],
           "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0, "intervalSeconds": 2,
                             "gracePeriodSeconds": 30, "timeoutSeconds": 2}]}
    # posted to the standby: proxied to the leader
    r = requests.post(cluster.marathon_url(1) + "/v2/apps", json=app, timeout=10)
    assert r.status_code == 201, r.text
    assert r.json()["instances"] == 2 and r.json()["deployments"]

    def healthy():
        a = app_tasks(cluster, 0, "/smoke/web")
        return a if a["tasksRunning"] == 2 and a["tasksHealthy"] == 2 and not a["deployments"] else None
    a = wait_until(healthy, 120, 1.0, "2 healthy tasks")
    hosts = sorted(t["host"] for t in a["tasks"])
    assert hosts == ["127.0.0.2", "127.0.0.3"]
    for t in a["tasks"]:
        assert http_ok(t["host"], t["ports"][0])
    cluster.web_tasks = {t["id"]: (t["host"], t["ports"][0]) for t in a["tasks"]}
    assert requests.get(cluster.marathon_url(0) + "/v2/deployments", timeout=3).json() == []


def test_05_master_failover_keeps_tasks(cluster):
    old = cluster.leading_master()[0]
    cluster.procs["m%d" % old].kill()
    new = wait_until(lambda: (cluster.leading_master() or [old])[0] != old and cluster.leading_master(), 40,
                     what="a new leading master")[0]
    assert new != old
    url = cluster.master_url(new)

    def reregistered():
        agents = requests.post(url + "/api/v1", json={"type": "GET_AGENTS"}, timeout=3).json()["get_agents"]["agents"]
        ids = {a["agent_info"]["hostname"]: a["agent_info"]["id"]["value"] for a in agents}
        return ids == cluster.agent_ids
    wait_until(reregistered, 40, what="agents re-registered with the same ids")

    def framework_back():
        fws = requests.get(url + "/master/frameworks", timeout=3).json()["frameworks"]
        return any(f["id"] == cluster.framework_id and f["active"] for f in fws)
    wait_until(framework_back, 40, what="Marathon re-subscribed")

    def tasks_known():
        tasks = requests.post(url + "/api/v1", json={"type": "GET_TASKS"}, timeout=3).json()["get_tasks"]["tasks"]
        running = {t["task_id"]["value"] for t in tasks if t["state"] == "TASK_RUNNING"}
        return running >= set(cluster.web_tasks)
    wait_until(tasks_known, 30, what="tasks known to the new master")
    for host, port in cluster.web_tasks.values():
        assert http_ok(host, port)
    a = app_tasks(cluster, 0, "/smoke/web")
    assert {t["id"] for t in a["tasks"]} == set(cluster.web_tasks)   # the same tasks kept running


def test_06_marathon_failover(cluster):
    cluster.procs["mar0"].kill()
    standby = "127.0.0.1:%d" % cluster.marathon_ports[1]
    wait_until(lambda: requests.get(cluster.marathon_url(1) + "/v2/leader", timeout=3).json().get("leader") == standby,
               40, what="the standby Marathon to lead")
    info = wait_until(lambda: requests.get(cluster.marathon_url(1) + "/v2/info", timeout=3).json(), 20)
    assert info["elected"] is True and info["frameworkId"] == cluster.framework_id
    apps = requests.get(cluster.marathon_url(1) + "/v2/apps", timeout=3).json()["apps"]
    assert [a["id"] for a in apps] == ["/smoke/web"]
    a = wait_until(lambda: (lambda x: x if x["tasksRunning"] == 2 else None)(app_tasks(cluster, 1, "/smoke/web")),
                   30, what="2 running tasks after Marathon failover")
    assert {t["id"] for t in a["tasks"]} == set(cluster.web_tasks)
    mleader = cluster.leading_master()[0]
    fws = requests.get(cluster.master_url(mleader) + "/master/frameworks", timeout=3).json()["frameworks"]
    assert [f["id"] for f in fws if f["active"]] == [cluster.framework_id]


def test_07_agent_loss_relaunches_elsewhere_when_constraints_allow(cluster):
    url = cluster.marathon_url(1)
    r = requests.post(url + "/v2/apps", json={
        "id": "/smoke/mobile", "instances": 1, "cpus": 0.1, "mem": 32, "cmd": "exec python3 -m http.server $PORT0",
        "container": {"type": "DOCKER", "docker": {"image": IMAGE}}, "constraints": [["rack", "LIKE", "r[23]"]]},
        timeout=10)
    assert r.status_code == 201, r.text
    a = wait_until(lambda: (lambda x: x if x["tasksRunning"] == 1 else None)(app_tasks(cluster, 1, "/smoke/mobile")),
                   90, what="the mobile app to run")
    victim_host = a["tasks"][0]["host"]
    other_host = "127.0.0.2" if victim_host == "127.0.0.3" else "127.0.0.3"
    victim = "a2" if victim_host == "127.0.0.2" else "a3"
    cluster.procs[victim].kill()

    def relocated():
        x = app_tasks(cluster, 1, "/smoke/mobile")
        t = [t for t in x["tasks"] if t["state"] == "TASK_RUNNING"]
        return t[0] if len(t) == 1 and t[0]["host"] == other_host else None
    t = wait_until(relocated, 90, 1.0, "the task to be relaunched on the surviving agent")
    assert wait_until(lambda: http_ok(t["host"], t["ports"][0]), 30, what="relocated task answering HTTP")
    # hostname:UNIQUE cannot be satisfied by the single remaining agent: the app waits in the queue
    def waiting():
        q = requests.get(url + "/v2/queue", timeout=3).json()["queue"]
        item = [i for i in q if i["app"]["id"] == "/smoke/web"]
        if not item or item[0]["count"] != 1:
            return None
        reasons = {r["reason"]: r["declined"] for r in item[0]["processedOffersSummary"]["rejectSummaryLastOffers"]}
        return reasons.get("UnfulfilledConstraint", 0) >= 1
    wait_until(waiting, 60, 1.0, "/smoke/web waiting in the queue with UnfulfilledConstraint")
    web = app_tasks(cluster, 1, "/smoke/web")
    assert web["tasksRunning"] == 1 and [t["host"] for t in web["tasks"] if t["state"] == "TASK_RUNNING"] == \
        [other_host]
    deps = requests.get(url + "/v2/deployments", timeout=3).json()
    assert deps == [] or all("/smoke/web" not in d["affectedApps"] for d in deps)
