# -*- coding: utf-8 -*-
"""Pure filters for Exhibitor's configuration formats."""

from __future__ import annotations

import re
from urllib.parse import quote

from ansible.errors import AnsibleFilterError

_SPEC_ENTRY = re.compile(r"^(?P<type>[SO]):(?P<id>[0-9]{1,3}):(?P<host>[A-Za-z0-9][A-Za-z0-9.\-]*)$")


def exhibitor_zoo_cfg_extra(settings):
    """{'tickTime': 2000, '4lw.commands.whitelist': 'srvr,ruok'} ->
    'tickTime=2000&4lw.commands.whitelist=srvr%2Cruok' (Exhibitor's encoded form)."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError("exhibitor_zoo_cfg_extra: expects a dict of zoo.cfg settings, got %r" % (settings,))
    parts = []
    for key in settings:
        value = settings[key]
        if not isinstance(key, str) or not key or any(c in key for c in "&= \n"):
            raise AnsibleFilterError("exhibitor_zoo_cfg_extra: invalid zoo.cfg key %r" % (key,))
        if isinstance(value, bool):
            value = "true" if value else "false"
        if value is None or isinstance(value, (dict, list)):
            raise AnsibleFilterError("exhibitor_zoo_cfg_extra: value of %r must be a scalar, got %r" % (key, value))
        parts.append("%s=%s" % (quote(key, safe=".-_"), quote(str(value), safe=".-_/")))
    return "&".join(parts)


def java_properties_escape(value):
    """Escape a value for a Java .properties file (as Properties.store does)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value)
    out = []
    for index, char in enumerate(text):
        if char == "\\":
            out.append("\\\\")
        elif char in "=:#!":
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif char == " " and index == 0:
            out.append("\\ ")
        else:
            out.append(char)
    return "".join(out)


def exhibitor_servers_spec(members):
    """[{'id': 1, 'hostname': 'zk1'}, ...] -> 'S:1:zk1,S:2:zk2' (sorted by id)."""
    if not isinstance(members, (list, tuple)) or not members:
        raise AnsibleFilterError("exhibitor_servers_spec: expects a non-empty list of {id, hostname}, got %r"
                                 % (members,))
    entries = []
    for member in members:
        try:
            server_id = int(str(member["id"]))
            host = member["hostname"]
        except (KeyError, TypeError, ValueError):
            raise AnsibleFilterError("exhibitor_servers_spec: each member needs an integer id and a hostname, "
                                     "got %r" % (member,))
        if not 1 <= server_id <= 255:
            raise AnsibleFilterError("exhibitor_servers_spec: id %r of %s is not 1-255" % (member["id"], host))
        entry = "%s:%d:%s" % (member.get("type", "S"), server_id, host)
        if not _SPEC_ENTRY.match(entry):
            raise AnsibleFilterError("exhibitor_servers_spec: invalid entry %r" % (entry,))
        entries.append((server_id, entry))
    return ",".join(entry for _id, entry in sorted(entries))


def exhibitor_parse_servers_spec(spec):
    """'S:1:zk1,O:4:zk4' -> [{'type': 'S', 'id': 1, 'hostname': 'zk1'}, ...]; raises on a malformed spec."""
    if not isinstance(spec, str) or not spec.strip():
        raise AnsibleFilterError("exhibitor_parse_servers_spec: the servers spec is empty")
    members, ids, hosts = [], set(), set()
    for raw in spec.split(","):
        match = _SPEC_ENTRY.match(raw.strip())
        if not match:
            raise AnsibleFilterError("exhibitor_parse_servers_spec: %r is not S:<id>:<host> or O:<id>:<host>" % raw)
        server_id = int(match.group("id"))
        host = match.group("host")
        if not 1 <= server_id <= 255:
            raise AnsibleFilterError("exhibitor_parse_servers_spec: id %d is not 1-255 in %r" % (server_id, raw))
        if server_id in ids or host in hosts:
            raise AnsibleFilterError("exhibitor_parse_servers_spec: id or host repeated in %r" % raw)
        ids.add(server_id)
        hosts.add(host)
        members.append({"type": match.group("type"), "id": server_id, "hostname": host})
    return members


