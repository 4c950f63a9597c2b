#!/usr/bin/env python3
"""make bench: prints speed figures measured on the local cluster (make up).

1. A tree of 50 znodes on the three-node ensemble, written (a) by one
   community.general.znode task per node and (b) by one zk_namespace task:
   wall time and `changed` of a first and a second run each.
2. tenant.yml: adding one tenant (first run, then no-op re-runs; medians of
   three adds and nine re-runs), ten tenants in one run (tenant_names; then a
   no-op re-run), and removing them.
   Targets: one tenant in 15 s or less, a no-op re-run in 20 % of the first
   run or less. Beside them, the floor of a no-op: ansible-playbook's start and
   the two module calls no no-op can skip, run alone.
3. git push to deploy: a Dockerfile sample app pushed to a bench tenant, push
   to healthy for the first push and for a one-line change (target <= 30 s).
Figures only: nothing here fails on a slow run. `bench.py push` (or tenants,
zk) runs one part.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from kazoo.client import KazooClient  # noqa: E402

from paas_testlib.ansible_run import failed_task_messages, run_playbook  # noqa: E402

INVENTORY = os.path.join(ROOT, "inventories", "local")
TENANT_PLAYBOOK = os.path.join(ROOT, "tenant.yml")
# The local cluster's own secrets directory (inventories/local: paas_secrets_dir): the
# masters' credentials are built from every tenant kept there, so a bench tenant kept
# elsewhere would take the cluster's other tenants' principals off the masters.
TENANT_SECRETS = os.path.join(ROOT, ".secrets", "local")
# Small tenant Marathons: eleven of them share the local cluster's two agents (1 GB each).
TENANT_SIZE = {"tenant_cpus": 0.1, "tenant_mem": 128, "tenant_wait_timeout": 300}
ONE_TENANT = "bench-one"
ONE_CYCLES = 3
NOOP_RUNS = 3
TEN_TENANTS = ["bench-%02d" % i for i in range(1, 11)]


def host_ip(name):
    """A local cluster host's address (paas_ip in its host_vars)."""
    with open(os.path.join(INVENTORY, "host_vars", name + ".yml")) as fh:
        return yaml.safe_load(fh)["paas_ip"]


def local_inventory():
    with open(os.path.join(INVENTORY, "group_vars", "zookeeper.yml")) as fh:
        zk_vars = yaml.safe_load(fh)
    hosts = []
    for name in ("ctl1", "ctl2", "ctl3"):
        hosts.append(host_ip(name) + ":2181")
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


def tenant_run(names, state="present", pushers=None):
    """One tenant.yml run for the tenants ``names``: (seconds, changed tasks)."""
    extra = dict(TENANT_SIZE, tenant_names=names, tenant_state=state)
    if pushers is not None:
        extra["tenant_pushers"] = list(pushers)
    run = run_playbook(TENANT_PLAYBOOK, inventory=INVENTORY, extra_vars=extra, timeout=1800)
    if run.rc != 0:
        raise SystemExit("tenant.yml %s %s failed:\n%s" % (state, names, "\n".join(failed_task_messages(run.output))))
    return run.seconds, run.changed()


def median_run(runs):
    """(median seconds, most changed) of several (seconds, changed) runs."""
    return statistics.median(seconds for seconds, _ in runs), max(changed for _, changed in runs)


