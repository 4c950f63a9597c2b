"""Mesos master stand-in: the local authorizer (--acls) and the agent's HTTP authentication realms.

Upstream semantics followed (Mesos 1.11.x): src/authorizer/local/authorizer.cpp,
include/mesos/authorizer/acls.proto, src/master/master.cpp, src/master/http.cpp,
src/master/quota_handler.cpp, src/common/authorization.cpp, src/slave/slave.cpp, src/slave/main.cpp.
"""
import json
import logging

import pytest
import requests

from mesos import acls
from mesos.acls import AclError, AuthorizerError, LocalAuthorizer, parse_acls
from mesos.agent_http import AgentApp
from mesos.flags import FlagError, agent_flagset, master_flagset
from standin_common import httpd, recordio
from test_standin_mesos_master import FakeAgent, Scheduler, free_port, start_master, task_info

ANY = {"type": "ANY"}
NONE = {"type": "NONE"}


def some(*values):
    return {"values": list(values)}


def authz(doc):
    return LocalAuthorizer(parse_acls(doc))


# ---------------------------------------------------------------------------
# acls.py: parsing, validation, the matrices


def test_parse_defaults_and_protobuf_conversion():
    a = parse_acls({})
    assert a.permissive is True and a.get("run_tasks") == []
    a = parse_acls({"permissive": False, "run_tasks": {"principals": {"values": "fw"}, "users": {"type": "BOGUS"}}})
    assert a.permissive is False
    (subjects, objects), = a.get("run_tasks")            # a single object is one rule, a string one value
    assert subjects.type == "SOME" and subjects.values == ("fw",)
    assert objects.type == "SOME" and objects.values == ()  # unknown enum name: the default SOME
    with pytest.raises(AclError) as exc:
        parse_acls({"register_frameworks": [{"principals": ANY}], "run_tasks": [{"users": ANY}]})
    assert str(exc.value) == ("Missing required fields: register_frameworks[0].roles, run_tasks[0].principals")
    with pytest.raises(AclError, match="Not expecting a JSON number for field 'values'"):
        parse_acls({"run_tasks": [{"principals": {"values": [1]}, "users": ANY}]})


def test_removed_set_quotas_is_ignored_with_a_warning(caplog):
    doc = {"permissive": False, "set_quotas": [{"principals": ANY, "roles": ANY}]}
    with caplog.at_level(logging.WARNING, logger="authorizer"):
        a = authz(doc)
    assert "set_quotas" in caplog.text and "update_quotas" in caplog.text
    # The rule has no effect: update_quotas has no rule, permissive=false decides.
    assert a.authorized("update_quotas", "ops", "dev") is False
    assert authz({"update_quotas": [{"principals": ANY, "roles": ANY}], "permissive": False}).authorized(
        "update_quotas", "ops", "dev") is True


def test_validate_like_local_authorizer():
    with pytest.raises(AuthorizerError, match=r"^ACL.ViewFlags type must be either NONE or ANY$"):
        authz({"view_flags": [{"principals": ANY, "flags": some("x")}]})
    with pytest.raises(AuthorizerError, match=r"^Path: '/state' is not an authorizable path$"):
        authz({"get_endpoints": [{"principals": ANY, "paths": some("/state")}]})
    assert authz({"view_flags": [{"principals": some("ops"), "flags": ANY}]}).authorized("view_flags", "ops")


def test_first_matching_rule_wins():
    a = authz({"run_tasks": [{"principals": some("fw"), "users": NONE},
                             {"principals": some("fw"), "users": ANY}]})
    assert a.authorized("run_tasks", "fw", "root") is False       # the first rule matches and forbids
    b = authz({"run_tasks": [{"principals": some("fw"), "users": some("app")},
                             {"principals": ANY, "users": NONE}]})
    assert b.authorized("run_tasks", "fw", "app") is True
    assert b.authorized("run_tasks", "fw", "root") is False        # rule 1 does not match, rule 2 forbids
    assert b.authorized("run_tasks", "other", "app") is False


def test_permissive_decides_when_no_rule_matches():
    rules = {"run_tasks": [{"principals": some("fw"), "users": some("app")}]}
    assert authz(rules).authorized("run_tasks", "other", "app") is True
    assert authz(dict(rules, permissive=False)).authorized("run_tasks", "other", "app") is False
    assert authz(dict(rules, permissive=False)).authorized("run_tasks", "fw", "app") is True


