"""Marathon stand-in scheduler core with an in-memory store and a recording Mesos driver."""
import pytest

from marathon import appdef
from marathon.core import AppLocked, Conflict, Core, UnknownApp
from marathon.flags import Parser


class MemStore:
    root = "/marathon"
    state_root = "/marathon/state"

    def __init__(self):
        self.apps, self.deployments, self.instances, self.groups, self.fid = {}, {}, {}, {}, None

    def load_apps(self):
        return dict(self.apps)

    def save_app(self, rec):
        self.apps[rec["app"]["id"]] = rec

    def delete_app(self, app_id):
        self.apps.pop(app_id, None)

    def load_deployments(self):
        return dict(self.deployments)

    def save_deployment(self, d):
        self.deployments[d["id"]] = d

    def delete_deployment(self, dep_id):
        self.deployments.pop(dep_id, None)

    def load_instances(self):
        return dict(self.instances)

    def save_instance(self, i):
        self.instances[i["taskId"]] = dict(i)

    def delete_instance(self, tid):
        self.instances.pop(tid, None)

    def load_groups(self):
        return dict(self.groups)

    def save_group(self, g):
        self.groups[g["id"]] = g

    def delete_group(self, gid):
        self.groups.pop(gid, None)

    def get_framework_id(self):
        return self.fid

    def set_framework_id(self, fid):
        self.fid = fid


class Driver:
    def __init__(self):
        self.calls = []

    def call(self, c):
        self.calls.append(c)
        return 202

    def of(self, ctype):
        return [c for c in self.calls if c["type"] == ctype]


@pytest.fixture
def core():
    conf = Parser().parse(["--master", "zk://h:2181/mesos", "--hostname", "m1"], {})
    c = Core(conf, MemStore(), start_threads=False)
    c.leader = True
    c.subscribed = True
    c.driver = Driver()
    return c


def offer(n=1, host=None, cpus=4.0, mem=4096.0, ports=(31000, 31099), attributes=None):
    host = host or "h%d" % n
    return {"id": {"value": "o-%s" % host}, "agent_id": {"value": "a-%s" % host}, "hostname": host,
            "attributes": attributes or [], "allocation_info": {"role": "*"},
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}, "role": "*"},
                          {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}, "role": "*"},
                          {"name": "ports", "type": "RANGES", "role": "*",
                           "ranges": {"range": [{"begin": ports[0], "end": ports[1]}]}}]}


def update(core, task_id, state, agent="a-h1", **extra):
    st = {"task_id": {"value": task_id}, "state": state, "agent_id": {"value": agent}, "uuid": "dXVpZA=="}
    st.update(extra)
    core.handle_event({"type": "UPDATE", "update": {"status": st}})


def launched(core):
    out = []
    for call in core.driver.of("ACCEPT"):
        for op in call["accept"]["operations"]:
            out.extend(op["launch"]["task_infos"])
    return out


def env_of(ti):
    return {v["name"]: v["value"] for v in ti["command"]["environment"]["variables"]}


def run_all(core, app_id):
    for inst in list(core.app_instances(app_id)):
        update(core, inst["taskId"], "TASK_RUNNING", agent=inst["agentId"])


def test_create_launch_run_and_finish_deployment(core):
    app, dep = core.create_app({"id": "/web", "instances": 2, "cmd": "python3 -m http.server $PORT0",
                                "cpus": 0.1, "mem": 32, "constraints": [["hostname", "UNIQUE"]]})
    assert app["portDefinitions"][0]["port"] == 10000                      # service port assigned
    assert [s["actions"][0]["action"] for s in dep["steps"]] == ["StartApplication", "ScaleApplication"]
    with pytest.raises(Conflict):
        core.create_app({"id": "/web", "cmd": "sleep 1"})
    core.tick()
    core.flush()
    assert core.demand["/web"] == 2
    core.handle_event({"type": "OFFERS", "offers": {"offers": [offer(1), offer(2)]}})
    tis = launched(core)
    assert len(tis) == 2 and {t["agent_id"]["value"] for t in tis} == {"a-h1", "a-h2"}   # UNIQUE
    ti = tis[0]
    env = env_of(ti)
    port = [r for r in ti["resources"] if r["name"] == "ports"][0]["ranges"]["range"][0]["begin"]
    assert env["PORT0"] == env["PORT"] == env["PORTS"] == str(port)
    assert env["PORT_10000"] == str(port)
    assert env["MARATHON_APP_ID"] == "/web" and env["MESOS_TASK_ID"] == ti["task_id"]["value"]
    assert env["HOST"] in ("h1", "h2") and env["MARATHON_APP_RESOURCE_CPUS"] == "0.1"
    assert ti["command"] == {"shell": True, "value": "python3 -m http.server $PORT0",
                             "environment": ti["command"]["environment"]}
    assert ti["task_id"]["value"].startswith("web.instance-") and ti["task_id"]["value"].endswith("._app.1")
    assert core.app_counts(core.apps["/web"]["app"])["tasksStaged"] == 2
    run_all(core, "/web")
    assert len(core.driver.of("ACKNOWLEDGE")) == 2
    core.tick()
    core.flush()
    assert core.deployments == {}
    assert core.app_counts(core.apps["/web"]["app"])["tasksRunning"] == 2
    # a third offer gets declined (nothing to launch), offers get suppressed
    core.handle_event({"type": "OFFERS", "offers": {"offers": [offer(3)]}})
    assert core.driver.of("DECLINE")[-1]["decline"]["filters"]["refuse_seconds"] == 120.0
    assert core.driver.of("SUPPRESS")