def floor_runs(hosts, superuser):
    """What any no-op tenant.yml pays before its own tasks: ansible-playbook's start (an empty
    play), and the start plus the two module calls a no-op cannot skip (zk_namespace on an
    existing namespace, marathon_app on the running tenant Marathon), each run alone on
    localhost. Seconds of the second run of each."""
    with open(os.path.join(INVENTORY, "group_vars", "marathon.yml")) as fh:
        user, _, password = yaml.safe_load(fh)["marathon_http_credentials"].partition(":")
    marathons = ["http://%s:8080" % host_ip(name) for name in ("ctl1", "ctl2", "ctl3")]
    auth = [{"credential": "super:" + superuser}] if superuser else []
    plays = {
        "ansible-playbook start (empty play)": [],
        "start + zk_namespace + marathon_app (no-op)": [
            {"name": "namespace", "zk_namespace": {"hosts": hosts, "path": "/bench/floor", "auth": auth}},
            {"name": "app", "marathon_app": {"url": marathons, "username": user, "password": password,
                                             "app": {"id": "/tenants/" + ONE_TENANT, "instances": 1}}}],
    }
    results = {}
    for label, tasks in plays.items():
        path = write_playbook(tasks)
        try:
            for _ in range(2):
                start = time.monotonic()
                run = run_playbook(path, inventory="localhost,")
                results[label] = (time.monotonic() - start, run.changed() if tasks else 0)
                if run.rc != 0:
                    raise SystemExit("bench playbook failed:\n" + run.output[-3000:])
        finally:
            os.unlink(path)
    return results


def bench_tenants():
    names = [ONE_TENANT] + TEN_TENANTS
    left = [n for n in names if os.path.exists(os.path.join(TENANT_SECRETS, "tenants", n))]
    if left:
        tenant_run(left, "absent")
    results = {}
    # One run is noisy on a small machine that also runs the cluster: the one-tenant figures
    # are medians of ONE_CYCLES adds (each after a removal) and of NOOP_RUNS re-runs after each.
    adds, noops = [], []
    for cycle in range(ONE_CYCLES):
        if cycle:
            tenant_run([ONE_TENANT], "absent")
        adds.append(tenant_run([ONE_TENANT]))
        noops.extend(tenant_run([ONE_TENANT]) for _ in range(NOOP_RUNS))
    results["one tenant: add"] = median_run(adds)
    results["one tenant: no-op re-run"] = median_run(noops)
    results["  add, each run"] = adds
    results["  no-op re-run, each run"] = noops
    results.update(floor_runs(*local_inventory()))
    results["ten tenants in one run: add"] = tenant_run(TEN_TENANTS)
    results["ten tenants in one run: no-op re-run"] = tenant_run(TEN_TENANTS)
    results["eleven tenants in one run: remove"] = tenant_run(names, "absent")
    results["eleven tenants in one run: remove again"] = tenant_run(names, "absent")
    return results


SITE_PLAYBOOK = os.path.join(ROOT, "site.yml")
FIRST_CONVERGE = os.path.join(ROOT, "build", "site-first-converge.seconds")


def bench_site():
    """site.yml's first converge (timed by make up) and a no-op re-run now (changed=0 expected)."""
    first = None
    if os.path.exists(FIRST_CONVERGE):
        with open(FIRST_CONVERGE) as fh:
            first = float(fh.read().strip() or 0)
    run = run_playbook(SITE_PLAYBOOK, inventory=INVENTORY, timeout=3600)
    if run.rc != 0:
        raise SystemExit("site.yml no-op failed:\n%s" % "\n".join(failed_task_messages(run.output)))
    return first, run.seconds, run.changed()


PUSH_TENANT = "bench-push"
GITRECEIVE_PLAYBOOK = os.path.join(ROOT, "playbooks", "gitreceive.yml")
SAMPLE_DOCKERFILE = ('FROM paas-test/debian-systemd:bookworm\nCOPY index.html /srv/index.html\n'
                     'CMD ["sh", "-c", "exec python3 -m http.server $PORT --directory /srv"]\n')


def git_host():
    return host_ip("agent1")


