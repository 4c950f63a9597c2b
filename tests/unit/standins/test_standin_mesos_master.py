"""Mesos master stand-in in-process (standalone, no ZooKeeper) with a fake agent: API shapes and flows."""
import base64
import json
import socket
import threading
import time
import uuid

import pytest
import requests

from mesos.flags import master_flagset
from mesos.master import Master
from mesos.master_http import MasterApp
from mesos.net import resolve_address
from standin_common import httpd, recordio


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_master(tmp_path, extra=(), credentials=None):
    port = free_port()
    flags = master_flagset().load(["--ip=127.0.0.1", "--port=%d" % port, "--work_dir=%s" % tmp_path,
                                   "--hostname=127.0.0.1", "--allocation_interval=100ms"] + list(extra), {})
    m = Master(flags, resolve_address(flags, 5050), credentials or {})
    srv = httpd.serve(("127.0.0.1", port), MasterApp(m))
    m.start(None)
    return m, srv, "http://127.0.0.1:%d" % port


class FakeAgent:
    def __init__(self, master_url):
        self.master_url = master_url
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.agent_id = None
        self.launched = []
        self.killed = []
        self.srv = httpd.serve(("127.0.0.1", self.port), self)

    def handle(self, req):
        body = req.json() if req.body else {}
        what = req.path.rsplit("/", 1)[-1]
        if what == "ping":
            return httpd.json_response({"agent_id": self.agent_id})
        if what == "launch":
            self.launched.append(body)
            threading.Thread(target=self.status, args=(body["framework_id"], body["task"], "TASK_RUNNING")).start()
        elif what == "kill":
            self.killed.append(body)
            threading.Thread(target=self.status,
                             args=(body["framework_id"], {"task_id": {"value": body["task_id"]}}, "TASK_KILLED")).start()
        return httpd.json_response({}, 202)

    def status(self, fid, task, state):
        time.sleep(0.05)
        try:
            self._post_status(fid, task, state)
        except requests.RequestException:
            pass            # the master went away (end of a test)

    def _post_status(self, fid, task, state, update_uuid=None):
        """Send a status update (a new uuid, as every update of a real agent has one, unless
        ``update_uuid`` re-sends an earlier one); returns the uuid."""
        update_uuid = update_uuid or base64.b64encode(uuid.uuid4().bytes).decode()
        requests.post(self.master_url + "/master/internal/status", timeout=5, json={
            "agent_id": {"value": self.agent_id}, "framework_id": {"value": fid},
            "status": {"task_id": task["task_id"], "state": state, "agent_id": {"value": self.agent_id},
                       "uuid": update_uuid, "timestamp": time.time(), "source": "SOURCE_EXECUTOR"}})
        return update_uuid

    def register(self, attributes=None, auth=None):
        info = {"hostname": "agent-%d" % self.port, "port": self.port,
                "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 2}},
                              {"name": "mem", "type": "SCALAR", "scalar": {"value": 1024}},
                              {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000,
                                                                                        "end": 31010}]}}],
                "attributes": attributes or [{"name": "rack", "type": "TEXT", "text": {"value": "r1"}}]}
        r = requests.post(self.master_url + "/master/internal/register", json={"agent_info": info, "url": self.url},
                          auth=auth)
        if r.status_code == 200:
            self.agent_id = r.json()["agent_id"]
        return r


