"""Mesos stand-in: resources, attributes, agent checkpoint compatibility, small helpers."""
import os

import pytest

from mesos import resources as R
from mesos.agent import Agent, FatalError
from mesos.flags import agent_flagset
from mesos.main import build_agent_resources
from mesos.net import ip_to_uint32, resolve_address, uint32_to_ip
from standin_common import recordio
from standin_common.mesosgroup import leader_url, sort_members
from standin_common.zk import ZkUrlError, parse_zk_url


def by_name(res):
    return {(r["name"], R.resource_role(r)): r for r in res}


def test_text_resources_with_roles_ranges_and_sets():
    res = by_name(R.parse_resources("cpus:2;mem(web):1024.5;ports:[31000-32000, 33000-33001];disks:{a,b}"))
    assert res[("cpus", "*")]["scalar"]["value"] == 2.0
    assert res[("mem", "web")]["scalar"]["value"] == 1024.5
    assert res[("mem", "web")]["reservations"] == [{"type": "STATIC", "role": "web"}]
    assert res[("ports", "*")]["ranges"]["range"] == [{"begin": 31000, "end": 32000}, {"begin": 33000, "end": 33001}]
    assert res[("disks", "*")]["set"]["item"] == ["a", "b"]


def test_default_role_applies_to_resources_without_role():
    res = by_name(R.parse_resources("cpus:1;mem(*):10", default_role="ops"))
    assert ("cpus", "ops") in res and ("mem", "*") in res


def test_json_resources():
    text = '[{"name":"cpus","type":"SCALAR","scalar":{"value":24}},' \
           '{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1,"end":5}]},"role":"r"}]'
    res = by_name(R.parse_resources(text))
    assert res[("cpus", "*")]["scalar"]["value"] == 24.0
    assert R.resource_role(res[("ports", "r")]) == "r"


@pytest.mark.parametrize("text", ["cpus:two", "cpus", "ports:[5-1]", "ports:[1-2", "mem:-1", "cpus(a b):1",
                                  "[{\"name\": 1}", "disks:{a,b"])
def test_invalid_resources(text):
    with pytest.raises(R.ResourceError):
        R.parse_resources(text)


def test_resources_arithmetic():
    total = R.Resources(R.parse_resources("cpus:4;mem:1024;ports:[31000-31010]"))
    used = R.Resources(R.parse_resources("cpus:1.5;mem:256;ports:[31002-31003]"))
    left = total - used
    assert left.scalar("cpus") == 2.5 and left.scalar("mem") == 768
    assert left.ranges_of("ports") == [(31000, 31001), (31004, 31010)]
    assert total.contains(used) and not used.contains(total)
    assert (left + used) == total
    assert left.to_v0()["ports"] == "[31000-31001, 31004-31010]"
    reserved = R.Resources(R.parse_resources("cpus(web):1;cpus:1"))
    assert reserved.filter_roles({"*"}).scalar("cpus") == 1
    assert reserved.to_v0_by_role() == {"web": {"cpus": 1.0, "disk": 0.0, "gpus": 0.0, "mem": 0.0}}


def test_ranges_helpers():
    assert R.normalize_ranges([(5, 6), (1, 2), (3, 4)]) == [(1, 6)]
    assert R.subtract_ranges([(1, 10)], [(3, 4), (10, 12)]) == [(1, 2), (5, 9)]
    assert R.ranges_contain([(1, 10)], [(2, 3)]) and not R.ranges_contain([(1, 10)], [(9, 11)])


def test_attributes():
    attrs = {a["name"]: a for a in R.parse_attributes("rack:r1;dc:eu-west-1;n:2;span:[1-3];tags:{a,b};x:hello world")}
    assert attrs["rack"] == {"name": "rack", "type": "TEXT", "text": {"value": "r1"}}
    assert attrs["n"]["type"] == "SCALAR" and attrs["n"]["scalar"]["value"] == 2.0
    assert attrs["span"]["type"] == "RANGES" and attrs["tags"]["type"] == "SET"
    assert attrs["x"]["text"]["value"] == "hello world"
    assert R.attributes_v0(list(attrs.values()))["n"] == 2.0
    assert R.format_attributes([attrs["rack"], attrs["n"]]) == "rack:r1;n:2"
    with pytest.raises(R.ResourceError, match="Invalid attribute key:value pair 'rack'"):
        R.parse_attributes("rack;dc:1")


