"""The stand-ins' Mesos master group (contender and detector) across ZooKeeper disconnections.

high-availability.md, "Component Disconnection Handling": a component disconnected from
ZooKeeper learns that there is no leading master when its detector times out
(--zk_session_timeout); a leader whose session is gone aborts. A short disconnection, such as
kazoo moving to another ZooKeeper server, changes nothing.
"""
import json

import pytest
from kazoo.protocol.states import KazooState

from standin_common import mesosgroup
from standin_common.zk import parse_zk_url


class FakeClient:
    """The few kazoo calls MasterGroup makes, on an in-memory tree."""

    def __init__(self):
        self.connected = True
        self.nodes = {}
        self.seq = 0

    def exists(self, path):
        return path in self.nodes or None

    def create(self, path, data=b"", acl=None, ephemeral=False, sequence=False, makepath=False):
        if sequence:
            path = "%s%010d" % (path, self.seq)
            self.seq += 1
        self.nodes[path] = data
        return path

    def get_children(self, path, watch=None):
        prefix = path.rstrip("/") + "/"
        return [p[len(prefix):] for p in self.nodes if p.startswith(prefix) and "/" not in p[len(prefix):]]

    def get(self, path):
        return self.nodes[path], None


@pytest.fixture
def group(monkeypatch, clock):
    client = FakeClient()
    monkeypatch.setattr(mesosgroup.zkutil, "make_client", lambda zkurl, timeout: client)
    monkeypatch.setattr(mesosgroup.time, "monotonic", clock)
    seen = []
    info = {"id": "master-1", "hostname": "ctl1", "port": 5050, "address": {"ip": "10.0.0.1", "port": 5050}}
    g = mesosgroup.MasterGroup(parse_zk_url("zk://zk1:2181/mesos"), 10, seen.append, info_fn=lambda: info)
    g._step()
    assert seen[-1].am_leader and seen[-1].connected and seen[-1].leader == info
    assert json.loads(client.nodes["/mesos/" + seen[-1].my_node]) == info
    return g, client, clock, seen


def disconnect(g, client):
    client.connected = False
    g._listener(KazooState.SUSPENDED)


def test_short_disconnection_changes_nothing(group):
    g, client, clock, seen = group
    published = len(seen)
    disconnect(g, client)
    for _ in range(10):
        clock.now += 0.9
        g._step()
    assert len(seen) == published, "a disconnection shorter than --zk_session_timeout was reported"
    client.connected = True
    g._listener(KazooState.CONNECTED)
    g._step()
    assert len(seen) == published and seen[-1].am_leader


def test_disconnection_past_the_session_timeout_is_reported_as_expiry(group):
    g, client, clock, seen = group
    disconnect(g, client)
    clock.now += 10.5
    g._step()
    assert seen[-1].connected is False and seen[-1].expired is True
    assert not seen[-1].am_leader and seen[-1].leader is None


def test_session_expiry_is_reported_at_once(group):
    g, client, clock, seen = group
    disconnect(g, client)
    clock.now += 1
    g._listener(KazooState.LOST)
    g._step()
    assert seen[-1].connected is False and seen[-1].expired is True


def test_detector_reports_no_leader_only_after_the_timeout(monkeypatch, clock):
    client = FakeClient()
    client.nodes["/mesos/json.info_0000000003"] = json.dumps({"id": "m3", "hostname": "ctl3"}).encode()
    monkeypatch.setattr(mesosgroup.zkutil, "make_client", lambda zkurl, timeout: client)
    monkeypatch.setattr(mesosgroup.time, "monotonic", clock)
    seen = []
    g = mesosgroup.MasterGroup(parse_zk_url("zk://zk1:2181/mesos"), 10, seen.append)
    g._step()
    assert seen[-1].leader == {"id": "m3", "hostname": "ctl3"} and seen[-1].my_node is None
    disconnect(g, client)
    clock.now += 9
    g._step()
    assert seen[-1].leader is not None
    clock.now += 2
    g._step()
    assert seen[-1].connected is False and seen[-1].leader is None and seen[-1].expired is False
