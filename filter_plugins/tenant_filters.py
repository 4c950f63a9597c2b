# -*- coding: utf-8 -*-
"""Pure helpers of the tenant role: tenant name rules and Marathon flag lists.

tenant_name_errors returns a list of problems (empty when the name is valid),
so that an assert can print them; bad arguments raise AnsibleFilterError naming
the filter and the input.
"""

from __future__ import annotations

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
        return {"tenant_name_errors": tenant_name_errors, "marathon_flags": marathon_flags}
