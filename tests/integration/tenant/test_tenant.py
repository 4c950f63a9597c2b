"""tenant.yml on the converged site: two tenants, isolation, idempotence, bad input, removal.

The tests run in file order and share the tenants they create; the last one
removes what is left, so the cluster is as before for later tests.
"""
import base64
import json
import os
import shutil
import subprocess
import stat
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError, NoNodeError

from paas_testlib import mesos as mh
from paas_testlib import zk as zkh
from paas_testlib.ansible_run import failed_task_messages, run_playbook

ROOT = os.environ.get("MOLECULE_PROJECT_DIRECTORY") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))

PLAYBOOK = os.path.join(ROOT, "tenant.yml")
# PAAS_TENANT_TEST_SECRETS: another directory, to run these tests against another cluster.
SECRETS = os.environ.get("PAAS_TENANT_TEST_SECRETS") or os.path.join(ROOT, "build", "tenant-test-secrets")
TENANTS = ("acme", "globex")
# Added while the central Marathon leader is stopped (the last test).
FAULT_TENANT = "initech"
# Small tenant Marathons: the site's agents have 1 GB each.
SIZE = {"tenant_cpus": 0.2, "tenant_mem": 256}

_runs = {}


def tenant(tsite, image, name, state="present", check=False, **extra):
    extra_vars = {"tenant_state": state, "paas_secrets_dir": SECRETS, "tenant_wait_timeout": 300}
    if name is not None:
        extra_vars["tenant_name"] = name
    if image:
        extra_vars["paas_marathon_image"] = image
    extra_vars.update(SIZE)
    if tsite.zk_superuser:
        extra_vars["tenant_zk_superuser_password"] = tsite.zk_superuser.split(":", 1)[1]
    extra_vars.update(extra)
    return run_playbook(PLAYBOOK, inventory=tsite.inventory, extra_vars=extra_vars, check=check, timeout=900)


def docker_exec(name, *cmd, timeout=120):
    return subprocess.run(["docker", "exec", name] + list(cmd), capture_output=True, text=True, timeout=timeout)


def both(fn):
    with ThreadPoolExecutor(len(TENANTS)) as pool:
        return dict(zip(TENANTS, pool.map(fn, TENANTS)))


def secrets(name):
    with open(os.path.join(SECRETS, "tenants", name, "secrets.yml")) as fh:
        return yaml.safe_load(fh)


def zk(tsite, auth=None):
    client = KazooClient(hosts=tsite.zk_hosts, timeout=10, auth_data=[("digest", auth)] if auth else None)
    client.start(timeout=15)
    return client


def tenant_urls(tsite, name):
    res = tsite_marathon(tsite, "/v2/apps/tenants/%s" % name)
    assert res.status == 200, res.body
    return ["http://%s:%d" % (t["host"], t["ports"][0]) for t in res.json["app"]["tasks"]]


def tsite_marathon(tsite, path):
    res = None
    for addr in tsite.marathons.values():
        res = mh.request("http://%s%s" % (addr, path), auth=tsite.marathon_auth, timeout=10, follow=True)
        if res.status and res.status < 500:
            return res
    return res


def leader_state(tsite):
    for addr in tsite.masters.values():
        state = mh.get_json("http://%s/master/state" % addr, auth=tsite.operator_auth)
        if state and state.get("elected_time"):
            return state
    return None


def frameworks_named(tsite, name):
    state = leader_state(tsite) or {}
    return [f for f in state.get("frameworks", []) if f["name"] == name]


@pytest.fixture(scope="module", autouse=True)
def clean(tsite, marathon_image):
    """Tenants left by an earlier run are removed with their own secrets first (a namespace
    cannot be deleted without them); the last test removes what this run added."""
    for name in TENANTS + (FAULT_TENANT,):
        if os.path.exists(os.path.join(SECRETS, "tenants", name)):
            res = tenant(tsite, marathon_image, name, state="absent")
            assert res.rc == 0, failed_task_messages(res.output)
    shutil.rmtree(SECRETS, ignore_errors=True)
    yield


