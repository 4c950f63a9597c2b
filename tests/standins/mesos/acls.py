"""Mesos' *local authorizer* (``--acls``) for the stand-ins.

Written from the semantics of these upstream (Mesos 1.11.x) files; no code was copied:

* ``include/mesos/authorizer/acls.proto``: the ``ACLs`` document (``permissive``,
  default true, and one list of rules per action; every rule has a subject entity
  ``principals`` and an object entity whose name depends on the action, both
  *required*; an entity is ``{"type": "SOME"|"ANY"|"NONE", "values": [...]}``
  with type SOME by default).
* ``3rdparty/stout/include/stout/protobuf.hpp``: how the JSON is turned into that
  protobuf (unknown keys are ignored, a single value is accepted where a list is
  expected, an unknown ``type`` name falls back to SOME, missing required
  entities fail with ``Missing required fields: <list>[<i>].<field>, ...``).
* ``src/authorizer/local/authorizer.cpp``: the *match* and *allow* matrices, the
  first rule whose subject and object both *match* decides (the request is
  authorized if both also *allow*), ``permissive`` when no rule matches; the
  role based actions (register_frameworks, reserve_resources, get_quotas,
  update_quotas, ...) additionally understand recursive role rules ``"a/%"``
  (any role nested below ``a``, not ``a`` itself); a framework registering with
  several roles must be authorized for every one of them; ``LocalAuthorizer::validate``.
* ``src/master/main.cpp``: the master only creates the authorizer when ``--acls``
  is given; without it every action is authorized.

A subject is a principal string, or ``None`` (the request carries no
authenticated principal), which the upstream code treats as an ``ANY`` entity.
An object ``None`` likewise means ``ANY``.
"""
import json
import logging

log = logging.getLogger("authorizer")

SOME, ANY, NONE = "SOME", "ANY", "NONE"

# acls.proto ``message ACLs``: list name -> object entity field, in declaration order
# (that order is the order of protobuf's "Missing required fields" list).
RULES = [
    ("register_frameworks", "roles"),
    ("run_tasks", "users"),
    ("reserve_resources", "roles"),
    ("unreserve_resources", "reserver_principals"),
    ("create_volumes", "roles"),
    ("destroy_volumes", "creator_principals"),
    ("teardown_frameworks", "framework_principals"),
    ("update_weights", "roles"),
    ("get_endpoints", "paths"),
    ("get_quotas", "roles"),
    ("update_quotas", "roles"),
    ("view_frameworks", "users"),
    ("view_tasks", "users"),
    ("view_executors", "users"),
    ("access_sandboxes", "users"),
    ("access_mesos_logs", "logs"),
    ("view_roles", "roles"),
    ("view_flags", "flags"),
    ("launch_nested_containers_as_user", "users"),
    ("launch_nested_containers_under_parent_with_user", "users"),
    ("kill_nested_containers", "users"),
    ("wait_nested_containers", "users"),
    ("launch_nested_container_sessions_as_user", "users"),
    ("launch_nested_container_sessions_under_parent_with_user", "users"),
    ("attach_containers_input", "users"),
    ("attach_containers_output", "users"),
    ("view_containers", "users"),
    ("set_log_level", "level"),
    ("remove_nested_containers", "users"),
    ("register_agents", "agents"),
    ("update_maintenance_schedules", "machines"),
    ("get_maintenance_schedules", "machines"),
    ("start_maintenances", "machines"),
    ("stop_maintenances", "machines"),
    ("get_maintenance_statuses", "machines"),
    ("drain_agents", "agents"),
    ("deactivate_agents", "agents"),
    ("reactivate_agents", "agents"),
    ("mark_agents_gone", "agents"),
    ("launch_standalone_containers", "users"),
    ("kill_standalone_containers", "users"),
    ("wait_standalone_containers", "users"),
    ("remove_standalone_containers", "users"),
    ("view_standalone_containers", "users"),
    ("modify_resource_provider_configs", "resource_providers"),
    ("mark_resource_providers_gone", "resource_providers"),
    ("view_resource_providers", "resource_providers"),
    ("prune_images", "images"),
    ("resize_volumes", "roles"),
    ("create_block_disks", "roles"),
    ("destroy_block_disks", "roles"),
    ("create_mount_disks", "roles"),
    ("destroy_mount_disks", "roles"),
    ("destroy_raw_disks", "roles"),
]
OBJECT_FIELD = dict(RULES)

# Actions whose rules are role based and use the hierarchical role approver.
HIERARCHICAL = {
    "register_frameworks", "reserve_resources", "create_volumes", "resize_volumes", "update_weights",
    "view_roles", "get_quotas", "update_quotas", "create_block_disks", "destroy_block_disks",
    "create_mount_disks", "destroy_mount_disks", "destroy_raw_disks",
}

