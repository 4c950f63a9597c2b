#!/usr/bin/python
# -*- coding: utf-8 -*-
# Sets the ACL of an existing ZooKeeper node, or of a whole subtree, idempotently.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: zk_acl
short_description: Set the ACL of a ZooKeeper node or of a whole subtree idempotently
description:
  - Sets the ACL of O(path), and with O(recursive=true) of every node below it, to O(acl); nodes
    named in O(subtree_acls) (and everything below them) get their own ACL instead.
  - Reads every ACL first and changes only those that differ (compared as sets, as ZooKeeper
    does). A second run with the same input reports C(changed=false).
  - Creates nothing and deletes nothing. A missing O(path) is reported in RV(missing) and is not
    an error (a service creates its tree when it first starts), unless O(must_exist=true).
  - Unlike M(zk_namespace), O(path) may be C(/), so that the root can be closed to the world.
    The C(/zookeeper) tree is only changed when O(path) names it.
  - "Used to move a running cluster to locked trees: the services first get credentials and
    create new nodes with their own ACL, then this module corrects the nodes they made before."
  - Runs where the task runs (usually delegated to C(localhost)); needs C(kazoo).
version_added: "1.1.0"
author: PaaS maintainers
requirements:
  - kazoo >= 2.8
options:
  hosts:
    description:
      - ZooKeeper connect string, C(h1:2181,h2:2181).
    type: str
    required: true
  path:
    description:
      - Absolute path of the node, C(/) included. Validated like M(zk_namespace)'s O(path).
    type: str
    required: true
  acl:
    description:
      - The ACL, a non-empty list of C({scheme, id, perms}) (same form as M(zk_namespace)'s O(acl)).
    type: list
    elements: dict
    required: true
    suboptions:
      scheme:
        description: ACL scheme.
        type: str
        required: true
        choices: [digest, world, ip, auth]
      id:
        description: "Identity; C(digest) takes C(user:base64(sha1(user:password))) (the C(zk_digest) filter)."
        type: str
      perms:
        description: C(all) or a subset of C(rwcda).
        type: str
        required: true
  recursive:
    description:
      - Also set the ACL of every node below O(path) (C(/zookeeper) excluded when O(path) is C(/)).
    type: bool
    default: false
  subtree_acls:
    description:
      - "With O(recursive=true), relative path -> ACL for subtrees that get another ACL than O(acl),
        for example C({leader-curator: [...]}) for an election path that others must read."
    type: dict
  auth:
    description:
      - "Credentials added to the session (usually the digest superuser's), C([{credential: user:password}])."
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
  must_exist:
    description:
      - Fail when O(path) does not exist, instead of reporting it in RV(missing).
    type: bool
    default: false
  timeout:
    description: Seconds to wait for a ZooKeeper session.
    type: float
    default: 10
attributes:
  check_mode:
    support: full
    description: Reads every ACL and reports what would change; writes nothing.
  diff_mode:
    support: full
    description: Shows the ACL of every node it changes, before and after.
  platform:
    platforms: posix
notes:
  - Children created between the read and the write are not visited; run again (a service that
    has credentials already creates its nodes with the right ACL).
seealso:
  - module: zk_namespace
"""

EXAMPLES = r"""
- name: Nobody but the superuser creates top-level nodes
  zk_acl:
    hosts: "{{ paas_zk_hosts | join(',') }}"
    path: /
    acl: [{scheme: world, id: anyone, perms: r}]
    auth: [{credential: "super:{{ zookeeper_superuser_password }}"}]
  delegate_to: localhost

- name: The central Marathon's tree is its own; its election path is readable by all
  zk_acl:
    hosts: "{{ paas_zk_hosts | join(',') }}"
    path: /marathon
    recursive: true
    acl: [{scheme: digest, id: "{{ 'marathon' | zk_digest(marathon_zk_password) }}", perms: all}]
    subtree_acls:
      leader-curator:
        - {scheme: digest, id: "{{ 'marathon' | zk_digest(marathon_zk_password) }}", perms: all}
        - {scheme: world, id: anyone, perms: r}
    auth: [{credential: "super:{{ zookeeper_superuser_password }}"}]
  delegate_to: localhost
"""

RETURN = r"""
path:
  description: The node the task was about.
  returned: always
  type: str
  sample: /marathon
acl_changed:
  description: Nodes whose ACL was (or, in check mode, would be) changed.
  returned: always
  type: list
  elements: str
  sample: [/marathon, /marathon/state]
checked:
  description: How many nodes were read.
  returned: always
  type: int
  sample: 12
missing:
  description: True when O(path) does not exist (nothing was changed).
  returned: always
  type: bool
  sample: false
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
    ZkError,
    ZkInputError,
    acl_key,
    acl_to_kazoo,
    expand_acl,
    join_path,
    parse_acl,
    parse_auth,
    validate_path,
    validate_relative,
)

ZK_SYSTEM = "/zookeeper"


