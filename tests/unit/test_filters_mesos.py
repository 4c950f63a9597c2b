"""mesos_platform_acls: the masters' --acls for per-tenant principals, checked against the
stand-in's implementation of Mesos' local authorizer (tests/standins/mesos/acls.py)."""
import os
import sys

import pytest
from ansible.errors import AnsibleFilterError

from mesos_filters import mesos_platform_acls

STANDINS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "standins")
if STANDINS not in sys.path:
    sys.path.insert(0, STANDINS)
from mesos.acls import LocalAuthorizer  # noqa: E402

ACLS = mesos_platform_acls(["acme", "globex"], "operator", {"marathon": ["*"]})
# Loading them is the check upstream's master makes at start (validate + parse).
AUTHORIZER = LocalAuthorizer(ACLS)


def rule_for(action, principal, _obj_key, obj):
    """The stand-in master's decision (Mesos' local authorizer semantics) for these ACLs."""
    return AUTHORIZER.authorized(action, principal, obj)


@pytest.mark.parametrize("principal,role,allowed", [
    ("acme", "acme", True), ("acme", "globex", False), ("acme", "*", False),
    ("globex", "globex", True), ("marathon", "*", True), ("marathon", "acme", False),
    ("intruder", "acme", False), ("operator", "acme", False)])
def test_a_tenant_registers_its_own_role_only(principal, role, allowed):
    assert rule_for("register_frameworks", principal, "roles", role) is allowed


@pytest.mark.parametrize("principal,user,allowed", [
    ("acme", "nobody", True), ("acme", "root", False), ("globex", "root", False),
    ("marathon", "root", True), ("intruder", "nobody", False)])
def test_tenants_run_tasks_as_the_unprivileged_user_only(principal, user, allowed):
    assert rule_for("run_tasks", principal, "users", user) is allowed


@pytest.mark.parametrize("action,key,obj", [
    ("teardown_frameworks", "framework_principals", "globex"), ("update_quotas", "roles", "globex"),
    ("reserve_resources", "roles", "globex"), ("unreserve_resources", "reserver_principals", "globex"),
    ("create_volumes", "roles", "globex"), ("destroy_volumes", "creator_principals", "globex")])
def test_only_the_operator_acts_on_another_tenant(action, key, obj):
    assert rule_for(action, "operator", key, obj) is True
    assert rule_for(action, "acme", key, obj) is False
    assert rule_for(action, "marathon", key, obj) is False


def test_tenants_reserve_for_their_own_role_but_set_no_quota():
    assert rule_for("reserve_resources", "acme", "roles", "acme") is True
    assert rule_for("update_quotas", "acme", "roles", "acme") is False


@pytest.mark.parametrize("args,text", [
    ((["acme", ""], "operator", {"marathon": ["*"]}), "tenants must be a list"),
    ((["acme"], "", {"marathon": ["*"]}), "operator must be"),
    ((["acme"], "operator", {"marathon": []}), "frameworks must map"),
    ((["operator"], "operator", {"marathon": ["*"]}), "are the platform's"),
])
def test_bad_input_names_what_is_wrong(args, text):
    with pytest.raises(AnsibleFilterError, match=text):
        mesos_platform_acls(*args)


def test_root_is_never_the_tenants_user():
    with pytest.raises(AnsibleFilterError, match="unprivileged"):
        mesos_platform_acls(["acme"], "operator", {"marathon": ["*"]}, tenant_task_user="root")