def bench_push():
    """Push to healthy through the git host, first push and a one-line change."""
    work = tempfile.mkdtemp(prefix="bench-push-")
    key = os.path.join(work, "id")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", key], check=True)
    with open(key + ".pub") as fh:
        pushers = [{"name": "bench", "key": fh.read().strip()}]
    results = {}
    try:
        tenant_run([PUSH_TENANT], pushers=pushers)  # the key reaches the git host through ZooKeeper
        with open(os.path.join(TENANT_SECRETS, "tenants", PUSH_TENANT, "secrets.yml")) as fh:
            token = yaml.safe_load(fh)["deploy_token"]
        repo = os.path.join(work, "app")
        os.makedirs(repo)
        files = {"Dockerfile": SAMPLE_DOCKERFILE, "index.html": "v1\n",
                 "paas.yml": yaml.safe_dump({"tenant": PUSH_TENANT, "token": token, "app": "bench",
                                             "port": 8000, "health_check": "/", "mem": 64, "cpus": 0.1})}
        for name, text in files.items():
            with open(os.path.join(repo, name), "w") as fh:
                fh.write(text)
        env = dict(os.environ, GIT_SSH_COMMAND="ssh -i %s -o IdentitiesOnly=yes -o StrictHostKeyChecking=no "
                   "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR" % key,
                   GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@localhost",
                   GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@localhost")

        def git(*args):
            return subprocess.run(["git"] + list(args), cwd=repo, env=env, capture_output=True, text=True,
                                  timeout=900)

        git("init", "-q", "-b", "master")
        git("remote", "add", "paas-dev", "git@%s:%s/dev/bench.git" % (git_host(), PUSH_TENANT))
        for label, content in (("first push to healthy", "v1\n"), ("one-line change to healthy", "v2\n")):
            with open(os.path.join(repo, "index.html"), "w") as fh:
                fh.write(content)
            git("add", "-A")
            git("commit", "-q", "-m", content.strip())
            start = time.monotonic()
            res = git("push", "paas-dev", "master")
            results[label] = time.monotonic() - start
            if res.returncode != 0:
                raise SystemExit("git push failed:\n%s" % (res.stdout + res.stderr))
    finally:
        tenant_run([PUSH_TENANT], "absent")
        # Prunes the removed tenant's repository: the next bench pushes a new history.
        run_playbook(GITRECEIVE_PLAYBOOK, inventory=INVENTORY, timeout=900)
        shutil.rmtree(work, ignore_errors=True)
    return results


def main():
    parts = sys.argv[1:] or ["site", "tenants", "zk", "push"]
    hosts, superuser = local_inventory()
    if "site" in parts:
        first, noop, changed = bench_site()
        print("site.yml on the local cluster (ZooKeeper ACLs, Mesos ACLs and credentials included)")
        print("%-46s %12s" % ("first converge (make up)", "%.1f" % first if first else "(not recorded)"))
        print("%-46s %12.1f   changed=%d" % ("no-op re-run", noop, changed))
        print()
    if "push" in parts:
        print("git push to deploy on the local cluster (Dockerfile sample app)")
        for label, seconds in bench_push().items():
            print("%-46s %12.2f" % (label, seconds))
        print("target for the one-line change: <= 30 s")
        print()
    if "tenants" in parts:
        print("tenant.yml on the local cluster (tenant_cpus 0.1, tenant_mem 128)")
        tenants = bench_tenants()
        print("%-46s %12s %10s" % ("", "seconds", "changed"))
        for label, value in tenants.items():
            if isinstance(value, list):
                print("%-46s %s" % (label, " ".join("%.2f" % seconds for seconds, _ in value)))
            else:
                print("%-46s %12.2f %10d" % (label, value[0], value[1]))
        one, noop = tenants["one tenant: add"][0], tenants["one tenant: no-op re-run"][0]
        ten, ten_noop = tenants["ten tenants in one run: add"][0], tenants["ten tenants in one run: no-op re-run"][0]
        print("one tenant %.1f s (median; target <= 15 s: %s); no-op re-run %.0f %% of the first run "
              "(medians; target <= 20 %%: %s)"
              % (one, "met" if one <= 15 else "missed", 100 * noop / one, "met" if noop <= 0.2 * one else "missed"))
        floor = tenants["start + zk_namespace + marathon_app (no-op)"][0]
        print("floor of any no-op (start + its two module calls): %.2f s, %.0f %% of the first run"
              % (floor, 100 * floor / one))
        print("ten tenants %.1f s (%.1f s per tenant); their no-op re-run %.0f %% of the first run"
              % (ten, ten / 10, 100 * ten_noop / ten))
        print()
    if "zk" in parts:
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
