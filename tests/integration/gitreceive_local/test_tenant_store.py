"""gitreceive's side of the tenants' records against a real ZooKeeper on loopback: the
records written with the ACLs tenant.yml gives them, read by TenantStore with the git
hosts' digest user, and ``gitreceive authorized-keys`` run as sshd runs it (stdout only
key lines). Skips when Debian's zookeeper package is not installed."""
import base64
import hashlib
import json
import os
import struct
import subprocess
import sys
import time

import pytest
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl

from paas_testlib.standin_stack import free_port, loopback_zookeeper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PROGRAM = os.path.join(ROOT, "roles", "gitreceive", "files", "gitreceive.py")
sys.path.insert(0, os.path.dirname(PROGRAM))
import gitreceive as gr  # noqa: E402

ADMIN = ("admin", "admin-pw")
GIT = ("gitreceive", "git-pw-123")


def make_key(seed, comment):
    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + (seed * 32)[:32]
    return "ssh-ed25519 %s %s" % (base64.b64encode(blob).decode(), comment)


@pytest.fixture(scope="module")
def zk_port(tmp_path_factory):
    yield from loopback_zookeeper(str(tmp_path_factory.mktemp("zk")))


@pytest.fixture(scope="module")
def admin(zk_port):
    client = KazooClient(hosts="127.0.0.1:%d" % zk_port, auth_data=[("digest", "%s:%s" % ADMIN)])
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()


def record(token, pushers=()):
    return json.dumps({"token_sha256": hashlib.sha256(token.encode()).hexdigest(), "marathon_username": "x",
                       "marathon_password": "y", "quota": {}, "pushers": list(pushers)}, sort_keys=True).encode()


@pytest.fixture(scope="module")
def tree(admin, tmp_path_factory):
    """/paas/tenants locked like tenant.yml locks it; acme and beta with records; gamma's
    record unreadable for the git hosts; delta without a record."""
    locked = [make_digest_acl(*ADMIN, all=True), make_digest_acl(*GIT, read=True)]
    admin.create("/paas", b"", acl=locked)
    admin.create("/paas/tenants", b"", acl=locked)
    keys = {n: make_key(n.encode(), n) for n in ("dave", "erin", "fred")}
    for name, pushers in (("acme", [{"name": "dave", "key": keys["dave"]}]),
                          ("beta", [{"name": "erin", "key": keys["erin"]}, {"name": "bad name", "key": keys["fred"]}]),
                          ("gamma", [{"name": "fred", "key": keys["fred"]}])):
        admin.create("/paas/tenants/" + name, b"", acl=[make_digest_acl(*ADMIN, all=True)])
        acl = locked if name != "gamma" else [make_digest_acl(*ADMIN, all=True)]
        admin.create("/paas/tenants/%s/gitreceive" % name, record("token-of-" + name, pushers), acl=acl)
    admin.create("/paas/tenants/delta", b"", acl=[make_digest_acl(*ADMIN, all=True)])
    return keys


def cfg(zk_port, tmp, **extra):
    out = {"user": "git", "program": "/usr/local/bin/gitreceive", "zk_hosts": "127.0.0.1:%d" % zk_port,
           "zk_tenants_path": "/paas/tenants", "zk_username": GIT[0], "zk_password": GIT[1],
           "pusher_files": [str(tmp / "pushers.json")], "uploaded_pushers_file": str(tmp / "uploaded.json"),
           "repos_dir": str(tmp / "repos"), "authorized_keys": str(tmp / "authorized_keys")}
    out.update(extra)
    return out


def test_the_store_reads_records_with_the_git_hosts_user(zk_port, tree, tmp_path):
    with gr.TenantStore(cfg(zk_port, tmp_path)) as store:
        assert store.tenants(strict=True) == ["acme", "beta", "delta", "gamma"]
        acme = store.record("acme")
        assert gr.check_token("token-of-acme", acme["token_sha256"])
        assert not gr.check_token("token-of-beta", acme["token_sha256"])
        assert store.record("delta") is None  # a namespace without a record
        assert store.record("nope") is None
        with pytest.raises(gr.Refused, match="may not read its record"):
            store.record("gamma")
        assert sorted(store.records()) == ["acme", "beta"]  # gamma's unreadable record is skipped
        assert store.zk is not None
    assert store.zk is None  # closed on leaving


