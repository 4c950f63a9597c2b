#!/usr/bin/python
# -*- coding: utf-8 -*-
# Creates, updates and removes a Marathon app idempotently.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: marathon_app
short_description: Create, update or remove a Marathon app idempotently
description:
  - Reads the app (C(GET /v2/apps/<id>)), compares only the fields given in O(app) with what
    Marathon reports, and creates (C(POST /v2/apps)), updates (C(PUT /v2/apps/<id>)) or
    deletes (C(DELETE /v2/apps/<id>)) it when they differ. Marathon fills in defaults for every
    field the definition leaves out; those are ignored, so a second run with the same input
    reports C(changed=false).
  - "Comparison rules: nested dicts are compared on the keys given; C(env) and C(labels) maps are
    compared whole (a removed variable is a change); lists are compared element by element (same
    length; dict elements such as C(healthChecks) or C(portDefinitions) on their given keys);
    numbers by value (C(1) equals C(1.0)); C(env) and C(labels) values as strings; port C(0) in
    C(portDefinitions) and C(portMappings) means any port; ids with or without the leading slash."
  - With O(wait), waits until the deployment has left C(/v2/deployments) and the app has
    C(tasksRunning == instances) and, when it has health checks, C(tasksHealthy == instances).
    On timeout the task fails and reports the deployment's state.
  - When Marathon answers 409 because a deployment locks the app, the module waits for that
    deployment (up to O(wait_timeout)) and retries, or with O(force) repeats the request with
    C(?force=true), which cancels the running deployment.
  - O(app.id) is validated like Marathon does before any request is made.
  - "Runs where the task runs and needs only Python's standard library; the usual pattern is
    C(delegate_to: localhost) or C(run_once) on a host that reaches Marathon."
