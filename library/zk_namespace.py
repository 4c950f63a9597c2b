#!/usr/bin/python
# -*- coding: utf-8 -*-
# Creates and removes a ZooKeeper namespace (a subtree) idempotently.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: zk_namespace
short_description: Create or remove a ZooKeeper namespace idempotently
description:
  - Creates a ZooKeeper namespace, a root znode with optional data, ACL and a tree of child
    znodes, in one task and one ZooKeeper session; or removes it.
  - Reads the current tree, normalises it (ZooKeeper returns bytes, the task gives text),
    compares, and writes only what differs. A second run with the same input reports
    C(changed=false).
  - Missing parents of O(path) are created with ZooKeeper's default open ACL, so that sibling
    namespaces can be created next to each other, unless O(parents_acl) gives theirs.
  - Runs where the task runs. The host needs the C(kazoo) Python library and network access to
    the ensemble. On this project's controller C(kazoo) comes from C(requirements.txt), so the
    usual pattern is to delegate the task to C(localhost).
version_added: "1.0.0"
author: PaaS maintainers
requirements:
  - kazoo >= 2.8
options:
  hosts:
    description:
      - ZooKeeper connect string, C(h1:2181,h2:2181), optionally with a chroot (C(/chroot)) at the end.
    type: str
    required: true
  path:
    description:
      - Absolute path of the namespace root, for example C(/paas/tenants/acme).
      - Must start with C(/); no empty, C(.) or C(..) segments; no trailing slash; no characters
        ZooKeeper rejects; not C(/) itself, not C(/zookeeper) or below.
    type: str
    required: true
  state:
    description:
      - C(present) creates the namespace and corrects data and ACLs; C(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  data:
    description:
      - Data of the root znode (UTF-8 text). When omitted, existing data is left alone and a new
        root gets empty data.
    type: str
  nodes:
    description:
      - "Child znodes to create below the root, as relative path -> data, for example
        C({marathon: '', 'config/owner': acme}). Intermediate nodes are created with empty data."
      - A value of C(null) creates the node with empty data and leaves existing data alone.
      - "A value may also be a mapping C({data: <text or null>, acl: [...]}): the node gets that ACL
        (same form as O(acl)) instead of O(acl), on creation and corrected afterwards; for example a
        record the namespace's owner may read but not change."
      - Keys are validated like O(path) but relative.
    type: dict
  acl:
    description:
      - ACL applied to the root and to every node the module creates. An existing root or listed
        node with a different ACL is corrected, and reported in RV(acl_changed).
      - When omitted, new nodes get ZooKeeper's open ACL and existing ACLs are left alone.
    type: list
    elements: dict
    suboptions:
      scheme:
        description: ACL scheme.
        type: str
        required: true
        choices: [digest, world, ip, auth]
      id:
        description:
          - Identity. C(digest) takes C(user:base64(sha1(user:password))) (the C(zk_digest) filter
            makes one); C(world) takes C(anyone); C(ip) an address or network; C(auth) none.
        type: str
      perms:
        description: C(all) or a subset of C(rwcda).
        type: str
        required: true
  parents_acl:
    description:
      - ACL of the parents of O(path) (all of them up to, not including, C(/)). Missing parents are
        created with it, existing ones whose ACL differs are corrected (reported in RV(acl_changed)),
        so that nobody else may create or delete namespaces next to this one.
      - When omitted, missing parents get ZooKeeper's open ACL and existing ones are left alone.
      - Ignored with O(state=absent).
    type: list
    elements: dict
    suboptions:
      scheme:
        description: ACL scheme.
        type: str
        required: true
        choices: [digest, world, ip, auth]
      id:
        description: Identity, as in O(acl).
        type: str
      perms:
        description: C(all) or a subset of C(rwcda).
        type: str
        required: true
  auth:
    description:
      - Credentials added to the ZooKeeper session, so that ACL-protected nodes can be read and
        changed.
    type: list
    elements: dict
    suboptions:
      scheme:
        description: Only C(digest).
        type: str
        default: digest
        choices: [digest]
      credential:
        description: C(user:password).
        type: str
        required: true
  recursive:
    description:
      - With O(state=absent), delete the whole subtree. Without it, a root that has children
        fails with a message and nothing is deleted.
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for a ZooKeeper session. An unreachable ensemble fails with a message
        naming the hosts.
    type: float
    default: 10
attributes:
  check_mode:
    support: full
    description: Reads the tree and reports what would change; writes nothing.
  diff_mode:
    support: full
    description: Shows the data and ACL of every node it creates, changes or deletes.
  platform:
    platforms: posix
notes:
  - Node data is compared as UTF-8 text; binary data that is not valid UTF-8 is shown in hex.
  - The module never reports C(changed) for an unchanged tree, unlike C(community.general.znode),
    which compares bytes with text.
seealso:
  - name: ZooKeeper access control
    description: ACL schemes and permissions.
    link: https://zookeeper.apache.org/doc/r3.8.4/zookeeperProgrammers.html#sc_ZooKeeperAccessControl
"""

EXAMPLES = r"""
- name: Tenant namespace with a digest ACL for the tenant and the superuser
  zk_namespace:
    hosts: "{{ paas_zk_hosts }}"
    path: /paas/tenants/acme
    data: "tenant=acme"
    nodes:
      marathon: ""
      config/owner: acme
    acl:
      - scheme: digest
        id: "{{ 'acme' | zk_digest(tenant_zk_password) }}"
        perms: all
      - scheme: digest
        id: "{{ 'super' | zk_digest(zookeeper_superuser_password) }}"
        perms: all
    auth:
      - credential: "super:{{ zookeeper_superuser_password }}"
  delegate_to: localhost

- name: The same, with the parents locked and a record the tenant may only read
  zk_namespace:
    hosts: "{{ paas_zk_hosts }}"
    path: /paas/tenants/acme
    acl: "{{ tenant_acl }}"
    parents_acl:
      - scheme: digest
        id: "{{ 'super' | zk_digest(zookeeper_superuser_password) }}"
        perms: all
    nodes:
      record:
        data: '{"owner": "acme"}'
        acl:
          - scheme: digest
            id: "{{ 'super' | zk_digest(zookeeper_superuser_password) }}"
            perms: all
          - scheme: digest
            id: "{{ 'acme' | zk_digest(tenant_zk_password) }}"
            perms: r
    auth:
      - credential: "super:{{ zookeeper_superuser_password }}"
  delegate_to: localhost

- name: Remove the namespace and everything below it
  zk_namespace:
    hosts: zk1:2181,zk2:2181,zk3:2181
    path: /paas/tenants/acme
    state: absent
    recursive: true
    auth:
      - credential: "super:{{ zookeeper_superuser_password }}"
  delegate_to: localhost
"""

RETURN = r"""
path:
  description: The namespace root the task worked on.
  returned: always
  type: str
  sample: /paas/tenants/acme
created:
  description: Znodes created (or that would be created in check mode), parents first.
  returned: always
  type: list
  elements: str
  sample: [/paas, /paas/tenants, /paas/tenants/acme, /paas/tenants/acme/marathon]
deleted:
  description: Znodes deleted (or that would be deleted), deepest first.
  returned: always
  type: list
  elements: str
  sample: [/paas/tenants/acme/marathon, /paas/tenants/acme]
updated:
  description: Existing znodes whose data was changed.
  returned: always
  type: list
  elements: str
  sample: [/paas/tenants/acme/config/owner]
acl_changed:
  description: Existing znodes whose ACL was corrected.
  returned: always
  type: list
  elements: str
  sample: [/paas/tenants/acme]
diff:
  description: Before and after of every node touched (data and ACL), with O(_ansible_diff).
  returned: when diff mode is on and something changed
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible.module_utils.zookeeper import (
    ACL_ENTRY_SPEC,
    AUTH_SPEC,
    HAS_KAZOO,
    KAZOO_IMPORT_ERROR,
    KazooException,
    NoAuthError,
    NoNodeError,
    NotEmptyError,
    ZkError,
    ZkInputError,
    acl_key,
    acl_to_kazoo,
    expand_acl,
    join_path,
    parse_acl,
    parse_auth,
    read_node,
    subtree,
    to_bytes,
    to_text,
    validate_path,
    validate_relative,
)


def _validated(params):
    """All input checks, before any connection is made."""
    path = validate_path(params["path"], "path")
    auth = parse_auth(params.get("auth"), "auth")
    nodes = {}
    for key, value in (params.get("nodes") or {}).items():
        field = "nodes[%r]" % (key,)
        validate_relative(key, field)
        node_acl = None
        if isinstance(value, dict):
            unknown = sorted(str(k) for k in value if k not in ("data", "acl"))
            if unknown:
                raise ZkInputError(field, "takes data and acl, not %s" % ", ".join(unknown))
            if value.get("acl") is not None:
                node_acl = expand_acl(parse_acl(value["acl"], field + ".acl"), auth)
            value = value.get("data")
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise ZkInputError(field, "data must be text, got %s" % type(value).__name__)
        nodes[key] = (value, node_acl)
    acl = parse_acl(params["acl"], "acl") if params.get("acl") is not None else None
    if acl is not None:
        acl = expand_acl(acl, auth)
    parents_acl = None
    if params.get("parents_acl") is not None and params["state"] == "present":
        parents_acl = expand_acl(parse_acl(params["parents_acl"], "parents_acl"), auth)
    if params["state"] == "absent" and (params.get("nodes") or params.get("data") is not None or acl):
        raise ZkInputError("state", "absent takes no data, nodes or acl")
    timeout = params["timeout"]
    if timeout is None or timeout <= 0:
        raise ZkInputError("timeout", "must be a positive number of seconds")
    return path, nodes, acl, parents_acl, auth


def _plan_present(client, path, data, nodes, acl, parents_acl=None):
    """Compare the desired tree with ZooKeeper. Returns the list of actions and before/after."""
    actions = []  # (op, path, data bytes, acl)
    before, after = {}, {}

    # Missing parents, created with parents_acl (else ZooKeeper's default ACL); existing
    # parents' ACL corrected to parents_acl when it is given.
    parts = path.strip("/").split("/")
    for i in range(1, len(parts)):
        parent = "/" + "/".join(parts[:i])
        if parents_acl is None:
            if client.exists(parent) is None:
                actions.append(("create", parent, b"", None))
                after[parent] = {"data": "", "acl": _acl_text(None)}
            continue
        exists, have_data, have_acl = read_node(client, parent)
        if not exists:
            actions.append(("create", parent, b"", parents_acl))
            after[parent] = {"data": "", "acl": _acl_text(parents_acl)}
        elif acl_key(parents_acl) != acl_key(have_acl):
            actions.append(("acl", parent, None, parents_acl))
            before[parent] = {"data": to_text(have_data), "acl": _acl_text(have_acl)}
            after[parent] = {"data": to_text(have_data), "acl": _acl_text(parents_acl)}

    # The root and the listed nodes (with intermediate nodes), parents before children;
    # a listed node may carry its own ACL.
    wanted = [(path, data, acl)]
    listed = {}
    for key in sorted(nodes, key=lambda k: (k.count("/"), k)):
        segs = key.split("/")
        for depth in range(1, len(segs)):
            inter = join_path(path, "/".join(segs[:depth]))
            listed.setdefault(inter, (None, None))
        listed[join_path(path, key)] = nodes[key]
    for node in sorted(listed, key=lambda p: (p.count("/"), p)):
        value, node_acl = listed[node]
        wanted.append((node, None if value is None else str(value), node_acl if node_acl is not None else acl))

    for node, want_data, want_acl in wanted:
        exists, have_data, have_acl = read_node(client, node)
        if not exists:
            new = to_bytes(want_data)
            actions.append(("create", node, new, want_acl))
            after[node] = {"data": to_text(new), "acl": _acl_text(want_acl)}
            continue
        entry_before = {"data": to_text(have_data), "acl": _acl_text(have_acl)}
        entry_after = dict(entry_before)
        if want_data is not None and to_bytes(want_data) != (have_data or b""):
            actions.append(("set", node, to_bytes(want_data), None))
            entry_after["data"] = want_data
        if want_acl is not None and acl_key(want_acl) != acl_key(have_acl):
            actions.append(("acl", node, None, want_acl))
            entry_after["acl"] = _acl_text(want_acl)
        if entry_after != entry_before:
            before[node] = entry_before
            after[node] = entry_after
    return actions, before, after


def _acl_text(acl):
    if acl is None:
        return "default (world:anyone:rwcda)"
    return sorted("%s:%s:%s" % (e["scheme"], e["id"], e["perms"]) for e in acl)


def _apply(client, actions):
    for op, node, data, acl in actions:
        if op == "create":
            if acl is None:
                client.create(node, data)
            else:
                client.create(node, data, acl=acl_to_kazoo(acl))
        elif op == "set":
            client.set(node, data)
        elif op == "acl":
            client.set_acls(node, acl_to_kazoo(acl))


def _render(tree):
    lines = []
    for node in sorted(tree):
        lines.append("%s:" % node)
        entry = tree[node]
        lines.append("  data: %r" % (entry.get("data"),))
        acl = entry.get("acl")
        if isinstance(acl, list):
            lines.append("  acl:")
            lines.extend("    - %s" % a for a in acl)
        else:
            lines.append("  acl: %s" % (acl,))
    return "\n".join(lines) + ("\n" if lines else "")


def run(module):
    params = module.params
    result = dict(changed=False, path=params["path"], created=[], deleted=[], updated=[], acl_changed=[])
    try:
        path, nodes, acl, parents_acl, auth = _validated(params)
    except ZkInputError as exc:
        module.fail_json(msg=str(exc), field=exc.field, **result)

    if not HAS_KAZOO:
        module.fail_json(msg=missing_required_lib("kazoo"), exception=str(KAZOO_IMPORT_ERROR), **result)

    from ansible.module_utils.zookeeper import zk_session

    try:
        with zk_session(params["hosts"], params["timeout"], auth) as client:
            if params["state"] == "present":
                actions, before, after = _plan_present(client, path, params.get("data"), nodes, acl,
                                                       parents_acl)
                result["created"] = [a[1] for a in actions if a[0] == "create"]
                result["updated"] = [a[1] for a in actions if a[0] == "set"]
                result["acl_changed"] = [a[1] for a in actions if a[0] == "acl"]
                result["changed"] = bool(actions)
                if actions and not module.check_mode:
                    _apply(client, actions)
            else:
                if client.exists(path) is None:
                    module.exit_json(**result)
                nodes_below = subtree(client, path)
                children = [n for n in nodes_below if n != path]
                if children and not params["recursive"]:
                    direct = sorted(n.rsplit("/", 1)[1] for n in children if n.rsplit("/", 1)[0] == path)
                    module.fail_json(msg="%s has %d child node(s) (%s); set recursive=true to delete the "
                                         "subtree. Nothing was deleted." % (path, len(direct), ", ".join(direct)),
                                     **result)
                before = {}
                if module._diff:
                    for node in nodes_below:
                        _exists, data, node_acl = read_node(client, node)
                        before[node] = {"data": to_text(data), "acl": _acl_text(node_acl)}
                after = {}
                result["deleted"] = nodes_below
                result["changed"] = True
                if not module.check_mode:
                    for node in nodes_below:
                        try:
                            client.delete(node)
                        except NoNodeError:
                            pass  # removed concurrently: the goal is reached
    except ZkError as exc:
        module.fail_json(msg=str(exc), **result)
    except NoAuthError as exc:
        module.fail_json(msg="ZooKeeper refused the change under %s (NoAuth): the session's credentials "
                             "are not allowed by the node's ACL; pass them in 'auth'" % path,
                         error=type(exc).__name__, **result)
    except NotEmptyError:
        module.fail_json(msg="a node below %s gained children while it was being deleted; run again" % path,
                         **result)
    except KazooException as exc:
        module.fail_json(msg="ZooKeeper operation on %s at %s failed: %s: %s"
                             % (path, params["hosts"], type(exc).__name__, exc), **result)

    if result["changed"] and module._diff:
        result["diff"] = {"before": _render(before), "after": _render(after),
                          "before_header": "%s (ZooKeeper)" % path, "after_header": "%s (ZooKeeper)" % path}
    module.exit_json(**result)




def main():
    module = AnsibleModule(
        argument_spec=dict(
            hosts=dict(type="str", required=True),
            path=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            data=dict(type="str"),
            nodes=dict(type="dict"),
            acl=dict(type="list", elements="dict", options=ACL_ENTRY_SPEC),
            parents_acl=dict(type="list", elements="dict", options=ACL_ENTRY_SPEC),
            auth=AUTH_SPEC,
            recursive=dict(type="bool", default=False),
            timeout=dict(type="float", default=10.0),
        ),
        supports_check_mode=True,
    )
    run(module)


if __name__ == "__main__":
    main()
