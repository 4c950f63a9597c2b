"""A configuration change restarts masters and Marathon instances one at a
time with the leader last, and the cluster keeps a leader throughout."""
import os

from paas_testlib import mesos as mh
from paas_testlib.ansible_run import run_playbook, failed_task_messages
from paas_testlib.site import docker_exec, record_timing

ROOT = os.environ.get("MOLECULE_PROJECT_DIRECTORY") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CTL = ["ctl1", "ctl2", "ctl3"]


def _started(host, unit):
    out = docker_exec(host, "systemctl", "show", "-p", "ActiveEnterTimestampMonotonic", "--value", unit)
    return int(out.stdout.decode().strip() or 0)


def _restart_with(site, playbook, unit, extra):
    before = {h: _started(h, unit) for h in CTL}
    run = run_playbook(os.path.join(ROOT, "playbooks", playbook), inventory=os.environ["MOLECULE_INVENTORY_FILE"],
                       extra_vars=extra, limit=",".join(CTL))
    assert run.rc == 0, failed_task_messages(run.output)
    after = {h: _started(h, unit) for h in CTL}
    assert all(after[h] > before[h] for h in CTL), "every instance must have been restarted once"
    record_timing("rolling_restart_%s_seconds" % unit.replace("-", "_"), run.seconds)
    return sorted(CTL, key=lambda h: after[h])


def test_masters_restart_one_at_a_time_leader_last(site):
    leader = mh.wait_for(site.leading_master, 60, message="a leading master")
    order = _restart_with(site, "mesos.yml", "mesos-master",
                          # A flag changed from the scenario's (offer_timeout 1mins): a restart is due.
                          {"mesos_master_extra_flags": {"agent_ping_timeout": "2secs", "max_agent_ping_timeouts": 3,
                                                        "offer_timeout": "2mins"}})
    assert order[-1] == leader, "the leader must be restarted last: %s (leader %s)" % (order, leader)
    mh.wait_for(site.leading_master, 60, message="a leading master after the rolling restart")


def test_marathon_restarts_one_at_a_time_leader_last(site):
    leader = mh.wait_for(site.marathon_leader, 60, message="a Marathon leader")
    order = _restart_with(site, "marathon.yml", "marathon", {"marathon_extra_flags": {"task_launch_timeout": 600000}})
    assert order[-1] == leader, "the leader must be restarted last: %s (leader %s)" % (order, leader)
    mh.wait_for(site.marathon_leader, 60, message="a Marathon leader after the rolling restart")
