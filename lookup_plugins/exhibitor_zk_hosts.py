# -*- coding: utf-8 -*-
"""Ask Exhibitor where ZooKeeper runs."""

from __future__ import annotations

DOCUMENTATION = r"""
name: exhibitor_zk_hosts
short_description: ZooKeeper servers as Exhibitor reports them, with an inventory fallback
description:
  - Asks each Exhibitor URL in turn for C(GET /exhibitor/v1/cluster/list) and returns the
    servers it reports as C(host:port) strings (one list element each; C(query) gives the list,
    C(lookup) a comma-joined connect string).
  - The first Exhibitor that answers with a valid list wins; one that is down, slow or answers
    garbage is skipped.
  - When none answers, returns O(fallback) and warns, naming every URL tried and why it failed.
    Without a fallback that is an error.
  - Sends no credentials. C(GET /exhibitor/v1/cluster/list) is the one Exhibitor call the exhibitor
    role leaves open; an Exhibitor that asks for credentials (HTTP 401) is skipped like one that is down.
options:
  _terms:
    description: Exhibitor base URLs, for example C(http://zk1:8080).
    type: list
    elements: str
    required: true
  fallback:
    description: The servers to use when no Exhibitor answers (C(host:port) strings, or a comma-separated string).
    type: raw
    default: []
  timeout:
    description: Seconds to wait for each Exhibitor.
    type: float
    default: 3
  validate_certs:
    description: Verify TLS certificates of https URLs.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Compute the ZooKeeper servers once, from Exhibitor
  ansible.builtin.set_fact:
    paas_zk_hosts: >-
      {{ query('exhibitor_zk_hosts', 'http://zk1:8080', 'http://zk2:8080',
               fallback=['zk1:2181', 'zk2:2181']) }}
  run_once: true
"""

RETURN = r"""
_raw:
  description: The ZooKeeper servers, C(host:port), in the order Exhibitor lists them.
  type: list
  elements: str
"""

import http.client
import json
import ssl
import urllib.request
from urllib.error import HTTPError, URLError

from ansible.errors import AnsibleError, AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible.plugins.loader import filter_loader

display = Display()


def _cluster_hosts(answer):
    """The project's exhibitor_cluster_hosts filter (filter_plugins/exhibitor_filters.py):
    one parser for cluster/list, shared with templates."""
    plugin = filter_loader.get("exhibitor_cluster_hosts")
    if plugin is None:
        raise AnsibleError("exhibitor_zk_hosts needs the exhibitor_cluster_hosts filter (filter_plugins/)")
    return plugin.j2_function(answer)


def _get(url, timeout, validate_certs):
    """GET url (proxies from the environment, as urllib does). A TLS context is made only
    for https: loading the system's CA certificates costs about 20 ms, which every http
    discovery (each site.yml and tenant.yml run) paid before."""
    handlers = [urllib.request.ProxyHandler()]
    if url.startswith("https:"):
        context = ssl.create_default_context()
        if not validate_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        handlers.append(urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    response = urllib.request.build_opener(*handlers).open(request, timeout=timeout)
    try:
        return response.read()
    finally:
        response.close()


def _fallback(value):
    if isinstance(value, str):
        value = [item.strip() for item in value.split(",") if item.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) and item for item in value):
        raise AnsibleError("exhibitor_zk_hosts: fallback must be a list of host:port strings, got %r" % (value,))
    return list(value)


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        urls = [to_native(term).rstrip("/") for term in terms if term]
        fallback = _fallback(self.get_option("fallback"))
        timeout = self.get_option("timeout")
        problems = []
        for base in urls:
            url = base + "/exhibitor/v1/cluster/list"
            try:
                answer = json.loads(_get(url, timeout, self.get_option("validate_certs")))
                hosts = _cluster_hosts(answer)
            except HTTPError as exc:
                problems.append("%s: HTTP %s" % (url, exc.code))
            except (URLError, OSError, http.client.HTTPException) as exc:
                problems.append("%s: %s" % (url, to_native(getattr(exc, "reason", exc))))
            except ValueError as exc:
                problems.append("%s: not JSON (%s)" % (url, to_native(exc)))
            except AnsibleFilterError as exc:
                problems.append("%s: %s" % (url, to_native(exc)))
            else:
                display.vvv("exhibitor_zk_hosts: %s lists %s" % (url, ",".join(hosts)))
                return hosts
        if not urls:
            problems.append("no Exhibitor URL given")
        if not fallback:
            raise AnsibleError("exhibitor_zk_hosts: no Exhibitor answered and there is no fallback: %s"
                               % "; ".join(problems))
        display.warning("exhibitor_zk_hosts: no Exhibitor answered (%s); using the inventory's ZooKeeper "
                        "servers %s" % ("; ".join(problems), ",".join(fallback)))
        return fallback