def test_default_resources_are_added(tmp_path):
    res = by_name(build_agent_resources("cpus:2", "*", str(tmp_path)))
    assert res[("cpus", "*")]["scalar"]["value"] == 2.0
    assert res[("ports", "*")]["ranges"]["range"] == [{"begin": 31000, "end": 32000}]
    assert res[("mem", "*")]["scalar"]["value"] > 0 and res[("disk", "*")]["scalar"]["value"] > 0
    cpus = by_name(build_agent_resources(None, "*", str(tmp_path)))[("cpus", "*")]["scalar"]["value"]
    assert cpus == float(os.cpu_count())


def test_ip_encoding_like_masterinfo():
    assert ip_to_uint32("127.0.1.1") == 16842879   # operator-http-api.md GET_MASTER example
    assert uint32_to_ip(16842879) == "127.0.1.1"


def test_zk_urls():
    u = parse_zk_url("zk://alice:s3cr3t@h1:2181,h2:2181/mesos")
    assert u.servers == "h1:2181,h2:2181" and u.path == "/mesos" and u.auth == ("alice", "s3cr3t")
    assert "s3cr3t" not in u.masked()
    u = parse_zk_url("zk://u:p@h1:1,u:p@h2:2/marathon", allow_per_host_credentials=True)
    assert u.auth == ("u", "p") and u.servers == "h1:1,h2:2"
    for bad in ("http://h:1/x", "zk:///x", "zk://u@h:1/x", "zk://h:1//x"):
        with pytest.raises(ZkUrlError):
            parse_zk_url(bad)


def test_group_helpers_and_recordio():
    assert sort_members(["json.info_0000000012", "foo", "json.info_0000000003", "info_0000000007"]) == \
        ["json.info_0000000003", "info_0000000007", "json.info_0000000012"]
    assert leader_url({"address": {"ip": "10.0.0.1", "port": 5050}}) == "http://10.0.0.1:5050"
    dec = recordio.Decoder()
    data = recordio.encode({"type": "HEARTBEAT"}) + recordio.encode({"type": "X", "n": 1})
    assert dec.feed(data[:5]) == []
    out = dec.feed(data[5:])
    assert [b'{"type": "HEARTBEAT"}', b'{"type": "X", "n": 1}'] == out


# ---------------------------------------------------------------------------
# agent checkpoint / reconfiguration policy


def make_agent(tmp_path, attributes, resources="cpus:2;mem:512;disk:100;ports:[31000-31010]", policy="equal"):
    flags = agent_flagset().load(["--master=127.0.0.1:5050", "--work_dir=%s" % tmp_path, "--ip=127.0.0.1",
                                  "--hostname=agent1", "--containerizers=mesos",
                                  "--reconfiguration_policy=%s" % policy], {})
    addr = resolve_address(flags, 5051)
    return Agent(flags, addr, R.parse_resources(resources), R.parse_attributes(attributes), None, {})


def test_new_agent_has_no_checkpoint(tmp_path):
    a = make_agent(tmp_path, "rack:r1")
    assert a.recover() is False and a.agent_id is None


def test_checkpoint_layout_and_compatible_recovery(tmp_path):
    a = make_agent(tmp_path, "rack:r1")
    a.agent_id = "m-S1"
    a.checkpoint_agent()
    latest = tmp_path / "meta" / "slaves" / "latest"
    assert os.path.islink(latest)
    assert os.path.realpath(latest) == str(tmp_path / "meta" / "slaves" / "m-S1")
    assert (tmp_path / "meta" / "slaves" / "m-S1" / "slave.info").exists()
    b = make_agent(tmp_path, "rack:r1")
    assert b.recover() is True and b.agent_id == "m-S1"


def test_incompatible_attributes_refuse_to_start(tmp_path):
    a = make_agent(tmp_path, "rack:r1")
    a.agent_id = "m-S1"
    a.checkpoint_agent()
    b = make_agent(tmp_path, "rack:r2")
    with pytest.raises(FatalError) as err:
        b.recover()
    msg = str(err.value)
    assert "Incompatible agent info detected" in msg
    assert "rm -f %s" % (tmp_path / "meta" / "slaves" / "latest") in msg