def test_any_and_none_entities():
    # A request without principal (ANY) only matches ANY/NONE rules and is only allowed by ANY.
    a = authz({"permissive": False, "teardown_frameworks": [{"principals": some("ops"), "framework_principals": ANY}]})
    assert a.authorized("teardown_frameworks", "ops", "fw") is True
    assert a.authorized("teardown_frameworks", None, "fw") is False      # no match: permissive false
    b = authz({"teardown_frameworks": [{"principals": NONE, "framework_principals": ANY}]})
    assert b.authorized("teardown_frameworks", None, "fw") is False      # ANY matches NONE, NONE disallows
    assert b.authorized("teardown_frameworks", "ops", "fw") is False     # SOME matches NONE, NONE disallows
    c = authz({"permissive": False, "teardown_frameworks": [{"principals": ANY, "framework_principals": ANY}]})
    assert c.authorized("teardown_frameworks", None, None) is True
    # An ANY object (framework without principal) is not allowed by a SOME object rule.
    d = authz({"permissive": False, "teardown_frameworks": [{"principals": ANY, "framework_principals": some("fw")}]})
    assert d.authorized("teardown_frameworks", "ops", "fw") is True
    assert d.authorized("teardown_frameworks", "ops", None) is False


def test_recursive_role_rules():
    a = authz({"permissive": False, "register_frameworks": [
        {"principals": some("fw"), "roles": some("dev/%", "ops")}]})
    assert a.authorized("register_frameworks", "fw", "dev/a") is True
    assert a.authorized("register_frameworks", "fw", "dev/a/b") is True
    assert a.authorized("register_frameworks", "fw", "ops") is True
    assert a.authorized("register_frameworks", "fw", "dev") is False      # "dev/%" is below dev, not dev
    assert a.authorized("register_frameworks", "fw", "devx/a") is False
    assert a.authorized("register_frameworks", "other", "dev/a") is False


def test_register_framework_needs_every_role():
    a = authz({"permissive": False, "register_frameworks": [{"principals": some("fw"), "roles": some("a", "b")}]})
    assert a.authorized_roles("register_frameworks", "fw", ["a", "b"]) is True
    assert a.authorized_roles("register_frameworks", "fw", ["a", "c"]) is False
    assert a.authorized_roles("register_frameworks", "fw", []) is False      # no roles: permissive
    assert authz({}).authorized_roles("register_frameworks", "fw", []) is True


def test_refusal_is_logged_once_without_secrets(caplog):
    a = authz({"permissive": False})
    with caplog.at_level(logging.WARNING, logger="authorizer"):
        assert a.authorized("run_tasks", "fw", "root") is False
        assert a.authorized("run_tasks", "fw", "root") is False
    lines = [r for r in caplog.records if r.name == "authorizer"]
    assert len(lines) == 2 and "run_tasks" in lines[0].getMessage() and "'fw'" in lines[0].getMessage()


# ---------------------------------------------------------------------------
# --acls on the master command line


def test_acls_flag_parsing_and_authorizer_creation(tmp_path):
    fs = master_flagset()
    base = ["--ip=127.0.0.1", "--work_dir=%s" % tmp_path]
    with pytest.raises(FlagError) as exc:
        fs.load(base + ['--acls={"run_tasks": [{"principals": {"type": "ANY"}}]}'], {})
    assert "Failed to load flag 'acls'" in str(exc.value)
    assert "Missing required fields: run_tasks[0].users" in str(exc.value)
    path = tmp_path / "acls.json"
    path.write_text(json.dumps({"permissive": False, "run_tasks": [{"principals": ANY, "users": some("app")}]}))
    flags = fs.load(base + ["--acls=file://%s" % path], {})
    auth = acls.create(flags.acls)
    assert auth.authorized("run_tasks", "x", "app") is True and auth.authorized("run_tasks", "x", "root") is False
    flags = fs.load(base + ['--acls={"view_flags": [{"principals": {"type": "ANY"}, "flags": {"values": ["a"]}}]}'],
                    {})
    with pytest.raises(AuthorizerError):
        acls.create(flags.acls)
    assert acls.create(fs.load(base, {}).get("acls")) is None          # no --acls: no authorizer


# ---------------------------------------------------------------------------
# The master with --acls