def _hosts_vars(filter_name, hosts, hostvars):
    """Yields (host, hostvars[host]) for each of hosts, in order; raises naming
    filter_name when hosts is not a list or a host is not in the inventory."""
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("%s: hosts must be a list, got %r" % (filter_name, hosts))
    for host in hosts:
        try:
            hv = hostvars[host]
        except KeyError:
            raise AnsibleFilterError("%s: %r is not in the inventory" % (filter_name, host))
        yield host, hv


def exhibitor_members(hosts, hostvars):
    """The ensemble as [{host, id, hostname}]: from the fact __exhibitor_member each
    host shares during the run, else from its inventory (zookeeper_id,
    exhibitor_hostname, falling back to the inventory name)."""
    members = []
    for host, hv in _hosts_vars("exhibitor_members", hosts, hostvars):
        shared = hv.get("__exhibitor_member")
        if shared:
            members.append(dict(shared))
        else:
            members.append({"host": host, "id": hv.get("zookeeper_id"),
                            "hostname": hv.get("exhibitor_hostname", host)})
    return members


def exhibitor_cluster_hosts(cluster_list):
    """Exhibitor's GET /exhibitor/v1/cluster/list answer,
    {"servers": ["zk1", "zk2"], "port": 2181} -> ["zk1:2181", "zk2:2181"]."""
    if not isinstance(cluster_list, dict):
        raise AnsibleFilterError("exhibitor_cluster_hosts: expects the cluster/list object "
                                 "{'servers': [...], 'port': N}, got %r" % (cluster_list,))
    servers = cluster_list.get("servers")
    port = cluster_list.get("port")
    if not isinstance(servers, list) or not servers:
        raise AnsibleFilterError("exhibitor_cluster_hosts: 'servers' must be a non-empty list, got %r" % (servers,))
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise AnsibleFilterError("exhibitor_cluster_hosts: 'port' must be an integer, got %r" % (port,))
    if not 1 <= port <= 65535:
        raise AnsibleFilterError("exhibitor_cluster_hosts: 'port' %d is not 1-65535" % port)
    hosts = []
    for server in servers:
        if not isinstance(server, str) or not server.strip() or any(c in server.strip() for c in ",:/ "):
            raise AnsibleFilterError("exhibitor_cluster_hosts: invalid server name %r" % (server,))
        hosts.append("%s:%d" % (server.strip(), port))
    return hosts


def exhibitor_urls(hosts, hostvars, default_port=8080, scheme="http"):
    """Base URLs of the Exhibitors on hosts: http://<exhibitor_hostname>:<exhibitor_port>,
    the name falling back to zookeeper_address, then to the inventory name."""
    urls = []
    for host, hv in _hosts_vars("exhibitor_urls", hosts, hostvars):
        name = hv.get("exhibitor_hostname") or hv.get("zookeeper_address") or host
        port = hv.get("exhibitor_port", default_port)
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise AnsibleFilterError("exhibitor_urls: exhibitor_port of %s must be an integer, got %r" % (host, port))
        urls.append("%s://%s:%d" % (scheme, name, port))
    return urls


class FilterModule(object):
    def filters(self):
        return {
            "exhibitor_zoo_cfg_extra": exhibitor_zoo_cfg_extra,
            "java_properties_escape": java_properties_escape,
            "exhibitor_servers_spec": exhibitor_servers_spec,
            "exhibitor_parse_servers_spec": exhibitor_parse_servers_spec,
            "exhibitor_members": exhibitor_members,
            "exhibitor_cluster_hosts": exhibitor_cluster_hosts,
            "exhibitor_urls": exhibitor_urls,
        }
