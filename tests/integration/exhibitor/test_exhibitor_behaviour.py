"""What does not depend on where Exhibitor keeps its shared configuration: the
switch from systemd, discovery, a killed leader, bad input. Run by the
exhibitor-nfs scenario only (exhibitor-s3 runs test_exhibitor.py)."""
import json
import os

import pytest
from kazoo.client import KazooClient

from paas_testlib import zk as zkprobe
from paas_testlib.ansible_run import failed_task_messages, run_playbook
from test_exhibitor import CONVERGE, INVENTORY, SERVERS, ZK_HOSTS, docker_exec, roles, wait_all_serving, zk_pid


def test_data_written_under_systemd_survived_the_switch():
    client = KazooClient(hosts=ZK_HOSTS, timeout=10)
    client.start(timeout=15)
    try:
        data, _stat = client.get("/before-switch")
    finally:
        client.stop()
        client.close()
    assert data == b"written under systemd"


def test_discovery_lookup_reads_exhibitor():
    playbook = os.path.join(os.path.dirname(__file__), "discover.yml")
    urls = ["http://%s:8080" % a for a in SERVERS.values()]
    result = run_playbook(playbook, extra_vars={"urls": ["http://127.0.0.1:9"] + urls, "fallback": ["inventory:2181"]})
    assert result.rc == 0, failed_task_messages(result.output)
    data = json.loads(result.output[result.output.index("{"):result.output.rindex("}") + 1])
    found = data["plays"][0]["tasks"][0]["hosts"]["localhost"]["ansible_facts"]["paas_zk_hosts"]
    assert sorted(found) == sorted("%s:2181" % a for a in SERVERS.values())


def test_exhibitor_restarts_a_killed_leader_and_the_ensemble_fails_over():
    wait_all_serving()
    before = roles()
    leader = [n for n, r in before.items() if r == "leader"][0]
    old_pid = zk_pid(leader)
    docker_exec(leader, "kill", "-9", old_pid)
    # The two others elect a new leader at once.
    zkprobe.wait_for(lambda: [n for n, r in roles().items() if r == "leader" and n != leader], 60,
                     interval=1, message="a new leader among the others")
    # Exhibitor notices and starts the killed server again; it rejoins as follower.
    zkprobe.wait_for(lambda: zk_pid(leader) not in ("", old_pid), 150, interval=2,
                     message="Exhibitor restarting ZooKeeper on %s" % leader)
    wait_all_serving()
    assert roles()[leader] == "follower"


@pytest.mark.parametrize("extra,needle", [
    ({"exhibitor_config_type": "nfs"}, "exhibitor_config_type"),
    ({"exhibitor_config_type": "s3", "exhibitor_s3_bucket": "", "exhibitor_s3_key": "k"}, "exhibitor_s3_bucket must be set"),
    ({"exhibitor_config_type": "s3", "exhibitor_s3_bucket": "b", "exhibitor_s3_key": ""}, "exhibitor_s3_key must be set"),
    ({"exhibitor_servers_spec": "S:1:elsewhere-1,S:2:elsewhere-2,S:3:elsewhere-3"}, "not in the servers spec"),
    ({"zookeeper_id": 2}, "zookeeper_id"),
    ({"exhibitor_install_method": "url"}, "exhibitor_jar_url"),
    ({"exhibitor_admin_password": ""}, "exhibitor_admin_password must be set"),
    ({"exhibitor_admin_password": "too short"}, "exhibitor_admin_password must be 16 or more"),
    ({"exhibitor_extra_args": ["--nodemodification", "true"]}, "exhibitor_extra_args must not set"),
])
def test_bad_input_fails_before_any_change(extra, needle):
    pids = {name: zk_pid(name) for name in SERVERS}
    result = run_playbook(CONVERGE, inventory=INVENTORY, extra_vars=extra)
    assert result.rc != 0
    messages = " ".join(failed_task_messages(result.output))
    assert needle in messages, messages
    assert result.changed() == 0
    assert {name: zk_pid(name) for name in SERVERS} == pids