BAD = [
    ("uppercase", {"tenant_name": "Acme"}, "tenant_name"),
    ("starts_with_digit", {"tenant_name": "1acme"}, "tenant_name"),
    ("too_short", {"tenant_name": "ab"}, "tenant_name"),
    ("too_long", {"tenant_name": "a" * 33}, "tenant_name"),
    ("underscore", {"tenant_name": "acme_corp"}, "tenant_name"),
    ("reserved", {"tenant_name": "marathon"}, "tenant_name"),
    ("path", {"tenant_name": "../acme"}, "tenant_name"),
    ("trailing_dash", {"tenant_name": "acme-"}, "tenant_name"),
    ("empty", {"tenant_name": ""}, "tenant_name"),
    ("bad_state", {"tenant_state": "gone"}, "tenant_state"),
    ("unpinned_image", {"paas_marathon_image": "registry:5000/marathon:latest"}, "tenant_marathon_image"),
    ("no_instances", {"tenant_instances": 0}, "tenant_instances"),
    ("quota_not_a_number", {"tenant_quota": {"cpus": "many"}}, "tenant_quota"),
]


def test_bad_input_fails_before_any_change(tsite, marathon_image):
    def run(case):
        _, extra, _ = case
        extra = dict({"tenant_name": "badcase"}, **extra)
        return tenant(tsite, marathon_image, **dict({"name": extra.pop("tenant_name")}, **extra))
    with ThreadPoolExecutor(3) as pool:
        runs = list(pool.map(run, BAD))
    problems = []
    for (case, _, field), res in zip(BAD, runs):
        messages = failed_task_messages(res.output)
        if res.rc == 0 or res.changed() != 0 or not messages or not all(field in m for m in messages):
            problems.append("%s: rc=%s changed=%s %s" % (case, res.rc, res.changed(), messages))
        elif field == "tenant_name" and "3 to 32 characters" not in messages[0]:
            problems.append("%s: the message does not state the rule: %s" % (case, messages))
    assert not problems, "\n".join(problems)
    assert not os.path.exists(os.path.join(SECRETS, "tenants", "badcase"))
    assert tsite_marathon(tsite, "/v2/apps/tenants/badcase").status == 404


def test_add_two_tenants_with_one_zookeeper_server_stopped(tsite, marathon_image):
    """Both at once, while one of the three ZooKeeper servers (the last control host) is down."""
    host, addr = sorted(tsite.masters.items())[-1]
    stopped = docker_exec(host, "systemctl", "stop", "zookeeper")
    assert stopped.returncode == 0, stopped.stderr
    try:
        # One run for both (side by side, one host each): the masters learn both principals in
        # one rolling restart; two runs at once would restart the masters at the same time.
        run = tenant(tsite, marathon_image, None, tenant_names=list(TENANTS))
        runs = {name: run for name in TENANTS}
    finally:
        docker_exec(host, "systemctl", "start", "zookeeper")
    zkh.wait_for(lambda: zkh.mode(addr.split(":")[0] + ":2181") in ("follower", "leader"), 90,
                 message="ZooKeeper on %s back in the ensemble" % host)
    for name, res in runs.items():
        assert res.rc == 0, "%s: %s" % (name, failed_task_messages(res.output))
        assert res.changed() > 0
        _runs[name] = res
    for name in TENANTS:
        app = tsite_marathon(tsite, "/v2/apps/tenants/%s" % name).json["app"]
        assert app["tasksRunning"] == 1 and app["tasksHealthy"] == 1, app
        assert "--framework_name %s" % name in app["cmd"] and "--mesos_role %s" % name in app["cmd"]


def test_secrets_are_kept_on_the_controller_and_never_printed(tsite):
    for name in TENANTS:
        base = os.path.join(SECRETS, "tenants", name)
        assert stat.S_IMODE(os.stat(base).st_mode) == 0o700
        for f in ("secrets.yml", "access.yml"):
            assert stat.S_IMODE(os.stat(os.path.join(base, f)).st_mode) == 0o600, f
        values = secrets(name)
        assert set(values) == {"zk_password", "http_password", "deploy_token", "mesos_secret"}
        output = _runs[name].output
        for key, value in values.items():
            assert value not in output, "%s of %s printed" % (key, name)
        with open(os.path.join(base, "access.yml")) as fh:
            access = yaml.safe_load(fh)
        assert access["deploy_token"] == values["deploy_token"]
        assert access["paas_yml"]["token"] == values["deploy_token"]
        assert sorted(access["marathon"]["urls"]) == sorted(tenant_urls(tsite, name))
        assert "Marathon URL(s): http://" in output


def test_second_run_changes_nothing(tsite, marathon_image):
    runs = both(lambda name: tenant(tsite, marathon_image, name))
    for name, res in runs.items():
        assert res.rc == 0, failed_task_messages(res.output)
        assert res.changed() == 0, "%s: second run changed %d" % (name, res.changed())


