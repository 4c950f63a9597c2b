# -*- coding: utf-8 -*-
"""The Mesos masters' ACLs for this platform (Mesos' local authorizer, --acls).

Rules are matched in order, the first whose subject and object both match decides
(reference/mesos/authorization.md); every action listed ends with an ANY -> NONE rule, so a
principal not named is refused; actions not listed (views, agent registration, drains)
stay as without --acls (permissive).
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

ANY = {"type": "ANY"}
NONE = {"type": "NONE"}


def _values(items):
    return {"values": sorted(items)}


def mesos_platform_acls(tenants, operator, frameworks, tenant_task_user="nobody"):
    """ACLs for a cluster whose tenants each have their own principal and role.

    tenants: principal names (each tenant's principal is its name and so is its role);
    operator: the operator principal (tear-downs, quotas, reservations of any role);
    frameworks: the platform's own frameworks, {principal: [roles]} (the central Marathon),
    which may run tasks as any user; tenant_task_user: the one user tenants' tasks run as.
    """
    if not isinstance(tenants, (list, tuple)) or any(not isinstance(t, str) or not t for t in tenants):
        raise AnsibleFilterError("mesos_platform_acls: tenants must be a list of principal names (got %r)" % (tenants,))
    if not isinstance(operator, str) or not operator:
        raise AnsibleFilterError("mesos_platform_acls: operator must be the operator principal (got %r)" % (operator,))
    if not isinstance(frameworks, dict) or any(not isinstance(r, list) or not r for r in frameworks.values()):
        raise AnsibleFilterError("mesos_platform_acls: frameworks must map principal -> non-empty list of roles "
                                 "(got %r)" % (frameworks,))
    if not isinstance(tenant_task_user, str) or not tenant_task_user or tenant_task_user == "root":
        raise AnsibleFilterError("mesos_platform_acls: tenant_task_user must be an unprivileged user name "
                                 "(got %r)" % (tenant_task_user,))
    clash = sorted(set(tenants) & (set(frameworks) | {operator}))
    if clash:
        raise AnsibleFilterError("mesos_platform_acls: tenant principals %s are the platform's" % ", ".join(clash))
    tenants = sorted(set(tenants))

    def own_role(principal_key, role_key):
        return [{principal_key: _values([t]), role_key: _values([t])} for t in tenants]

    acls = {
        "permissive": True,
        "register_frameworks":
            [{"principals": _values([p]), "roles": _values(r)} for p, r in sorted(frameworks.items())]
            + own_role("principals", "roles")
            + [{"principals": ANY, "roles": NONE}],
        "run_tasks":
            [{"principals": _values(sorted(frameworks)), "users": ANY}] if frameworks else [],
        "teardown_frameworks": [{"principals": _values([operator]), "framework_principals": ANY},
                                {"principals": ANY, "framework_principals": NONE}],
        "reserve_resources": [{"principals": _values([operator]), "roles": ANY}] + own_role("principals", "roles")
                             + [{"principals": ANY, "roles": NONE}],
        "unreserve_resources": [{"principals": _values([operator]), "reserver_principals": ANY}]
                               + own_role("principals", "reserver_principals")
                               + [{"principals": ANY, "reserver_principals": NONE}],
        "create_volumes": [{"principals": _values([operator]), "roles": ANY}] + own_role("principals", "roles")
                          + [{"principals": ANY, "roles": NONE}],
        "destroy_volumes": [{"principals": _values([operator]), "creator_principals": ANY}]
                           + own_role("principals", "creator_principals")
                           + [{"principals": ANY, "creator_principals": NONE}],
        "update_quotas": [{"principals": _values([operator]), "roles": ANY},
                          {"principals": ANY, "roles": NONE}],
    }
    if tenants:
        acls["run_tasks"].append({"principals": _values(tenants), "users": _values([tenant_task_user])})
    acls["run_tasks"].append({"principals": ANY, "users": NONE})
    return acls


class FilterModule:
    def filters(self):
        return {"mesos_platform_acls": mesos_platform_acls}
