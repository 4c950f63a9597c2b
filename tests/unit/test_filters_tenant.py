"""tenant_name_errors, tenant_pushers_errors and marathon_flags (filter_plugins/tenant_filters.py), and
library/mesos_role.py run() with a fake master."""
import pytest
from ansible.errors import AnsibleFilterError

import mesos_role
from tenant_filters import (RESERVED, TENANT_NAME_RULE, marathon_flags, tenant_name_errors, tenant_pushers_errors,
                            tenant_settings_errors)


@pytest.mark.parametrize("name", ["acme", "abc", "a-b", "team-42", "a" * 32, "x1y", "globex-corp"])
def test_valid_names(name):
    assert tenant_name_errors(name) == []


@pytest.mark.parametrize("name,fragment", [
    ("Acme", "does not start with a lowercase letter"),
    ("aCme", "contains 'C'"),
    ("1acme", "does not start with a lowercase letter"),
    ("-acme", "does not start with a lowercase letter"),
    ("acme-", "ends with '-'"),
    ("ab", "2 characters"),
    ("a", "1 characters"),
    ("", "0 characters"),
    ("a" * 33, "33 characters"),
    ("acme_corp", "contains '_'"),
    ("acme.corp", "contains '.'"),
    ("acme corp", "contains ' '"),
    ("acme/x", "contains '/'"),
    ("../acme", "contains '.', '/'"),
    ("acmé", "contains 'é'"),
    ("acme\n", "contains '\\n'"),
    ("marathon", "reserved"),
    ("mesos", "reserved"),
    ("zookeeper", "reserved"),
    ("paas", "reserved"),
    ("system", "reserved"),
    ("admin", "reserved"),
    ("root", "reserved"),
    ("super", "reserved"),
    ("ACME", "contains 'A', 'C', 'E', 'M'"),
])
def test_invalid_names_state_the_rule(name, fragment):
    problems = tenant_name_errors(name)
    assert len(problems) == 1
    assert fragment in problems[0]
    assert problems[0].startswith("tenant_name ")
    assert TENANT_NAME_RULE in problems[0]


@pytest.mark.parametrize("value", [None, 42, True, ["acme"], {"name": "acme"}])
def test_non_strings_are_problems(value):
    problems = tenant_name_errors(value)
    assert problems and "tenant_name must be a string" in problems[0]


def test_reserved_list_is_configurable():
    assert tenant_name_errors("marathon", reserved=[]) == []
    assert "reserved" in tenant_name_errors("acme", reserved=["acme"])[0]
    assert "marathon" in RESERVED


@pytest.mark.parametrize("reserved", ["marathon", 5, {"a": 1}])
def test_bad_reserved_list_raises(reserved):
    with pytest.raises(AnsibleFilterError, match="tenant_name_errors: reserved"):
        tenant_name_errors("acme", reserved=reserved)


@pytest.mark.parametrize("flags,expected", [
    ({}, ""),
    ({"zk": "zk://a:2181/x"}, "--zk zk://a:2181/x"),
    ({"b": 1, "a": True, "c": False, "d": None}, "--a --b 1"),
    ({"http_realm": "my realm"}, "--http_realm 'my realm'"),
    ({"x": "$(rm -rf /)"}, "--x '$(rm -rf /)'"),
])
def test_marathon_flags(flags, expected):
    assert marathon_flags(flags) == expected


@pytest.mark.parametrize("flags,fragment", [
    (["--zk"], "expects a dict"),
    ({"--zk": "x"}, "flag names"),
    ({"Zk": "x"}, "flag names"),
    ({"zk": ["a"]}, "value of zk"),
])
def test_marathon_flags_errors(flags, fragment):
    with pytest.raises(AnsibleFilterError, match="marathon_flags") as err:
        marathon_flags(flags)
    assert fragment in str(err.value)


# --- mesos_role ---------------------------------------------------------------

class Done(Exception):
    def __init__(self, failed, result):
        super().__init__(result.get("msg"))
        self.failed = failed
        self.result = result


