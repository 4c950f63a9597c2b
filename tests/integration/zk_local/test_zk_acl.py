"""zk_acl against a real ZooKeeper on loopback (Debian's package) with a digest superuser:
the moves site.yml makes to lock the platform's trees (the root closed to the world, a
service's tree given to its own user, an election path left readable), idempotence, check
mode, diff, and bad input refused before anything is read. Skips without ZooKeeper."""
import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import OPEN_ACL_UNSAFE, make_digest_acl, make_digest_acl_credential

from paas_testlib.ansible_run import run_module
from paas_testlib.standin_stack import loopback_zookeeper

SUPER = ("super", "super-pw-1")
MARATHON = ("marathon", "marathon-pw-2")


def digest(user, password):
    return make_digest_acl_credential(user, password).split(":", 1)[1]


@pytest.fixture(scope="module")
def zk_hosts(tmp_path_factory):
    for port in loopback_zookeeper(str(tmp_path_factory.mktemp("zk")), super_digest="super:" + digest(*SUPER)):
        yield "127.0.0.1:%d" % port


def client(hosts, cred=None):
    c = KazooClient(hosts=hosts, auth_data=[("digest", "%s:%s" % cred)] if cred else [])
    c.start(timeout=15)
    return c


@pytest.fixture(scope="module")
def tree(zk_hosts):
    """An open /marathon tree as a Marathon without credentials leaves it."""
    c = client(zk_hosts)
    for path in ("/marathon/state/apps", "/marathon/leader-curator/latch-0001", "/other"):
        c.ensure_path(path)
    yield c
    c.stop()
    c.close()


def args(hosts, **kw):
    base = {"hosts": hosts, "auth": [{"credential": "%s:%s" % SUPER}]}
    base.update(kw)
    return base


MARATHON_ACL = [{"scheme": "digest", "id": "marathon:" + digest(*MARATHON), "perms": "all"}]
READ_ALL = [{"scheme": "world", "id": "anyone", "perms": "r"}]


def test_a_subtree_is_given_to_its_service_and_the_election_path_stays_readable(zk_hosts, tree):
    lock = args(zk_hosts, path="/marathon", recursive=True, acl=MARATHON_ACL,
                subtree_acls={"leader-curator": MARATHON_ACL + READ_ALL})
    check = run_module("zk_acl", lock, check=True, diff=True)
    assert check.changed and not check.failed, check.result
    assert "/marathon/state/apps" in check.result["acl_changed"]
    assert tree.get_acls("/marathon/state")[0] == OPEN_ACL_UNSAFE, "check mode changed an ACL"

    first = run_module("zk_acl", lock, diff=True)
    assert first.changed, first.result
    assert set(first.result["acl_changed"]) == {"/marathon", "/marathon/state", "/marathon/state/apps",
                                                  "/marathon/leader-curator", "/marathon/leader-curator/latch-0001"}
    assert "world:anyone:rwcda" in first.result["diff"]["before"]
    again = run_module("zk_acl", lock)
    assert not again.changed and again.result["checked"] == 5, again.result

    with pytest.raises(NoAuthError):
        tree.create("/marathon/state/forged", b"x")
    with pytest.raises(NoAuthError):
        tree.get("/marathon/state/apps")
    # The election path: anyone reads (other instances find the leader), nobody else writes.
    assert tree.get("/marathon/leader-curator/latch-0001") is not None
    with pytest.raises(NoAuthError):
        tree.delete("/marathon/leader-curator/latch-0001")
    owner = client(zk_hosts, MARATHON)
    try:
        owner.create("/marathon/state/apps/app1", b"{}", acl=[make_digest_acl(*MARATHON, all=True)])
        assert owner.get("/marathon/state/apps/app1")[0] == b"{}"
    finally:
        owner.stop()
        owner.close()


def test_the_root_is_closed_to_the_world_but_not_its_children(zk_hosts, tree):
    lock = args(zk_hosts, path="/", acl=READ_ALL)
    first = run_module("zk_acl", lock)
    assert first.changed and first.result["acl_changed"] == ["/"], first.result
    assert not run_module("zk_acl", lock).changed
    with pytest.raises(NoAuthError):
        tree.create("/forged-mesos", b"")
    assert tree.get_children("/")  # still readable
    assert tree.get_acls("/other")[0] == OPEN_ACL_UNSAFE, "a non-recursive run changed a child"
    # The superuser still creates top-level nodes (tenant.yml's /paas).
    sup = client(zk_hosts, SUPER)
    try:
        sup.create("/paas-made-by-super", b"")
    finally:
        sup.stop()
        sup.close()


def test_a_missing_path_is_reported_or_refused(zk_hosts, tree):
    res = run_module("zk_acl", args(zk_hosts, path="/not-there", acl=READ_ALL))
    assert not res.changed and res.result["missing"] is True, res.result
    res = run_module("zk_acl", args(zk_hosts, path="/not-there", acl=READ_ALL, must_exist=True))
    assert res.failed and "/not-there does not exist" in res.msg


def test_without_the_superuser_the_change_is_refused_with_a_message(zk_hosts, tree):
    res = run_module("zk_acl", {"hosts": zk_hosts, "path": "/marathon", "acl": READ_ALL})
    assert res.failed and "NoAuth" in res.msg and "auth" in res.msg, res.result


@pytest.mark.parametrize("bad,field", [
    ({"path": "marathon"}, "path"),
    ({"path": "/a//b"}, "path"),
    ({"acl": [{"scheme": "world", "id": "anyone", "perms": "rx"}]}, "acl[0].perms"),
    ({"acl": []}, "acl"),
    ({"subtree_acls": {"/abs": READ_ALL}, "recursive": True}, "subtree_acls['/abs']"),
    ({"subtree_acls": {"x": READ_ALL}}, "subtree_acls"),
    ({"timeout": 0}, "timeout"),
])
def test_bad_input_names_the_field_before_connecting(bad, field):
    params = {"hosts": "127.0.0.1:9", "path": "/marathon", "acl": READ_ALL}
    params.update(bad)
    res = run_module("zk_acl", params)
    assert res.failed and res.result.get("field") == field, res.result
