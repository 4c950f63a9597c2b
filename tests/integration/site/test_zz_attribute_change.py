"""Changing one agent's rack and converging again: the agent is drained,
re-registers with the new attribute (not stuck on its checkpoint), and the
other agent is never restarted. Runs last: it changes the site."""
import os
import shutil
import tempfile
import time

import yaml

from paas_testlib import mesos as mh
from paas_testlib.ansible_run import run_playbook, failed_task_messages
from paas_testlib.site import docker_exec, record_timing

ROOT = os.environ.get("MOLECULE_PROJECT_DIRECTORY") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def _active_since(host):
    out = docker_exec(host, "systemctl", "show", "-p", "ActiveEnterTimestampMonotonic", "--value", "mesos-agent")
    return out.stdout.decode().strip()


def _inventory_with(host, variables):
    """A copy of the scenario's inventory with changed host variables."""
    src = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
    dst = tempfile.mkdtemp(prefix="site-inventory-")
    shutil.copytree(src, dst, dirs_exist_ok=True)
    path = os.path.join(dst, "host_vars", host)
    with open(path) as fh:
        data = yaml.safe_load(fh) or {}
    data.update(variables)
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh)
    return os.path.join(dst, os.path.basename(os.environ["MOLECULE_INVENTORY_FILE"])), dst


def test_changed_rack_reregisters_one_agent(site):
    agent2_before = _active_since("agent2")
    current = {s["hostname"]: s["attributes"] for s in site.leader_state()["slaves"]}.get("172.31.5.21", {})
    new_rack = "r4" if current.get("rack") == "r3" else "r3"   # a rack agent1 does not have yet
    inventory, tmp = _inventory_with("agent1", {"mesos_agent_attributes": {"rack": new_rack, "dc": "dc1"}})
    try:
        run = run_playbook(os.path.join(ROOT, "playbooks", "mesos.yml"), inventory=inventory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    record_timing("attribute_change_converge_seconds", run.seconds)
    assert run.rc == 0, failed_task_messages(run.output)
    assert run.changed("agent1") > 0
    assert run.changed("agent2") == 0

    state = site.leader_state()
    active = {s["hostname"]: s["attributes"] for s in state["slaves"] if s["active"]}
    assert active.get("172.31.5.21") == {"rack": new_rack, "dc": "dc1"}, active
    assert active.get("172.31.5.22") == {"rack": "r2", "dc": "dc1"}, active
    assert _active_since("agent2") == agent2_before, "agent2 must not have been restarted"
    # The old agent id was drained and marked gone: one registration per host.
    assert sorted(s["hostname"] for s in state["slaves"]) == ["172.31.5.21", "172.31.5.22"]
    # The checkpoint on agent1 now holds the new attributes: a restart recovers it.
    assert docker_exec("agent1", "systemctl", "restart", "mesos-agent").returncode == 0
    time.sleep(3)

    def reregistered():
        st = site.leader_state() or {}
        got = {s["hostname"]: s["attributes"] for s in st.get("slaves", []) if s.get("active")}
        return got.get("172.31.5.21") == {"rack": new_rack, "dc": "dc1"}
    mh.wait_for(reregistered, 90, message="agent1 back after a plain restart")
