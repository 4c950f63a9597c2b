"""zk_namespace against a real ZooKeeper ensemble, run through Ansible itself."""
import uuid

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_digest_acl

from paas_testlib.ansible_run import run_module


def ns(zk_hosts, path, **kw):
    args = {"hosts": zk_hosts, "path": path}
    args.update(kw)
    return args


def test_creates_a_tree_and_a_second_run_changes_nothing(zk, zk_hosts, base):
    args = ns(zk_hosts, base + "/tenants/acme", data="tenant=acme",
              nodes={"marathon": "", "config/owner": "acme", "config/quota": "cpus=4"})
    first = run_module("zk_namespace", args)
    assert first.rc == 0 and first.changed, first.result
    assert first.result["created"] == [base, base + "/tenants", base + "/tenants/acme", base + "/tenants/acme/config",
                                       base + "/tenants/acme/marathon", base + "/tenants/acme/config/owner",
                                       base + "/tenants/acme/config/quota"]
    assert zk.get(base + "/tenants/acme")[0] == b"tenant=acme"
    assert zk.get(base + "/tenants/acme/config/owner")[0] == b"acme"
    assert sorted(zk.get_children(base + "/tenants/acme")) == ["config", "marathon"]

    second = run_module("zk_namespace", args)
    assert second.rc == 0
    assert second.changed is False
    assert second.result["created"] == second.result["updated"] == second.result["acl_changed"] == []


def test_unicode_data_is_not_reported_as_changed(zk_hosts, base):
    # community.general.znode compares str with bytes and reports changed every time.
    args = ns(zk_hosts, base, data="Zürich ✓", nodes={"ünï": "ça va"})
    assert run_module("zk_namespace", args).changed
    assert run_module("zk_namespace", args).changed is False


def test_check_mode_reports_and_writes_nothing(zk, zk_hosts, base):
    run = run_module("zk_namespace", ns(zk_hosts, base + "/a", nodes={"b": "x"}), check=True, diff=True)
    assert run.rc == 0 and run.changed
    assert run.result["created"] == [base, base + "/a", base + "/a/b"]
    assert "+" in "".join(run.result["diff"]["after"]) or run.result["diff"]["after"]
    assert zk.exists(base) is None


def test_data_change_is_reported_with_diff(zk, zk_hosts, base):
    run_module("zk_namespace", ns(zk_hosts, base, data="v1", nodes={"cfg": "one"}))
    check = run_module("zk_namespace", ns(zk_hosts, base, data="v2", nodes={"cfg": "two"}), check=True, diff=True)
    assert check.changed and zk.get(base)[0] == b"v1"

    run = run_module("zk_namespace", ns(zk_hosts, base, data="v2", nodes={"cfg": "two"}), diff=True)
    assert run.changed
    assert run.result["updated"] == [base, base + "/cfg"]
    assert run.result["created"] == []
    diff = run.result["diff"]
    assert "'v1'" in diff["before"] and "'v2'" in diff["after"]
    assert "'one'" in diff["before"] and "'two'" in diff["after"]
    assert zk.get(base)[0] == b"v2" and zk.get(base + "/cfg")[0] == b"two"


def test_omitted_data_and_null_node_values_leave_data_alone(zk, zk_hosts, base):
    run_module("zk_namespace", ns(zk_hosts, base, data="keep", nodes={"n": "mine"}))
    run = run_module("zk_namespace", ns(zk_hosts, base, nodes={"n": None, "m": None}))
    assert run.result["created"] == [base + "/m"] and run.result["updated"] == []
    assert zk.get(base)[0] == b"keep" and zk.get(base + "/n")[0] == b"mine"


def _digest(user, password):
    from kazoo.security import make_digest_acl_credential
    return make_digest_acl_credential(user, password)