@pytest.fixture
def acl_master(tmp_path):
    started = []

    def start(doc, extra=(), credentials=None):
        m, srv, url = start_master(tmp_path, ["--acls=%s" % json.dumps(doc)] + list(extra), credentials)
        started.append((m, srv))
        return m, url
    yield start
    for m, srv in started:
        m.stop()
        srv.shutdown()


def subscribe_events(url, **fi):
    """SUBSCRIBE and read the stream until the master closes it (refusals do)."""
    info = {"user": "app", "name": "test"}
    info.update(fi)
    r = requests.post(url + "/api/v1/scheduler", json={"type": "SUBSCRIBE", "subscribe": {"framework_info": info}},
                      stream=True, timeout=10)
    dec = recordio.Decoder()
    events = []
    for chunk in r.iter_content(chunk_size=None):
        events.extend(json.loads(rec) for rec in dec.feed(chunk))
        if any(e["type"] == "SUBSCRIBED" for e in events):
            break
    r.close()
    return r.status_code, events


REGISTER_ACLS = {"permissive": False, "register_frameworks": [
    {"principals": some("marathon"), "roles": some("prod", "dev")}],
    "run_tasks": [{"principals": ANY, "users": ANY}]}


def test_register_frameworks_refuses_subscribe(acl_master):
    m, url = acl_master(REGISTER_ACLS)
    status, events = subscribe_events(url, principal="marathon", role="ops")
    assert status == 200
    assert events == [{"type": "ERROR", "error": {
        "message": "Not authorized to register framework  with roles { ops }"}}]
    status, events = subscribe_events(url, principal="marathon", roles=["prod", "ops", "dev"],
                                      capabilities=[{"type": "MULTI_ROLE"}])
    assert events[-1]["error"]["message"] == "Not authorized to register framework  with roles { dev, ops, prod }"
    status, events = subscribe_events(url, principal="other", role="prod")
    assert events[-1]["type"] == "ERROR"
    assert m.frameworks == {}


def test_register_frameworks_allows_subscribe(acl_master):
    m, url = acl_master(REGISTER_ACLS)
    status, events = subscribe_events(url, principal="marathon", roles=["prod", "dev"],
                                      capabilities=[{"type": "MULTI_ROLE"}])
    assert status == 200 and events[0]["type"] == "SUBSCRIBED"
    assert len(m.frameworks) == 1


def test_register_frameworks_refuses_update_framework(acl_master):
    m, url = acl_master(REGISTER_ACLS)
    s = Scheduler(url, user="app", principal="marathon", role="prod")
    fi = {"user": "app", "name": "test", "principal": "marathon", "role": "ops", "id": {"value": s.framework_id}}
    r = s.call({"type": "UPDATE_FRAMEWORK", "update_framework": {"framework_info": fi}})
    assert r.status_code == 403
    assert r.text == "Not authorized to register framework %s with roles { ops }" % s.framework_id
    fi["role"] = "dev"
    assert s.call({"type": "UPDATE_FRAMEWORK", "update_framework": {"framework_info": fi}}).status_code == 202
    assert m.frameworks[s.framework_id].info["role"] == "dev"


RUN_ACLS = {"run_tasks": [{"principals": some("marathon"), "users": some("app")},
                          {"principals": ANY, "users": NONE}]}


def test_run_tasks_refuses_launch(acl_master):
    m, url = acl_master(RUN_ACLS)
    agent = FakeAgent(url)
    agent.register()
    s = Scheduler(url, user="app", principal="marathon")
    offer = s.wait("OFFERS")["offers"]["offers"][0]
    bad = task_info(offer, "t-root", 0.1)
    bad["command"]["user"] = "root"
    assert s.launch(offer, bad).status_code == 202
    st = s.wait("UPDATE")["update"]["status"]
    assert st["state"] == "TASK_ERROR" and st["reason"] == "REASON_TASK_UNAUTHORIZED"
    assert st["source"] == "SOURCE_MASTER"
    assert st["message"] == ("Principal 'marathon' no authorized to launch task t-root of framework %s "
                             "under user 'root'" % s.framework_id)
    assert agent.launched == []


