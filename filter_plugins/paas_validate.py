# -*- coding: utf-8 -*-
"""Pure validation helpers used by roles' validate steps.

They return lists of human-readable problems (empty when all is well), so that
an assert can print every problem at once, naming the field and the host.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def server_id_errors(ids, field="zookeeper_id", low=1, high=255):
    """ids: {host: value or None} -> list of problems (missing, not an integer in range, duplicate)."""
    if not isinstance(ids, dict):
        raise AnsibleFilterError("server_id_errors: expects a dict of host -> id, got %r" % (ids,))
    problems = []
    seen = {}
    for host in ids:
        value = ids[host]
        if value is None or (isinstance(value, str) and value.strip() == ""):
            problems.append("%s is not set for %s: set it in the host's host_vars "
                            "(an integer %d-%d, unique; never derived from inventory order)" % (field, host, low, high))
            continue
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int):
            number = value
        elif isinstance(value, str) and value.strip().isdigit():
            number = int(value.strip())
        else:
            number = None
        if number is None or not low <= number <= high:
            problems.append("%s of %s must be an integer from %d to %d, got %r" % (field, host, low, high, value))
            continue
        seen.setdefault(number, []).append(host)
    for number in sorted(seen):
        hosts = seen[number]
        if len(hosts) > 1:
            problems.append("%s %d is used by more than one host: %s (each must be unique)"
                            % (field, number, ", ".join(hosts)))
    return problems


class FilterModule(object):
    def filters(self):
        return {"server_id_errors": server_id_errors}