# LocalAuthorizer::validate: these object entities may only be ANY or NONE.
# list name -> ACL message name used in the error text.
ONLY_ANY_OR_NONE = [
    ("access_mesos_logs", "AccessMesosLog"),
    ("view_flags", "ViewFlags"),
    ("set_log_level", "SetLogLevel"),
    ("register_agents", "RegisterAgent"),
    ("update_maintenance_schedules", "UpdateMaintenanceSchedule"),
    ("get_maintenance_schedules", "GetMaintenanceSchedule"),
    ("start_maintenances", "StartMaintenance"),
    ("stop_maintenances", "StopMaintenance"),
    ("get_maintenance_statuses", "GetMaintenanceStatus"),
    ("drain_agents", "DrainAgent"),
    ("deactivate_agents", "DeactivateAgent"),
    ("reactivate_agents", "ReactivateAgent"),
    ("launch_standalone_containers", "LaunchStandaloneContainer"),
    ("kill_standalone_containers", "KillStandaloneContainer"),
    ("wait_standalone_containers", "WaitStandaloneContainer"),
    ("remove_standalone_containers", "RemoveStandaloneContainer"),
    ("view_standalone_containers", "ViewStandaloneContainer"),
    ("mark_resource_providers_gone", "MarkResourceProvidersGone"),
    ("view_resource_providers", "ViewResourceProvider"),
    ("modify_resource_provider_configs", "ModifyResourceProviderConfig"),
    ("prune_images", "PruneImages"),
]

# src/common/authorization.cpp AUTHORIZABLE_ENDPOINTS (get_endpoints paths).
AUTHORIZABLE_ENDPOINTS = {"/containers", "/containerizer/debug", "/files/debug", "/logging/toggle",
                          "/metrics/snapshot", "/monitor/statistics"}

# ACL lists that existed in older releases and are gone from 1.11's acls.proto
# (removed upstream in commit b60b14487 "Removed deprecated ACLs `SetQuota` and
# `RemoveQuota`"). Like any unknown key they are ignored; we only warn about it.
REMOVED_LISTS = {"set_quotas": "update_quotas", "remove_quotas": "update_quotas",
                 "shutdown_frameworks": "teardown_frameworks"}


class AclError(ValueError):
    """The --acls document does not convert to an ``ACLs`` protobuf."""


class AuthorizerError(ValueError):
    """``LocalAuthorizer::validate`` refused the ACLs."""


class Entity:
    __slots__ = ("type", "values")

    def __init__(self, etype=SOME, values=()):
        self.type = etype
        self.values = tuple(values)

    def __repr__(self):
        return "Entity(%s, %r)" % (self.type, list(self.values))


