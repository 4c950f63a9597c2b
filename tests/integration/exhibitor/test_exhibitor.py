"""Three ZooKeeper servers run by the real Exhibitor. Hosts come from
PAAS_EXHIBITOR_SERVERS (inventory name=address); PAAS_EXHIBITOR_CONFIG_TYPE says
where the shared configuration lives (file: a directory shared by the three
hosts, standing in for the NFS export; s3: a bucket on the scenario's S3 server).
PAAS_EXHIBITOR_ADMIN is the operator's user:password: everything but GET
cluster/list needs it."""
import base64
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
import testinfra.utils.ansible_runner
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.retry import KazooRetry

from paas_testlib import zk as zkprobe
from paas_testlib.ansible_run import failed_task_messages, run_playbook

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY).get_hosts("zookeeper")

SERVERS = dict(item.split("=") for item in os.environ["PAAS_EXHIBITOR_SERVERS"].split(","))
CONFIG_TYPE = os.environ["PAAS_EXHIBITOR_CONFIG_TYPE"]
CONVERGE = os.environ["PAAS_SCENARIO_CONVERGE"]
ZK_HOSTS = ",".join("%s:2181" % a for a in SERVERS.values())
ZOO_CFG = "/opt/zookeeper-exhibitor/conf/zoo.cfg"
ADMIN = tuple(os.environ["PAAS_EXHIBITOR_ADMIN"].split(":", 1))


def docker_exec(name, *cmd):
    return subprocess.run(["docker", "exec", name] + list(cmd), capture_output=True, text=True, timeout=120)


def zk_pid(name):
    """PID of the ZooKeeper server process Exhibitor started on a host ('' when none)."""
    return docker_exec(name, "pgrep", "-f", "QuorumPeerMain").stdout.strip()


def cluster_list(address):
    with urllib.request.urlopen("http://%s:8080/exhibitor/v1/cluster/list" % address, timeout=5) as resp:
        return json.loads(resp.read())


def exhibitor_call(address, path, method="GET", auth=None, body=None):
    """(status, headers, body) of one call to Exhibitor's HTTP API; auth is (user, password) or None.
    The credentials are sent up front (basic auth), as a client that knows them would."""
    request = urllib.request.Request("http://%s:8080%s" % (address, path), data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=15) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def roles():
    return {n: zkprobe.mode("%s:2181" % a) for n, a in SERVERS.items()}


def wait_all_serving(timeout=180):
    return zkprobe.wait_for(lambda: sorted(roles().values(), key=str) == ["follower", "follower", "leader"], timeout,
                            interval=2, message="one leader and two followers")


def test_exhibitor_runs_zookeeper_not_systemd(host):
    assert host.service("exhibitor").is_enabled
    assert host.service("exhibitor").is_running
    zk_unit = host.service("zookeeper")
    assert not zk_unit.is_running and not zk_unit.is_enabled
    # ZooKeeper is Exhibitor's child: same user, started from Exhibitor's install directory.
    procs = [p for p in host.process.filter(comm="java") if "QuorumPeerMain" in p.args]
    assert len(procs) == 1
    assert procs[0].user == "exhibitor"
    assert ZOO_CFG in procs[0].args


def test_one_leader_two_followers():
    assert sorted(roles().values(), key=str) == ["follower", "follower", "leader"]


def test_every_server_has_the_same_servers_spec():
    expected = sorted("server.%s=%s:2888:3888" % (i, a) for i, a in enumerate(SERVERS.values(), start=1))
    for name in SERVERS:
        cfg = docker_exec(name, "cat", ZOO_CFG).stdout
        # Exhibitor writes zoo.cfg as Java properties: "server.1=a\\:2888\\:3888".
        lines = sorted(line.replace("\\", "").split(";")[0] for line in cfg.splitlines()
                       if line.startswith("server."))
        assert lines == expected, name
        assert "4lw.commands.whitelist=srvr,ruok,mntr" in cfg


def test_myid_is_the_inventory_id():
    for index, name in enumerate(SERVERS, start=1):
        assert docker_exec(name, "cat", "/var/lib/zookeeper/myid").stdout.strip() == str(index)


def test_cluster_list_names_every_server_on_every_host():
    for address in SERVERS.values():
        answer = cluster_list(address)
        assert sorted(answer["servers"]) == sorted(SERVERS.values())
        assert answer["port"] == 2181


