#!/usr/bin/python
# -*- coding: utf-8 -*-
# Asks ZooKeeper servers for their state with the srvr four-letter word.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: zookeeper_status
short_description: Read the state of ZooKeeper servers (four-letter words)
description:
  - Sends the C(srvr) four-letter word to each server and reports whether it serves and in which
    mode (C(leader), C(follower), C(observer), C(standalone)), plus the ensemble's leader and
    whether a quorum of the given servers serves.
  - Read-only; never changes anything. Used by the C(zookeeper) role to restart one server at a
    time, followers first and the leader last, and to wait for quorum in between.
  - The servers must allow C(srvr) in C(4lw.commands.whitelist) (the role does).
version_added: "1.0.0"
author: PaaS maintainers
options:
  servers:
    description:
      - Servers to ask, as C(host:port) (port defaults to 2181).
    type: list
    elements: str
    default: ["127.0.0.1:2181"]
  timeout:
    description: Seconds to wait for each server's answer.
    type: float
    default: 3
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Wait until this server serves as leader or follower
  zookeeper_status:
    servers: ["127.0.0.1:2181"]
  register: zk
  until: zk.servers[0].mode in ['leader', 'follower']
  retries: 30
  delay: 2

- name: Wait until the ensemble has one leader and a quorum
  zookeeper_status:
    servers: "{{ groups['zookeeper'] | map('extract', hostvars, 'zookeeper_address') | map('regex_replace', '$', ':2181') }}"
  register: zk
  until: zk.quorum and zk.leaders | length == 1
"""

RETURN = r"""
servers:
  description: One entry per server, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: The C(host:port) asked.
      type: str
    serving:
      description: Whether the server answered C(srvr) with a mode (it serves clients).
      type: bool
    mode:
      description: C(leader), C(follower), C(observer), C(standalone), or null when not serving.
      type: str
    zxid:
      description: The server's last zxid (hex), when serving.
      type: str
    version:
      description: The ZooKeeper version it reports.
      type: str
    error:
      description: Why it does not serve (connection refused, not in whitelist, no quorum...).
      type: str
  sample:
    - {address: "10.0.0.1:2181", serving: true, mode: follower, zxid: "0x100000002", version: "3.8.0", error: null}
leaders:
  description: Addresses of servers reporting C(leader).
  returned: always
  type: list
  elements: str
serving:
  description: How many servers serve.
  returned: always
  type: int
quorum:
  description: >-
    True when more than half of the given servers serve and exactly one is the leader
    (or a single standalone server serves).
  returned: always
  type: bool
"""

import socket

from ansible.module_utils.basic import AnsibleModule


def _split(address):
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else "2181"
    elif address.count(":") == 1:
        host, port = address.split(":")
    else:
        host, port = address, "2181"
    return host, int(port)


def four_letter_word(address, word, timeout):
    host, port = _split(address)
    chunks = []
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(word.encode("ascii"))
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        while True:
            data = sock.recv(4096)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def parse_srvr(text):
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def status(address, timeout):
    entry = {"address": address, "serving": False, "mode": None, "zxid": None, "version": None, "error": None}
    try:
        text = four_letter_word(address, "srvr", timeout)
    except (OSError, ValueError) as exc:
        entry["error"] = "%s: %s" % (type(exc).__name__, exc)
        return entry
    if "not in the whitelist" in text:
        entry["error"] = "srvr is not in 4lw.commands.whitelist"
        return entry
    if "not currently serving" in text or not text.strip():
        entry["error"] = "not serving requests (no quorum yet?)"
        return entry
    info = parse_srvr(text)
    entry["mode"] = info.get("Mode")
    entry["zxid"] = info.get("Zxid")
    entry["version"] = info.get("Zookeeper version", "").split("-")[0].split(",")[0] or None
    entry["serving"] = entry["mode"] is not None
    if not entry["serving"]:
        entry["error"] = "unexpected answer: %s" % text.strip()[:200]
    return entry


def main():
    module = AnsibleModule(
        argument_spec=dict(
            servers=dict(type="list", elements="str", default=["127.0.0.1:2181"]),
            timeout=dict(type="float", default=3.0),
        ),
        supports_check_mode=True,
    )
    servers = module.params["servers"]
    if not servers:
        module.fail_json(msg="servers: give at least one host:port")
    for address in servers:
        try:
            _split(address)
        except ValueError:
            module.fail_json(msg="servers: %r is not host:port" % (address,))
    results = [status(a, module.params["timeout"]) for a in servers]
    leaders = [r["address"] for r in results if r["mode"] == "leader"]
    serving = sum(1 for r in results if r["serving"])
    standalone = len(results) == 1 and results[0]["mode"] == "standalone"
    quorum = standalone or (serving > len(results) // 2 and len(leaders) == 1)
    module.exit_json(changed=False, servers=results, leaders=leaders, serving=serving, quorum=quorum)


if __name__ == "__main__":
    main()