class FakeModule:
    def __init__(self, check_mode=False, **params):
        self.params = dict(url="http://m1:5050", role="acme", state="present", quota={}, framework_name=None,
                           force=False, username=None, password=None, timeout=10)
        self.params.update(params)
        self.check_mode = check_mode

    def fail_json(self, **kw):
        raise Done(True, kw)

    def exit_json(self, **kw):
        raise Done(False, kw)


class FakeMaster:
    quota = {}
    frameworks_ = []
    calls = []

    def __init__(self, urls, username, password, timeout):
        self.urls = urls

    def find_leader(self):
        return "http://m2:5050"

    def get_quota(self, role):
        return dict(FakeMaster.quota.get(role, {}))

    def set_quota(self, role, limits, force=False):
        FakeMaster.calls.append(("set_quota", role, limits, force))
        FakeMaster.quota[role] = dict(limits)

    def frameworks(self):
        return FakeMaster.frameworks_

    def teardown(self, fid):
        FakeMaster.calls.append(("teardown", fid))
        FakeMaster.frameworks_ = [f for f in FakeMaster.frameworks_ if f["id"] != fid]


@pytest.fixture(autouse=True)
def fresh_master():
    FakeMaster.quota, FakeMaster.frameworks_, FakeMaster.calls = {}, [], []


def run_role(check_mode=False, **params):
    with pytest.raises(Done) as done:
        mesos_role.run(FakeModule(check_mode=check_mode, **params), master_factory=FakeMaster)
    return done.value


def test_quota_is_set_once():
    first = run_role(quota={"cpus": 4, "mem": "8192"})
    assert not first.failed and first.result["changed"] and first.result["quota"] == {"cpus": 4.0, "mem": 8192.0}
    second = run_role(quota={"cpus": 4.0, "mem": 8192})
    assert not second.result["changed"]
    assert len(FakeMaster.calls) == 1


def test_check_mode_writes_nothing():
    done = run_role(check_mode=True, quota={"cpus": 1})
    assert done.result["changed"] and FakeMaster.calls == []


def test_absent_removes_quota_and_tears_down_only_the_named_framework_of_the_role():
    FakeMaster.quota = {"acme": {"cpus": 2.0}}
    FakeMaster.frameworks_ = [{"id": "f1", "name": "acme", "role": "acme"},
                              {"id": "f2", "name": "acme", "roles": ["other"]},
                              {"id": "f3", "name": "globex", "role": "globex"}]
    done = run_role(state="absent")
    assert done.result["changed"] and done.result["torn_down"] == ["f1"]
    assert ("set_quota", "acme", {}, True) in FakeMaster.calls
    again = run_role(state="absent")
    assert not again.result["changed"] and again.result["torn_down"] == []


@pytest.mark.parametrize("params,fragment", [
    (dict(url="m1:5050"), "url: must be a Mesos master base URL"),
    (dict(url=[]), "url:"),
    (dict(role="a/b"), "role: must be a Mesos role name"),
    (dict(role=".."), "role:"),
    (dict(quota={"cpus": "many"}), "quota.cpus: must be a number"),
    (dict(quota={"mem": -1}), "quota.mem"),
    (dict(quota={"ports": 5}), "quota.ports"),
])
def test_mesos_role_bad_input_fails_before_any_request(params, fragment):
    done = run_role(**params)
    assert done.failed and fragment in done.result["msg"]
    assert FakeMaster.calls == []


# --- tenant_pushers_errors ---------------------------------------------------------------

def _key(kind="ssh-ed25519", seed=b"k", comment="alice@laptop", blob_kind=None):
    import base64
    import struct
    name = (blob_kind or kind).encode()
    blob = struct.pack(">I", len(name)) + name + struct.pack(">I", 32) + (seed * 32)[:32]
    return "%s %s %s" % (kind, base64.b64encode(blob).decode(), comment)