def _validated(params):
    path = params["path"]
    if path != "/":
        path = validate_path(path, "path") if not path.startswith(ZK_SYSTEM) else _system_path(path)
    auth = parse_auth(params.get("auth"), "auth")
    acl = expand_acl(parse_acl(params["acl"], "acl"), auth)
    overrides = {}
    subtree_acls = params.get("subtree_acls") or {}
    if subtree_acls and not params["recursive"]:
        raise ZkInputError("subtree_acls", "needs recursive=true")
    for rel, entries in subtree_acls.items():
        field = "subtree_acls[%r]" % (rel,)
        validate_relative(rel, field)
        overrides[join_path(path, rel) if path != "/" else "/" + rel] = expand_acl(parse_acl(entries, field), auth)
    timeout = params["timeout"]
    if timeout is None or timeout <= 0:
        raise ZkInputError("timeout", "must be a positive number of seconds")
    return path, acl, overrides, auth


def _system_path(path):
    """/zookeeper and below pass validate_path's refusal only here, where the operator names it."""
    rest = path[len(ZK_SYSTEM):]
    if rest and not rest.startswith("/"):
        return validate_path(path, "path")
    if rest:
        validate_relative(rest.lstrip("/"), "path")
    return path.rstrip("/") or ZK_SYSTEM


def _wanted_acl(node, acl, overrides):
    """The ACL of the deepest subtree_acls entry that contains node, else acl."""
    best, best_len = acl, -1
    for root, entries in overrides.items():
        if (node == root or node.startswith(root.rstrip("/") + "/")) and len(root) > best_len:
            best, best_len = entries, len(root)
    return best


def _walk(client, path, recursive):
    """path and (recursive) every node below it, parents first; /zookeeper skipped below /."""
    order, stack = [], [path]
    while stack:
        node = stack.pop()
        order.append(node)
        if not recursive:
            continue
        try:
            children = client.get_children(node)
        except NoNodeError:
            continue
        for child in sorted(children, reverse=True):
            full = join_path(node, child) if node != "/" else "/" + child
            if node == "/" and full == ZK_SYSTEM:
                continue
            stack.append(full)
    return order


def _text(acl):
    return sorted("%s:%s:%s" % (e["scheme"], e["id"], e["perms"]) for e in acl)


def run(module):
    from ansible.module_utils.zookeeper import acl_from_kazoo, zk_session

    params = module.params
    result = dict(changed=False, path=params["path"], acl_changed=[], checked=0, missing=False)
    try:
        path, acl, overrides, auth = _validated(params)
    except ZkInputError as exc:
        module.fail_json(msg=str(exc), field=exc.field, **result)
    if not HAS_KAZOO:
        module.fail_json(msg=missing_required_lib("kazoo"), exception=str(KAZOO_IMPORT_ERROR), **result)

    before, after = [], []
    try:
        with zk_session(params["hosts"], params["timeout"], auth) as client:
            if client.exists(path) is None:
                if params["must_exist"]:
                    module.fail_json(msg="%s does not exist in ZooKeeper at %s" % (path, params["hosts"]), **result)
                result["missing"] = True
                module.exit_json(**result)
            changes = []
            for node in _walk(client, path, params["recursive"]):
                try:
                    have, _stat = client.get_acls(node)
                except NoNodeError:
                    continue  # deleted meanwhile (an ephemeral node of a stopped service)
                result["checked"] += 1
                want = _wanted_acl(node, acl, overrides)
                have = acl_from_kazoo(have)
                if acl_key(have) != acl_key(want):
                    changes.append((node, want))
                    before.append("%s: %s" % (node, ", ".join(_text(have))))
                    after.append("%s: %s" % (node, ", ".join(_text(want))))
            result["acl_changed"] = [node for node, _want in changes]
            result["changed"] = bool(changes)
            if changes and not module.check_mode:
                for node, want in changes:
                    try:
                        client.set_acls(node, acl_to_kazoo(want))
                    except NoNodeError:
                        pass
    except ZkError as exc:
        module.fail_json(msg=str(exc), **result)
    except NoAuthError:
        module.fail_json(msg="ZooKeeper refused to change the ACLs under %s (NoAuth): give the superuser's "
                             "credential in 'auth'" % path, **result)
    except KazooException as exc:
        module.fail_json(msg="ZooKeeper ACL change under %s at %s failed: %s: %s"
                             % (path, params["hosts"], type(exc).__name__, exc), **result)

    if result["changed"] and module._diff:
        result["diff"] = {"before": "\n".join(before) + "\n", "after": "\n".join(after) + "\n",
                          "before_header": "%s ACLs (ZooKeeper)" % path, "after_header": "%s ACLs (ZooKeeper)" % path}
    module.exit_json(**result)




def main():
    module = AnsibleModule(
        argument_spec=dict(
            hosts=dict(type="str", required=True),
            path=dict(type="str", required=True),
            acl=dict(type="list", elements="dict", required=True, options=ACL_ENTRY_SPEC),
            recursive=dict(type="bool", default=False),
            subtree_acls=dict(type="dict"),
            auth=AUTH_SPEC,
            must_exist=dict(type="bool", default=False),
            timeout=dict(type="float", default=10.0),
        ),
        supports_check_mode=True,
    )
    run(module)


if __name__ == "__main__":
    main()