class Scheduler:
    def __init__(self, master_url, **fi):
        info = {"user": "root", "name": "test", "capabilities": [{"type": "PARTITION_AWARE"}]}
        info.update(fi)
        self.url = master_url
        self.resp = requests.post(master_url + "/api/v1/scheduler", json={"type": "SUBSCRIBE", "subscribe": {
            "framework_info": info}}, stream=True)
        self.events = []
        self.cond = threading.Condition()
        if self.resp.status_code == 200:
            self.stream_id = self.resp.headers["Mesos-Stream-Id"]
            threading.Thread(target=self._read, daemon=True).start()
            self.framework_id = self.wait("SUBSCRIBED")["subscribed"]["framework_id"]["value"]

    def _read(self):
        dec = recordio.Decoder()
        try:
            for chunk in self.resp.iter_content(chunk_size=None):
                for rec in dec.feed(chunk):
                    with self.cond:
                        self.events.append(json.loads(rec))
                        self.cond.notify_all()
        except Exception:
            pass

    def wait(self, etype, pred=lambda e: True, timeout=5.0):
        end = time.time() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if e["type"] == etype and pred(e):
                        self.events.remove(e)
                        return e
                left = end - time.time()
                if left <= 0:
                    raise AssertionError("no %s event; got %s" % (etype, [e["type"] for e in self.events]))
                self.cond.wait(left)

    def disconnect(self):
        conn = getattr(self.resp.raw, "_connection", None)
        sock = getattr(conn, "sock", None)
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        self.resp.close()

    def call(self, body):
        body.setdefault("framework_id", {"value": self.framework_id})
        return requests.post(self.url + "/api/v1/scheduler", json=body, headers={"Mesos-Stream-Id": self.stream_id})

    def launch(self, offer, *task_infos):
        """ACCEPT the offer with one LAUNCH of these tasks."""
        return self.call({"type": "ACCEPT", "accept": {"offer_ids": [offer["id"]], "operations": [
            {"type": "LAUNCH", "launch": {"task_infos": list(task_infos)}}]}})


def task_info(offer, task_id, cpus, command="sleep 1", mem=None):
    """A command task for the offer's agent."""
    resources = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}}]
    if mem is not None:
        resources.append({"name": "mem", "type": "SCALAR", "scalar": {"value": mem}})
    return {"name": "t", "task_id": {"value": task_id}, "agent_id": offer["agent_id"], "resources": resources,
            "command": {"value": command}}


@pytest.fixture
def cluster(tmp_path):
    m, srv, url = start_master(tmp_path)
    yield m, url
    m.stop()
    srv.shutdown()


def test_registration_and_operator_api_shapes(cluster):
    m, url = cluster
    agent = FakeAgent(url)
    assert agent.register().status_code == 200
    r = requests.post(url + "/api/v1", json={"type": "GET_AGENTS"})
    assert r.status_code == 200
    a = r.json()["get_agents"]["agents"][0]
    assert r.json()["type"] == "GET_AGENTS"
    assert a["agent_info"]["id"]["value"] == agent.agent_id and a["active"] is True
    assert a["agent_info"]["attributes"] == [{"name": "rack", "type": "TEXT", "text": {"value": "r1"}}]
    assert {x["name"] for x in a["agent_info"]["resources"]} == {"cpus", "mem", "ports"}
    assert "nanoseconds" in a["registered_time"]
    master = requests.post(url + "/api/v1", json={"type": "GET_MASTER"}).json()["get_master"]["master_info"]
    assert master["pid"] == "master@127.0.0.1:%d" % master["port"] and master["ip"] == 16777343
    assert master["address"] == {"hostname": "127.0.0.1", "ip": "127.0.0.1", "port": master["port"]}
    assert requests.post(url + "/api/v1", json={"type": "GET_HEALTH"}).json() == {
        "type": "GET_HEALTH", "get_health": {"healthy": True}}
    assert requests.post(url + "/api/v1", json={"type": "GET_VERSION"}).json()["get_version"][
        "version_info"]["version"] == "1.11.0"
    flags = {f["name"]: f["value"] for f in requests.post(url + "/api/v1", json={"type": "GET_FLAGS"}).json()[
        "get_flags"]["flags"]}
    assert flags["allocation_interval"] == "100ms"
    state = requests.get(url + "/master/state").json()
    assert state["activated_slaves"] == 1 and state["leader"] == state["pid"] and "elected_time" in state
    assert state["slaves"][0]["attributes"] == {"rack": "r1"}
    assert state["slaves"][0]["resources"]["ports"] == "[31000-31010]"
    assert requests.get(url + "/version").json()["version"] == "1.11.0"
    assert requests.get(url + "/metrics/snapshot").json()["master/elected"] == 1
    assert requests.get(url + "/master/health").status_code == 200
    r = requests.get(url + "/master/redirect", allow_redirects=False)
    assert r.status_code == 307 and r.headers["Location"] == "//127.0.0.1:%d" % master["port"]