def test_tenant_marathons_answer_with_their_credentials_only(tsite):
    for name in TENANTS:
        auth = "%s:%s" % (name, secrets(name)["http_password"])
        other = [t for t in TENANTS if t != name][0]
        for url in tenant_urls(tsite, name):
            assert mh.request(url + "/ping", auth=auth).status == 200
            assert mh.request(url + "/ping").status == 401
            assert mh.request(url + "/ping", auth="%s:%s" % (other, secrets(other)["http_password"])).status == 401
            info = mh.get_json(url + "/v2/info", auth=auth)
            assert info["frameworkId"] and info["marathon_config"]["framework_name"] == name
            assert info["marathon_config"]["mesos_role"] == name
        fws = [f for f in frameworks_named(tsite, name) if f.get("active")]
        assert len(fws) == 1 and fws[0]["role"] == name, fws


def test_namespaces_are_isolated(tsite):
    acme, globex = secrets("acme"), secrets("globex")
    anonymous = zk(tsite)
    as_acme = zk(tsite, "acme:%s" % acme["zk_password"])
    as_globex = zk(tsite, "globex:%s" % globex["zk_password"])
    try:
        for name in TENANTS:
            path = "/paas/tenants/%s" % name
            with pytest.raises(NoAuthError):
                anonymous.get(path)
            with pytest.raises(NoAuthError):
                anonymous.create(path + "/intruder", b"x")
            with pytest.raises(NoAuthError):
                anonymous.get_children(path)
            acl, _ = {"acme": as_acme, "globex": as_globex}[name].get_acls(path)
            assert {a.id.scheme for a in acl} == {"digest"}, acl
            assert {a.id.id.split(":")[0]: a.perms for a in acl} == {name: 31, "super": 31}, acl  # ALL
        as_acme.get("/paas/tenants/acme")
        assert "state" in as_acme.get_children("/paas/tenants/acme")  # the tenant Marathon's own data
        with pytest.raises(NoAuthError):
            as_acme.create("/paas/tenants/globex/intruder", b"x")
        with pytest.raises(NoAuthError):
            as_acme.get("/paas/tenants/globex")
        with pytest.raises(NoAuthError):
            as_globex.set("/paas/tenants/acme", b"x")
    finally:
        for client in (anonymous, as_acme, as_globex):
            client.stop()
            client.close()


