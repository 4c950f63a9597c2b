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
                "marathon_flags": marathon_flags}
