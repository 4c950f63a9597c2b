import pytest
from ansible.errors import AnsibleFilterError

from paas_validate import server_id_errors


def test_valid_ids_have_no_problems():
    assert server_id_errors({"zk1": 1, "zk2": "2", "zk3": 255}) == []


@pytest.mark.parametrize("ids,fragments", [
    ({"zk1": 1, "zk2": None}, ["not set for zk2"]),
    ({"zk1": ""}, ["not set for zk1"]),
    ({"zk1": 0}, ["zk1 must be an integer from 1 to 255, got 0"]),
    ({"zk1": 256}, ["got 256"]),
    ({"zk1": -3}, ["got -3"]),
    ({"zk1": "one"}, ["got 'one'"]),
    ({"zk1": 1.5}, ["got 1.5"]),
    ({"zk1": True}, ["got True"]),
    ({"zk1": 2, "zk2": 2}, ["zookeeper_id 2 is used by more than one host: zk1, zk2"]),
    ({"zk1": 2, "zk2": "2", "zk3": None}, ["not set for zk3", "2 is used by more than one host: zk1, zk2"]),
])
def test_problems_name_host_and_field(ids, fragments):
    problems = server_id_errors(ids)
    assert len(problems) == len(fragments)
    for problem, fragment in zip(problems, fragments):
        assert fragment in problem
        assert "zookeeper_id" in problem


def test_field_name_is_configurable():
    assert "mesos_x" in server_id_errors({"h": None}, field="mesos_x")[0]


def test_rejects_non_dict():
    with pytest.raises(AnsibleFilterError):
        server_id_errors(["zk1"])