def test_git_hosts_read_the_tenants_record_and_nothing_more(tsite):
    """The record the git hosts read (<ns>/gitreceive): the deploy token's hash, never the
    token; the superuser's, readable by the git hosts' user; the tenant cannot change it, and
    nobody but the superuser can add a tenant next to the others."""
    if not tsite.zk_gitreceive:
        pytest.skip("the site has no git hosts' ZooKeeper user (PAAS_SITE_GITRECEIVE_ZK)")
    import hashlib
    import json
    git_user = tsite.zk_gitreceive.split(":")[0]
    clients = {"git": zk(tsite, tsite.zk_gitreceive), "acme": zk(tsite, "acme:%s" % secrets("acme")["zk_password"]),
               "anonymous": zk(tsite)}
    try:
        git = clients["git"]
        assert sorted(git.get_children("/paas/tenants")) == sorted(TENANTS)
        for parent in ("/paas", "/paas/tenants"):
            acl, _ = git.get_acls(parent)
            assert {a.id.id.split(":")[0]: a.perms for a in acl} == {"super": 31, git_user: 1}, (parent, acl)
        for name in TENANTS:
            record_path = "/paas/tenants/%s/gitreceive" % name
            data, _ = git.get(record_path)
            record = json.loads(data)
            token = secrets(name)["deploy_token"]
            assert record["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
            assert token not in data.decode()
            assert record["marathon_username"] == name and record["pushers"] == [] and record["quota"] == {}
            acl, _ = git.get_acls(record_path)
            assert {a.id.id.split(":")[0]: a.perms for a in acl} == {"super": 31, git_user: 1}, acl
            with pytest.raises(NoAuthError):
                git.set(record_path, b"{}")
            with pytest.raises(NoAuthError):
                git.get("/paas/tenants/%s/state" % name)  # the tenant Marathon's own nodes
        with pytest.raises(NoAuthError):  # a tenant cannot change its own record ...
            clients["acme"].set("/paas/tenants/acme/gitreceive", b'{"pushers": []}')
        for who in ("acme", "anonymous", "git"):  # ... and nobody adds a tenant
            with pytest.raises(NoAuthError):
                clients[who].create("/paas/tenants/intruder", b"")
    finally:
        for client in clients.values():
            client.stop()
            client.close()


def test_quota_is_set_changed_and_removed(tsite, marathon_image):
    """tenant_quota on globex: set on the masters, changed, removed when dropped; with no
    quota wanted now and before, the masters are not asked (the task is skipped)."""
    def quota():
        """globex's quota limits as the leading master reports them (GET /quota, configs)."""
        state = leader_state(tsite)
        res = mh.request("http://%s/quota" % mh.pid_address(state["pid"]), auth=tsite.operator_auth)
        assert res.status == 200, res.body
        for cfg in res.json.get("configs") or []:
            if cfg.get("role") == "globex":
                return {k: float(v["value"] if isinstance(v, dict) else v) for k, v in cfg.get("limits", {}).items()}
        return {}

    for wanted in ({"cpus": 1, "mem": 512}, {"cpus": 2, "mem": 512}):
        res = tenant(tsite, marathon_image, "globex", tenant_quota=wanted)
        assert res.rc == 0, failed_task_messages(res.output)
        assert res.changed() > 0
        assert quota() == {k: float(v) for k, v in wanted.items()}
    res = tenant(tsite, marathon_image, "globex")
    assert res.rc == 0, failed_task_messages(res.output)
    assert res.changed() > 0
    assert quota() == {}
    res = tenant(tsite, marathon_image, "globex")
    assert res.rc == 0 and res.changed() == 0, failed_task_messages(res.output)
    ran = res.ran_tasks("tenant-globex")
    assert "tenant : Run the tenant's Marathon on the central Marathon" in ran, ran
    assert "tenant : Set the quota limits of the tenant's role on the leading master" not in ran, ran


def test_an_app_in_acme_runs_and_globex_does_not_see_it(tsite):
    acme_url = tenant_urls(tsite, "acme")[0]
    auth = "acme:%s" % secrets("acme")["http_password"]
    app = {"id": "/web", "cmd": "sleep 3600", "cpus": 0.05, "mem": 32, "instances": 1}
    res = mh.request(acme_url + "/v2/apps", method="POST", body=app, auth=auth)
    assert res.status == 201, res.body
    mh.wait_for(lambda: (mh.get_json(acme_url + "/v2/apps/web", auth=auth) or {}).get("app", {})
                .get("tasksRunning") == 1, 120, message="/web running in acme's Marathon")
    fid = mh.get_json(acme_url + "/v2/info", auth=auth)["frameworkId"]
    state = leader_state(tsite)
    tasks = [t for f in state["frameworks"] if f["id"] == fid for t in f["tasks"] if t["state"] == "TASK_RUNNING"]
    assert any(t["id"].startswith("web.") for t in tasks), tasks
    agent_ids = {s["id"] for s in state["slaves"]}
    assert all(t["slave_id"] in agent_ids for t in tasks)
    globex_url = tenant_urls(tsite, "globex")[0]
    gauth = "globex:%s" % secrets("globex")["http_password"]
    assert mh.get_json(globex_url + "/v2/apps", auth=gauth)["apps"] == []
    assert mh.request(globex_url + "/v2/apps/web", auth=gauth).status == 404


# ---------------------------------------------------------------------------
# The control plane seen from a tenant's side: from inside a task container of acme's own
# Marathon (network access, no credentials), and with acme's own Mesos principal used
# against globex. Every attempt is refused; the green paths run beside them.

ATTACK = r'''
import base64, json, sys, urllib.request, urllib.error
sys.path.insert(0, "/tmp/attacker")
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
cfg = json.loads(sys.argv[1])
out = {}
zk = KazooClient(hosts=cfg["zk"], timeout=10)
zk.start(timeout=20)
def attempt(name, fn):
    try:
        fn()
        out[name] = "done"
    except NoAuthError:
        out[name] = "NoAuth"
    except Exception as exc:
        out[name] = type(exc).__name__
attempt("create /intruder", lambda: zk.create("/intruder", b"x"))
attempt("forge a leading master", lambda: zk.create("/mesos/json.info_", b"{}", sequence=True, ephemeral=True))
attempt("delete /mesos", lambda: zk.delete("/mesos", recursive=True))
attempt("create under /marathon", lambda: zk.create("/marathon/intruder", b"x"))
attempt("read /marathon/state", lambda: zk.get_children("/marathon/state"))
attempt("delete /marathon/state", lambda: zk.delete("/marathon/state", recursive=True))
attempt("open the root", lambda: zk.set_acls("/", [__import__("kazoo.security").security.OPEN_ACL_UNSAFE[0]]))
attempt("read /mesos (as Mesos leaves it)", lambda: zk.get_children("/mesos"))
zk.stop()
def http(name, url, body=None, auth=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        out[name] = urllib.request.urlopen(req, timeout=10).status
    except urllib.error.HTTPError as exc:
        out[name] = exc.code
    except Exception as exc:
        out[name] = type(exc).__name__
http("agent GET_CONTAINERS", "http://%s/api/v1" % cfg["agent"], {"type": "GET_CONTAINERS"})
http("agent /containers", "http://%s/containers" % cfg["agent"])
http("master teardown", "http://%s/master/teardown" % cfg["master"], {})
print(json.dumps(out))
'''


def running_task(url, auth, app_id):
    def one():
        app = (mh.get_json(url + "/v2/apps" + app_id, auth=auth) or {}).get("app", {})
        tasks = [t for t in app.get("tasks", []) if t.get("state") == "TASK_RUNNING"]
        return tasks[0] if tasks else None
    return mh.wait_for(one, 180, message="%s running in acme's Marathon" % app_id)


def task_container(tsite, task):
    """The agent's container name and Docker container id of a Mesos task (the stand-in labels them
    mesos.task_id, as the Docker containerizer does)."""
    agent = {addr.split(":")[0]: name for name, addr in tsite.agents.items()}[task["host"]]
    res = docker_exec(agent, "docker", "ps", "-q", "--filter", "label=mesos.task_id=%s" % task["id"])
    assert res.returncode == 0 and res.stdout.strip(), res.stderr
    return agent, res.stdout.split()[0]


def test_a_tenant_task_container_cannot_take_the_control_plane(tsite, marathon_image):
    """acme runs an image of its own choosing (with a ZooKeeper client copied in) and attacks from
    inside its task container: every write to ZooKeeper outside its namespace, every read of the
    central Marathon's state, the agents' and masters' HTTP APIs without credentials are refused."""
    url, auth = tenant_urls(tsite, "acme")[0], "acme:%s" % secrets("acme")["http_password"]
    image = marathon_image or os.environ["PAAS_MARATHON_IMAGE"]
    app = {"id": "/attacker", "cmd": "sleep 3600", "cpus": 0.05, "mem": 64, "instances": 1,
           "container": {"type": "DOCKER", "docker": {"image": image}}, "networks": [{"mode": "container/bridge"}]}
    assert mh.request(url + "/v2/apps", method="POST", body=app, auth=auth).status == 201
    try:
        task = running_task(url, auth, "/attacker")
        agent, container = task_container(tsite, task)
        import kazoo
        pkg = os.path.dirname(kazoo.__file__)
        tar = subprocess.Popen(["tar", "-C", os.path.dirname(pkg), "-cf", "-", "kazoo"], stdout=subprocess.PIPE)
        copied = subprocess.run(["docker", "exec", "-i", agent, "docker", "exec", "-i", container, "sh", "-c",
                                 "mkdir -p /tmp/attacker && tar -xC /tmp/attacker"], stdin=tar.stdout,
                                capture_output=True, timeout=120)
        tar.wait()
        assert copied.returncode == 0, copied.stderr
        cfg = {"zk": tsite.zk_hosts, "agent": sorted(tsite.agents.values())[0], "master": sorted(tsite.masters.values())[0]}
        res = docker_exec(agent, "docker", "exec", container, "python3", "-c", ATTACK, json.dumps(cfg), timeout=180)
        assert res.returncode == 0, res.stderr
        found = json.loads(res.stdout.strip().splitlines()[-1])
        print("from acme's task container:", found)
        for name in ("create /intruder", "forge a leading master", "delete /mesos", "create under /marathon",
                     "read /marathon/state", "delete /marathon/state", "open the root"):
            assert found[name] == "NoAuth", "%s: %s" % (name, found)
        assert found["read /mesos (as Mesos leaves it)"] == "done", found
        for name in ("agent GET_CONTAINERS", "agent /containers", "master teardown"):
            assert found[name] == 401, "%s: %s" % (name, found)
        # The green path: the operator's credentials are what the agent asks for.
        ok = mh.request("http://%s/containers" % sorted(tsite.agents.values())[0], auth=tsite.operator_auth)
        assert ok.status == 200, ok.body
    finally:
        mh.request(url + "/v2/apps/attacker?force=true", method="DELETE", auth=auth)


def _subscribe(master, auth, roles):
    """v1 SUBSCRIBE with acme's principal; the first RecordIO record the master sends."""
    body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {
        "user": "nobody", "name": "intruder", "principal": auth.split(":")[0], "roles": roles,
        "capabilities": [{"type": "MULTI_ROLE"}]}}}
    req = urllib.request.Request("http://%s/api/v1/scheduler" % master, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Accept": "application/json",
                                          "Authorization": "Basic " + base64.b64encode(auth.encode()).decode()})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            size = b""
            while not size.endswith(b"\n"):
                size += resp.read(1)
            return resp.status, json.loads(resp.read(int(size)))
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def leading_master(tsite):
    """host:port of the elected master (its /master/state names itself as the leader)."""
    def leader():
        for addr in tsite.masters.values():
            state = mh.get_json("http://%s/master/state" % addr, auth=tsite.operator_auth) or {}
            if state.get("elected_time") and state.get("leader", "").endswith("@" + addr):
                return addr
        return None
    return mh.wait_for(leader, 60, message="a leading master")