def test_a_key_pushes_only_to_the_tenants_whose_record_lists_it(zk_port, tree, tmp_path):
    c = cfg(zk_port, tmp_path)
    dave = gr.key_fingerprint(tree["dave"])
    with gr.TenantStore(c) as store:
        assert gr.authorize(c, store, dave, "acme")["marathon_username"] == "x"
        with pytest.raises(gr.Refused, match="not registered for tenant 'beta'"):
            gr.authorize(c, store, dave, "beta")
        with pytest.raises(gr.Refused, match="not registered for tenant 'delta'"):
            gr.authorize(c, store, dave, "delta")


def test_wrong_credentials_and_a_wrong_path_are_refused_clearly(zk_port, tree, tmp_path):
    with gr.TenantStore(cfg(zk_port, tmp_path, zk_password="wrong")) as store:
        with pytest.raises(gr.Refused, match="may not list /paas/tenants"):
            store.tenants()
        with pytest.raises(gr.Refused, match="may not read its record"):
            store.record("acme")
    with gr.TenantStore(cfg(zk_port, tmp_path, zk_tenants_path="/paas/tenantz")) as store:
        assert store.tenants() == []
        with pytest.raises(gr.Refused, match="does not exist"):
            store.tenants(strict=True)


def _authorized_keys(conf, tmp):
    """As sshd runs it: the key lookup's own configuration (ZooKeeper settings only) named on
    the command line; the main configuration is not readable (not even there)."""
    keys_conf = {k: conf[k] for k in ("user", "program", "zk_hosts", "zk_tenants_path", "zk_username",
                                      "zk_password")}
    keys_conf["keys_zk_timeout"] = 3
    path = tmp / "keys.json"
    path.write_text(json.dumps(keys_conf))
    env = dict(os.environ, GITRECEIVE_CONFIG=str(tmp / "missing" / "config.json"))
    start = time.monotonic()
    res = subprocess.run([sys.executable, PROGRAM, "authorized-keys", "git", str(path)], capture_output=True,
                         text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
    res.seconds = time.monotonic() - start
    return res


def test_authorized_keys_prints_only_key_lines(zk_port, tree, tmp_path):
    res = _authorized_keys(cfg(zk_port, tmp_path), tmp_path)
    assert res.returncode == 0, res.stderr
    lines = [line for line in res.stdout.splitlines() if not line.startswith("#")]
    assert lines == [gr.authorized_keys_line("dave", tree["dave"]), gr.authorized_keys_line("erin", tree["erin"])]
    assert "may not read its record" in res.stderr  # gamma, logged (syslog and stderr), not printed


def test_authorized_keys_without_zookeeper_fails_fast_and_prints_no_key(tmp_path):
    dead = free_port()
    res = _authorized_keys(cfg(dead, tmp_path), tmp_path)
    assert res.returncode != 0
    assert res.stdout.strip() == ""
    assert "did not answer" in res.stderr
    assert res.seconds < 10, res.seconds  # keys_zk_timeout (3 s), not the 10 s of pushes


def test_prune_keeps_existing_tenants_and_refuses_a_missing_path(zk_port, tree, tmp_path):
    for name in ("acme", "delta", "gone"):
        (tmp_path / "repos" / name / "dev").mkdir(parents=True)
    with pytest.raises(gr.Refused, match="does not exist"):
        gr.cmd_prune(cfg(zk_port, tmp_path, zk_tenants_path="/paas/tenantz"))
    assert sorted(os.listdir(tmp_path / "repos")) == ["acme", "delta", "gone"]
    gr.cmd_prune(cfg(zk_port, tmp_path))
    assert sorted(os.listdir(tmp_path / "repos")) == ["acme", "delta"]
