# -*- coding: utf-8 -*-
"""Pure helpers of the tenant role: tenant name rules, pusher keys and Marathon flag lists.

tenant_name_errors returns a list of problems (empty when the name is valid),
so that an assert can print them; bad arguments raise AnsibleFilterError naming
the filter and the input.
"""

from __future__ import annotations

import base64
import binascii
import re
import shlex

from ansible.errors import AnsibleFilterError

TENANT_NAME_RULE = ("a tenant name is 3 to 32 characters of lowercase letters, digits and '-', "
                    "starts with a letter, does not end with '-' and is not a reserved name")
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
RESERVED = ("marathon", "mesos", "zookeeper", "exhibitor", "paas", "system", "admin", "root", "super",
            "tenants", "default", "registry", "gitreceive", "operator", "agent", "master", "kube-system")


def tenant_name_errors(name, reserved=None, field="tenant_name"):
    """'acme' -> []; 'Acme' -> ["tenant_name 'Acme' is invalid: <rule> ..."]."""
    if reserved is None:
        reserved = RESERVED
    if isinstance(reserved, str) or not isinstance(reserved, (list, tuple, set)):
        raise AnsibleFilterError("tenant_name_errors: reserved must be a list of names (got %r)" % (reserved,))
    if not isinstance(name, str) or isinstance(name, bool):
        return ["%s must be a string: %s (got %r)" % (field, TENANT_NAME_RULE, name)]
    problems = []
    if not 3 <= len(name) <= 32:
        problems.append("it has %d characters" % len(name))
    if name[:1] and not ("a" <= name[0] <= "z"):
        problems.append("it does not start with a lowercase letter")
    bad = sorted(set(c for c in name if not (c.isascii() and (c.islower() or c.isdigit() or c == "-"))))
    if bad:
        problems.append("it contains %s" % ", ".join(repr(c) for c in bad))
    if name.endswith("-"):
        problems.append("it ends with '-'")
    if name in [str(r) for r in reserved]:
        problems.append("it is reserved (reserved: %s)" % ", ".join(sorted(str(r) for r in reserved)))
    if not problems and not _NAME_RE.match(name):  # pragma: no cover - the checks above cover the regex
        problems.append("it does not match %s" % _NAME_RE.pattern)
    if problems:
        return ["%s %r is invalid (%s): %s" % (field, name, "; ".join(problems), TENANT_NAME_RULE)]
    return []


PUSHER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
             "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")


def _public_key_problem(key):
    """None for one OpenSSH public key line ('<type> <base64> [comment]'), else what is wrong."""
    if not isinstance(key, str) or not key.strip():
        return "must be one OpenSSH public key line ('<type> <base64> [comment]')"
    if "\n" in key.strip() or "\r" in key:
        return "must be one line (one key per pusher)"
    words = key.strip().split(None, 2)
    if words[0] not in KEY_TYPES:
        return "type %r is not one of %s (options before the type are not allowed)" % (words[0], ", ".join(KEY_TYPES))
    if len(words) < 2:
        return "has no base64 part"
    try:
        blob = base64.b64decode(words[1], validate=True)
    except (binascii.Error, ValueError):
        return "its base64 part does not decode"
    size = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
    if size < 0 or blob[4:4 + size].decode("ascii", "replace") != words[0]:
        return "its key data does not match its type %s (a truncated or edited key?)" % words[0]
    return None


def tenant_pushers_errors(pushers, field="tenant_pushers"):
    """[{name: alice, key: 'ssh-ed25519 AAAA... alice'}] -> []; problems name the entry and field."""
    if not isinstance(pushers, list):
        return ["%s must be a list of {name, key} (got %s)" % (field, type(pushers).__name__)]
    problems, names, keys = [], {}, {}
    for i, item in enumerate(pushers):
        where = "%s[%d]" % (field, i)
        if not isinstance(item, dict):
            problems.append("%s must be a mapping {name, key} (got %r)" % (where, item))
            continue
        unknown = sorted(str(k) for k in item if k not in ("name", "key"))
        if unknown:
            problems.append("%s: unknown field(s) %s (allowed: name, key)" % (where, ", ".join(unknown)))
        name = item.get("name")
        if not isinstance(name, str) or not PUSHER_NAME_RE.match(name):
            problems.append("%s.name %r must be 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a "
                            "letter or digit" % (where, name))
        elif name in names:
            problems.append("%s.name %r is also %s[%d].name" % (where, name, field, names[name]))
        else:
            names[name] = i
        problem = _public_key_problem(item.get("key"))
        if problem:
            problems.append("%s.key %s" % (where, problem))
        else:
            blob = item["key"].split()[1]
            if blob in keys:
                problems.append("%s.key is the same key as %s[%d].key" % (where, field, keys[blob]))
            else:
                keys[blob] = i
    return problems


