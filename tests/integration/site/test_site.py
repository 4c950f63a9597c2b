"""The whole site after converge: Mesos masters and Marathon elect one leader
each, agents are registered with their rack/dc attributes, an app spreads
across racks and survives the loss of the leading master and of the Marathon
leader. Failover times are printed and written to build/site-timings.json."""
import time

import pytest

from paas_testlib import mesos as mh
from paas_testlib.site import docker_exec, record_timing

APP_ID = "/site-test/web"


def _record(name, seconds):
    record_timing(name, seconds)


def _app(site):
    res = site.marathon("/v2/apps%s?embed=app.tasks" % APP_ID)
    return res.json["app"] if res and res.status == 200 else None


def _running_tasks(site):
    app = _app(site)
    if not app:
        return []
    return [t for t in app.get("tasks", []) if t.get("state") == "TASK_RUNNING"]


def _agent_racks(site):
    state = site.leader_state() or {}
    return {s["hostname"]: s.get("attributes", {}).get("rack") for s in state.get("slaves", []) if s.get("active")}


def _answers(task):
    res = mh.request("http://%s:%s/" % (task["host"], task["ports"][0]), timeout=3)
    return res.status == 200


def test_masters_elect_exactly_one_leader(site):
    mh.wait_for(site.leading_master, 60, message="one elected master")
    leaders = set()
    for name, addr in site.masters.items():
        assert mh.request("http://%s/master/health" % addr).status == 200, name
        state = site.master_state(name)
        leaders.add(mh.pid_address(state.get("leader", "")))
        assert state["cluster"] == "molecule-site"
        assert state["flags"]["quorum"] == "2"
    assert len(leaders) == 1 and "" not in leaders, leaders
    elected = [n for n in site.masters if site.master_state(n).get("elected_time")]
    assert len(elected) == 1, elected


def test_masters_require_authentication(site):
    leader = site.masters[site.leading_master()]
    body = {"type": "GET_HEALTH"}
    assert mh.request("http://%s/api/v1" % leader, "POST", body).status == 401
    assert mh.request("http://%s/api/v1" % leader, "POST", body, auth=site.operator_auth).status == 200
    for name in site.masters:
        out = docker_exec(name, "stat", "-c", "%a %U", "/etc/mesos-master/credentials.json")
        assert out.stdout.decode().strip() == "600 mesos"


def test_agents_registered_with_their_attributes(site):
    expected = {"172.31.5.21": {"rack": "r1", "dc": "dc1"}, "172.31.5.22": {"rack": "r2", "dc": "dc1"}}

    def registered():
        state = site.leader_state() or {}
        got = {s["hostname"]: s.get("attributes") for s in state.get("slaves", []) if s.get("active")}
        return got if got == expected else None
    mh.wait_for(registered, 60, message="both agents registered with rack and dc")
    for name, addr in site.agents.items():
        assert mh.request("http://%s/health" % addr).status == 200, name
        # Readers of the agent's endpoints authenticate (the operator's principal).
        assert mh.request("http://%s/flags" % addr).status == 401, name
        assert mh.request("http://%s/flags" % addr, auth="operator:wrong").status == 401, name
        flags = mh.get_json("http://%s/flags" % addr, auth=site.operator_auth)["flags"]
        assert flags["containerizers"] == "docker,mesos"
        assert flags["master"].startswith("zk://")
        assert flags["authenticate_http_readonly"] == "true" and flags["authenticate_http_readwrite"] == "true"


def test_marathon_has_one_leader_and_every_instance_answers(site):
    leaders = set()
    for name, addr in site.marathons.items():
        assert mh.request("http://%s/ping" % addr, auth=site.marathon_auth).status == 200, name
        assert mh.request("http://%s/ping" % addr).status == 401, "basic auth must be required"
        res = mh.request("http://%s/v2/leader" % addr, auth=site.marathon_auth)
        assert res.status == 200, name
        leaders.add(res.json["leader"])
    assert len(leaders) == 1, leaders
    state = site.leader_state()
    frameworks = [f for f in state["frameworks"] if f["name"] == "marathon" and f["active"]]
    assert len(frameworks) == 1, [f["name"] for f in state["frameworks"]]
    assert frameworks[0]["principal"] == "marathon"