def test_digest_acl_locks_out_others_but_not_the_owner(zk, zk_hosts, base, superuser):
    acl = [{"scheme": "digest", "id": _digest("owner", "0wner-pw"), "perms": "all"}]
    run = run_module("zk_namespace", ns(zk_hosts, base + "/locked", nodes={"child": "x"}, acl=acl,
                                        auth=[{"credential": "owner:0wner-pw"}]))
    assert run.rc == 0 and run.changed, run.result
    assert zk.get_acls(base + "/locked")[0] == [make_digest_acl("owner", "0wner-pw", all=True)]
    assert zk.get_acls(base + "/locked/child")[0] == [make_digest_acl("owner", "0wner-pw", all=True)]

    anonymous = KazooClient(hosts=zk_hosts, timeout=10)
    anonymous.start(timeout=15)
    try:
        with pytest.raises(NoAuthError):
            anonymous.set(base + "/locked", b"intruder")
        with pytest.raises(NoAuthError):
            anonymous.create(base + "/locked/intruder", b"")
        with pytest.raises(NoAuthError):
            anonymous.get(base + "/locked/child")
    finally:
        anonymous.stop()
        anonymous.close()

    owner = KazooClient(hosts=zk_hosts, timeout=10, auth_data=[("digest", "owner:0wner-pw")])
    owner.start(timeout=15)
    try:
        owner.set(base + "/locked/child", b"owner wrote this")
        assert owner.get(base + "/locked/child")[0] == b"owner wrote this"
    finally:
        owner.stop()
        owner.close()

    # Same input again, authenticated: nothing to do.
    again = run_module("zk_namespace", ns(zk_hosts, base + "/locked", nodes={"child": None}, acl=acl,
                                          auth=[{"credential": "owner:0wner-pw"}]))
    assert again.rc == 0 and again.changed is False, again.result


def test_a_different_acl_is_corrected_and_reported(zk, zk_hosts, base):
    run_module("zk_namespace", ns(zk_hosts, base, nodes={"x": ""}))
    acl = [{"scheme": "world", "id": "anyone", "perms": "r"},
           {"scheme": "digest", "id": _digest("admin", "pw"), "perms": "all"}]
    run = run_module("zk_namespace", ns(zk_hosts, base, nodes={"x": None}, acl=acl,
                                        auth=[{"credential": "admin:pw"}]), diff=True)
    assert run.changed and run.result["acl_changed"] == [base, base + "/x"]
    assert "world:anyone:r" in run.result["diff"]["after"]
    perms = {a.id.scheme: a.perms for a in zk.get_acls(base + "/x")[0]}
    assert perms == {"world": 1, "digest": 31}
    assert run_module("zk_namespace", ns(zk_hosts, base, nodes={"x": None}, acl=acl,
                                         auth=[{"credential": "admin:pw"}])).changed is False


@pytest.fixture
def top(zk):
    """A fresh top-level path (parents_acl locks every parent: not under the shared /itest)."""
    path = "/itest-%s" % uuid.uuid4().hex[:10]
    yield path
    if zk.exists(path):
        zk.delete(path, recursive=True)