def test_scheduler_offer_launch_kill_teardown(cluster):
    m, url = cluster
    agent = FakeAgent(url)
    agent.register()
    s = Scheduler(url)
    offer = s.wait("OFFERS")["offers"]["offers"][0]
    assert offer["agent_id"]["value"] == agent.agent_id and offer["attributes"][0]["name"] == "rack"
    r = s.launch(offer, task_info(offer, "t1", 0.5, "sleep 100", mem=64), task_info(offer, "t2", 50, "sleep 100"))
    assert r.status_code == 202
    err = s.wait("UPDATE", lambda e: e["update"]["status"]["task_id"]["value"] == "t2")
    assert err["update"]["status"]["state"] == "TASK_ERROR"
    up = s.wait("UPDATE", lambda e: e["update"]["status"]["task_id"]["value"] == "t1")
    assert up["update"]["status"]["state"] == "TASK_RUNNING" and agent.launched[0]["task"]["task_id"]["value"] == "t1"
    tasks = requests.post(url + "/api/v1", json={"type": "GET_TASKS"}).json()["get_tasks"]["tasks"]
    assert [t["state"] for t in tasks] == ["TASK_RUNNING"]
    assert s.call({"type": "RECONCILE", "reconcile": {"tasks": []}}).status_code == 202
    rec = s.wait("UPDATE", lambda e: e["update"]["status"].get("reason") == "REASON_RECONCILIATION")
    assert rec["update"]["status"]["state"] == "TASK_RUNNING"
    assert s.call({"type": "KILL", "kill": {"task_id": {"value": "t1"}, "agent_id": offer["agent_id"]}}
                  ).status_code == 202
    assert s.wait("UPDATE", lambda e: e["update"]["status"]["state"] == "TASK_KILLED")
    bad = requests.post(url + "/api/v1/scheduler", json={"type": "REVIVE", "framework_id": {"value": s.framework_id}},
                        headers={"Mesos-Stream-Id": "wrong"})
    assert bad.status_code == 400
    r = requests.post(url + "/master/teardown", data={"frameworkId": s.framework_id})
    assert r.status_code == 200
    frameworks = requests.get(url + "/master/frameworks").json()
    assert frameworks["frameworks"] == [] and frameworks["completed_frameworks"][0]["id"] == s.framework_id