version_added: "1.0.0"
author: PaaS maintainers
options:
  url:
    description:
      - Base URL of Marathon (C(http://marathon1:8080)), or a list of them. They are tried in turn;
        an instance that cannot be reached or answers 502/503/504 is skipped, so one dead
        instance is not an error.
    type: raw
    required: true
  app:
    description:
      - The Marathon app definition (see the Marathon REST API, C(POST /v2/apps)). C(id) is required.
      - Only the given fields are compared and sent; fields left out keep Marathon's value.
      - C(id) is an absolute path such as C(/tenants/acme) (a missing leading slash is added). Each
        segment may contain lowercase letters, digits, C(-) and C(.), and must not begin or end
        with C(-) or C(.).
      - Legacy fields that Marathon rewrites (C(ports), C(uris), C(ipAddress)) are sent but not
        compared; use C(portDefinitions) and C(fetch).
    type: dict
    required: true
  state:
    description:
      - C(present) creates or updates the app; C(absent) removes it (only C(app.id) is used).
    type: str
    choices: [present, absent]
    default: present
  force:
    description:
      - When Marathon refuses a change because a deployment locks the app (HTTP 409), repeat it with
        C(?force=true) instead of waiting for that deployment.
    type: bool
    default: false
  wait:
    description:
      - Wait for the deployment to finish and the tasks to be running and healthy (or, with
        O(state=absent), for the app to be gone). When nothing changes and the app already runs
        healthy without a deployment, the first read is the answer (no polling).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait, for the deployment and for a deployment that locks the app.
    type: int
    default: 600
  username:
    description: User for Marathon's HTTP basic authentication (C(--http_credentials)).
    type: str
  password:
    description: Password for HTTP basic authentication.
    type: str
  validate_certs:
    description: Check the TLS certificate of C(https) URLs.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reads the app and reports whether it would be created, updated or removed; writes nothing.
  diff_mode:
    support: full
    description: Shows the compared fields as Marathon holds them (before) and as requested (after).
  platform:
    platforms: posix
notes:
  - The update is a partial C(PUT) (Marathon's default); fields left out of O(app) keep their value.
  - Only apps are managed, not groups or pods.
seealso:
  - name: Marathon REST API
    description: App definitions, deployments and the 409 locking rules.
    link: https://mesosphere.github.io/marathon/api-console/index.html
"""

EXAMPLES = r"""
- name: Tenant Marathon run by the central Marathon
  marathon_app:
    url:
      - http://marathon1:8080
      - http://marathon2:8080
    username: "{{ marathon_http_user }}"
    password: "{{ marathon_http_password }}"
    app:
      id: /tenants/acme
      instances: 2
      cpus: 0.5
      mem: 1024
      cmd: /opt/marathon/bin/marathon --http_port $PORT0 --hostname $LIBPROCESS_IP
      env:
        LIBPROCESS_PORT: "$PORT1"
      constraints:
        - [hostname, UNIQUE]
      portDefinitions:
        - {port: 0, name: http}
        - {port: 0, name: libprocess}
      healthChecks:
        - protocol: HTTP
          path: /ping
          portIndex: 0
          gracePeriodSeconds: 300
    wait_timeout: 900
  delegate_to: localhost
  run_once: true

- name: Scale without waiting
  marathon_app:
    url: http://marathon1:8080
    app:
      id: /tenants/acme
      instances: 3
    wait: false
  delegate_to: localhost

- name: Remove the app, cancelling a stuck deployment
  marathon_app:
    url: http://marathon1:8080
    app:
      id: /tenants/acme
    state: absent
    force: true
  delegate_to: localhost
"""

RETURN = r"""
app:
  description:
    - The app as Marathon holds it after the task (with task counts, and C(tasks) when waiting),
      or before it in check mode. C(null) when the app does not exist.
  returned: always
  type: dict
  sample:
    id: /tenants/acme
    instances: 2
    cpus: 0.5
    mem: 1024
    tasksRunning: 2
    tasksHealthy: 2
    deployments: []
    version: "2024-01-01T00:00:00.000Z"
deployment_id:
  description: Id of the deployment Marathon started for the change; C(null) when nothing was written.
  returned: always
  type: str
  sample: 5ed4c0c5-9ff8-4a6f-a0cd-f57f59a34b43
changed:
  description: Whether the app was (or in check mode would be) created, updated or removed.
  returned: always
  type: bool
  sample: true
operation:
  description: What was done (or would be in check mode), C(create), C(update), C(delete) or C(none).
  returned: always
  type: str
  sample: update
differences:
  description: Dotted paths of the given fields that differed from Marathon's values.
  returned: always
  type: list
  elements: str
  sample: [instances, env]
url:
  description: The Marathon base URL that answered last.
  returned: when a Marathon instance answered
  type: str
  sample: http://marathon2:8080
skipped_urls:
  description: Instances that were skipped (unreachable or without a leader), with the reason.
  returned: always
  type: list
  elements: str
  sample: ["http://marathon1:8080: [Errno 111] Connection refused"]
diff:
  description: Before and after of the compared fields, with O(_ansible_diff).
  returned: when diff mode is on and something changed
  type: dict
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.marathon import (
    MarathonClient,
    MarathonError,
    MarathonHTTPError,
    MarathonInputError,
    MarathonTimeout,
    MarathonUnavailable,
    app_differences,
    app_expected,
    app_healthy,
    app_subset,
    normalise_app,
    validate_app_id,
)

# What Marathon reports that is not configuration.
STATUS_FIELDS = ("tasks", "tasksRunning", "tasksHealthy", "tasksStaged", "tasksUnhealthy", "deployments",
                 "readinessCheckResults", "lastTaskFailure", "taskStats", "version", "versionInfo")


def _urls(value):
    if isinstance(value, str):
        return [u.strip() for u in value.split(",") if u.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(u, str) for u in value):
        return list(value)
    raise MarathonInputError("url", "must be a URL or a list of URLs")


def _config_view(app):
    if app is None:
        return {}
    return dict((k, v) for k, v in app.items() if k not in STATUS_FIELDS)


def _dump(data):
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def run(module, client_factory=MarathonClient):
    params = module.params
    result = dict(changed=False, app=None, deployment_id=None, operation="none", differences=[], skipped_urls=[])

    # All input checks happen before any request.
    try:
        urls = _urls(params["url"])
        if params["state"] == "present":
            want = normalise_app(params["app"])
        else:
            if not isinstance(params["app"], dict) or "id" not in params["app"]:
                raise MarathonInputError("app.id", "is required")
            want = {"id": validate_app_id(params["app"]["id"])}
        if params["wait_timeout"] is None or params["wait_timeout"] < 0:
            raise MarathonInputError("wait_timeout", "must be zero or a positive number of seconds")
        client = client_factory(urls, username=params.get("username"), password=params.get("password"),
                                validate_certs=params["validate_certs"])
    except MarathonInputError as exc:
        module.fail_json(msg=str(exc), field=exc.field, **result)

    app_id = want["id"]
    deadline = client.clock() + params["wait_timeout"]
    before = after = None
    try:
        have = client.get_app(app_id)
        result["app"] = have
        if params["state"] == "present":
            if have is None:
                result["operation"] = "create"
                before, after = {}, want
            else:
                diffs = app_differences(want, have)
                result["differences"] = diffs
                if diffs:
                    result["operation"] = "update"
                before, after = app_subset(want, _config_view(have)), app_expected(want, have)
        elif have is not None:
            result["operation"] = "delete"
            before, after = _config_view(have), {}

        result["changed"] = result["operation"] != "none"
        if not module.check_mode:
            if result["operation"] == "create":
                try:
                    result["deployment_id"] = client.create_app(want, force=params["force"], deadline=deadline)
                except MarathonHTTPError as exc:
                    # created meanwhile by someone else: update it instead
                    if exc.status != 409 or client.get_app(app_id) is None:
                        raise
                    result["operation"] = "update"
                    result["deployment_id"] = client.update_app(want, force=params["force"], deadline=deadline)
            elif result["operation"] == "update":
                result["deployment_id"] = client.update_app(want, force=params["force"], deadline=deadline)
            elif result["operation"] == "delete":
                result["deployment_id"] = client.delete_app(app_id, force=params["force"], deadline=deadline)

            absent = params["state"] == "absent"
            if not result["changed"] and not absent and have is not None and app_healthy(have):
                # Nothing to change and nothing to wait for: the app as read (with its tasks,
                # counts and deployments) already is the answer.
                pass
            elif params["wait"] and (result["changed"] or not absent):
                result["app"] = client.wait_app(app_id, result["deployment_id"], deadline, absent=absent)
            elif result["changed"]:
                result["app"] = None if absent else client.get_app(app_id)
    except MarathonTimeout as exc:
        result["skipped_urls"] = ["%s: %s" % e for e in client.failed_over]
        module.fail_json(msg="timed out after %d s waiting for Marathon: %s" % (params["wait_timeout"], exc),
                         deployment_state=exc.state, **result)
    except MarathonHTTPError as exc:
        result["skipped_urls"] = ["%s: %s" % e for e in client.failed_over]
        module.fail_json(msg="Marathon refused the request: %s" % exc, status=exc.status, request_url=exc.url,
                         body=exc.body, **result)
    except MarathonUnavailable as exc:
        result["skipped_urls"] = ["%s: %s" % e for e in exc.errors]
        module.fail_json(msg=str(exc), **result)
    except MarathonError as exc:
        module.fail_json(msg=str(exc), **result)

    result["url"] = client.urls[client.current]
    result["skipped_urls"] = ["%s: %s" % e for e in client.failed_over]
    if module._diff and result["changed"]:
        result["diff"] = {"before": _dump(before) if before else "", "after": _dump(after) if after else "",
                          "before_header": "%s (Marathon)" % app_id, "after_header": "%s (Marathon)" % app_id}
    module.exit_json(**result)


ARGUMENT_SPEC = dict(
    url=dict(type="raw", required=True),
    app=dict(type="dict", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    force=dict(type="bool", default=False),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=600),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    validate_certs=dict(type="bool", default=True),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run(module)


if __name__ == "__main__":
    main()