def _json_kind(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _parse_entity(doc, field):
    if not isinstance(doc, dict):
        raise AclError("Not expecting a JSON %s for field '%s'" % (_json_kind(doc), field))
    etype = SOME
    t = doc.get("type")
    if t is not None:
        if not isinstance(t, str):
            raise AclError("Not expecting a JSON %s for field 'type'" % _json_kind(t))
        # An optional enum with an unknown name is discarded (stays at its default SOME).
        if t in (SOME, ANY, NONE):
            etype = t
    values = doc.get("values")
    out = []
    if values is not None:
        for v in (values if isinstance(values, list) else [values]):
            if v is None:
                continue
            if not isinstance(v, str):
                raise AclError("Not expecting a JSON %s for field 'values'" % _json_kind(v))
            out.append(v)
    return Entity(etype, out)


class ACLs:
    def __init__(self, permissive=True, rules=None):
        self.permissive = permissive
        self.rules = rules or {}          # list name -> [(subjects Entity, objects Entity)]

    def get(self, name):
        return self.rules.get(name, [])


def parse_acls(doc):
    """JSON (dict or text) -> ``ACLs``; raises ``AclError`` with stout/protobuf's messages."""
    if isinstance(doc, (str, bytes)):
        try:
            doc = json.loads(doc)
        except ValueError as exc:
            raise AclError("Failed to parse JSON: %s" % exc)
    if not isinstance(doc, dict):
        raise AclError("Expecting a JSON object")
    permissive = True
    p = doc.get("permissive")
    if p is not None:
        if isinstance(p, bool):
            permissive = p
        elif isinstance(p, str) and p in ("true", "false"):
            permissive = p == "true"
        elif isinstance(p, str):
            raise AclError("Failed to parse '%s' as a JSON boolean for field 'permissive'" % p)
        else:
            raise AclError("Not expecting a JSON %s for field 'permissive'" % _json_kind(p))
    rules = {}
    missing = []
    for name, object_field in RULES:
        items = doc.get(name)
        if items is None:
            continue
        if isinstance(items, dict):
            items = [items]           # stout adds a single object to a repeated field
        if not isinstance(items, list):
            raise AclError("Not expecting a JSON %s for field '%s'" % (_json_kind(items), name))
        parsed = []
        for i, item in enumerate(x for x in items if x is not None):
            if not isinstance(item, dict):
                raise AclError("Not expecting a JSON %s for field '%s'" % (_json_kind(item), name))
            entities = []
            for field in ("principals", object_field):
                if item.get(field) is None:
                    missing.append("%s[%d].%s" % (name, i, field))
                    entities.append(None)
                else:
                    entities.append(_parse_entity(item[field], field))
            parsed.append(tuple(entities))
        rules[name] = parsed
    if missing:
        raise AclError("Missing required fields: " + ", ".join(missing))
    for old, new in sorted(REMOVED_LISTS.items()):
        if old in doc:
            log.warning("ACL list '%s' is not part of Mesos 1.11's ACLs and is ignored; use '%s'", old, new)
    return ACLs(permissive, rules)


def validate(acls):
    """``LocalAuthorizer::validate``: an error message or None."""
    for name, message in ONLY_ANY_OR_NONE[:3]:
        if any(o.type == SOME for _, o in acls.get(name)):
            return "ACL.%s type must be either NONE or ANY" % message
    for _, paths in acls.get("get_endpoints"):
        if paths.type == SOME:
            for path in paths.values:
                if path not in AUTHORIZABLE_ENDPOINTS:
                    return "Path: '%s' is not an authorizable path" % path
    for name, message in ONLY_ANY_OR_NONE[3:]:
        if any(o.type == SOME for _, o in acls.get(name)):
            return "ACL.%s type must be either NONE or ANY" % message
    return None


# ---------------------------------------------------------------------------
# The two matrices of authorizer.cpp.

def _subset(request, acl):
    return all(v in acl.values for v in request.values)


def matches(request, acl):
    """Does the ACL entity apply to the request entity at all?"""
    if request.type == NONE:
        return acl.type == NONE
    if request.type == ANY:
        return acl.type in (ANY, NONE)
    if acl.type in (ANY, NONE):
        return True
    return _subset(request, acl)


def allows(request, acl):
    """Does the (matching) ACL entity permit the request entity?"""
    if request.type == NONE:
        return acl.type == NONE
    if request.type == ANY:
        return acl.type == ANY
    if acl.type == ANY:
        return True
    if acl.type == NONE:
        return False
    return _subset(request, acl)


def _entity(value):
    return Entity(ANY) if value is None else Entity(SOME, [value])


def _recursive(objects):
    return len(objects.values) == 1 and objects.values[0].endswith("/%")


def _split_role_rules(rules):
    """A SOME role rule with recursive values ("a/%") is split: one rule per
    recursive value, then one rule with the remaining plain roles (if any)."""
    out = []
    for subjects, roles in rules:
        if roles.type != SOME:
            out.append((subjects, roles))
            continue
        plain = []
        for value in roles.values:
            if value.endswith("/%"):
                out.append((subjects, Entity(SOME, [value])))
            else:
                plain.append(value)
        if plain:
            out.append((subjects, Entity(SOME, plain)))
    return out


class LocalAuthorizer:
    def __init__(self, acls):
        if not isinstance(acls, ACLs):
            acls = parse_acls(acls)
        error = validate(acls)
        if error:
            raise AuthorizerError(error)
        self.acls = acls
        self._role_rules = {name: _split_role_rules(acls.get(name)) for name in HIERARCHICAL}

    # -- evaluation ------------------------------------------------------
    def _generic(self, rules, subject, obj):
        for subjects, objects in rules:
            if matches(subject, subjects) and matches(obj, objects):
                return allows(subject, subjects) and allows(obj, objects)
        return self.acls.permissive

    def _hierarchical(self, rules, subject, obj):
        any_ = Entity(ANY)
        for subjects, objects in rules:
            if not _recursive(objects):
                if matches(subject, subjects) and matches(obj, objects):
                    return allows(subject, subjects) and allows(obj, objects)
            elif obj.type == SOME and obj.values[0].startswith(objects.values[0][:-1]):
                if matches(subject, subjects) and matches(obj, any_):
                    return allows(subject, subjects) and allows(obj, any_)
        return self.acls.permissive

    def _decide(self, action, subject, value):
        if action not in OBJECT_FIELD:
            raise KeyError("Unknown ACL action '%s'" % action)
        s, o = _entity(subject), _entity(value)
        if action in HIERARCHICAL:
            return self._hierarchical(self._role_rules[action], s, o)
        return self._generic(self.acls.get(action), s, o)

    def authorized(self, action, subject, value=None):
        """Is ``subject`` (principal or None) allowed ``action`` (an ACLs list
        name, e.g. "run_tasks") on the object ``value`` (None: ANY object)?"""
        ok = self._decide(action, subject, value)
        if not ok:
            log.warning("Authorization refused: %s for principal %s on %s", action,
                        "'%s'" % subject if subject is not None else "ANY",
                        "'%s'" % value if value is not None else "ANY object")
        return ok

    def authorized_roles(self, action, subject, roles):
        """REGISTER_FRAMEWORK: the subject must be allowed every role; with no
        roles at all the answer is ``permissive``."""
        roles = list(roles)
        for role in roles:
            if not self._decide(action, subject, role):
                log.warning("Authorization refused: %s for principal %s on role '%s' (roles %s)", action,
                            "'%s'" % subject if subject is not None else "ANY", role, sorted(roles))
                return False
        if not roles and not self.acls.permissive:
            log.warning("Authorization refused: %s for principal %s without roles", action,
                        "'%s'" % subject if subject is not None else "ANY")
            return False
        return True


def create(acls_flag):
    """The master's authorizer for ``--acls`` (None when the flag is absent)."""
    if acls_flag is None:
        return None
    return LocalAuthorizer(parse_acls(acls_flag))