def test_additive_policy(tmp_path):
    a = make_agent(tmp_path, "rack:r1", policy="additive")
    a.agent_id = "m-S1"
    a.checkpoint_agent()
    grown = make_agent(tmp_path, "rack:r1;zone:z1", resources="cpus:4;mem:512;disk:100;ports:[31000-31020]",
                       policy="additive")
    assert grown.recover() is True
    shrunk = make_agent(tmp_path, "rack:r1", resources="cpus:1;mem:512;disk:100;ports:[31000-31010]",
                        policy="additive")
    with pytest.raises(FatalError, match="reduced"):
        shrunk.recover()
    changed = make_agent(tmp_path, "rack:r2", policy="additive")
    with pytest.raises(FatalError, match="attribute 'rack' was changed"):
        changed.recover()
    equal_more = make_agent(tmp_path, "rack:r1;zone:z1", policy="equal")
    with pytest.raises(FatalError, match="attributes changed"):
        equal_more.recover()


# ---------------------------------------------------------------------------
# docker run arguments (no docker needed: only the argument vector is built)


def docker_agent(tmp_path, *extra):
    flags = agent_flagset().load(["--master=127.0.0.1:5050", "--work_dir=%s" % tmp_path, "--ip=127.0.0.1",
                                  "--hostname=agent1", "--containerizers=docker",
                                  '--docker_config={"auths": {}}'] + list(extra), {})
    a = Agent(flags, resolve_address(flags, 5051), R.parse_resources("cpus:2;mem:512"), [], None, {})
    a.agent_id = "m-S0"
    return a


def test_docker_run_arguments_bridge_shell(tmp_path):
    from mesos.agent import LocalTask
    a = docker_agent(tmp_path)
    task = LocalTask({
        "task_id": {"value": "web.1"}, "name": "web",
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}},
                      {"name": "mem", "type": "SCALAR", "scalar": {"value": 64}}],
        "command": {"value": "python3 -m http.server 8000",
                    "environment": {"variables": [{"name": "PORT0", "value": "31001"}]}},
        "labels": {"labels": [{"key": "team", "value": "x"}]},
        "container": {"type": "DOCKER", "docker": {"image": "img:1", "network": "BRIDGE", "privileged": True,
                                                   "parameters": [{"key": "ulimit", "value": "nofile=1024"}],
                                                   "port_mappings": [{"host_port": 31001, "container_port": 8000,
                                                                      "protocol": "tcp"}]}}}, "fw-1", "cid-1")
    env = a.task_env(task)
    assert env["MESOS_TASK_ID"] == "web.1" and env["HOST"] == "agent1" and env["LIBPROCESS_IP"] == "127.0.0.1"
    assert env["MESOS_SANDBOX"] == "/mnt/mesos/sandbox" and env["MESOS_CONTAINER_NAME"] == "mesos-cid-1"
    assert env["PORT0"] == "31001"
    args = a.containerizers["docker"].build_run_args(task, env, "/sb")
    joined = " ".join(args)
    assert args[:4] == ["run", "-d", "--name", "mesos-cid-1"]
    assert "--label mesos.task_id=web.1" in joined and "--label team=x" in joined
    assert "--label mesos.work_dir=%s" % tmp_path in joined
    assert "--cpu-shares 512" in joined and "--memory %d" % (64 * 1024 * 1024) in joined
    assert "-e PORT0=31001" in joined and "-v /sb:/mnt/mesos/sandbox" in joined
    assert "--net bridge -p 31001:8000/tcp" in joined and "--privileged" in joined
    assert "--ulimit=nofile=1024" in args
    assert args[-5:] == ["--entrypoint", "/bin/sh", "img:1", "-c", "python3 -m http.server 8000"]
    assert os.path.exists(tmp_path / "docker-config" / "config.json")


def test_docker_run_arguments_host_entrypoint(tmp_path):
    from mesos.agent import LocalTask
    a = docker_agent(tmp_path)
    task = LocalTask({"task_id": {"value": "t"}, "resources": [],
                      "command": {"shell": False, "arguments": ["--port", "80"]},
                      "container": {"type": "DOCKER", "docker": {"image": "nginx"}}}, "fw", "c2")
    args = a.containerizers["docker"].build_run_args(task, {}, "/sb")
    assert "--net host" in " ".join(args) and "--entrypoint" not in args
    assert args[-3:] == ["nginx", "--port", "80"]
    mesos_image = LocalTask({"task_id": {"value": "u"}, "resources": [], "command": {"shell": False},
                             "container": {"type": "MESOS", "mesos": {"image": {"type": "DOCKER",
                                                                                "docker": {"name": "busybox"}}}}},
                            "fw", "c3")
    assert a.containerizers["docker"].build_run_args(mesos_image, {}, "/sb")[-1] == "busybox"