@pytest.mark.parametrize("pushers", [
    [],
    [{"name": "alice", "key": _key()}],
    [{"name": "alice", "key": _key()}, {"name": "bob.ci@build-1", "key": _key(seed=b"b", comment="")}],
    [{"name": "r", "key": _key("ssh-rsa", comment="")}],
    [{"name": "ec", "key": _key("ecdsa-sha2-nistp256", comment="with spaces in the comment")}],
])
def test_valid_pushers(pushers):
    assert tenant_pushers_errors(pushers) == []


@pytest.mark.parametrize("pushers,fragment", [
    ("alice", "tenant_pushers must be a list of {name, key} (got str)"),
    ({"name": "alice"}, "must be a list"),
    (["alice"], "tenant_pushers[0] must be a mapping"),
    ([{"key": _key()}], "tenant_pushers[0].name None must be 1 to 64"),
    ([{"name": "", "key": _key()}], "tenant_pushers[0].name '' must be"),
    ([{"name": "al ice", "key": _key()}], "tenant_pushers[0].name 'al ice'"),
    ([{"name": "-alice", "key": _key()}], "starting with a letter or digit"),
    ([{"name": "a" * 65, "key": _key()}], "must be 1 to 64"),
    ([{"name": "alice", "key": _key()}, {"name": "alice", "key": _key(seed=b"x")}],
     "tenant_pushers[1].name 'alice' is also tenant_pushers[0].name"),
    ([{"name": "alice"}], "tenant_pushers[0].key must be one OpenSSH public key line"),
    ([{"name": "alice", "key": ""}], "must be one OpenSSH public key line"),
    ([{"name": "alice", "key": "ssh-dss AAAAB3NzaC1kc3MAAACBAP"}], "type 'ssh-dss' is not one of"),
    ([{"name": "alice", "key": 'command="sh" ' + _key()}], "options before the type are not allowed"),
    ([{"name": "alice", "key": "ssh-ed25519"}], "has no base64 part"),
    ([{"name": "alice", "key": "ssh-ed25519 not*base64"}], "does not decode"),
    ([{"name": "alice", "key": _key(blob_kind="ssh-rsa")}], "does not match its type ssh-ed25519"),
    ([{"name": "alice", "key": _key() + "\n" + _key(seed=b"z")}], "must be one line"),
    ([{"name": "alice", "key": _key()}, {"name": "bob", "key": _key(comment="bob")}],
     "tenant_pushers[1].key is the same key as tenant_pushers[0].key"),
    ([{"name": "alice", "key": _key(), "tenants": ["acme"]}], "unknown field(s) tenants (allowed: name, key)"),
])
def test_bad_pushers_are_named(pushers, fragment):
    errors = tenant_pushers_errors(pushers)
    assert errors, pushers
    assert any(fragment in e for e in errors), errors


def test_every_bad_pusher_is_reported_at_once():
    errors = tenant_pushers_errors([{"name": "a b", "key": "x"}, {"name": "ok", "key": _key()}, 5])
    assert [e.split()[0] for e in errors] == ["tenant_pushers[0].name", "tenant_pushers[0].key", "tenant_pushers[2]"]


# --- tenant_settings_errors -----------------------------------------------------------

GOOD_SETTINGS = {
    "tenant_name": "acme", "tenant_state": "present", "tenant_reserved_names": list(RESERVED),
    "tenant_zk_hosts": ["zk1:2181", "zk2:2181"], "tenant_zk_root": "/paas/tenants", "tenant_mesos_zk_path": "/mesos",
    "tenant_zk_superuser_name": "super", "tenant_zk_superuser_password": "s3cret",
    "tenant_marathon_urls": ["http://m1:8080", "https://m2:8443/"],
    "tenant_mesos_master_urls": ["zk://zk1:2181,zk2:2181/mesos"],
    "tenant_marathon_username": "admin", "tenant_marathon_password": "pw",
    "tenant_mesos_operator_principal": "", "tenant_mesos_operator_secret": "",
    "tenant_mesos_authentication": True, "tenant_task_user": "nobody",
    "tenant_marathon_image": "registry:5000/paas/marathon:1.11.24", "tenant_instances": 1, "tenant_cpus": 0.5,
    "tenant_mem": 768, "tenant_health_check_grace_period": 600, "tenant_health_check_delay": 2,
    "tenant_health_check_interval": 5, "tenant_quota": {}, "tenant_marathon_extra_flags": {},
    "tenant_pushers": [], "tenant_gitreceive_zk_username": "gitreceive", "tenant_gitreceive_zk_password": "",
    "tenant_secrets_dir": "/srv/secrets/tenants",
}