_ZK_PATH_RE = re.compile(r"^(/[a-zA-Z0-9_.-]+)+$")
_IMAGE_RE = re.compile(r"^([a-z0-9.-]+(:[0-9]+)?/)?[a-z0-9._/-]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$")
_HTTP_URL_RE = re.compile(r"^https?://[^/\s]+/?$")
_MASTER_URL_RE = re.compile(r"^(https?://[^/\s]+/?|zk://[^/\s]+(/[^/\s]+)+)$")
_USER_RE = re.compile(r"^[^:\s]+$")


def _number(value, kind):
    """value as int or float the way Jinja's int/float filters take it (strings from -e too); None if not."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return kind(value) if not isinstance(value, str) or kind is float else int(value.strip())
    except (TypeError, ValueError):
        return None


def _is_list(value):
    return isinstance(value, (list, tuple))


def tenant_settings_errors(settings):
    """Every problem with a tenant's settings (the role's tenant_* values, as a dict), each
    naming its variable; [] when they are fine. Checked before anything is changed."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError("tenant_settings_errors: expects a dict of tenant_* values (got %r)" % (settings,))
    v = settings.get
    out = list(tenant_name_errors(v("tenant_name"), v("tenant_reserved_names", RESERVED)))
    present = v("tenant_state", "present") == "present"

    hosts = v("tenant_zk_hosts")
    if not _is_list(hosts) or not hosts:
        out.append("tenant_zk_hosts must be a non-empty list of \"host:port\" (wired from paas_zk_hosts); got %r"
                   % (hosts,))
    for key in ("tenant_zk_root", "tenant_mesos_zk_path"):
        if not isinstance(v(key), str) or not _ZK_PATH_RE.match(v(key)):
            out.append("%s must be an absolute ZooKeeper path (/paas/tenants); got %r" % (key, v(key)))
    if not isinstance(v("tenant_zk_superuser_name"), str) or not _USER_RE.match(v("tenant_zk_superuser_name")):
        out.append("tenant_zk_superuser_name must be a user name without ':'; got %r" % (v("tenant_zk_superuser_name"),))
    if not v("tenant_zk_superuser_password"):
        out.append("tenant_zk_superuser_password must be set (the ZooKeeper superuser shares every tenant "
                   "namespace's ACL; wired from zookeeper_superuser_password)")

    for key, pattern, what in (("tenant_marathon_urls", _HTTP_URL_RE, "base URLs (http://host:port)"),
                               ("tenant_mesos_master_urls", _MASTER_URL_RE,
                                "base URLs (http://host:port) or the masters' zk:// URL")):
        urls = v(key)
        if not _is_list(urls) or not urls:
            out.append("%s must be a non-empty list of %s; got %r" % (key, what, urls))
        else:
            bad = [u for u in urls if not isinstance(u, str) or not pattern.match(u)]
            if bad:
                out.append("%s must be a list of %s; not: %s" % (key, what, ", ".join(repr(b) for b in bad)))
    for user, secret in (("tenant_marathon_username", "tenant_marathon_password"),
                         ("tenant_mesos_operator_principal", "tenant_mesos_operator_secret")):
        if bool(v(user)) != bool(v(secret)):
            out.append("%s and %s are set together or not at all" % (user, secret))

    if not isinstance(v("tenant_mesos_authentication", False), bool):
        out.append("tenant_mesos_authentication must be true or false; got %r" % (v("tenant_mesos_authentication"),))
    user = v("tenant_task_user", "nobody")
    if not isinstance(user, str) or not _USER_RE.match(user) or user in ("root", "0"):
        out.append("tenant_task_user must name an unprivileged user (not root); got %r" % (user,))

    if present:
        image = v("tenant_marathon_image")
        if not isinstance(image, str) or not _IMAGE_RE.match(image) or image.endswith(":latest"):
            out.append("tenant_marathon_image must name an image with a pinned tag or digest "
                       "(registry:5000/marathon:1.11.24, not 'latest'); got %r" % (image,))
        for key, kind, low, unit in (("tenant_instances", int, 1, ""), ("tenant_cpus", float, 0.01, ""),
                                     ("tenant_mem", int, 128, " (MB)"),
                                     ("tenant_health_check_grace_period", int, 0, " (seconds)"),
                                     ("tenant_health_check_delay", int, 0, " (seconds)"),
                                     ("tenant_health_check_interval", int, 1, " (seconds)")):
            n = _number(v(key), kind)
            if n is None or n < low:
                out.append("%s must be a number >= %s%s; got %r" % (key, low, unit, v(key)))
        quota = v("tenant_quota", {})
        if not isinstance(quota, dict) or any(_number(q, float) is None or isinstance(q, str) or _number(q, float) < 0
                                              for q in quota.values()):
            out.append("tenant_quota must map resources to numbers >= 0 ({cpus: 4, mem: 8192}); got %r" % (quota,))
        if not isinstance(v("tenant_marathon_extra_flags", {}), dict):
            out.append("tenant_marathon_extra_flags must be a mapping of flag -> value; got %r"
                       % (v("tenant_marathon_extra_flags"),))
        if v("tenant_pushers") is not None:  # null: not given, the kept list stays
            out.extend(tenant_pushers_errors(v("tenant_pushers")))
        if not isinstance(v("tenant_gitreceive_zk_username"), str) or not _USER_RE.match(v("tenant_gitreceive_zk_username")):
            out.append("tenant_gitreceive_zk_username must be a user name without ':'; got %r"
                       % (v("tenant_gitreceive_zk_username"),))
        git_password = v("tenant_gitreceive_zk_password") or ""
        if not isinstance(git_password, str) or 0 < len(git_password) < 8:
            out.append("tenant_gitreceive_zk_password must be empty (no git hosts) or 8 characters or more "
                       "(paas_gitreceive_zk_password, the same the git hosts read with)")

    secrets_dir = v("tenant_secrets_dir")
    if not isinstance(secrets_dir, str) or not secrets_dir.startswith("/"):
        out.append("tenant_secrets_dir must be an absolute directory on the controller (wired from "
                   "paas_secrets_dir); got %r" % (secrets_dir,))
    # The secrets kept by an earlier run ({} when there are none yet): never printed.
    kept = v("__secrets") or {}
    if kept:
        short = [k for k in ("zk_password", "http_password", "deploy_token")
                 if not isinstance(kept, dict) or not isinstance(kept.get(k), str) or len(kept[k]) < 16]
        if short:
            out.append("%s must hold zk_password, http_password and deploy_token (16 characters or more; not so: "
                       "%s); fix or remove the file (removing it generates new secrets)"
                       % (v("__secrets_file") or "the tenant's secrets file", ", ".join(short)))
    return out