def test_run_tasks_allows_launch_and_falls_back_to_framework_user(acl_master):
    m, url = acl_master(RUN_ACLS)
    agent = FakeAgent(url)
    agent.register()
    s = Scheduler(url, user="app", principal="marathon")
    offer = s.wait("OFFERS")["offers"]["offers"][0]
    assert s.launch(offer, task_info(offer, "t-app", 0.1)).status_code == 202     # user: FrameworkInfo.user
    st = s.wait("UPDATE")["update"]["status"]
    assert st["state"] == "TASK_RUNNING" and agent.launched[0]["task"]["task_id"]["value"] == "t-app"


def test_run_tasks_framework_user_refused(acl_master):
    m, url = acl_master(RUN_ACLS)
    agent = FakeAgent(url)
    agent.register()
    s = Scheduler(url, user="nobody", principal="marathon")
    offer = s.wait("OFFERS")["offers"]["offers"][0]
    s.launch(offer, task_info(offer, "t1", 0.1))
    st = s.wait("UPDATE")["update"]["status"]
    assert st["reason"] == "REASON_TASK_UNAUTHORIZED" and st["message"].endswith("under user 'nobody'")


def test_run_tasks_refuses_launch_group(acl_master):
    m, url = acl_master(RUN_ACLS)
    agent = FakeAgent(url)
    agent.register()
    s = Scheduler(url, user="app", principal="marathon")
    offer = s.wait("OFFERS")["offers"]["offers"][0]
    ok, bad = task_info(offer, "g1", 0.1), task_info(offer, "g2", 0.1)
    bad["command"]["user"] = "root"
    r = s.call({"type": "ACCEPT", "accept": {"offer_ids": [offer["id"]], "operations": [
        {"type": "LAUNCH_GROUP", "launch_group": {"executor": {}, "task_group": {"tasks": [ok, bad]}}}]}})
    assert r.status_code == 202
    for _ in range(2):
        st = s.wait("UPDATE")["update"]["status"]
        assert st["state"] == "TASK_ERROR" and st["reason"] == "REASON_TASK_GROUP_UNAUTHORIZED"
        assert st["message"] == ("Task 'g2' is not authorized tolaunch task g2 of framework %s under user 'root'"
                                 % s.framework_id)
    # An authorized group gets past authorization (and then meets this stand-in's missing LAUNCH_GROUP).
    offer = s.wait("OFFERS", timeout=10)["offers"]["offers"][0]
    s.call({"type": "ACCEPT", "accept": {"offer_ids": [offer["id"]], "operations": [
        {"type": "LAUNCH_GROUP", "launch_group": {"executor": {}, "task_group": {
            "tasks": [task_info(offer, "g3", 0.1)]}}}]}})
    assert s.wait("UPDATE")["update"]["status"]["reason"] == "REASON_TASK_GROUP_INVALID"


TEARDOWN_ACLS = {"teardown_frameworks": [{"principals": some("ops"), "framework_principals": some("marathon")},
                                         {"principals": ANY, "framework_principals": NONE}]}
CREDS = {"ops": "pw", "dev": "pw2", "marathon": "s3cret"}
AUTH_FLAGS = ["--authenticate_http_readonly", "--authenticate_http_readwrite"]


def test_teardown_frameworks_refused(acl_master):
    m, url = acl_master(TEARDOWN_ACLS, AUTH_FLAGS, CREDS)
    s = Scheduler(url, user="app", principal="marathon")
    r = requests.post(url + "/master/teardown", data={"frameworkId": s.framework_id}, auth=("dev", "pw2"))
    assert r.status_code == 403 and r.text == "403 Forbidden."
    assert r.headers["Content-Type"].startswith("text/plain")
    r = requests.post(url + "/api/v1", json={"type": "TEARDOWN", "teardown": {
        "framework_id": {"value": s.framework_id}}}, auth=("dev", "pw2"))
    assert r.status_code == 403 and r.text == "403 Forbidden."
    r = requests.post(url + "/master/teardown", data={"frameworkId": s.framework_id})
    assert r.status_code == 401                                           # authentication comes first
    assert s.framework_id in m.frameworks


def test_teardown_frameworks_allowed(acl_master):
    m, url = acl_master(TEARDOWN_ACLS, AUTH_FLAGS, CREDS)
    s1 = Scheduler(url, user="app", principal="marathon")
    s2 = Scheduler(url, user="app", principal="marathon")
    r = requests.post(url + "/master/teardown", data={"frameworkId": s1.framework_id}, auth=("ops", "pw"))
    assert r.status_code == 200
    r = requests.post(url + "/api/v1", json={"type": "TEARDOWN", "teardown": {
        "framework_id": {"value": s2.framework_id}}}, auth=("ops", "pw"))
    assert r.status_code == 200
    assert m.frameworks == {}


