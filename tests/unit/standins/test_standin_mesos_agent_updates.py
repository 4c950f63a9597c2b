"""Mesos agent stand-in in-process against a fake master: status updates are re-sent until the
framework acknowledges them (the agent's status update manager), with backoff."""
import threading

import pytest

from mesos import agent as agent_mod
from mesos.agent import Agent
from mesos.flags import agent_flagset
from mesos.net import resolve_address
from standin_common import httpd


class FakeMaster:
    """Takes every status update (200) and remembers (framework, task, state, uuid)."""

    def __init__(self):
        self.updates = []
        self.lock = threading.Lock()
        self.srv = httpd.serve(("127.0.0.1", 0), self)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def handle(self, req):
        body = req.json()
        status = body["status"]
        with self.lock:
            self.updates.append((body["framework_id"]["value"], status["task_id"]["value"], status["state"],
                                 status["uuid"]))
        return httpd.json_response({})

    def states(self):
        with self.lock:
            return [(tid, state) for _, tid, state, _ in self.updates]


@pytest.fixture
def setup(tmp_path, monkeypatch, clock):
    master = FakeMaster()
    flags = agent_flagset().load(["--master=127.0.0.1:1", "--work_dir=%s" % tmp_path, "--ip=127.0.0.1",
                                  "--port=1", "--containerizers=mesos"], {})
    agent = Agent(flags, resolve_address(flags, 5051), [], [], None, None)
    agent.agent_id, agent.master_url, agent.registered = "a1", master.url, True
    monkeypatch.setattr(agent_mod, "time", type("T", (), {"monotonic": clock, "time": agent_mod.time.time}))
    yield agent, master, clock
    master.srv.shutdown()


def status(tid, state):
    return {"task_id": {"value": tid}, "state": state, "uuid": agent_mod.new_uuid_b64()}


def send(agent, fid, st):
    agent.pending_updates.append((fid, st))
    agent.flush_updates()


def tick(agent, clock, seconds):
    clock.now += seconds
    agent.resend_unacknowledged()
    agent.flush_updates()


def test_unacknowledged_update_is_resent_with_backoff_until_acknowledged(setup):
    agent, master, clock = setup
    running = status("t1", "TASK_RUNNING")
    send(agent, "f1", running)
    assert master.states() == [("t1", "TASK_RUNNING")]
    tick(agent, clock, 9.9)
    assert len(master.updates) == 1
    tick(agent, clock, 0.1)                      # 10 s: the first retry
    assert master.states() == [("t1", "TASK_RUNNING")] * 2
    assert master.updates[1][3] == running["uuid"]
    tick(agent, clock, 19.9)                     # then 20 s
    assert len(master.updates) == 2
    tick(agent, clock, 0.1)
    assert len(master.updates) == 3

    assert agent.acknowledge({"framework_id": "f1", "task_id": "t1", "uuid": "not-this-one"}) is False
    assert agent.acknowledge({"framework_id": "f1", "task_id": "t1", "uuid": running["uuid"]}) is True
    tick(agent, clock, 3600)
    assert len(master.updates) == 3


def test_backoff_stops_growing_at_ten_minutes(setup):
    agent, master, clock = setup
    send(agent, "f1", status("t1", "TASK_RUNNING"))
    intervals = []
    for _ in range(12):
        before = len(master.updates)
        waited = 0
        while len(master.updates) == before:
            tick(agent, clock, 10)
            waited += 10
        intervals.append(waited)
    assert intervals[:7] == [10, 20, 40, 80, 160, 320, 600]
    assert set(intervals[7:]) == {600}


def test_a_newer_update_replaces_the_one_awaiting_acknowledgement(setup):
    agent, master, clock = setup
    send(agent, "f1", status("t1", "TASK_STARTING"))
    killed = status("t1", "TASK_KILLED")
    send(agent, "f1", killed)
    tick(agent, clock, 10)
    assert master.states() == [("t1", "TASK_STARTING"), ("t1", "TASK_KILLED"), ("t1", "TASK_KILLED")]
    # The old update's acknowledgement, arriving late, does not stop the newer one.
    assert agent.acknowledge({"framework_id": "f1", "task_id": "t1", "uuid": master.updates[0][3]}) is False
    assert agent.acknowledge({"framework_id": "f1", "task_id": "t1", "uuid": killed["uuid"]}) is True


def test_a_queued_newer_update_goes_before_any_retry_of_the_older_one(setup):
    agent, master, clock = setup
    send(agent, "f1", status("t1", "TASK_STARTING"))
    agent.pending_updates.append(("f1", status("t1", "TASK_RUNNING")))    # not sent yet
    clock.now += 10
    assert agent.resend_unacknowledged() == 0
    agent.flush_updates()
    assert master.states() == [("t1", "TASK_STARTING"), ("t1", "TASK_RUNNING")]


def test_updates_of_a_framework_shut_down_here_are_not_kept(setup):
    agent, master, clock = setup
    send(agent, "f1", status("t1", "TASK_RUNNING"))
    send(agent, "f2", status("t2", "TASK_RUNNING"))
    agent.shutdown_framework({"framework_id": "f1"})
    send(agent, "f1", status("t1", "TASK_KILLED"))                      # its task's end, after the shutdown
    tick(agent, clock, 10)
    assert master.states() == [("t1", "TASK_RUNNING"), ("t2", "TASK_RUNNING"), ("t1", "TASK_KILLED"),
                               ("t2", "TASK_RUNNING")]


@pytest.mark.parametrize("capabilities,state", [([{"type": "PARTITION_AWARE"}], "TASK_DROPPED"), ([], "TASK_LOST")])
def test_kill_of_a_task_the_agent_does_not_run_is_answered(setup, capabilities, state):
    agent, master, _ = setup
    agent.frameworks["f1"] = {"id": {"value": "f1"}, "name": "marathon", "capabilities": capabilities}
    agent.kill_unknown_task("f1", "never-launched")
    agent.flush_updates()
    assert master.states() == [("never-launched", state)]
    agent.kill_unknown_task("f-unknown", "t9")      # a framework the agent does not know: ignored
    agent.shutdown_framework({"framework_id": "f1"})
    agent.kill_unknown_task("f1", "t8")             # nor one it shut down
    agent.flush_updates()
    assert master.states() == [("never-launched", state)]