def test_app_runs_spread_across_racks(site, app_image):
    site.marathon("/v2/apps%s?force=true" % APP_ID, "DELETE")
    app = {
        "id": APP_ID, "instances": 2, "cpus": 0.1, "mem": 32,
        "cmd": "exec python3 -m http.server $PORT0",
        "container": {"type": "DOCKER", "docker": {"image": app_image}},
        "networks": [{"mode": "host"}],
        "portDefinitions": [{"port": 0, "name": "http"}],
        "constraints": [["rack", "GROUP_BY"], ["hostname", "UNIQUE"]],
        "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0, "gracePeriodSeconds": 60,
                          "intervalSeconds": 5, "maxConsecutiveFailures": 3}],
    }
    res = mh.wait_for(lambda: (lambda r: r if r and r.status == 201 else None)(site.marathon("/v2/apps", "POST", app)),
                      60, interval=3, message="the app to be created")
    assert res.status == 201
    tasks = mh.wait_for(lambda: (lambda t: t if len(t) == 2 else None)(_running_tasks(site)), 180, interval=2,
                        message="2 running tasks")
    racks = _agent_racks(site)
    assert len({racks[t["host"]] for t in tasks}) == 2, "one task per rack: %s" % tasks
    mh.wait_for(lambda: all(_answers(t) for t in _running_tasks(site)), 60, message="the app to answer HTTP")
    mh.wait_for(lambda: not (_app(site) or {}).get("deployments"), 120, interval=2, message="the deployment to finish")


def test_leading_master_failover_keeps_the_app(site):
    old = site.leading_master()
    assert old
    tasks_before = {t["id"] for t in _running_tasks(site)}
    assert len(tasks_before) == 2
    start = time.monotonic()
    assert docker_exec(old, "systemctl", "stop", "mesos-master").returncode == 0
    try:
        new = mh.wait_for(lambda: (lambda n: n if n and n != old else None)(site.leading_master()), 60,
                          interval=0.5, message="a new leading master")
        _record("mesos_master_failover_seconds", time.monotonic() - start)
        # Agents re-register and Marathon re-subscribes with the same framework.
        mh.wait_for(lambda: len((site.leader_state() or {}).get("slaves", [])) == 2, 90, message="agents back")
        tasks_after = mh.wait_for(lambda: (lambda t: t if len(t) == 2 else None)(_running_tasks(site)), 90,
                                  message="2 running tasks after the master failover")
        assert {t["id"] for t in tasks_after} == tasks_before, "tasks must survive a master failover"
        assert all(_answers(t) for t in tasks_after)
        assert new != old
    finally:
        docker_exec(old, "systemctl", "start", "mesos-master")
    mh.wait_for(lambda: mh.request("http://%s/master/health" % site.masters[old]).status == 200, 60,
                message="the old leader back as a standby")


def test_crashed_master_failover(site):
    """SIGKILL the leading master: its ZooKeeper session has to expire first."""
    old = mh.wait_for(site.leading_master, 60, message="a leading master")
    start = time.monotonic()
    assert docker_exec(old, "systemctl", "kill", "-s", "SIGKILL", "mesos-master").returncode == 0
    mh.wait_for(lambda: (lambda n: n if n and n != old else None)(site.leading_master()), 60,
                interval=0.5, message="a new leading master after a crash")
    record_timing("mesos_master_crash_failover_seconds", time.monotonic() - start)
    mh.wait_for(lambda: len(_running_tasks(site)) == 2, 90, message="the app still running")
    # systemd restarts the crashed master; it rejoins as a standby.
    mh.wait_for(lambda: mh.request("http://%s/master/health" % site.masters[old]).status == 200, 90,
                message="the crashed master back")