def test_teardown_without_authentication_uses_any_subject(acl_master):
    # Authentication off: the subject is ANY, which a SOME-principal rule does not match.
    m, url = acl_master({"permissive": False, "teardown_frameworks": [
        {"principals": some("ops"), "framework_principals": ANY}],
        "register_frameworks": [{"principals": ANY, "roles": ANY}]}, [], CREDS)
    s = Scheduler(url, user="app", principal="marathon")
    r = requests.post(url + "/master/teardown", data={"frameworkId": s.framework_id}, auth=("ops", "pw"))
    assert r.status_code == 403


QUOTA_ACLS = {"update_quotas": [{"principals": some("ops"), "roles": ANY},
                                {"principals": some("dev"), "roles": some("dev")},
                                {"principals": ANY, "roles": NONE}],
              "get_quotas": [{"principals": some("ops"), "roles": ANY},
                             {"principals": some("dev"), "roles": some("dev")},
                             {"principals": ANY, "roles": NONE}]}


def update_quota(url, auth, *roles):
    return requests.post(url + "/api/v1", auth=auth, json={"type": "UPDATE_QUOTA", "update_quota": {
        "quota_configs": [{"role": r, "limits": {"cpus": {"value": 1}}} for r in roles]}})


def test_update_quotas_refused(acl_master):
    m, url = acl_master(QUOTA_ACLS, AUTH_FLAGS, CREDS)
    r = update_quota(url, ("dev", "pw2"), "dev", "prod")                 # one role refused: all refused
    assert r.status_code == 403 and r.text == "403 Forbidden."
    assert m.quotas == {}
    r = requests.post(url + "/api/v1", auth=("dev", "pw2"), json={"type": "SET_QUOTA", "set_quota": {
        "quota_request": {"role": "prod", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]}}})
    assert r.status_code == 403
    r = requests.post(url + "/master/quota", auth=("dev", "pw2"), json={
        "role": "prod", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]})
    assert r.status_code == 403 and m.quotas == {}
    assert update_quota(url, ("ops", "pw"), "prod").status_code == 200
    assert requests.delete(url + "/master/quota/prod", auth=("dev", "pw2")).status_code == 403
    r = requests.post(url + "/api/v1", auth=("dev", "pw2"), json={"type": "REMOVE_QUOTA",
                                                                 "remove_quota": {"role": "prod"}})
    assert r.status_code == 403 and "prod" in m.quotas


def test_update_quotas_allowed(acl_master):
    m, url = acl_master(QUOTA_ACLS, AUTH_FLAGS, CREDS)
    assert update_quota(url, ("dev", "pw2"), "dev").status_code == 200
    assert update_quota(url, ("ops", "pw"), "prod", "qa").status_code == 200
    r = requests.post(url + "/api/v1", auth=("ops", "pw"), json={"type": "SET_QUOTA", "set_quota": {
        "quota_request": {"role": "web", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]}}})
    assert r.status_code == 200
    assert sorted(m.quotas) == ["dev", "prod", "qa", "web"]
    assert requests.delete(url + "/master/quota/qa", auth=("ops", "pw")).status_code == 200
    r = requests.post(url + "/api/v1", auth=("ops", "pw"), json={"type": "REMOVE_QUOTA",
                                                                "remove_quota": {"role": "web"}})
    assert r.status_code == 200 and sorted(m.quotas) == ["dev", "prod"]


def test_get_quotas_filters(acl_master):
    m, url = acl_master(QUOTA_ACLS, AUTH_FLAGS, CREDS)
    assert update_quota(url, ("ops", "pw"), "dev", "prod").status_code == 200

    def roles(auth, v1):
        if v1:
            st = requests.post(url + "/api/v1", auth=auth, json={"type": "GET_QUOTA"}).json()["get_quota"]["status"]
        else:
            st = requests.get(url + "/master/quota", auth=auth).json()
        return sorted(c["role"] for c in st.get("configs", []))
    for v1 in (True, False):
        assert roles(("ops", "pw"), v1) == ["dev", "prod"]
        assert roles(("dev", "pw2"), v1) == ["dev"]
        assert roles(("marathon", "s3cret"), v1) == []


