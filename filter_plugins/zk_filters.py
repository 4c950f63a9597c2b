# -*- coding: utf-8 -*-
"""Small pure filters for ZooKeeper connect strings, zk:// URLs, quorum sizes
and ZooKeeper digest ids.

Every filter raises AnsibleFilterError naming the filter and the bad input.
"""

from __future__ import annotations

import base64
import hashlib
import re

from ansible.errors import AnsibleFilterError

# A host name, an IPv4 address or a bracketed IPv6 address.
_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$")
# Characters a zk:// URL user name or password may not carry unencoded.
_USERINFO_FORBIDDEN = re.compile(r"[:@/\s]")


def _fail(name, message, value):
    raise AnsibleFilterError("%s: %s (got %r)" % (name, message, value))


def _port(name, value):
    if isinstance(value, bool):
        _fail(name, "port must be an integer from 1 to 65535", value)
    try:
        port = int(value)
    except (TypeError, ValueError):
        _fail(name, "port must be an integer from 1 to 65535", value)
    if str(port) != str(value).strip() or not 1 <= port <= 65535:
        _fail(name, "port must be an integer from 1 to 65535", value)
    return port


def _split_hosts(name, hosts):
    """Accept a list of hosts or a comma-separated connect string."""
    if isinstance(hosts, str):
        items = [h.strip() for h in hosts.split(",")]
    elif isinstance(hosts, (list, tuple)):
        items = [str(h).strip() if not isinstance(h, (dict, list)) else h for h in hosts]
    else:
        _fail(name, "hosts must be a list or a comma-separated string", hosts)
    if not items or any(not isinstance(h, str) or h == "" for h in items):
        _fail(name, "hosts must be a non-empty list of host names", hosts)
    return items


def _host_port(name, item, default_port):
    """'h', 'h:p', '[v6]', '[v6]:p' -> (host, port)."""
    host, port = item, default_port
    if item.startswith("["):
        end = item.find("]")
        if end == -1:
            _fail(name, "unterminated IPv6 address", item)
        host, rest = item[: end + 1], item[end + 1:]
        if rest:
            if not rest.startswith(":"):
                _fail(name, "unexpected text after IPv6 address", item)
            port = rest[1:]
    elif item.count(":") == 1:
        host, port = item.split(":")
    elif item.count(":") > 1:
        _fail(name, "IPv6 addresses must be written in brackets", item)
    if not _HOST_RE.match(host):
        _fail(name, "invalid host name", item)
    return host, _port(name, port)


def _connect_string(name, hosts, port):
    default_port = _port(name, port)
    items = _split_hosts(name, hosts)
    if any("/" in h for h in items):
        _fail(name, "hosts must not contain a chroot path; use zk_url", hosts)
    pairs = [_host_port(name, h, default_port) for h in items]
    return ",".join("%s:%d" % pair for pair in pairs)


def zk_connect_string(hosts, port=2181):
    """['a', 'b:2182'] -> 'a:2181,b:2182'. Hosts may already carry ports."""
    return _connect_string("zk_connect_string", hosts, port)


def zk_url(hosts, path, user=None, password=None, port=2181):
    """zk://[user:password@]h1:2181,h2:2181/path, the form Mesos and Marathon accept."""
    name = "zk_url"
    if not isinstance(path, str) or not path.startswith("/") or path == "/" or path.endswith("/") \
            or "//" in path or any(seg in (".", "..") for seg in path.split("/")[1:]):
        _fail(name, "path must be an absolute ZooKeeper path like /mesos, not / and without a trailing slash", path)
    if re.search(r"\s", path):
        _fail(name, "path must not contain white space", path)
    connect = _connect_string(name, hosts, port)
    if (user is None or user == "") != (password is None or password == ""):
        raise AnsibleFilterError("zk_url: user and password must be given together (got user=%r)" % (user,))
    auth = ""
    if user:
        if not isinstance(user, str) or _USERINFO_FORBIDDEN.search(user):
            _fail(name, "user must not contain ':', '@', '/' or white space", user)
        if not isinstance(password, str) or _USERINFO_FORBIDDEN.search(password):
            # Do not echo the password.
            raise AnsibleFilterError("zk_url: password must be a string without ':', '@', '/' or white space")
        auth = "%s:%s@" % (user, password)
    return "zk://%s%s%s" % (auth, connect, path)


def quorum_size(n):
    """Majority of n members: n // 2 + 1."""
    if isinstance(n, bool):
        _fail("quorum_size", "needs a whole number of members >= 1", n)
    if isinstance(n, (list, tuple, set)):
        n = len(n)
    try:
        count = int(n)
    except (TypeError, ValueError):
        _fail("quorum_size", "needs a whole number of members >= 1", n)
    if str(count) != str(n).strip() or count < 1:
        _fail("quorum_size", "needs a whole number of members >= 1", n)
    return count // 2 + 1


def zk_digest(user, password):
    """'user', 'password' -> 'user:base64(sha1(user:password))' (ZooKeeper's digest scheme id)."""
    if not isinstance(user, str) or not user or ":" in user:
        _fail("zk_digest", "user must be a non-empty string without ':'", user)
    if not isinstance(password, str) or not password:
        raise AnsibleFilterError("zk_digest: password must be a non-empty string (for user %r)" % (user,))
    digest = hashlib.sha1(("%s:%s" % (user, password)).encode("utf-8")).digest()
    return "%s:%s" % (user, base64.b64encode(digest).decode("ascii"))


def zookeeper_peers(hosts, hostvars, client_port=2181, peer_port=2888, election_port=3888):
    """The ensemble's servers as [{host, id, address, client_port, peer_port, election_port}].

    Each host shares its own settings as the fact __zookeeper_server; hosts
    outside the current run (--limit) fall back to their inventory variables
    and then to the given defaults, with the inventory name as address.
    """
    if not isinstance(hosts, (list, tuple)):
        _fail("zookeeper_peers", "hosts must be a list of inventory host names", hosts)
    peers = []
    for host in hosts:
        try:
            hv = hostvars[host]
        except KeyError:
            _fail("zookeeper_peers", "host is not in the inventory", host)
        shared = hv.get("__zookeeper_server")
        if shared:
            peers.append(dict(shared))
            continue
        peers.append({
            "host": host,
            "id": hv.get("zookeeper_id"),
            "address": hv.get("zookeeper_address", host),
            "client_port": hv.get("zookeeper_client_port", client_port),
            "peer_port": hv.get("zookeeper_peer_port", peer_port),
            "election_port": hv.get("zookeeper_election_port", election_port),
        })
    return peers


class FilterModule(object):
    def filters(self):
        return {
            "zk_connect_string": zk_connect_string,
            "zk_url": zk_url,
            "quorum_size": quorum_size,
            "zk_digest": zk_digest,
            "zookeeper_peers": zookeeper_peers,
        }
