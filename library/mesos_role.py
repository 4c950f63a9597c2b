#!/usr/bin/python
# -*- coding: utf-8 -*-
# Sets or removes the quota of a Mesos role and tears down the frameworks registered with it.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mesos_role
short_description: Quota of a Mesos role, and tear-down of its frameworks
description:
  - Finds the leading Mesos master from any of the given masters (C(/master/state), C(leader_info)),
    then talks to the leader only.
  - With O(state=present), sets the role's quota limits to O(quota) through the operator API
    (C(GET_QUOTA), C(UPDATE_QUOTA) of Mesos 1.9+); an empty O(quota) removes a quota the role has.
    Values are compared as numbers, so a second run with the same input reports C(changed=false).
  - With O(state=absent), removes the role's quota and tears down (C(POST /master/teardown)) every
    framework still registered on the master under the name O(framework_name) with this role, which
    kills its tasks. A second run finds nothing and reports C(changed=false).
  - Needs only Python's standard library; the usual pattern is C(delegate_to) C(localhost).
version_added: "1.0.0"
author: PaaS maintainers
options:
  url:
    description:
      - Base URL of a Mesos master (C(http://master1:5050)), or a list of them; they are asked in turn
        where the leader is.
      - Or the masters' ZooKeeper URL (C(zk://zk1:2181,zk2:2181/mesos)), as given to the masters' C(--zk);
        the leader is the member of that group with the lowest sequence number (needs C(kazoo)).
    type: raw
    required: true
  role:
    description: The Mesos role (no nested roles).
    type: str
    required: true
  state:
    description: C(present) sets the quota; C(absent) removes it and tears the frameworks down.
    type: str
    choices: [present, absent]
    default: present
  quota:
    description:
      - Quota limits of the role as resource name -> amount (scalar resources only, for example
        C({cpus 4, mem 8192})). Empty removes the role's quota. Only with O(state=present).
    type: dict
    default: {}
  framework_name:
    description:
      - With O(state=absent), the name of the frameworks to tear down (only those registered with
        O(role)). Defaults to O(role).
    type: str
  force:
    description: Set the quota even when the role already consumes more than the new limit.
    type: bool
    default: false
  username:
    description: Principal for the master's HTTP authentication (the operator).
    type: str
  password:
    description: Secret of that principal.
    type: str
  timeout:
    description: Seconds to wait for each HTTP request.
    type: float
    default: 10
attributes:
  check_mode:
    support: full
    description: Reads the quota and frameworks and reports what would change; writes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Quota for the tenant's role
  mesos_role:
    url: [http://master1:5050, http://master2:5050]
    role: acme
    quota: {cpus: 4, mem: 8192}
    username: operator
    password: "{{ mesos_operator_secret }}"
  delegate_to: localhost

- name: Tear down the tenant's framework and remove its quota
  mesos_role:
    url: [http://master1:5050, http://master2:5050]
    role: acme
    state: absent
    username: operator
    password: "{{ mesos_operator_secret }}"
  delegate_to: localhost
"""

RETURN = r"""
leader:
  description: Base URL of the leading master that was used.
  returned: when a leader was found
  type: str
  sample: http://172.31.5.12:5050
quota:
  description: The role's quota limits after the task (before it in check mode).
  returned: always
  type: dict
  sample: {cpus: 4.0, mem: 8192.0}
torn_down:
  description: Ids of the frameworks that were (or in check mode would be) torn down.
  returned: always
  type: list
  elements: str
"""

import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request

from ansible.module_utils.basic import AnsibleModule

ROLE_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_.-]*$")


class MesosError(Exception):
    pass


class Master(object):
    def __init__(self, urls, username=None, password=None, timeout=10.0):
        self.urls = urls
        self.timeout = timeout
        self.headers = {"Accept": "application/json"}
        if username:
            token = base64.b64encode(("%s:%s" % (username, password or "")).encode("utf-8")).decode("ascii")
            self.headers["Authorization"] = "Basic " + token
        self.leader = None

    def _call(self, method, url, body=None, content_type="application/json"):
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
            headers["Content-Type"] = content_type
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                raw = res.read()
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace").strip()
            raise MesosError("%s %s returned HTTP %s: %s" % (method, url, exc.code, text or exc.reason))
        except (urllib.error.URLError, OSError) as exc:
            raise MesosError("%s %s failed: %s" % (method, url, getattr(exc, "reason", exc)))
        if not raw.strip():
            return None
        try:
            return json.loads(raw.decode("utf-8"))
        except ValueError:
            raise MesosError("%s %s did not return JSON" % (method, url))

    def leader_from_zk(self, url):
        """zk://[user:pass@]h1:2181,h2:2181/mesos -> http://<leader hostname>:<port>."""
        try:
            from kazoo.client import KazooClient
        except ImportError:
            raise MesosError("a zk:// url needs the Python library kazoo on the host that runs the task")
        rest = url[len("zk://"):]
        auth, _, rest = rest.rpartition("@")
        hosts, _, path = rest.partition("/")
        client = KazooClient(hosts=hosts, timeout=self.timeout,
                             auth_data=[("digest", auth)] if auth else None)
        try:
            client.start(timeout=self.timeout)
            members = sorted(c for c in client.get_children("/" + path) if c.startswith("json.info_"))
            if not members:
                raise MesosError("no Mesos master has registered in /%s on %s" % (path, hosts))
            data, _ = client.get("/%s/%s" % (path, members[0]))
        except MesosError:
            raise
        except Exception as exc:  # kazoo raises many kinds; report them with the hosts
            raise MesosError("could not read the Mesos masters from ZooKeeper %s /%s: %s" % (hosts, path, exc))
        finally:
            try:
                client.stop()
                client.close()
            except Exception:
                pass
        try:
            info = json.loads(data.decode("utf-8"))
        except ValueError:
            raise MesosError("/%s/%s does not hold a MasterInfo JSON" % (path, members[0]))
        address = info.get("address") or {}
        host = info.get("hostname") or address.get("hostname") or address.get("ip")
        return "http://%s:%s" % (host, info.get("port") or address.get("port") or 5050)

    def find_leader(self):
        errors = []
        for url in self.urls:
            if url.startswith("zk://"):
                try:
                    self.leader = self.leader_from_zk(url)
                    return self.leader
                except MesosError as exc:
                    errors.append(str(exc))
                    continue
            base = url.rstrip("/")
            try:
                state = self._call("GET", base + "/master/state")
            except MesosError as exc:
                errors.append(str(exc))
                continue
            info = (state or {}).get("leader_info") or {}
            host = info.get("hostname") or (info.get("address") or {}).get("hostname")
            if host and info.get("port"):
                scheme = urllib.parse.urlsplit(base).scheme or "http"
                self.leader = "%s://%s:%s" % (scheme, host, info["port"])
                return self.leader
            errors.append("%s/master/state: no leading master known" % base)
        raise MesosError("no leading Mesos master found: %s" % "; ".join(errors))

    def operator(self, body):
        return self._call("POST", self.leader + "/api/v1", body)

    def get_quota(self, role):
        answer = self.operator({"type": "GET_QUOTA"}) or {}
        status = (answer.get("get_quota") or {}).get("status") or {}
        configs = list(status.get("configs") or [])
        for info in status.get("infos") or []:
            configs.extend(info.get("configs") or [])
        for cfg in configs:
            if cfg.get("role") == role:
                return dict((k, float(v.get("value", 0) if isinstance(v, dict) else v))
                            for k, v in (cfg.get("limits") or {}).items())
        return {}

    def set_quota(self, role, limits, force=False):
        self.operator({"type": "UPDATE_QUOTA", "update_quota": {
            "force": bool(force),
            "quota_configs": [{"role": role, "limits": dict((k, {"value": v}) for k, v in limits.items()),
                               "guarantees": {}}]}})

    def frameworks(self):
        answer = self._call("GET", self.leader + "/master/frameworks") or {}
        return answer.get("frameworks") or []

    def teardown(self, framework_id):
        self._call("POST", self.leader + "/master/teardown",
                   urllib.parse.urlencode({"frameworkId": framework_id}).encode("ascii"),
                   content_type="application/x-www-form-urlencoded")


def _urls(value):
    if isinstance(value, str):
        urls = [u.strip() for u in value.split(",") if u.strip()]
    elif isinstance(value, (list, tuple)) and all(isinstance(u, str) for u in value):
        urls = [u.strip() for u in value if u.strip()]
    else:
        urls = []
    if not urls or not all(re.match(r"^(https?://[^/\s]+/?|zk://[^/\s]+(/[^/\s]+)+)$", u) for u in urls):
        raise ValueError("url: must be a Mesos master base URL (http://host:5050), the masters' zk:// URL, "
                         "or a list of them, got %r" % ("<zk url>" if "@" in str(value) else value,))
    return urls


def _limits(value):
    limits = {}
    for name, amount in (value or {}).items():
        if isinstance(amount, bool):
            amount = None
        try:
            number = float(amount)
        except (TypeError, ValueError):
            raise ValueError("quota.%s: must be a number >= 0 (scalar resources only), got %r" % (name, amount))
        if number < 0 or name == "ports":
            raise ValueError("quota.%s: must be a number >= 0 (scalar resources only), got %r" % (name, amount))
        limits[str(name)] = number
    return limits


def run(module, master_factory=Master):
    p = module.params
    result = dict(changed=False, quota={}, torn_down=[])
    try:
        urls = _urls(p["url"])
        if not ROLE_RE.match(p["role"] or "") or p["role"] in (".", "..") or "/" in p["role"]:
            raise ValueError("role: must be a Mesos role name (letters, digits, '_', '.', '-'; no '/'), got %r"
                             % (p["role"],))
        limits = _limits(p["quota"]) if p["state"] == "present" else {}
    except ValueError as exc:
        module.fail_json(msg=str(exc), **result)

    role = p["role"]
    master = master_factory(urls, p.get("username"), p.get("password"), p["timeout"])
    try:
        result["leader"] = master.find_leader()
        have = master.get_quota(role)
        result["quota"] = have
        if have != limits:
            result["changed"] = True
            if not module.check_mode:
                master.set_quota(role, limits, p["force"] or p["state"] == "absent")
                result["quota"] = master.get_quota(role)
        if p["state"] == "absent":
            name = p.get("framework_name") or role
            for fw in master.frameworks():
                roles = fw.get("roles") or [fw.get("role")]
                if fw.get("name") == name and role in roles:
                    result["torn_down"].append(fw["id"])
            if result["torn_down"]:
                result["changed"] = True
                if not module.check_mode:
                    for fid in result["torn_down"]:
                        master.teardown(fid)
    except MesosError as exc:
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


ARGUMENT_SPEC = dict(
    url=dict(type="raw", required=True),
    role=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    quota=dict(type="dict", default={}),
    framework_name=dict(type="str"),
    force=dict(type="bool", default=False),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    timeout=dict(type="float", default=10),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run(module)


if __name__ == "__main__":
    main()