def test_parents_acl_locks_the_parents_and_a_node_keeps_its_own_acl(zk, zk_hosts, top):
    """parents_acl: missing parents created with it, existing ones corrected; a node given as
    {data, acl} gets its own ACL (a record the owner may read but not change)."""
    base = top
    admin = {"scheme": "digest", "id": _digest("admin", "pw"), "perms": "all"}
    reader = {"scheme": "digest", "id": _digest("reader", "rpw"), "perms": "r"}
    owner = {"scheme": "digest", "id": _digest("owner", "0wner-pw"), "perms": "all"}
    auth = [{"credential": "admin:pw"}, {"credential": "owner:0wner-pw"}]
    zk.ensure_path(base + "/open")  # an existing parent with the open ACL
    args = ns(zk_hosts, base + "/open/tenants/acme", acl=[owner, admin], parents_acl=[admin, reader], auth=auth,
              nodes={"record": {"data": "token=abc", "acl": [admin, reader]}, "state": ""})
    run = run_module("zk_namespace", args, diff=True)
    assert run.rc == 0 and run.changed, run.result
    assert run.result["acl_changed"] == [base, base + "/open"]
    assert run.result["created"] == [base + "/open/tenants", base + "/open/tenants/acme",
                                     base + "/open/tenants/acme/record", base + "/open/tenants/acme/state"]

    def perms(path):
        return {a.id.id.split(":")[0]: a.perms for a in zk.get_acls(path)[0]}
    for parent in (base, base + "/open", base + "/open/tenants"):
        assert perms(parent) == {"admin": 31, "reader": 1}, parent
    assert perms(base + "/open/tenants/acme") == {"owner": 31, "admin": 31}
    assert perms(base + "/open/tenants/acme/state") == {"owner": 31, "admin": 31}
    assert perms(base + "/open/tenants/acme/record") == {"admin": 31, "reader": 1}

    again = run_module("zk_namespace", args)
    assert again.rc == 0 and again.changed is False, again.result

    clients = {}
    try:
        for name, cred in (("anonymous", None), ("owner", "owner:0wner-pw"), ("reader", "reader:rpw")):
            c = KazooClient(hosts=zk_hosts, timeout=10, auth_data=[("digest", cred)] if cred else None)
            c.start(timeout=15)
            clients[name] = c
        with pytest.raises(NoAuthError):  # nobody but the admin adds namespaces next to acme
            clients["anonymous"].create(base + "/open/tenants/intruder", b"")
        with pytest.raises(NoAuthError):
            clients["owner"].create(base + "/open/tenants/intruder", b"")
        with pytest.raises(NoAuthError):  # the owner cannot change its record ...
            clients["owner"].set(base + "/open/tenants/acme/record", b"token=mine")
        clients["owner"].set(base + "/open/tenants/acme/state", b"ok")  # ... but owns the rest
        assert clients["reader"].get(base + "/open/tenants/acme/record")[0] == b"token=abc"
        assert clients["reader"].get_children(base + "/open/tenants") == ["acme"]
        with pytest.raises(NoAuthError):
            clients["reader"].set(base + "/open/tenants/acme/record", b"x")
    finally:
        for c in clients.values():
            c.stop()
            c.close()

    # A record whose ACL was widened by hand is corrected.
    zk.set_acls(base + "/open/tenants/acme/record", zk.get_acls(base + "/open/tenants/acme")[0])
    fixed = run_module("zk_namespace", args)
    assert fixed.changed and fixed.result["acl_changed"] == [base + "/open/tenants/acme/record"], fixed.result
    assert perms(base + "/open/tenants/acme/record") == {"admin": 31, "reader": 1}


def test_absent_without_recursive_refuses_and_deletes_nothing(zk, zk_hosts, base):
    run_module("zk_namespace", ns(zk_hosts, base, nodes={"a/b": "1", "c": "2"}))
    run = run_module("zk_namespace", ns(zk_hosts, base, state="absent"))
    assert run.rc != 0 and run.result["failed"]
    assert "2 child node(s) (a, c)" in run.msg and "recursive" in run.msg
    assert run.result["deleted"] == []
    for node in (base, base + "/a", base + "/a/b", base + "/c"):
        assert zk.exists(node) is not None


def test_absent_recursive_check_mode_then_for_real_then_again(zk, zk_hosts, base):
    run_module("zk_namespace", ns(zk_hosts, base, nodes={"a/b": "1", "c": "2"}))
    check = run_module("zk_namespace", ns(zk_hosts, base, state="absent", recursive=True), check=True, diff=True)
    assert check.changed and set(check.result["deleted"]) == {base, base + "/a", base + "/a/b", base + "/c"}
    assert zk.exists(base + "/a/b") is not None

    run = run_module("zk_namespace", ns(zk_hosts, base, state="absent", recursive=True))
    assert run.changed and run.result["deleted"][-1] == base
    assert zk.exists(base) is None
    assert run_module("zk_namespace", ns(zk_hosts, base, state="absent", recursive=True)).changed is False