def test_drain_deactivate_quota_and_gone(cluster):
    m, url = cluster
    agent = FakeAgent(url)
    agent.register()
    s = Scheduler(url)
    offer = s.wait("OFFERS")["offers"]["offers"][0]
    s.launch(offer, task_info(offer, "d1", 1))
    s.wait("UPDATE", lambda e: e["update"]["status"]["state"] == "TASK_RUNNING")
    r = requests.post(url + "/api/v1", json={"type": "DRAIN_AGENT", "drain_agent": {
        "agent_id": {"value": agent.agent_id}, "mark_gone": False}})
    assert r.status_code == 200
    assert s.wait("UPDATE", lambda e: e["update"]["status"]["state"] == "TASK_KILLED")
    deadline = time.time() + 5
    while time.time() < deadline:
        a = requests.post(url + "/api/v1", json={"type": "GET_AGENTS"}).json()["get_agents"]["agents"][0]
        if a.get("drain_info", {}).get("state") == "DRAINED":
            break
        time.sleep(0.1)
    assert a["drain_info"]["state"] == "DRAINED" and a["deactivated"] is True
    assert requests.post(url + "/api/v1", json={"type": "REACTIVATE_AGENT", "reactivate_agent": {
        "agent_id": {"value": agent.agent_id}}}).status_code == 200
    assert requests.post(url + "/api/v1", json={"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
        {"role": "dev", "limits": {"cpus": {"value": 1}, "mem": {"value": 256}}}]}}).status_code == 200
    q = requests.post(url + "/api/v1", json={"type": "GET_QUOTA"}).json()["get_quota"]["status"]
    assert q["configs"] == [{"role": "dev", "limits": {"cpus": {"value": 1.0}, "mem": {"value": 256.0}}}]
    assert requests.post(url + "/api/v1", json={"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
        {"role": "dev", "limits": {"ports": {"value": 1}}}]}}).status_code == 400
    assert requests.post(url + "/api/v1", json={"type": "MARK_AGENT_GONE", "mark_agent_gone": {
        "agent_id": {"value": agent.agent_id}}}).status_code == 200
    assert requests.post(url + "/api/v1", json={"type": "GET_AGENTS"}).json()["get_agents"]["agents"] == []
    r = requests.post(url + "/master/internal/reregister", json={
        "agent_info": {"id": {"value": agent.agent_id}, "hostname": "x", "resources": []}, "url": agent.url})
    assert r.json()["shutdown"] is True


def test_authentication(tmp_path):
    creds = {"ops": "pw", "marathon": "s3cret"}
    m, srv, url = start_master(tmp_path, ["--authenticate_http_readonly", "--authenticate_http_readwrite",
                                          "--authenticate_frameworks", "--authenticate_agents"], creds)
    try:
        r = requests.get(url + "/master/state")
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="mesos-master-readonly"'
        assert requests.get(url + "/master/state", auth=("ops", "pw")).status_code == 200
        r = requests.post(url + "/api/v1", json={"type": "GET_HEALTH"})
        assert r.status_code == 401 and "mesos-master-readwrite" in r.headers["WWW-Authenticate"]
        assert requests.post(url + "/api/v1", json={"type": "GET_HEALTH"}, auth=("ops", "pw")).status_code == 200
        assert requests.get(url + "/master/health").status_code == 200        # not authenticated upstream either
        r = requests.post(url + "/api/v1/scheduler", json={"type": "SUBSCRIBE", "subscribe": {"framework_info": {
            "user": "root", "name": "x", "principal": "marathon"}}}, auth=("marathon", "wrong"))
        assert r.status_code == 401
        r = requests.post(url + "/api/v1/scheduler", json={"type": "SUBSCRIBE", "subscribe": {"framework_info": {
            "user": "root", "name": "x", "principal": "other"}}}, auth=("marathon", "s3cret"), stream=True)
        assert r.status_code == 403
        agent = FakeAgent(url)
        assert agent.register().status_code == 401
        assert agent.register(auth=("ops", "pw")).status_code == 200
    finally:
        m.stop()
        srv.shutdown()


def test_non_leading_master_redirects(tmp_path):
    m, srv, url = start_master(tmp_path)
    try:
        with m.lock:
            m._step_down()
            m.leader_info = {"hostname": "leader.example", "port": 5050, "pid": "master@10.0.0.1:5050",
                             "address": {"ip": "10.0.0.1", "hostname": "leader.example", "port": 5050}}
        r = requests.post(url + "/api/v1", json={"type": "GET_STATE"}, allow_redirects=False)
        assert r.status_code == 307 and r.headers["Location"] == "//leader.example:5050/api/v1"
        r = requests.post(url + "/api/v1/scheduler", json={"type": "SUBSCRIBE"}, allow_redirects=False)
        assert r.status_code == 307 and r.headers["Location"] == "//leader.example:5050/api/v1/scheduler"
        assert requests.get(url + "/master/redirect", allow_redirects=False).headers["Location"] == \
            "//leader.example:5050"
        st = requests.get(url + "/master/state").json()
        assert st["leader"] == "master@10.0.0.1:5050" and "elected_time" not in st
        assert requests.get(url + "/metrics/snapshot").json()["master/elected"] == 0
        with m.lock:
            m.leader_info = None
        assert requests.post(url + "/api/v1", json={"type": "GET_STATE"}).status_code == 503
        assert requests.get(url + "/master/redirect", allow_redirects=False).status_code == 503
        assert requests.get(url + "/master/health").status_code == 200
    finally:
        m.stop()
        srv.shutdown()