def test_marathon_leader_failover(site):
    old = mh.wait_for(site.marathon_leader, 30, message="a Marathon leader")
    start = time.monotonic()
    assert docker_exec(old, "systemctl", "stop", "marathon").returncode == 0
    try:
        def new_leader():
            for name in site.marathons:
                if name == old:
                    continue
                res = site.marathon("/v2/leader", name=name, timeout=3)
                if res and res.status == 200 and res.json.get("leader") != site.marathons[old]:
                    return name
            return None
        mh.wait_for(new_leader, 60, interval=0.5, message="a new Marathon leader")
        _record("marathon_failover_seconds", time.monotonic() - start)
        tasks = mh.wait_for(lambda: (lambda t: t if len(t) == 2 else None)(_running_tasks(site)), 90,
                            message="the app kept by the new Marathon leader")
        assert all(_answers(t) for t in tasks)
        # A new deployment succeeds under the new leaders.
        res = site.marathon("/v2/apps%s" % APP_ID, "PUT", {"labels": {"after-failover": "yes"}})
        assert res.status == 200, res.body
        start = time.monotonic()
        mh.wait_for(lambda: (_app(site) or {}).get("labels", {}).get("after-failover") == "yes"
                    and not (_app(site) or {}).get("deployments")
                    and len(_running_tasks(site)) == 2, 180, interval=2, message="the new deployment to finish")
        _record("deployment_after_failover_seconds", time.monotonic() - start)
    finally:
        docker_exec(old, "systemctl", "start", "marathon")
    mh.wait_for(lambda: mh.request("http://%s/ping" % site.marathons[old], auth=site.marathon_auth).status == 200,
                90, message="the old Marathon leader back as a standby")


SINGLE_ID = "/site-test/single"


def _tasks_of(site, app_id):
    res = site.marathon("/v2/apps%s?embed=app.tasks" % app_id)
    if not res or res.status != 200:
        return []
    return [t for t in res.json["app"].get("tasks", []) if t.get("state") == "TASK_RUNNING"]


def test_lost_agent_tasks_move_when_constraints_allow(site, app_image):
    """Stop one agent: a task without constraints is relaunched on the other
    agent; the hostname:UNIQUE app cannot be placed there and waits in /v2/queue."""
    site.marathon("/v2/apps%s?force=true" % SINGLE_ID, "DELETE")
    single = {"id": SINGLE_ID, "instances": 1, "cpus": 0.1, "mem": 32, "cmd": "exec python3 -m http.server $PORT0",
              "container": {"type": "DOCKER", "docker": {"image": app_image}},
              "portDefinitions": [{"port": 0}]}
    mh.wait_for(lambda: (lambda r: r and r.status == 201)(site.marathon("/v2/apps", "POST", single)), 60, interval=3,
                message="the single-instance app to be created")
    task = mh.wait_for(lambda: (lambda t: t[0] if len(t) == 1 else None)(_tasks_of(site, SINGLE_ID)), 120,
                       message="the single task running")
    ip_to_agent = {addr.split(":")[0]: name for name, addr in site.agents.items()}
    lost = ip_to_agent[task["host"]]
    other_ip = [ip for ip in ip_to_agent if ip != task["host"]][0]
    assert len(_running_tasks(site)) == 2
    start = time.monotonic()
    assert docker_exec(lost, "systemctl", "stop", "mesos-agent").returncode == 0
    try:
        mh.wait_for(lambda: [t for t in _tasks_of(site, SINGLE_ID) if t["host"] == other_ip], 120,
                    message="the single task relaunched on the other agent")
        _record("task_relaunch_after_agent_loss_seconds", time.monotonic() - start)

        def waiting():
            res = site.marathon("/v2/queue")
            queue = res.json.get("queue", []) if res and res.status == 200 else []
            return [q for q in queue if (q.get("app") or {}).get("id") == APP_ID and q.get("count", 0) >= 1]
        mh.wait_for(waiting, 60, message="the UNIQUE app waiting in /v2/queue")
        web = _running_tasks(site)
        assert [t["host"] for t in web] == [other_ip], web
    finally:
        docker_exec(lost, "systemctl", "start", "mesos-agent")
    mh.wait_for(lambda: len(_running_tasks(site)) == 2 and len({t["host"] for t in _running_tasks(site)}) == 2, 180,
                interval=2, message="the UNIQUE app back on both agents")
    site.marathon("/v2/apps%s?force=true" % SINGLE_ID, "DELETE")