RESERVE_ACLS = {"reserve_resources": [{"principals": some("ops"), "roles": some("prod")},
                                      {"principals": ANY, "roles": NONE}],
                "unreserve_resources": [{"principals": some("ops"), "reserver_principals": some("ops")},
                                        {"principals": ANY, "reserver_principals": NONE}]}


def reserved(role, principal):
    return [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1},
             "reservations": [{"type": "DYNAMIC", "role": role, "principal": principal}]}]


def test_reserve_and_unreserve_are_authorized_then_unsupported(acl_master):
    m, url = acl_master(RESERVE_ACLS, AUTH_FLAGS, CREDS)
    agent = FakeAgent(url)
    agent.register()

    def call(kind, auth, resources):
        key = kind.lower()
        return requests.post(url + "/api/v1", auth=auth, json={"type": kind, key: {
            "agent_id": {"value": agent.agent_id}, "resources": resources}})
    # refusals
    assert call("RESERVE_RESOURCES", ("dev", "pw2"), reserved("prod", "dev")).status_code == 403
    assert call("RESERVE_RESOURCES", ("ops", "pw"), reserved("dev", "ops")).status_code == 403
    assert call("UNRESERVE_RESOURCES", ("ops", "pw"), reserved("prod", "dev")).status_code == 403
    r = requests.post(url + "/master/reserve", auth=("dev", "pw2"), data={
        "slaveId": agent.agent_id, "resources": json.dumps(reserved("prod", "dev"))})
    assert r.status_code == 403 and r.text == "403 Forbidden."
    r = requests.post(url + "/master/unreserve", auth=("dev", "pw2"), data={
        "slaveId": agent.agent_id, "resources": json.dumps(reserved("prod", "ops"))})
    assert r.status_code == 403
    # authorized: this stand-in has no reservations
    r = call("RESERVE_RESOURCES", ("ops", "pw"), reserved("prod", "ops"))
    assert r.status_code == 501 and "RESERVE_RESOURCES" in r.text
    assert call("UNRESERVE_RESOURCES", ("ops", "pw"), reserved("prod", "ops")).status_code == 501
    r = requests.post(url + "/master/reserve", auth=("ops", "pw"), data={
        "slaveId": agent.agent_id, "resources": json.dumps(reserved("prod", "ops"))})
    assert r.status_code == 501
    assert call("RESERVE_RESOURCES", ("ops", "pw"), []).status_code == 501    # no roles: nothing to refuse
    r = requests.post(url + "/api/v1", auth=("ops", "pw"), json={"type": "RESERVE_RESOURCES", "reserve_resources": {
        "agent_id": {"value": "nope"}, "resources": reserved("prod", "ops")}})
    assert r.status_code == 400 and r.text == "No agent found with specified ID"


def test_scheduler_reserve_operation_refused_and_dropped(acl_master):
    m, url = acl_master(RESERVE_ACLS)
    agent = FakeAgent(url)
    agent.register()
    s = Scheduler(url, user="app", principal="marathon")
    offer = s.wait("OFFERS")["offers"]["offers"][0]
    r = s.call({"type": "ACCEPT", "accept": {"offer_ids": [offer["id"]], "operations": [
        {"type": "RESERVE", "id": {"value": "op1"}, "reserve": {"resources": reserved("prod", "marathon")}}]}})
    assert r.status_code == 202
    st = s.wait("UPDATE_OPERATION_STATUS")["update_operation_status"]["status"]
    assert st["state"] == "OPERATION_ERROR" and st["operation_id"] == {"value": "op1"}
    assert st["message"].startswith("Principal 'marathon' no authorized to perform action RESERVE_RESOURCES")
    m2, url2 = acl_master({"reserve_resources": [{"principals": ANY, "roles": ANY}]})
    agent2 = FakeAgent(url2)
    agent2.register()
    s2 = Scheduler(url2, user="app", principal="marathon")
    offer = s2.wait("OFFERS")["offers"]["offers"][0]
    s2.call({"type": "ACCEPT", "accept": {"offer_ids": [offer["id"]], "operations": [
        {"type": "RESERVE", "id": {"value": "op2"}, "reserve": {"resources": reserved("prod", "marathon")}}]}})
    st = s2.wait("UPDATE_OPERATION_STATUS")["update_operation_status"]["status"]
    assert st["state"] == "OPERATION_ERROR" and "not supported" in st["message"]


