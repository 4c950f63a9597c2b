"""Exhibitor's HTTP API belongs to the operator. Only GET cluster/list (discovery)
answers without credentials; the UI, the config editor (where CVE-2019-5029's
command injection lives), the control calls, the cluster state and the Explorer
refuse anyone without the operator's account, or with a wrong one, and the
Explorer changes no znode even for the operator (--nodemodification false).
Run by the exhibitor-nfs scenario only."""
import json
import time

import pytest
from kazoo.client import KazooClient

from test_exhibitor import ADMIN, SERVERS, ZK_HOSTS, docker_exec, exhibitor_call, read_shared_config, zk_pid

ADDRESSES = list(SERVERS.values())
FIRST, OTHER = ADDRESSES[0], ADDRESSES[1]
MARKER = "/tmp/paas-cve-2019-5029"
PROBE_ZNODE = "paas-security-probe"
HEX_DATA = json.dumps("6869").encode()

# Every kind of call but GET cluster/list: each must answer 401 without the operator's account.
PROTECTED = [
    ("GET", "/", None),
    ("GET", "/exhibitor/v1/ui/index.html", None),
    ("GET", "/exhibitor/v1/config/get-state", None),
    ("POST", "/exhibitor/v1/config/set", "cve"),
    ("POST", "/exhibitor/v1/config/set-rolling", "cve"),
    ("GET", "/exhibitor/v1/config/rollback-rolling", None),
    ("GET", "/exhibitor/v1/config/force-commit-rolling", None),
    ("GET", "/exhibitor/v1/cluster/status", None),
    ("GET", "/exhibitor/v1/cluster/state", None),
    ("GET", "/exhibitor/v1/cluster/state/{other}", None),
    ("GET", "/exhibitor/v1/cluster/4ltr/mntr", None),
    ("GET", "/exhibitor/v1/cluster/log", None),
    ("GET", "/exhibitor/v1/cluster/stop", None),
    ("GET", "/exhibitor/v1/cluster/restart", None),
    ("GET", "/exhibitor/v1/cluster/start", None),
    ("GET", "/exhibitor/v1/cluster/stop/{other}", None),
    ("GET", "/exhibitor/v1/cluster/restart/{other}", None),
    ("GET", "/exhibitor/v1/cluster/set/restarts/false", None),
    ("GET", "/exhibitor/v1/explorer/node?key=/", None),
    ("GET", "/exhibitor/v1/explorer/node-data?key=/before-switch", None),
    ("PUT", "/exhibitor/v1/explorer/znode/" + PROBE_ZNODE, "hex"),
    ("DELETE", "/exhibitor/v1/explorer/znode/before-switch", None),
    # Only GET is open on cluster/list, and nothing else is, even a path Exhibitor does not know.
    ("POST", "/exhibitor/v1/cluster/list", "hex"),
    ("GET", "/exhibitor/v1/control/stop", None),
]
WRONG = {
    "anonymous": None,
    "wrong-password": (ADMIN[0], ADMIN[1] + "-wrong"),
    "wrong-user": ("tenant", ADMIN[1]),
    "empty-password": (ADMIN[0], ""),
}


def operator_config():
    code, _headers, body = exhibitor_call(FIRST, "/exhibitor/v1/config/get-state", auth=ADMIN)
    assert code == 200
    return json.loads(body)["config"]


def cve_payload():
    """The config editor's JSON with CVE-2019-5029's injection in java.env: Exhibitor would run
    it when it (re)starts ZooKeeper, as the Exhibitor user."""
    config = operator_config()
    config["javaEnvironment"] = "$(touch %s)" % MARKER
    return json.dumps(config).encode()


def zk_exists(path):
    client = KazooClient(hosts=ZK_HOSTS, timeout=10)
    client.start(timeout=15)
    try:
        return client.exists(path) is not None
    finally:
        client.stop()
        client.close()