@pytest.mark.parametrize("change", [
    {},
    {"tenant_instances": "2", "tenant_cpus": "0.25", "tenant_mem": "256"},  # strings from -e
    {"tenant_quota": {"cpus": 4, "mem": 8192.5}},
    {"tenant_marathon_image": "registry:5000/paas/marathon@sha256:" + "a" * 64},
    {"tenant_mesos_master_urls": ["http://m1:5050", "https://m2:5050/"]},
    {"tenant_state": "absent", "tenant_marathon_image": "", "tenant_instances": 0},  # not checked for removal
    {"tenant_pushers": [{"name": "alice", "key": _key()}]},
    {"tenant_gitreceive_zk_password": "long-enough"},
    {"tenant_pushers": None},  # not given: the kept list stays
])
def test_good_settings(change):
    assert tenant_settings_errors(dict(GOOD_SETTINGS, **change)) == []


@pytest.mark.parametrize("change, fragment", [
    ({"tenant_name": "Acme"}, "tenant_name 'Acme' is invalid"),
    ({"tenant_name": "mesos"}, "it is reserved"),
    ({"tenant_zk_hosts": []}, "tenant_zk_hosts must be a non-empty list"),
    ({"tenant_zk_hosts": "zk1:2181"}, "tenant_zk_hosts must be a non-empty list"),
    ({"tenant_zk_root": "paas/tenants"}, "tenant_zk_root must be an absolute ZooKeeper path"),
    ({"tenant_mesos_zk_path": "/mesos/"}, "tenant_mesos_zk_path must be an absolute ZooKeeper path"),
    ({"tenant_zk_superuser_name": "su:per"}, "tenant_zk_superuser_name must be a user name without ':'"),
    ({"tenant_zk_superuser_password": ""}, "tenant_zk_superuser_password must be set"),
    ({"tenant_marathon_urls": []}, "tenant_marathon_urls must be a non-empty list"),
    ({"tenant_marathon_urls": ["m1:8080"]}, "tenant_marathon_urls must be a list of base URLs"),
    ({"tenant_marathon_urls": ["http://m1:8080/v2/apps"]}, "not: 'http://m1:8080/v2/apps'"),
    ({"tenant_mesos_master_urls": ["zk://zk1:2181"]}, "tenant_mesos_master_urls must be a list of"),
    ({"tenant_marathon_password": ""}, "tenant_marathon_username and tenant_marathon_password are set together"),
    ({"tenant_mesos_operator_secret": "x"}, "tenant_mesos_operator_principal and tenant_mesos_operator_secret"),
    ({"tenant_mesos_authentication": "yes"}, "tenant_mesos_authentication must be true or false"),
    ({"tenant_task_user": "root"}, "tenant_task_user must name an unprivileged user (not root)"),
    ({"tenant_task_user": "a b"}, "tenant_task_user must name an unprivileged user"),
    ({"tenant_marathon_image": "registry:5000/marathon:latest"}, "tenant_marathon_image must name an image with a pinned"),
    ({"tenant_marathon_image": "registry:5000/marathon"}, "tenant_marathon_image must name"),
    ({"tenant_marathon_image": "Registry/Marathon:1"}, "tenant_marathon_image must name"),
    ({"tenant_instances": 0}, "tenant_instances must be a number >= 1; got 0"),
    ({"tenant_instances": "two"}, "tenant_instances must be a number >= 1"),
    ({"tenant_instances": True}, "tenant_instances must be a number"),
    ({"tenant_cpus": 0}, "tenant_cpus must be a number >= 0.01"),
    ({"tenant_mem": 64}, "tenant_mem must be a number >= 128 (MB)"),
    ({"tenant_health_check_grace_period": -1}, "tenant_health_check_grace_period must be a number >= 0"),
    ({"tenant_health_check_delay": None}, "tenant_health_check_delay must be a number"),
    ({"tenant_health_check_interval": 0}, "tenant_health_check_interval must be a number >= 1"),
    ({"tenant_quota": {"cpus": "many"}}, "tenant_quota must map resources to numbers >= 0"),
    ({"tenant_quota": {"cpus": -1}}, "tenant_quota must map"),
    ({"tenant_quota": [4]}, "tenant_quota must map"),
    ({"tenant_marathon_extra_flags": ["--x"]}, "tenant_marathon_extra_flags must be a mapping"),
    ({"tenant_pushers": [{"name": "alice", "key": "nope"}]}, "tenant_pushers[0].key"),
    ({"tenant_gitreceive_zk_username": "git:receive"}, "tenant_gitreceive_zk_username must be a user name"),
    ({"tenant_gitreceive_zk_password": "short"}, "tenant_gitreceive_zk_password must be empty (no git hosts) or 8"),
    ({"tenant_secrets_dir": ""}, "tenant_secrets_dir must be an absolute directory"),
    ({"tenant_secrets_dir": "secrets"}, "tenant_secrets_dir must be an absolute directory"),
])
def test_bad_settings_name_their_variable(change, fragment):
    errors = tenant_settings_errors(dict(GOOD_SETTINGS, **change))
    assert any(fragment in e for e in errors), errors


