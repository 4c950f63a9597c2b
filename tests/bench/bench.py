#!/usr/bin/env python3
"""make bench: prints speed figures measured on the local cluster (make up).

1. A tree of 50 znodes on the three-node ensemble, written (a) by one
   community.general.znode task per node and (b) by one zk_namespace task:
   wall time and `changed` of a first and a second run each.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from kazoo.client import KazooClient  # noqa: E402

from paas_testlib.ansible_run import run_playbook  # noqa: E402

INVENTORY = os.path.join(ROOT, "inventories", "local")


def local_inventory():
    with open(os.path.join(INVENTORY, "group_vars", "zookeeper.yml")) as fh:
        zk_vars = yaml.safe_load(fh)
    hosts = []
    for name in ("ctl1", "ctl2", "ctl3"):
        with open(os.path.join(INVENTORY, "host_vars", name + ".yml")) as fh:
            hosts.append(yaml.safe_load(fh)["paas_ip"] + ":2181")
    return ",".join(hosts), zk_vars.get("zookeeper_superuser_password")


def tree(root):
    """50 znodes: 5 branches with 9 leaves each, under a root."""
    nodes = {}
    for b in range(5):
        nodes["branch%d" % b] = "branch %d" % b
        for leaf in range(9):
            nodes["branch%d/leaf%d" % (b, leaf)] = "value %d.%d" % (b, leaf)
    assert len(nodes) == 50
    return nodes


def write_playbook(tasks):
    play = [{"name": "bench", "hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": {"ansible_python_interpreter": sys.executable}, "tasks": tasks}]
    fd, path = tempfile.mkstemp(suffix=".yml", prefix="bench-")
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(play, fh, sort_keys=False)
    return path


def timed(path):
    start = time.monotonic()
    run = run_playbook(path, inventory="localhost,")
    elapsed = time.monotonic() - start
    if run.rc != 0:
        raise SystemExit("bench playbook failed:\n" + run.output[-3000:])
    return elapsed, run.changed("localhost")


def bench_namespace(hosts, superuser):
    root_znode = "/bench/znode"
    root_ns = "/bench/zk_namespace"
    nodes = tree(root_znode)
    znode_tasks = [{"name": "znode per node", "community.general.znode": {
        "hosts": hosts, "name": "{{ item.path }}", "value": "{{ item.value }}", "state": "present"},
        "loop": [{"path": root_znode, "value": "root"}] +
                [{"path": root_znode + "/" + k, "value": v} for k, v in nodes.items()]}]
    ns_tasks = [{"name": "one zk_namespace", "zk_namespace": {
        "hosts": hosts, "path": root_ns, "data": "root", "nodes": nodes}}]
    client = KazooClient(hosts=hosts, auth_data=[("digest", "super:" + superuser)] if superuser else [])
    client.start(timeout=15)
    try:
        for path in ("/bench",):
            if client.exists(path):
                client.delete(path, recursive=True)
        client.ensure_path("/bench")
    finally:
        client.stop()
        client.close()
    results = {}
    for label, tasks in (("community.general.znode (51 tasks: root + 50)", znode_tasks),
                         ("zk_namespace (1 task)", ns_tasks)):
        path = write_playbook(tasks)
        try:
            results[label] = [timed(path), timed(path)]
        finally:
            os.unlink(path)
    return results


def main():
    hosts, superuser = local_inventory()
    print("ZooKeeper tree of 50 znodes (+ root) on %s" % hosts)
    results = bench_namespace(hosts, superuser)
    print("%-46s %12s %10s %12s %10s" % ("", "first (s)", "changed", "second (s)", "changed"))
    for label, ((t1, c1), (t2, c2)) in results.items():
        print("%-46s %12.2f %10s %12.2f %10s" % (label, t1, c1 > 0, t2, c2 > 0))
    znode, ns = list(results.values())
    print("zk_namespace speed-up: first run %.1fx, second run %.1fx; second run changed=%s"
          % (znode[0][0] / ns[0][0], znode[1][0] / ns[1][0], ns[1][1] > 0))


if __name__ == "__main__":
    main()
