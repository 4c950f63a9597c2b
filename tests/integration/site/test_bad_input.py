"""Bad input stops the play before anything changes, naming the variable."""
import os

import pytest

from paas_testlib.ansible_run import run_playbook, failed_task_messages

ROOT = os.environ.get("MOLECULE_PROJECT_DIRECTORY") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))

CASES = [
    ("quorum_larger_than_masters", "ctl1,ctl2,ctl3", {"mesos_master_quorum": 4}, "mesos_master_quorum"),
    ("quorum_not_a_majority", "ctl1,ctl2,ctl3", {"mesos_master_quorum": 1}, "mesos_master_quorum"),
    ("unknown_containerizer", "agent1", {"mesos_agent_containerizers": ["docker", "lxc"]},
     "mesos_agent_containerizers"),
    ("malformed_attributes", "agent1", {"mesos_agent_attributes": {"rack": "r1;dc:x"}}, "mesos_agent_attributes"),
    ("malformed_resources", "agent1", {"mesos_agent_resources": {"ports": "31000-32000"}}, "mesos_agent_resources"),
    ("missing_archive_checksum", "agent1", {"mesos_archive_checksum": ""}, "mesos_archive_checksum"),
]


@pytest.mark.parametrize("case, limit, extra, variable", CASES, ids=[c[0] for c in CASES])
def test_bad_input_fails_before_any_change(case, limit, extra, variable):
    run = run_playbook(os.path.join(ROOT, "playbooks", "mesos.yml"), inventory=os.environ["MOLECULE_INVENTORY_FILE"],
                       extra_vars=extra, limit=limit)
    assert run.rc != 0, "%s must fail" % case
    assert run.changed() == 0, "nothing may change before the input is checked"
    messages = failed_task_messages(run.output)
    assert messages and all(variable in m for m in messages), messages
