import pytest
from ansible.errors import AnsibleFilterError
from kazoo.security import make_digest_acl_credential

import zk_filters as zkf


@pytest.mark.parametrize("hosts,port,expected", [
    (["zk1"], 2181, "zk1:2181"),
    (["zk1", "zk2", "zk3"], 2181, "zk1:2181,zk2:2181,zk3:2181"),
    (["10.0.0.1", "10.0.0.2:2182"], 2181, "10.0.0.1:2181,10.0.0.2:2182"),
    ("zk1, zk2:2190", 2181, "zk1:2181,zk2:2190"),
    (["zk1"], "2182", "zk1:2182"),
    (["[fd00::1]", "[fd00::2]:2182"], 2181, "[fd00::1]:2181,[fd00::2]:2182"),
    (("a.example.org",), 12181, "a.example.org:12181"),
])
def test_zk_connect_string(hosts, port, expected):
    assert zkf.zk_connect_string(hosts, port) == expected


@pytest.mark.parametrize("hosts,port,fragment", [
    ([], 2181, "non-empty"),
    ("", 2181, "non-empty"),
    (["zk1", ""], 2181, "non-empty"),
    (None, 2181, "hosts must be a list"),
    (42, 2181, "hosts must be a list"),
    (["zk1"], 0, "port"),
    (["zk1"], 70000, "port"),
    (["zk1"], "abc", "port"),
    (["zk1"], True, "port"),
    (["zk1:notaport"], 2181, "port"),
    (["fd00::1"], 2181, "brackets"),
    (["[fd00::1"], 2181, "unterminated"),
    (["bad_host!"], 2181, "invalid host"),
    (["zk1/chroot"], 2181, "chroot"),
    ([{"host": "zk1"}], 2181, "non-empty list of host names"),
])
def test_zk_connect_string_rejects(hosts, port, fragment):
    with pytest.raises(AnsibleFilterError) as err:
        zkf.zk_connect_string(hosts, port)
    assert "zk_connect_string" in str(err.value)
    assert fragment in str(err.value)


@pytest.mark.parametrize("args,expected", [
    ((["zk1", "zk2"], "/mesos"), "zk://zk1:2181,zk2:2181/mesos"),
    (("zk1:2181,zk2:2181", "/marathon"), "zk://zk1:2181,zk2:2181/marathon"),
    ((["zk1"], "/paas/tenants/acme", "acme", "s3cret"), "zk://acme:s3cret@zk1:2181/paas/tenants/acme"),
    ((["zk1"], "/mesos", None, None, 2182), "zk://zk1:2182/mesos"),
    ((["zk1"], "/mesos", "", ""), "zk://zk1:2181/mesos"),
])
def test_zk_url(args, expected):
    assert zkf.zk_url(*args) == expected


@pytest.mark.parametrize("args,fragment", [
    ((["zk1"], "mesos"), "absolute"),
    ((["zk1"], "/"), "absolute"),
    ((["zk1"], "/mesos/"), "trailing"),
    ((["zk1"], "/a//b"), "absolute"),
    ((["zk1"], "/a/../b"), "absolute"),
    ((["zk1"], "/a b"), "white space"),
    ((["zk1"], None), "absolute"),
    (([], "/mesos"), "non-empty"),
    ((["zk1"], "/mesos", "acme", None), "together"),
    ((["zk1"], "/mesos", None, "pw"), "together"),
    ((["zk1"], "/mesos", "ac:me", "pw"), "user must not"),
    ((["zk1"], "/mesos", "acme", "p@ss"), "password must be"),
])
def test_zk_url_rejects(args, fragment):
    with pytest.raises(AnsibleFilterError) as err:
        zkf.zk_url(*args)
    assert "zk_url" in str(err.value)
    assert fragment in str(err.value)


def test_zk_url_never_echoes_the_password():
    with pytest.raises(AnsibleFilterError) as err:
        zkf.zk_url(["zk1"], "/m", "acme", "top/secret")
    assert "top/secret" not in str(err.value)


@pytest.mark.parametrize("n,expected", [
    (1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4), (7, 4), ("3", 2),
    (["m1", "m2", "m3"], 2),
])
def test_quorum_size(n, expected):
    assert zkf.quorum_size(n) == expected


@pytest.mark.parametrize("n", [0, -1, "x", None, 1.5, "2.0", True, [], ""])
def test_quorum_size_rejects(n):
    with pytest.raises(AnsibleFilterError) as err:
        zkf.quorum_size(n)
    assert "quorum_size" in str(err.value)


@pytest.mark.parametrize("user,password,expected", [
    # Known answers printed by ZooKeeper 3.8's own
    # org.apache.zookeeper.server.auth.DigestAuthenticationProvider.
    ("super", "s3cret", "super:3/BRixgtJK5zIu/gWZCB29+Rzoo="),
    ("acme", "pa55word", "acme:cpmxRVihBCotwoSnniNsYAAIo/s="),
])
def test_zk_digest_known_answers(user, password, expected):
    assert zkf.zk_digest(user, password) == expected


@pytest.mark.parametrize("user,password", [("u", "p"), ("tenant-1", "ünïcode"), ("x", "a:b:c")])
def test_zk_digest_matches_kazoo(user, password):
    assert zkf.zk_digest(user, password) == make_digest_acl_credential(user, password)


@pytest.mark.parametrize("user,password,fragment", [
    ("", "pw", "user"), ("a:b", "pw", "user"), (None, "pw", "user"),
    ("acme", "", "password"), ("acme", None, "password"),
])
def test_zk_digest_rejects(user, password, fragment):
    with pytest.raises(AnsibleFilterError) as err:
        zkf.zk_digest(user, password)
    assert "zk_digest" in str(err.value)
    assert fragment in str(err.value)


def test_filters_are_registered():
    names = set(zkf.FilterModule().filters())
    assert names == {"zk_connect_string", "zk_url", "quorum_size", "zk_digest", "zookeeper_peers"}


def test_zookeeper_peers_prefers_shared_facts_then_inventory_then_defaults():
    hostvars = {
        "zk1": {"__zookeeper_server": {"host": "zk1", "id": 3, "address": "10.0.0.1", "client_port": 2181,
                                       "peer_port": 2888, "election_port": 3888}},
        "zk2": {"zookeeper_id": 1, "zookeeper_address": "10.0.0.2", "zookeeper_peer_port": 2999},
        "zk3": {"zookeeper_id": 2},
    }
    peers = zkf.zookeeper_peers(["zk1", "zk2", "zk3"], hostvars, 2181, 2888, 3888)
    assert peers[0]["address"] == "10.0.0.1" and peers[0]["id"] == 3
    assert peers[1] == {"host": "zk2", "id": 1, "address": "10.0.0.2", "client_port": 2181,
                        "peer_port": 2999, "election_port": 3888}
    assert peers[2]["address"] == "zk3" and peers[2]["id"] == 2


@pytest.mark.parametrize("hosts,fragment", [("zk1", "must be a list"), (["nope"], "not in the inventory")])
def test_zookeeper_peers_rejects(hosts, fragment):
    with pytest.raises(AnsibleFilterError) as err:
        zkf.zookeeper_peers(hosts, {"zk1": {}})
    assert fragment in str(err.value)