INVALID = [
    # (extra args, field named in the message)
    ({"path": "relative/path"}, "path"),
    ({"path": "/"}, "path"),
    ({"path": "/a/"}, "path"),
    ({"path": "/a//b"}, "path"),
    ({"path": "/a/./b"}, "path"),
    ({"path": "/a/../b"}, "path"),
    ({"path": "/zookeeper"}, "path"),
    ({"path": "/zookeeper/config"}, "path"),
    ({"path": "/a\u0001b"}, "path"),
    ({"path": ""}, "path"),
    ({"nodes": {"/abs": ""}}, "nodes"),
    ({"nodes": {"a//b": ""}}, "nodes"),
    ({"nodes": {"a/..": ""}}, "nodes"),
    ({"nodes": {"a/": ""}}, "nodes"),
    ({"acl": [{"scheme": "sasl", "id": "x", "perms": "r"}]}, "scheme"),
    ({"acl": [{"scheme": "digest", "id": "acme:notahash", "perms": "r"}]}, "acl[0].id"),
    ({"acl": [{"scheme": "digest", "id": "acme", "perms": "all"}]}, "acl[0].id"),
    ({"acl": [{"scheme": "world", "id": "everyone", "perms": "r"}]}, "acl[0].id"),
    ({"acl": [{"scheme": "ip", "id": "300.1.1.1", "perms": "r"}]}, "acl[0].id"),
    ({"acl": [{"scheme": "world", "id": "anyone", "perms": "rwx"}]}, "acl[0].perms"),
    ({"acl": [{"scheme": "world", "id": "anyone", "perms": ""}]}, "acl[0].perms"),
    ({"acl": [{"scheme": "world", "id": "anyone", "perms": "rr"}]}, "acl[0].perms"),
    ({"acl": [{"scheme": "world", "id": "anyone", "perms": "ALL"}]}, "acl[0].perms"),
    ({"acl": [{"scheme": "world", "id": "anyone"}]}, "perms"),
    ({"acl": [{"scheme": "auth", "perms": "all"}]}, "acl"),
    ({"acl": []}, "acl"),
    ({"auth": [{"credential": "nopassword"}]}, "auth[0].credential"),
    ({"timeout": 0}, "timeout"),
    ({"nodes": {"rec": {"data": "x", "owner": "me"}}}, "nodes['rec']"),
    ({"nodes": {"rec": {"data": ["x"]}}}, "nodes['rec']"),
    ({"nodes": {"rec": {"acl": [{"scheme": "digest", "id": "acme", "perms": "r"}]}}}, "nodes['rec'].acl[0].id"),
    ({"parents_acl": [{"scheme": "world", "id": "anyone", "perms": "rwz"}]}, "parents_acl[0].perms"),
    ({"state": "absent", "data": "x"}, "state"),
]


@pytest.mark.parametrize("extra,field", INVALID, ids=[repr(i[0])[:60] for i in INVALID])
def test_invalid_input_fails_before_any_write(zk, zk_hosts, base, extra, field):
    args = ns(zk_hosts, base + "/target", nodes={"child": "x"})
    args.update(extra)
    run = run_module("zk_namespace", args)
    assert run.rc != 0 and run.result.get("failed"), run.result
    assert field in run.msg, run.msg
    assert "Traceback" not in run.stdout + run.stderr
    assert zk.exists(base) is None, "nothing may be written for invalid input"


def test_unreachable_ensemble_fails_with_the_hosts_named():
    hosts = "127.0.0.1:1,127.0.0.1:2"
    run = run_module("zk_namespace", {"hosts": hosts, "path": "/x", "timeout": 2})
    assert run.rc != 0 and run.result["failed"]
    assert hosts in run.msg and "could not connect" in run.msg
    assert "Traceback" not in run.stdout + run.stderr
