"""Marathon stand-in: app validation/normalization (RAML app.raml) and offer/constraint matching."""
import random

import pytest

from marathon import appdef, matching
from marathon.appdef import InvalidJson, ValidationFailed, parse_app
from marathon.flags import Parser


@pytest.fixture
def conf():
    return Parser().parse(["--master", "zk://h:2181/mesos"], {})


def errors(exc):
    return {d["path"]: d["errors"] for d in exc.value.details}


def test_defaults_are_filled_in(conf):
    app = parse_app({"id": "web", "cmd": "sleep 100"}, conf)
    assert app["id"] == "/web"
    assert (app["cpus"], app["mem"], app["disk"], app["instances"], app["gpus"]) == (1.0, 128.0, 0.0, 1, 0)
    assert app["portDefinitions"] == [{"port": 0, "name": "default", "protocol": "tcp"}]
    assert app["networks"] == [{"mode": "host"}]
    assert app["requirePorts"] is False and app["executor"] == "" and app["labels"] == {} and app["env"] == {}
    assert app["backoffSeconds"] == 1 and app["backoffFactor"] == 1.15 and app["maxLaunchDelaySeconds"] == 300
    assert app["upgradeStrategy"] == {"maximumOverCapacity": 1.0, "minimumHealthCapacity": 1.0}
    assert app["unreachableStrategy"] == {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0}
    assert app["killSelection"] == "YOUNGEST_FIRST" and app["role"] == "*"
    assert app["constraints"] == [] and app["healthChecks"] == [] and app["fetch"] == []