def test_scale_vs_config_change_and_locking(core):
    core.create_app({"id": "/a", "cmd": "sleep 100", "instances": 1})
    v0 = core.apps["/a"]["app"]["versionInfo"]["lastConfigChangeAt"]
    with pytest.raises(AppLocked) as err:
        core.update_app("/a", {"instances": 2})
    assert "App is locked by one or more deployments. Override with the option '?force=true'" in str(err.value)
    created, app, dep = core.update_app("/a", {"instances": 3}, force=True)
    assert not created and dep["steps"][0]["actions"][0]["action"] == "ScaleApplication"
    assert app["versionInfo"]["lastConfigChangeAt"] == v0 and len(core.deployments) == 1
    _, app, dep = core.update_app("/a", {"cmd": "sleep 200"}, force=True)
    assert dep["steps"][0]["actions"][0]["action"] == "RestartApplication"
    assert app["versionInfo"]["lastConfigChangeAt"] != v0 and app["instances"] == 3
    with pytest.raises(UnknownApp):
        core.delete_app("/nope")


def test_rolling_upgrade_waits_for_health(core):
    core.create_app({"id": "/r", "cmd": "sleep 100", "instances": 2, "cpus": 0.1, "mem": 16})
    core.tick()
    core.flush()
    core.handle_event({"type": "OFFERS", "offers": {"offers": [offer(1)]}})
    run_all(core, "/r")
    core.tick()
    core.flush()
    old = {i["taskId"] for i in core.app_instances("/r")}
    assert len(old) == 2 and not core.deployments
    core.update_app("/r", {"cmd": "sleep 200"})
    core.tick()
    core.flush()
    assert core.demand["/r"] == 2                                # maximumOverCapacity 1: start 2 new first
    assert not core.driver.of("KILL")                            # minimumHealthCapacity 1: keep the old ones
    core.handle_event({"type": "OFFERS", "offers": {"offers": [offer(1)]}})
    new = [i for i in core.app_instances("/r") if i["taskId"] not in old]
    assert len(new) == 2
    update(core, new[0]["taskId"], "TASK_RUNNING")
    core.tick()
    core.flush()
    assert len(core.driver.of("KILL")) == 1                      # one new healthy -> one old killed
    update(core, new[1]["taskId"], "TASK_RUNNING")
    core.tick()
    core.flush()
    killed = {c["kill"]["task_id"]["value"] for c in core.driver.of("KILL")}
    assert killed == old
    for tid in old:
        update(core, tid, "TASK_KILLED")
    core.tick()
    core.flush()
    assert not core.deployments


def test_failures_backoff_and_last_failure(core):
    core.create_app({"id": "/f", "cmd": "exit 1", "instances": 1, "cpus": 0.1, "mem": 16, "backoffSeconds": 30})
    core.tick()
    core.flush()
    core.handle_event({"type": "OFFERS", "offers": {"offers": [offer(1)]}})
    tid = core.app_instances("/f")[0]["taskId"]
    update(core, tid, "TASK_FAILED", message="Command exited with status 1")
    assert core.last_failure["/f"]["state"] == "TASK_FAILED"
    assert core.delays["/f"]["delay"] == 30
    core.tick()
    core.flush()
    assert core.demand["/f"] == 1 and core._delayed("/f")
    n = len(launched(core))
    core.handle_event({"type": "OFFERS", "offers": {"offers": [offer(1)]}})
    assert len(launched(core)) == n                              # backed off: nothing launched
    core.reset_delay("/f")
    core.handle_event({"type": "OFFERS", "offers": {"offers": [offer(1)]}})
    assert len(launched(core)) == n + 1


def test_unknown_tasks_are_killed_and_unreachable_replaced(core):
    update(core, "ghost.instance-1._app.1", "TASK_RUNNING")
    assert core.driver.of("KILL")[-1]["kill"]["task_id"]["value"] == "ghost.instance-1._app.1"
    core.create_app({"id": "/u", "cmd": "sleep 100", "instances": 1, "cpus": 0.1, "mem": 16})
    core.tick()
    core.flush()
    core.handle_event({"type": "OFFERS", "offers": {"offers": [offer(1)]}})
    tid = core.app_instances("/u")[0]["taskId"]
    update(core, tid, "TASK_RUNNING")
    update(core, tid, "TASK_UNREACHABLE")
    core.tick()
    core.flush()
    assert tid not in core.instances and tid in core.expunged       # default strategy: expunge at once
    assert core.demand["/u"] == 1
    update(core, tid, "TASK_RUNNING")                               # it came back: unknown -> killed
    assert core.driver.of("KILL")[-1]["kill"]["task_id"]["value"] == tid