def test_no_acls_authorizes_everything(tmp_path):
    m, srv, url = start_master(tmp_path, AUTH_FLAGS, CREDS)
    try:
        assert m.authorizer is None
        s = Scheduler(url, user="root", principal="anyone", role="whatever")
        assert update_quota(url, ("dev", "pw2"), "prod").status_code == 200
        r = requests.post(url + "/master/teardown", data={"frameworkId": s.framework_id}, auth=("dev", "pw2"))
        assert r.status_code == 200
    finally:
        m.stop()
        srv.shutdown()


# ---------------------------------------------------------------------------
# Agent HTTP authentication realms (src/slave/slave.cpp routes, src/slave/main.cpp, libprocess)


class _AgentStub:
    def __init__(self, flags):
        self.flags = flags
        self.http_credentials = {"ops": "pw"}
        self.info = {"hostname": "a"}
        self.agent_id = None
        self.frameworks = {}
        self.tasks = {}
        self.completed_tasks = []
        import threading
        self.lock = threading.RLock()

    def containers_v1(self):
        return [{"container_id": {"value": "c1"}, "executor_id": {"value": "e1"}, "executor_name": "x",
                 "framework_id": {"value": "f1"}, "container_status": {}, "resource_statistics": {"cpus_limit": 1}}]

    def state_v0(self):
        return {}

    def metrics(self):
        return {"slave/uptime_secs": 1}


@pytest.fixture
def agent_url(tmp_path):
    flags = agent_flagset().load(["--master=127.0.0.1:5050", "--work_dir=%s" % tmp_path,
                                  "--authenticate_http_readonly", "--authenticate_http_readwrite"], {})
    port = free_port()
    srv = httpd.serve(("127.0.0.1", port), AgentApp(_AgentStub(flags)))
    yield "http://127.0.0.1:%d" % port
    srv.shutdown()


READONLY_ENDPOINTS = ["/state", "/flags", "/metrics/snapshot", "/containers", "/monitor/statistics",
                      "/containerizer/debug", "/files/debug", "/files/browse?path=/x", "/files/read?path=/x",
                      "/files/download?path=/x", "/slave(1)/state"]


@pytest.mark.parametrize("path", READONLY_ENDPOINTS)
def test_agent_readonly_realm(agent_url, path):
    r = requests.get(agent_url + path)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="mesos-agent-readonly"'
    assert requests.get(agent_url + path, auth=("ops", "wrong")).status_code == 401
    assert requests.get(agent_url + path, auth=("ops", "pw")).status_code in (200, 404)


def test_agent_readonly_green_bodies(agent_url):
    stats = requests.get(agent_url + "/monitor/statistics", auth=("ops", "pw")).json()
    assert stats == [{"executor_id": "e1", "executor_name": "x", "framework_id": "f1", "source": "e1",
                      "statistics": {"cpus_limit": 1}}]
    assert requests.get(agent_url + "/files/debug", auth=("ops", "pw")).json() == {}
    assert requests.get(agent_url + "/files/read?path=/x", auth=("ops", "pw")).status_code == 404
    assert requests.get(agent_url + "/health").status_code == 200           # never authenticated
    assert requests.get(agent_url + "/version").status_code == 200


@pytest.mark.parametrize("call", ["GET_CONTAINERS", "GET_STATE", "LAUNCH_NESTED_CONTAINER",
                                  "LAUNCH_NESTED_CONTAINER_SESSION", "KILL_NESTED_CONTAINER",
                                  "ATTACH_CONTAINER_INPUT", "ATTACH_CONTAINER_OUTPUT", "GET_HEALTH"])
def test_agent_api_v1_is_readwrite_realm(agent_url, call):
    r = requests.post(agent_url + "/api/v1", json={"type": call})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="mesos-agent-readwrite"'
    r = requests.post(agent_url + "/api/v1", json={"type": call}, auth=("ops", "pw"))
    assert r.status_code in (200, 501)


def test_agent_libprocess_readwrite_endpoints(agent_url):
    r = requests.post(agent_url + "/logging/toggle?level=1&duration=1secs")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="mesos-agent-readwrite"'
    assert requests.post(agent_url + "/logging/toggle", auth=("ops", "pw")).status_code == 501