def test_sent_fields_keep_their_values(conf):
    sent = {"id": "/a/b", "cmd": "python3 -m http.server $PORT0", "cpus": 0.25, "mem": 64, "instances": 3,
            "env": {"X": "1"}, "labels": {"team": "t"}, "constraints": [["hostname", "UNIQUE"]],
            "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.2}}
    app = parse_app(sent, conf)
    for k, v in sent.items():
        assert app[k] == v, k


def test_docker_defaults_and_bridge_migration(conf):
    app = parse_app({"id": "/d", "container": {"type": "DOCKER", "docker": {
        "image": "nginx", "network": "BRIDGE", "portMappings": [{"containerPort": 80}]}}}, conf)
    d = app["container"]["docker"]
    assert d == {"forcePullImage": False, "image": "nginx", "parameters": [], "privileged": False}
    assert app["networks"] == [{"mode": "container/bridge"}]
    assert app["container"]["portMappings"] == [
        {"containerPort": 80, "hostPort": 0, "labels": {}, "protocol": "tcp", "servicePort": 0}]
    assert "portDefinitions" not in app and app["container"]["volumes"] == []


def test_uris_ports_and_ipaddress_migrations(conf):
    app = parse_app({"id": "/u", "cmd": "x y", "uris": ["http://h/a.tgz"], "ports": [0, 0]}, conf)
    assert app["fetch"] == [{"uri": "http://h/a.tgz", "executable": False, "extract": True, "cache": False}]
    assert [p["port"] for p in app["portDefinitions"]] == [0, 0]


@pytest.mark.parametrize("bad_id", ["/Web", "/under_score", "/-lead", "/trail-", "/a/b c"])
def test_invalid_ids(conf, bad_id):
    with pytest.raises(ValidationFailed) as exc:
        parse_app({"id": bad_id, "cmd": "sleep 1"}, conf)
    assert any("must fully match regular expression" in e for e in errors(exc)["/id"])


def test_relative_ids_and_dots(conf):
    assert parse_app({"id": "group/app.v1", "cmd": "sleep 1"}, conf)["id"] == "/group/app.v1"
    assert appdef.resolve_id("../x", "/a/b") == "/a/x"
    with pytest.raises(ValidationFailed) as exc:
        parse_app({"id": "/", "cmd": "sleep 1"}, conf)
    assert "must not be root" in errors(exc)["/id"]


def test_cmd_args_container_rule(conf):
    msg = "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."
    for body in ({"id": "/x"}, {"id": "/x", "cmd": "a b", "args": ["a"]}):
        with pytest.raises(ValidationFailed) as exc:
            parse_app(body, conf)
        assert msg in errors(exc)["/"]
    parse_app({"id": "/x", "args": ["sleep", "1"]}, conf)
    parse_app({"id": "/x", "container": {"docker": {"image": "busybox"}}}, conf)


def test_numeric_limits_and_types(conf):
    with pytest.raises(ValidationFailed) as exc:
        parse_app({"id": "/x", "cmd": "ab", "instances": -1, "cpus": 0, "mem": -5,
                   "upgradeStrategy": {"minimumHealthCapacity": 1.5}}, conf)
    e = errors(exc)
    assert "/instances" in e and "/cpus" in e and "/mem" in e
    assert e["/upgradeStrategy/minimumHealthCapacity"] == ["is greater than 1"]
    with pytest.raises(InvalidJson) as exc:
        parse_app({"id": 5, "cmd": ["x"], "instances": "2", "env": {"A": 1}}, conf)
    e = errors(exc)
    assert e["/id"] == ["error.expected.jsstring"] and e["/cmd"] == ["error.expected.jsstring"]
    assert e["/instances"] == ["error.expected.jsnumber"] and e["/env/A"] == ["error.expected.jsstring"]


@pytest.mark.parametrize("constraint,message", [
    (["hostname", "UNIQUE", "x"], "Value specified but not used"),
    (["rack", "CLUSTER"], "Missing value"),
    (["rack", "GROUP_BY", "two"], "Value was specified but is not a number"),
    (["rack", "MAX_PER"], "Value was not specified or is not a number"),
    (["rack", "LIKE"], "A regular expression value must be provided"),
    (["rack", "LIKE", "[a-"], "'[a-' is not a valid regular expression"),
    (["rack", "NEAR", "x"], "Constraint operator must be one of the following"),
    (["rack"], "Each constraint must have either 2 or 3 fields"),
    (["rack", "IS"], "Missing value"),
])
def test_constraint_validation(conf, constraint, message):
    with pytest.raises(ValidationFailed) as exc:
        parse_app({"id": "/x", "cmd": "ab", "constraints": [constraint]}, conf)
    assert any(message in m for m in errors(exc)["/constraints(0)"])


def test_valid_constraints(conf):
    cons = [["hostname", "UNIQUE"], ["rack", "CLUSTER", "r1"], ["rack", "GROUP_BY", "2"], ["rack", "GROUP_BY"],
            ["dc", "LIKE", "dc[12]"], ["dc", "UNLIKE", "dc3"], ["hostname", "MAX_PER", "2"], ["rack", "IS", "r1"]]
    assert parse_app({"id": "/x", "cmd": "ab", "constraints": cons}, conf)["constraints"] == cons


def test_networking_rules(conf):
    with pytest.raises(ValidationFailed) as exc:
        parse_app({"id": "/x", "container": {"docker": {"image": "i"}, "portMappings": [{"containerPort": 1}]},
                   "networks": [{"mode": "host"}]}, conf)
    assert "portMappings are not allowed with host-networking" in errors(exc)["/"]
    with pytest.raises(ValidationFailed) as exc:
        parse_app({"id": "/x", "container": {"docker": {"image": "i"}}, "networks": [{"mode": "container/bridge"}],
                   "portDefinitions": [{"port": 0}]}, conf)
    assert "portDefinitions are only allowed with host-networking" in errors(exc)["/"]
    with pytest.raises(ValidationFailed) as exc:
        parse_app({"id": "/x", "container": {"docker": {"image": "i", "network": "BRIDGE"}},
                   "networks": [{"mode": "container/bridge"}]}, conf)
    assert "must not specify both container.docker.network and networks" in errors(exc)["/"]
    with pytest.raises(ValidationFailed) as exc:
        parse_app({"id": "/x", "container": {"docker": {"image": ""}}}, conf)
    assert errors(exc)["/container/docker/image"] == ["must not be empty"]


def test_health_checks(conf):
    app = parse_app({"id": "/x", "cmd": "ab", "healthChecks": [{"protocol": "HTTP"}, {"protocol": "TCP"}]}, conf)
    hc = app["healthChecks"][0]
    assert (hc["portIndex"], hc["path"], hc["gracePeriodSeconds"], hc["intervalSeconds"], hc["timeoutSeconds"],
            hc["maxConsecutiveFailures"]) == (0, "/", 300, 60, 20, 3)
    with pytest.raises(ValidationFailed) as exc:
        parse_app({"id": "/x", "cmd": "ab", "healthChecks": [{"protocol": "HTTP", "portIndex": 3}]}, conf)
    assert "port indices" in errors(exc)["/healthChecks(0)"][0]
    with pytest.raises(ValidationFailed) as exc:
        parse_app({"id": "/x", "cmd": "ab", "healthChecks": [{"protocol": "MESOS_HTTP"}, {"protocol": "MESOS_TCP"}]},
                  conf)
    assert "AppDefinition can contain at most one Mesos health check" in errors(exc)["/"]


def test_partial_update_merges_over_existing(conf):
    base = parse_app({"id": "/x", "cmd": "sleep 10", "instances": 2, "env": {"A": "1"}}, conf)
    merged = parse_app({"instances": 5}, conf, path_id="/x", base=base)
    assert merged["instances"] == 5 and merged["cmd"] == "sleep 10" and merged["env"] == {"A": "1"}
    switched = parse_app({"args": ["sleep", "1"]}, conf, path_id="/x", base=base)
    assert "cmd" not in switched and switched["args"] == ["sleep", "1"]
    assert appdef.config_view(merged) == appdef.config_view(base)          # scaling only
    assert appdef.config_view(switched) != appdef.config_view(base)


def test_service_ports_are_unique_and_kept(conf):
    a = parse_app({"id": "/a", "cmd": "ab", "portDefinitions": [{"port": 0}, {"port": 0}]}, conf)
    appdef.assign_service_ports(a, {10000}, 10000, 20000)
    assert [p["port"] for p in a["portDefinitions"]] == [10001, 10002]
    b = parse_app({"id": "/a", "cmd": "abc"}, conf)
    appdef.assign_service_ports(b, set(), 10000, 20000, previous=a)
    assert b["portDefinitions"][0]["port"] == 10001


# ---------------------------------------------------------------------------
# constraints / offers

def attrs(**kv):
    out = []
    for k, v in kv.items():
        if isinstance(v, (int, float)):
            out.append({"name": k, "type": "SCALAR", "scalar": {"value": v}})
        else:
            out.append({"name": k, "type": "TEXT", "text": {"value": v}})
    return out


def test_constraint_operators():
    placed = [("h1", attrs(rack="r1")), ("h2", attrs(rack="r1"))]
    m = matching.meets_constraint
    assert not m(["hostname", "UNIQUE"], "h1", [], placed) and m(["hostname", "UNIQUE"], "h3", [], placed)
    assert not m(["rack", "UNIQUE"], "h3", attrs(rack="r1"), placed)
    assert m(["rack", "CLUSTER", "r1"], "h3", attrs(rack="r1"), placed)
    assert not m(["rack", "CLUSTER", "r2"], "h3", attrs(rack="r3"), [])
    assert not m(["rack", "CLUSTER", ""], "h3", attrs(rack="r2"), placed)
    assert m(["rack", "LIKE", "r[12]"], "h", attrs(rack="r2"), []) and not m(["rack", "LIKE", "r"], "h",
                                                                            attrs(rack="r2"), [])
    assert m(["rack", "UNLIKE", "r1"], "h", attrs(rack="r2"), [])
    assert m(["rack", "UNLIKE", "r1"], "h", [], [])             # missing attribute: only UNLIKE matches
    assert not m(["rack", "LIKE", ".*"], "h", [], [])
    assert m(["rack", "GROUP_BY"], "h3", attrs(rack="r2"), placed)       # new group
    assert not m(["rack", "GROUP_BY", "2"], "h3", attrs(rack="r1"), placed)
    assert m(["hostname", "MAX_PER", "2"], "h1", [], [("h1", [])]) and not m(["hostname", "MAX_PER", "1"], "h1",
                                                                           [], [("h1", [])])
    assert m(["n", "IS", "2"], "h", attrs(n=2), []) and not m(["n", "IS", "3"], "h", attrs(n=2), [])
    assert matching.format_number(1234.5) == "1,234.5" and matching.format_number(2.0) == "2"


def offer(hostname="h1", cpus=2.0, mem=1024.0, ports=((31000, 31005),), attributes=None, role="*"):
    res = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}, "role": role},
           {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}, "role": role},
           {"name": "ports", "type": "RANGES", "role": role,
            "ranges": {"range": [{"begin": b, "end": e} for b, e in ports]}}]
    return {"id": {"value": "o1"}, "agent_id": {"value": "a1"}, "hostname": hostname, "resources": res,
            "attributes": attributes or [], "allocation_info": {"role": "*"}}