@pytest.fixture(scope="module")
def untouched():
    """What must not change while the calls of this module are made: ZooKeeper's processes, the
    znodes; and the injected command reaches neither the shared configuration nor any host."""
    pids = {name: zk_pid(name) for name in SERVERS}
    assert all(pids.values())
    assert zk_exists("/before-switch") and not zk_exists("/" + PROBE_ZNODE)
    yield pids
    assert {name: zk_pid(name) for name in SERVERS} == pids, "ZooKeeper was stopped or restarted"
    assert MARKER not in read_shared_config()
    assert all(MARKER not in docker_exec(name, "cat", "/opt/zookeeper-exhibitor/conf/java.env").stdout
               for name in SERVERS)
    assert zk_exists("/before-switch") and not zk_exists("/" + PROBE_ZNODE)
    for name in SERVERS:
        assert docker_exec(name, "test", "-e", MARKER).returncode == 1, "%s ran the injected command" % name


@pytest.mark.parametrize("who", sorted(WRONG))
@pytest.mark.parametrize("method,path,body", PROTECTED, ids=["%s %s" % (m, p) for m, p, _b in PROTECTED])
def test_refused_without_the_operators_account(untouched, who, method, path, body):
    data = {"cve": cve_payload, "hex": lambda: HEX_DATA, None: lambda: None}[body]()
    code, headers, _body = exhibitor_call(FIRST, path.format(other=OTHER), method=method, auth=WRONG[who], body=data)
    assert code == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="Exhibitor"'


def test_discovery_answers_anyone():
    for address in ADDRESSES:
        code, _headers, body = exhibitor_call(address, "/exhibitor/v1/cluster/list")
        assert code == 200
        assert sorted(json.loads(body)["servers"]) == sorted(ADDRESSES)


def test_explorer_changes_no_znode_even_for_the_operator(untouched):
    code, _headers, _body = exhibitor_call(FIRST, "/exhibitor/v1/explorer/znode/" + PROBE_ZNODE, method="PUT",
                                           auth=ADMIN, body=HEX_DATA)
    assert code == 403
    code, _headers, _body = exhibitor_call(FIRST, "/exhibitor/v1/explorer/znode/before-switch", method="DELETE",
                                           auth=ADMIN)
    assert code == 403
    # Reading stays the operator's.
    code, _headers, body = exhibitor_call(FIRST, "/exhibitor/v1/explorer/node-data?key=/before-switch", auth=ADMIN)
    assert code == 200
    assert json.loads(body)["str"] == "written under systemd"


def test_the_operator_reads_and_sets_the_config(untouched):
    """config/get and config/set work with the operator's account: the same configuration set
    back is accepted and, unchanged, restarts nothing (the fixture checks)."""
    config = operator_config()
    assert config["serversSpec"] == ",".join("S:%d:%s" % (i, a) for i, a in enumerate(ADDRESSES, start=1))
    code, _headers, body = exhibitor_call(FIRST, "/exhibitor/v1/config/set", method="POST", auth=ADMIN,
                                          body=json.dumps(config).encode())
    assert code == 200
    assert json.loads(body)["succeeded"] is True, body
    # Longer than Exhibitor's config and ZooKeeper checks (5 s here): a restart would show.
    time.sleep(12)


def test_the_password_is_only_in_the_realm_file(host):
    realm = host.file("/etc/exhibitor/realm.properties")
    assert (realm.user, realm.group, realm.mode) == ("exhibitor", "zookeeper", 0o600)
    assert ADMIN[1] in realm.content_string
    web_xml = host.file("/etc/exhibitor/web.xml")
    assert (web_xml.user, web_xml.mode) == ("root", 0o640)
    unit = host.file("/etc/systemd/system/exhibitor.service").content_string
    assert "--remoteauth basic:%s" % ADMIN[0] in unit and "--nodemodification false" in unit
    assert ADMIN[1] not in unit
    procs = [p for p in host.process.filter(comm="java") if "exhibitor" in p.args and "QuorumPeerMain" not in p.args]
    assert len(procs) == 1 and ADMIN[1] not in procs[0].args
    assert ADMIN[1] not in host.check_output("journalctl --no-pager -u exhibitor")