def test_settings_errors_come_all_at_once_and_hide_the_superuser_password():
    errors = tenant_settings_errors(dict(GOOD_SETTINGS, tenant_name="X", tenant_mem=1, tenant_zk_root="x",
                                         tenant_zk_superuser_password=""))
    assert [e.split()[0] for e in errors] == ["tenant_name", "tenant_zk_root", "tenant_zk_superuser_password",
                                             "tenant_mem"]
    assert "s3cret" not in " ".join(tenant_settings_errors(dict(GOOD_SETTINGS, tenant_zk_superuser_name=":")))


def test_settings_errors_wants_a_dict():
    with pytest.raises(AnsibleFilterError, match="tenant_settings_errors: expects a dict"):
        tenant_settings_errors(["acme"])


@pytest.mark.parametrize("kept, fragment", [
    ({"zk_password": "z" * 16, "http_password": "h" * 15, "deploy_token": "d" * 40}, "not so: http_password"),
    ({"zk_password": "z" * 32}, "not so: http_password, deploy_token"),
    ("garbage", "not so: zk_password, http_password, deploy_token"),
    ({"zk_password": 1234567890123456789, "http_password": "h" * 16, "deploy_token": "d" * 16}, "not so: zk_password"),
])
def test_kept_secrets_are_checked_and_never_printed(kept, fragment):
    errors = tenant_settings_errors(dict(GOOD_SETTINGS, __secrets=kept, __secrets_file="/s/acme/secrets.yml"))
    assert any(e.startswith("/s/acme/secrets.yml must hold") and fragment in e for e in errors), errors
    for value in (kept.values() if isinstance(kept, dict) else [kept]):
        if isinstance(value, str) and len(value) > 8:
            assert value not in " ".join(errors)


def test_good_kept_secrets_pass():
    kept = {"zk_password": "z" * 32, "http_password": "h" * 32, "deploy_token": "d" * 40}
    assert tenant_settings_errors(dict(GOOD_SETTINGS, __secrets=kept, __secrets_file="/s/acme/secrets.yml")) == []
