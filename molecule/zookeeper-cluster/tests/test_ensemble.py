"""The three-node ensemble: service state, leadership, failover and a rolling
restart under load. Servers are addressed by inventory name -> host:port from
PAAS_ZK_SERVERS (the scenario's verifier env)."""
import os
import subprocess
import threading
import time

import pytest
import testinfra.utils.ansible_runner
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.retry import KazooRetry

from paas_testlib import zk as zkprobe
from paas_testlib.ansible_run import run_playbook

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("zookeeper")

SERVERS = dict(item.split("=") for item in os.environ["PAAS_ZK_SERVERS"].split(","))
HOSTS = ",".join(SERVERS.values())


def docker_exec(name, *cmd):
    return subprocess.run(["docker", "exec", name] + list(cmd), capture_output=True, text=True, timeout=120)


def leader():
    modes = zkprobe.modes(SERVERS.values())
    leaders = [n for n, a in SERVERS.items() if modes[a] == "leader"]
    return leaders[0] if len(leaders) == 1 else None


def test_service_enabled_and_running(host):
    service = host.service("zookeeper")
    assert service.is_enabled
    assert service.is_running
    assert host.user("zookeeper").shell == "/usr/sbin/nologin"
    assert host.file("/var/lib/zookeeper").user == "zookeeper"


def test_ruok_answers_imok(host):
    assert zkprobe.four_letter_word(SERVERS[host.backend.host], "ruok") == "imok"


def test_myid_is_the_inventory_id(host):
    expected = {"zk1": "3", "zk2": "1", "zk3": "2"}[host.backend.host]
    assert host.file("/var/lib/zookeeper/myid").content_string.strip() == expected


def test_every_server_has_the_same_servers_spec():
    specs = set()
    for name in SERVERS:
        cfg = docker_exec(name, "cat", "/etc/zookeeper/conf/zoo.cfg").stdout
        specs.add(tuple(sorted(line for line in cfg.splitlines() if line.startswith("server."))))
    assert len(specs) == 1
    assert len(next(iter(specs))) == 3


def test_four_letter_words_outside_the_whitelist_are_refused():
    assert "not in the whitelist" in zkprobe.four_letter_word(next(iter(SERVERS.values())), "envi")


def test_exactly_one_leader_and_two_followers():
    modes = sorted(zkprobe.modes(SERVERS.values()).values(), key=str)
    assert modes == ["follower", "follower", "leader"]


def test_leader_failover_and_rejoin():
    old = zkprobe.wait_for(leader, 30, message="a leader")
    stopped_at = time.monotonic()
    assert docker_exec(old, "systemctl", "stop", "zookeeper").returncode == 0
    try:
        others = [a for n, a in SERVERS.items() if n != old]

        def new_leader():
            modes = zkprobe.modes(others)
            return [a for a in others if modes[a] == "leader"]

        zkprobe.wait_for(new_leader, 30, interval=0.25, message="a new leader among the other two")
        elected_after = time.monotonic() - stopped_at
        assert elected_after < 30
        client = KazooClient(hosts=",".join(others), timeout=10)
        client.start(timeout=15)
        try:
            path = client.create("/itest-failover/w-", b"written after failover", makepath=True, sequence=True)
            assert client.get(path)[0] == b"written after failover"
        finally:
            client.stop()
            client.close()
    finally:
        assert docker_exec(old, "systemctl", "start", "zookeeper").returncode == 0
    zkprobe.wait_for(lambda: zkprobe.mode(SERVERS[old]) == "follower", 60, message="%s to rejoin as follower" % old)
    assert sorted(zkprobe.modes(SERVERS.values()).values(), key=str) == ["follower", "follower", "leader"]


def _start_times():
    out = {}
    for name in SERVERS:
        res = docker_exec(name, "systemctl", "show", "zookeeper", "-p", "ExecMainStartTimestampMonotonic", "--value")
        out[name] = int(res.stdout.strip())
    return out


def test_config_change_restarts_one_server_at_a_time_leader_last():
    """Converge with a changed setting while a client writes and a poller reads srvr."""
    zkprobe.wait_for(lambda: sorted(zkprobe.modes(SERVERS.values()).values(), key=str) == ["follower", "follower", "leader"],
                     60, message="a healthy ensemble before the test")
    original_leader = leader()
    before = _start_times()
    cfg = docker_exec(original_leader, "cat", "/etc/zookeeper/conf/zoo.cfg").stdout
    current = int([line for line in cfg.splitlines() if line.startswith("maxClientCnxns=")][0].split("=")[1])
    stop = threading.Event()
    polls, writes = [], []

    def poller():
        while not stop.is_set():
            polls.append((time.monotonic(), zkprobe.modes(SERVERS.values())))
            time.sleep(0.2)

    def writer():
        retry = KazooRetry(max_tries=-1, delay=0.1, max_delay=0.5, deadline=3)
        client = KazooClient(hosts=HOSTS, timeout=6, connection_retry={"max_tries": -1, "delay": 0.1,
                                                                       "max_delay": 0.5})
        client.start(timeout=15)
        client.ensure_path("/itest-rolling")
        try:
            while not stop.is_set():
                t = time.monotonic()
                try:
                    retry(client.create, "/itest-rolling/w-", b"x", sequence=True)
                    writes.append((t, True))
                except (KazooException, Exception):  # noqa: BLE001 - any failure is a failed write
                    writes.append((t, False))
                time.sleep(0.1)
        finally:
            client.stop()
            client.close()

    threads = [threading.Thread(target=poller, daemon=True), threading.Thread(target=writer, daemon=True)]
    for th in threads:
        th.start()
    time.sleep(2)
    try:
        run = run_playbook(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml"),
                           inventory=os.environ["MOLECULE_INVENTORY_FILE"],
                           extra_vars={"zookeeper_max_client_cnxns": current + 1})
        time.sleep(3)
    finally:
        stop.set()
        for th in threads:
            th.join(30)
    assert run.rc == 0, run.output[-3000:]
    assert run.changed() > 0

    after = _start_times()
    assert all(after[n] > before[n] for n in SERVERS), "every server must have been restarted"
    restart_order = sorted(SERVERS, key=lambda n: after[n])
    assert restart_order[-1] == original_leader, "the leader must be restarted last: %s" % restart_order

    # The poller never saw two servers down at once.
    worst = max(sum(1 for m in modes.values() if m is None) for _t, modes in polls)
    assert worst <= 1, "two servers were down at the same time"
    assert len(polls) > 20

    # Failed writes only in short windows, around the leader's restart.
    assert sum(1 for _t, ok in writes if ok) > 20
    windows, current = [], None
    for t, ok in writes:
        if not ok:
            current = [t, t] if current is None else [current[0], t]
        elif current is not None:
            windows.append(current)
            current = None
    if current is not None:
        windows.append(current)
    leader_addr = SERVERS[original_leader]
    leader_down = [t for t, modes in polls if modes[leader_addr] is None]
    for start, end in windows:
        assert end - start <= 10, "writes failed for %.1f s" % (end - start)
        assert leader_down and leader_down[0] - 5 <= start <= leader_down[-1] + 10, \
            "a write failed at %.1f, away from the leader's restart (%.1f-%.1f)" % (
                start, leader_down[0] if leader_down else -1, leader_down[-1] if leader_down else -1)