def test_a_tenant_principal_is_kept_to_its_own_role(tsite):
    """acme's own Mesos principal (held by acme's Marathon) registers only role acme, cannot
    tear globex down, change a quota or reserve for globex; the operator can."""
    master = leading_master(tsite)
    acme = "acme:%s" % secrets("acme")["mesos_secret"]
    status, event = _subscribe(master, acme, ["globex"])
    assert status == 200 and event.get("type") == "ERROR", event
    assert "Not authorized to register framework" in event["error"]["message"], event
    status, event = _subscribe(master, acme, ["acme", "*"])
    assert event.get("type") == "ERROR" and "Not authorized" in event["error"]["message"], event
    # A principal that no tenant holds does not even authenticate.
    status, _event = _subscribe(master, "acme:not-the-secret", ["acme"])
    assert status == 401
    globex = frameworks_named(tsite, "globex")
    assert globex and globex[0]["principal"] == "globex", globex
    assert _form(master, "/master/teardown", "frameworkId=" + globex[0]["id"], acme) == 403
    quota = {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
        {"role": "globex", "limits": {"cpus": {"value": 0.1}}}]}}
    assert mh.request("http://%s/api/v1" % master, method="POST", body=quota, auth=acme).status == 403
    assert frameworks_named(tsite, "globex")[0]["active"], "globex's framework was touched"
    # The operator may read quotas (the green path of the same API).
    assert mh.request("http://%s/api/v1" % master, method="POST", body={"type": "GET_QUOTA"},
                      auth=tsite.operator_auth).status == 200