def test_exhibitor_status_reports_serving():
    """cluster/status needs the operator's account; Exhibitor asks the other Exhibitors' cluster/state
    with it (--remoteauth), so every server shows serving only when that works too."""
    code, _headers, body = exhibitor_call(next(iter(SERVERS.values())), "/exhibitor/v1/cluster/status", auth=ADMIN)
    assert code == 200
    status = json.loads(body)
    assert sorted(s["hostname"] for s in status) == sorted(SERVERS.values())
    assert all(s["description"] == "serving" for s in status), status
    assert sum(1 for s in status if s["isLeader"]) == 1


def test_only_discovery_is_open_without_credentials():
    """On every host: GET cluster/list answers anyone; the UI and the config need the operator."""
    for address in SERVERS.values():
        assert exhibitor_call(address, "/exhibitor/v1/cluster/list")[0] == 200
        code, headers, _body = exhibitor_call(address, "/exhibitor/v1/config/get-state")
        assert code == 401, address
        assert headers["WWW-Authenticate"] == 'Basic realm="Exhibitor"'
        assert exhibitor_call(address, "/exhibitor/v1/ui/index.html")[0] == 401, address
        code, _headers, body = exhibitor_call(address, "/exhibitor/v1/config/get-state", auth=ADMIN)
        assert code == 200, address
        state = json.loads(body)
        assert state["nodeMutationsAllowed"] is False
        assert state["config"]["hostname"] == address


class Writer(threading.Thread):
    """Writes a sequential znode every 100 ms; counts successes and failures."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.ok = 0
        self.errors = []
        self.stop = threading.Event()

    def run(self):
        client = KazooClient(hosts=ZK_HOSTS, timeout=10,
                             connection_retry=KazooRetry(max_tries=-1, delay=0.2, max_delay=1))
        client.start(timeout=15)
        try:
            client.ensure_path(self.path)
            while not self.stop.is_set():
                try:
                    client.create(self.path + "/w-", b"x", sequence=True)
                    self.ok += 1
                except KazooException as exc:
                    self.errors.append(repr(exc))
                time.sleep(0.1)
        finally:
            client.stop()
            client.close()


def break_config_store():
    """Take the shared configuration away from every Exhibitor, as an NFS server
    that goes down (file) or an S3 endpoint that stops answering (s3) would."""
    if CONFIG_TYPE == "file":
        for name in SERVERS:
            docker_exec(name, "chmod", "000", "/srv/exhibitor-shared")
    else:
        subprocess.run(["docker", "pause", os.environ["PAAS_S3_CONTAINER"]], check=True)


def restore_config_store():
    if CONFIG_TYPE == "file":
        for name in SERVERS:
            docker_exec(name, "chmod", "2770", "/srv/exhibitor-shared")
    else:
        subprocess.run(["docker", "unpause", os.environ["PAAS_S3_CONTAINER"]], check=True)


def test_config_store_outage_keeps_quorum_and_restarts_nothing():
    """NFS (or S3) is not a hard dependency: with the shared config gone, ZooKeeper
    keeps its quorum and clients keep writing; when it comes back Exhibitor
    restarts nothing."""
    wait_all_serving()
    pids = {name: zk_pid(name) for name in SERVERS}
    assert all(pids.values())
    writer = Writer("/outage-%d" % int(time.time()))
    writer.start()
    try:
        time.sleep(2)
        break_config_store()
        try:
            # Several of Exhibitor's configuration checks (5 s in this scenario).
            time.sleep(25)
            during = writer.ok
            assert sorted(roles().values(), key=str) == ["follower", "follower", "leader"]
        finally:
            restore_config_store()
        time.sleep(20)
    finally:
        writer.stop.set()
        writer.join(30)
    assert writer.errors == []
    assert during > 100, "only %d writes during the outage" % during
    assert {name: zk_pid(name) for name in SERVERS} == pids, "ZooKeeper was restarted"
    wait_all_serving(30)


def read_shared_config():
    if CONFIG_TYPE == "file":
        return docker_exec(next(iter(SERVERS)), "cat", "/srv/exhibitor-shared/exhibitor.properties").stdout
    import boto3
    access, secret = os.environ["PAAS_S3_ACCESS"].split(":", 1)
    s3 = boto3.client("s3", endpoint_url=os.environ["PAAS_S3_ENDPOINT"], region_name="us-east-1",
                      aws_access_key_id=access, aws_secret_access_key=secret)
    return s3.get_object(Bucket=os.environ["PAAS_S3_BUCKET"], Key=os.environ["PAAS_S3_KEY"])["Body"].read().decode()


def test_shared_config_holds_the_servers_spec():
    text = read_shared_config()
    spec = ",".join("S\\:%d\\:%s" % (i, a) for i, a in enumerate(SERVERS.values(), start=1))
    assert "com.netflix.exhibitor.servers-spec=%s" % spec in text