def marathon_flags(flags):
    """{'zk_timeout': 10000, 'disable_http': True, 'x': False} -> "--zk_timeout 10000 --disable_http"
    (shell-quoted; false or null values are left out)."""
    if not isinstance(flags, dict):
        raise AnsibleFilterError("marathon_flags: expects a dict of flag name -> value (got %r)" % (flags,))
    words = []
    for key in sorted(flags):
        value = flags[key]
        if not isinstance(key, str) or not re.match(r"^[a-z][a-z0-9_]*$", key):
            raise AnsibleFilterError("marathon_flags: flag names are lowercase words with '_', without '--' "
                                     "(got %r)" % (key,))
        if value is None or value is False:
            continue
        if value is True:
            words.append("--" + key)
        elif isinstance(value, (str, int, float)):
            words.append("--%s %s" % (key, shlex.quote(str(value))))
        else:
            raise AnsibleFilterError("marathon_flags: the value of %s must be a string, number or boolean (got %r)"
                                     % (key, value))
    return " ".join(words)


class FilterModule(object):
    def filters(self):
        return {"tenant_name_errors": tenant_name_errors, "tenant_pushers_errors": tenant_pushers_errors,
                "tenant_settings_errors": tenant_settings_errors,
                "marathon_flags": marathon_flags}