def test_match_host_ports_and_resources(conf):
    app = parse_app({"id": "/x", "cmd": "ab", "cpus": 0.5, "mem": 100, "portDefinitions": [{"port": 0}, {"port": 0}]},
                    conf)
    pool = matching.OfferPool(offer())
    alloc, reasons = matching.match(app, pool, [], {"*"}, rng=random.Random(1))
    assert reasons == [] and len([p for p, _ in alloc["ports"]]) == 2
    res = {r["name"]: r for r in matching.allocation_resources(alloc, "*")}
    assert res["cpus"]["scalar"]["value"] == 0.5 and res["mem"]["scalar"]["value"] == 100
    assert len(res["ports"]["ranges"]["range"]) == 2
    # the pool was consumed
    assert pool.available("cpus", {"*"}) == 1.5


def test_match_reasons(conf):
    app = parse_app({"id": "/x", "cmd": "ab", "cpus": 4, "mem": 4096, "constraints": [["rack", "IS", "r9"]],
                     "portDefinitions": [{"port": 0}] * 1}, conf)
    alloc, reasons = matching.match(app, matching.OfferPool(offer(ports=())), [], {"*"})
    assert alloc is None
    assert reasons == ["UnfulfilledConstraint", "InsufficientCpus", "InsufficientMemory", "InsufficientPorts"]
    req = parse_app({"id": "/y", "cmd": "ab", "requirePorts": True, "portDefinitions": [{"port": 31010}]}, conf)
    assert matching.match(req, matching.OfferPool(offer()), [], {"*"})[1] == ["InsufficientPorts"]
    ok = parse_app({"id": "/y", "cmd": "ab", "cpus": 0.1, "requirePorts": True,
                    "portDefinitions": [{"port": 31003}]}, conf)
    alloc, _ = matching.match(ok, matching.OfferPool(offer()), [], {"*"})
    assert alloc["ports"] == [(31003, "*")]