def test_docker_bridge_task_info(core):
    core.create_app({"id": "/grp/d", "cpus": 0.1, "mem": 16, "networks": [{"mode": "container/bridge"}],
                     "container": {"type": "DOCKER", "docker": {"image": "img:1", "forcePullImage": True},
                                   "portMappings": [{"containerPort": 8000, "hostPort": 0, "name": "http"}]},
                     "healthChecks": [{"protocol": "MESOS_HTTP", "portIndex": 0, "path": "/h"}],
                     "labels": {"team": "x"}, "taskKillGracePeriodSeconds": 7})
    core.tick()
    core.flush()
    core.handle_event({"type": "OFFERS", "offers": {"offers": [offer(1)]}})
    ti = launched(core)[0]
    docker = ti["container"]["docker"]
    hp = docker["port_mappings"][0]["host_port"]
    assert docker["network"] == "BRIDGE" and docker["image"] == "img:1" and docker["force_pull_image"] is True
    assert docker["port_mappings"] == [{"container_port": 8000, "protocol": "tcp", "host_port": hp}]
    assert ti["command"] == {"shell": False, "environment": ti["command"]["environment"]}
    env = env_of(ti)
    assert env["PORT0"] == str(hp) and env["PORT_8000"] == str(hp) and env["PORT_HTTP"] == str(hp)
    assert env["MARATHON_APP_DOCKER_IMAGE"] == "img:1" and env["MARATHON_APP_LABEL_TEAM"] == "x"
    assert ti["health_check"]["type"] == "HTTP" and ti["health_check"]["http"]["port"] == 8000
    assert ti["kill_policy"] == {"grace_period": {"nanoseconds": 7000000000}}
    assert ti["name"] == "d.grp" and ti["labels"] == {"labels": [{"key": "team", "value": "x"}]}


def test_queue_stats_explain_unmatched_offers(core):
    core.create_app({"id": "/q", "cmd": "sleep 1", "cpus": 8, "mem": 16})
    core.tick()
    core.flush()
    core.handle_event({"type": "OFFERS", "offers": {"offers": [offer(1, cpus=1)]}})
    stats = core.queue_stats["/q"]
    assert stats["processed"] == 1 and stats["unused"] == 1
    assert list(stats["last_by_agent"].values()) == [["InsufficientCpus"]]


def test_delete_and_cancel_deployment_rollback(core):
    app, dep = core.create_app({"id": "/z", "cmd": "sleep 1", "instances": 1})
    new, found = core.cancel_deployment(dep["id"])
    assert found and "/z" not in core.apps
    assert new["steps"][0]["actions"][0]["action"] == "StopApplication"
    assert core.cancel_deployment("missing") == (None, False)
    app, dep = core.create_app({"id": "/y", "cmd": "sleep 1", "instances": 0}, force=True)
    core.tick()
    core.flush()
    assert not any(d["id"] == dep["id"] for d in core.deployments.values())   # nothing to do: finished
    dep = core.delete_app("/y")
    assert "/y" not in core.apps and dep["steps"][0]["actions"][0]["action"] == "StopApplication"


def test_groups_create_update_and_delete_in_one_deployment(core):
    version, dep = core.update_group("/tenants/acme", {"id": "/tenants/acme", "apps": [
        {"id": "web", "cmd": "sleep 1", "instances": 1}, {"id": "/tenants/acme/worker", "cmd": "sleep 2"}],
        "groups": [{"id": "empty"}]}, create=True)
    assert set(dep["affectedApps"]) == {"/tenants/acme/web", "/tenants/acme/worker"}
    assert "/tenants/acme/empty" in core.groups and core.group_exists("/tenants")
    with pytest.raises(Conflict):
        core.update_group("/tenants/acme", {"id": "/tenants/acme"}, create=True)
    with pytest.raises(AppLocked):
        core.update_group("/tenants/acme", {"apps": [{"id": "web", "cmd": "sleep 3"}]})
    version, dep = core.update_group("/tenants/acme", {"apps": [{"id": "web", "cmd": "sleep 3"}]}, force=True)
    kinds = {a: t["kind"] for a, t in dep["targets"].items()}
    assert kinds == {"/tenants/acme/web": "RestartApplication", "/tenants/acme/worker": "StopApplication"}
    assert "/tenants/acme/worker" not in core.apps and "/tenants/acme/empty" not in core.groups
    version, dep = core.delete_group("/tenants", force=True)
    assert dep["affectedApps"] == ["/tenants/acme/web"] and not core.group_exists("/tenants")
    core.create_app({"id": "/tenants/acme/web", "cmd": "x y"}, force=True)
    with pytest.raises(Conflict):                     # no app below an app
        core.create_app({"id": "/tenants/acme/web/sub", "cmd": "x y"})
    with pytest.raises(Conflict):                     # no app where a group is
        core.create_app({"id": "/tenants/acme", "cmd": "x y"})