class MuteAgent(FakeAgent):
    """An agent that stops answering pings (partitioned)."""

    def __init__(self, master_url):
        self.mute = False
        super().__init__(master_url)

    def handle(self, req):
        if self.mute and req.path.endswith("/ping"):
            time.sleep(0.5)
            return httpd.json_response({}, 503)
        return super().handle(req)


def test_unreachable_agent_tasks_for_partition_aware_and_other_frameworks(tmp_path):
    m, srv, url = start_master(tmp_path, ["--agent_ping_timeout=200ms", "--max_agent_ping_timeouts=2"])
    try:
        agent = MuteAgent(url)
        agent.register()
        aware = Scheduler(url, name="aware")
        offer = aware.wait("OFFERS")["offers"]["offers"][0]
        aware.launch(offer, task_info(offer, "pa", 1))
        aware.wait("UPDATE", lambda e: e["update"]["status"]["state"] == "TASK_RUNNING")
        legacy = Scheduler(url, name="legacy", capabilities=[])
        offer = legacy.wait("OFFERS")["offers"]["offers"][0]
        legacy.launch(offer, task_info(offer, "np", 0.5))
        legacy.wait("UPDATE", lambda e: e["update"]["status"]["state"] == "TASK_RUNNING")
        agent.mute = True
        up = aware.wait("UPDATE", lambda e: e["update"]["status"]["task_id"]["value"] == "pa", timeout=10)
        assert up["update"]["status"]["state"] == "TASK_UNREACHABLE"
        up = legacy.wait("UPDATE", lambda e: e["update"]["status"]["task_id"]["value"] == "np", timeout=10)
        assert up["update"]["status"]["state"] == "TASK_LOST"
        st = requests.get(url + "/master/state").json()
        assert st["unreachable_slaves"] == 1 and st["slaves"] == []
        unreachable = requests.post(url + "/api/v1", json={"type": "GET_TASKS"}).json()["get_tasks"]["unreachable_tasks"]
        assert [t["task_id"]["value"] for t in unreachable] == ["pa"]
    finally:
        m.stop()
        srv.shutdown()


def test_framework_failover_timeout_removes_framework(cluster):
    m, url = cluster
    agent = FakeAgent(url)
    agent.register()
    s = Scheduler(url, failover_timeout=0.5)
    offer = s.wait("OFFERS")["offers"]["offers"][0]
    s.launch(offer, task_info(offer, "f1", 1))
    s.wait("UPDATE", lambda e: e["update"]["status"]["state"] == "TASK_RUNNING")
    s.disconnect()                                         # the scheduler goes away
    deadline = time.time() + 10
    while time.time() < deadline and not agent.killed:
        time.sleep(0.1)
    assert agent.killed and agent.killed[0]["task_id"] == "f1"
    fws = requests.get(url + "/master/frameworks").json()
    assert fws["frameworks"] == [] and fws["completed_frameworks"][0]["id"] == s.framework_id
    # re-subscribing with the removed framework id is refused
    r = requests.post(url + "/api/v1/scheduler", stream=True, json={"type": "SUBSCRIBE", "subscribe": {
        "framework_info": {"user": "root", "name": "test", "id": {"value": s.framework_id}}}})
    first = recordio.Decoder().feed(next(r.iter_content(chunk_size=None)))
    assert json.loads(first[0]) == {"type": "ERROR", "error": {"message": "Framework has been removed"}}