def _form(master, path, data, auth):
    req = urllib.request.Request("http://%s%s" % (master, path), data=data.encode(),
                                 headers={"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()})
    try:
        return urllib.request.urlopen(req, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_tenant_task_as_root_is_refused_by_the_masters(tsite):
    """acme's Marathon asks for a task as root: the masters' run_tasks ACL fails it
    (TASK_ERROR, REASON_TASK_UNAUTHORIZED); acme's tasks as its own user run (/web)."""
    url, auth = tenant_urls(tsite, "acme")[0], "acme:%s" % secrets("acme")["http_password"]
    app = {"id": "/rooted", "cmd": "sleep 3600", "cpus": 0.05, "mem": 32, "instances": 1, "user": "root"}
    assert mh.request(url + "/v2/apps", method="POST", body=app, auth=auth).status == 201
    try:
        # The master answers the launch with TASK_ERROR at once (the task never joins its
        # framework's tasks, as in Mesos); Marathon keeps it as the app's last task failure.
        def refused():
            app = (mh.get_json(url + "/v2/apps/rooted", auth=auth) or {}).get("app", {})
            return app.get("lastTaskFailure")
        failure = mh.wait_for(refused, 120, message="the root task refused")
        assert failure["state"] == "TASK_ERROR", failure
        assert "no authorized to launch task" in failure["message"] and "under user 'root'" in failure["message"], failure
        assert (mh.get_json(url + "/v2/apps/rooted", auth=auth) or {})["app"]["tasksRunning"] == 0
        web = (mh.get_json(url + "/v2/apps/web", auth=auth) or {})["app"]
        assert web["tasksRunning"] == 1, web
    finally:
        mh.request(url + "/v2/apps/rooted?force=true", method="DELETE", auth=auth)


def test_no_tenant_secret_is_on_a_command_line_or_in_a_readable_file(tsite):
    """On every agent, as an unprivileged local user: no tenant's password in any process's
    arguments (/proc hidepid, the secrets in the task's environment), the agent's work
    directory cannot be listed and its checkpoints (task definitions with their environment)
    cannot be read. As root, the tenant Marathons' own arguments hold no password either."""
    words = [secrets(t)[k] for t in TENANTS for k in ("zk_password", "http_password", "mesos_secret")]
    for agent in tsite.agents:
        ps = docker_exec(agent, "su", "-s", "/bin/sh", "nobody", "-c", "ps -eo args")
        assert ps.returncode == 0, ps.stderr
        assert not [w for w in words if w in ps.stdout], "a secret in ps on %s" % agent
        root_ps = docker_exec(agent, "ps", "-eo", "args").stdout
        marathons = [line for line in root_ps.splitlines() if "--framework_name" in line]
        assert not [w for w in words for line in marathons if w in line], "a secret in a Marathon's args"
        listing = docker_exec(agent, "su", "-s", "/bin/sh", "nobody", "-c", "ls /var/lib/mesos/agent")
        assert listing.returncode != 0, listing.stdout
        infos = docker_exec(agent, "sh", "-c", "find /var/lib/mesos/agent/meta -name task.info | head -1")
        path = infos.stdout.strip()
        if path:
            read = docker_exec(agent, "su", "-s", "/bin/sh", "nobody", "-c", "cat " + path)
            assert read.returncode != 0 and "Permission denied" in read.stderr, read.stderr
    # No password of a tenant or of the platform in any host's journal (sudo logs the command
    # lines of become tasks; services log their decisions).
    platform = [a.split(":", 1)[1] for a in (tsite.marathon_auth, tsite.operator_auth, tsite.zk_superuser,
                                             os.environ.get("PAAS_REGISTRY_PULL_AUTH", "")) if a and ":" in a]
    platform += ["molecule-registry-builder", "molecule-zk-mesos", "molecule-zk-marathon"]
    for host in list(tsite.masters) + list(tsite.agents):
        journal = subprocess.run(["docker", "exec", host, "journalctl", "--no-pager", "-o", "cat"],
                                 capture_output=True, text=True, errors="replace", timeout=120)
        assert journal.returncode == 0, journal.stderr
        leaked = [w for w in words + platform if w in journal.stdout]
        assert not leaked, "%d password(s) in the journal of %s" % (len(leaked), host)
    app = tsite_marathon(tsite, "/v2/apps/tenants/acme").json["app"]
    assert secrets("acme")["zk_password"] not in app["cmd"] and "--zk" not in app["cmd"], app["cmd"]
    assert app["env"]["MARATHON_MESOS_USER"] == "nobody"
    assert "--mesos_authentication_principal acme" in app["cmd"], app["cmd"]


def test_remove_acme_leaves_globex_alone(tsite, marathon_image):
    acme_fids = [f["id"] for f in frameworks_named(tsite, "acme")]
    globex_before = tsite_marathon(tsite, "/v2/apps/tenants/globex").json["app"]["tasks"]
    res = tenant(tsite, marathon_image, "acme", state="absent")
    assert res.rc == 0, failed_task_messages(res.output)
    assert res.changed() > 0
    assert tsite_marathon(tsite, "/v2/apps/tenants/acme").status == 404
    assert not os.path.exists(os.path.join(SECRETS, "tenants", "acme"))
    assert not [f for f in frameworks_named(tsite, "acme") if f["id"] in acme_fids], "acme not torn down"
    assert acme_fids, "acme was not registered on the master"
    client = zk(tsite, "globex:%s" % secrets("globex")["zk_password"])
    try:
        with pytest.raises(NoNodeError):
            client.get("/paas/tenants/acme")
        assert "state" in client.get_children("/paas/tenants/globex")
    finally:
        client.stop()
        client.close()
    globex_after = tsite_marathon(tsite, "/v2/apps/tenants/globex").json["app"]
    assert [t["id"] for t in globex_after["tasks"]] == [t["id"] for t in globex_before]
    assert globex_after["tasksHealthy"] == 1
    url = tenant_urls(tsite, "globex")[0]
    assert mh.request(url + "/ping", auth="globex:%s" % secrets("globex")["http_password"]).status == 200

    again = tenant(tsite, marathon_image, "acme", state="absent")
    assert again.rc == 0, failed_task_messages(again.output)
    assert again.changed() == 0


def test_remove_globex(tsite, marathon_image):
    res = tenant(tsite, marathon_image, "globex", state="absent")
    assert res.rc == 0, failed_task_messages(res.output)
    assert not frameworks_named(tsite, "globex")
    client = zk(tsite)
    try:
        assert client.exists("/paas/tenants/globex") is None
    finally:
        client.stop()
        client.close()
    ids = [a["id"] for a in tsite_marathon(tsite, "/v2/apps").json["apps"]]
    assert not set(ids) & {"/tenants/%s" % name for name in TENANTS}, ids


def marathon_leader(tsite):
    """The container name of the central Marathon leader, or None."""
    res = tsite_marathon(tsite, "/v2/leader")
    if res and res.status == 200:
        for name, addr in tsite.marathons.items():
            if addr == res.json.get("leader"):
                return name
    return None


def test_marathon_leader_stopped_while_adding_a_tenant(tsite, marathon_image):
    """The central Marathon leader is stopped as soon as the tenant's app exists (its
    deployment under way): the run fails with a clear message or succeeds; a re-run
    succeeds, and there is one app and one framework for the tenant."""
    name = FAULT_TENANT
    leader = mh.wait_for(lambda: marathon_leader(tsite), 60, message="a central Marathon leader")
    result = {}
    runner = threading.Thread(target=lambda: result.update(run=tenant(tsite, marathon_image, name)))
    runner.start()
    stopped = None
    try:
        deadline = time.monotonic() + 300
        while runner.is_alive() and time.monotonic() < deadline:
            res = tsite_marathon(tsite, "/v2/apps/tenants/%s" % name)
            if res and res.status == 200:
                stopped = docker_exec(leader, "systemctl", "stop", "marathon")
                assert stopped.returncode == 0, stopped.stderr
                break
            time.sleep(0.2)
        runner.join(900)
    finally:
        docker_exec(leader, "systemctl", "start", "marathon")
    assert stopped is not None, "the run ended before the app /tenants/%s appeared" % name
    first = result["run"]
    print("run with the Marathon leader %s stopped: rc=%d in %.1f s %s"
          % (leader, first.rc, first.seconds, failed_task_messages(first.output) if first.rc else ""))
    if first.rc != 0:
        messages = failed_task_messages(first.output)
        assert messages and all("Marathon" in m or "marathon" in m for m in messages), messages
        assert "Traceback" not in first.output
    mh.wait_for(lambda: mh.request("http://%s/ping" % tsite.marathons[leader], auth=tsite.marathon_auth).status
                == 200, 90, message="the stopped Marathon back")
    again = tenant(tsite, marathon_image, name)
    assert again.rc == 0, failed_task_messages(again.output)
    try:
        apps = [a for a in tsite_marathon(tsite, "/v2/apps").json["apps"] if a["id"].startswith("/tenants/")]
        assert [a["id"] for a in apps].count("/tenants/%s" % name) == 1, apps
        app = tsite_marathon(tsite, "/v2/apps/tenants/%s" % name).json["app"]
        assert app["instances"] == 1 and app["tasksRunning"] == 1 and app["tasksHealthy"] == 1, app
        assert len(app["tasks"]) == 1, app["tasks"]
        # One framework (the tenant Marathon keeps its framework id in its namespace).
        fws = mh.wait_for(lambda: (lambda f: f if len(f) == 1 and f[0].get("active") else None)(
            frameworks_named(tsite, name)), 60, message="one active framework %s" % name)
        assert fws[0]["role"] == name
        url = tenant_urls(tsite, name)[0]
        assert mh.request(url + "/ping", auth="%s:%s" % (name, secrets(name)["http_password"])).status == 200
        third = tenant(tsite, marathon_image, name)
        assert third.rc == 0 and third.changed() == 0, failed_task_messages(third.output)
    finally:
        gone = tenant(tsite, marathon_image, name, state="absent")
    assert gone.rc == 0, failed_task_messages(gone.output)
    assert not frameworks_named(tsite, name)