def test_match_roles(conf):
    app = parse_app({"id": "/x", "cmd": "ab", "cpus": 0.1, "mem": 10}, conf)
    reserved = offer(role="ops")
    assert matching.match(app, matching.OfferPool(reserved), [], {"*"})[1][0] == "UnfulfilledRole"
    alloc, reasons = matching.match(app, matching.OfferPool(reserved), [], {"*", "ops"})
    assert reasons == [] and alloc["scalars"]["cpus"] == [("ops", 0.1)]
    r = matching.allocation_resources(alloc, "ops")[0]
    assert r["reservations"] == [{"type": "STATIC", "role": "ops"}] and r["allocation_info"] == {"role": "ops"}


def test_bridge_port_mapping_match(conf):
    app = parse_app({"id": "/b", "cpus": 0.1, "mem": 10, "networks": [{"mode": "container/bridge"}],
                     "container": {"docker": {"image": "i"},
                                   "portMappings": [{"containerPort": 80, "hostPort": 0},
                                                    {"containerPort": 81, "hostPort": 31002}]}}, conf)
    alloc, reasons = matching.match(app, matching.OfferPool(offer()), [], {"*"})
    assert reasons == [] and alloc["ports"][1] == (31002, "*") and alloc["ports"][0][0] != 31002


def test_reject_summary_funnel():
    summary = {r["reason"]: (r["declined"], r["processed"]) for r in matching.reject_summary(
        [["UnfulfilledConstraint"], ["InsufficientCpus", "InsufficientMemory"], [], ["InsufficientMemory"]])}
    assert summary["UnfulfilledRole"] == (0, 4)
    assert summary["UnfulfilledConstraint"] == (1, 4)
    assert summary["InsufficientCpus"] == (1, 3)
    assert summary["InsufficientMemory"] == (1, 2)
    assert summary["InsufficientPorts"] == (0, 1)


def test_select_kills_youngest_first_and_group_by(conf):
    app = parse_app({"id": "/x", "cmd": "ab"}, conf)
    insts = [{"stagedAt": "2020-01-0%d" % i, "host": "h%d" % i} for i in range(1, 4)]
    assert [i["host"] for i in matching.select_kills(app, insts, 1)] == ["h3"]
    app = parse_app({"id": "/x", "cmd": "ab", "constraints": [["hostname", "GROUP_BY"]]}, conf)
    insts = [{"stagedAt": "1", "host": "a"}, {"stagedAt": "2", "host": "a"}, {"stagedAt": "3", "host": "b"}]
    assert matching.select_kills(app, insts, 1)[0]["host"] == "a"
