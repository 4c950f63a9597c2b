"""git push to deploy, end to end on the converged site scenario.

The git host is the scenario's `gitreceive` host (agent1: Docker, the registry's CA).
The module fixture adds a small tenant (tenant.yml), then gives the git host the
tenant's deploy token and three keys (playbooks/gitreceive.yml): alice may push to
the tenant, bob is registered for no tenant, eve is not registered. A Dockerfile app
built FROM the base image already in the git host's Docker is pushed, changed,
broken, rolled back; at the end the tenant is removed and the pushers withdrawn, which
leaves the git host as converge left it (no tenants, no pushers).
Tests run in file order and share that state. Push timings go to
build/gitreceive-timings.json.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
import yaml

TESTS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from paas_testlib import mesos as mh  # noqa: E402
from paas_testlib.ansible_run import failed_task_messages, run_playbook  # noqa: E402

ROOT = os.environ.get("MOLECULE_PROJECT_DIRECTORY") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SECRETS = os.path.join(ROOT, "build", "gitreceive-test-secrets")
TIMINGS = os.path.join(ROOT, "build", "gitreceive-timings.json")
TENANT = "gitdemo"
BASE_IMAGE = "paas-test/debian-systemd:bookworm"
HOST_NAME, HOST_ADDR = os.environ.get("PAAS_GITRECEIVE_HOST", "agent1=172.31.5.21").split("=")
REGISTRY = os.environ.get("PAAS_REGISTRY", "")
INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE")
DOCKERFILE = """\
FROM %s
COPY index.html /srv/index.html
CMD ["sh", "-c", "exec python3 -m http.server \\"$PORT\\" --directory /srv"]
""" % BASE_IMAGE
SSH = ["ssh", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
       "-o", "LogLevel=ERROR", "-o", "BatchMode=yes"]

timings = {}


class Git:
    def __init__(self, work, keys):
        self.work = work
        self.keys = keys
        self.repo = os.path.join(work, "app")

    def run(self, *args, key="alice", check=True, timeout=600):
        env = dict(os.environ, GIT_SSH_COMMAND=" ".join(SSH + ["-i", self.keys[key]]),
                   GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
        res = subprocess.run(["git"] + list(args), cwd=self.repo, capture_output=True, text=True, env=env,
                             timeout=timeout)
        if check:
            assert res.returncode == 0, res.stdout + res.stderr
        return res

    def write(self, name, text):
        with open(os.path.join(self.repo, name), "w") as fh:
            fh.write(text)

    def commit(self, message):
        self.run("add", "-A")
        self.run("commit", "-q", "-m", message)
        return self.run("rev-parse", "HEAD").stdout.strip()

    def push(self, refspec="HEAD:master", key="alice"):
        start = time.monotonic()
        res = self.run("push", "paas-dev", refspec, key=key, check=False)
        res.seconds = time.monotonic() - start
        res.output = res.stdout + res.stderr
        return res

    def remote_master(self):
        out = self.run("ls-remote", "paas-dev", "refs/heads/master").stdout.split()
        return out[0] if out else None

    def ssh(self, *command, key="alice", tty=False):
        cmd = SSH + (["-tt"] if tty else []) + ["-i", self.keys[key], "git@%s" % HOST_ADDR] + list(command)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


def docker_exec(*cmd, stdin=None, timeout=300):
    return subprocess.run(["docker", "exec"] + (["-i"] if stdin is not None else []) + [HOST_NAME] + list(cmd),
                          capture_output=True, stdin=stdin, timeout=timeout)


def gitreceive_playbook(pushers):
    # Converge installed the git host; tenants and pushers are the configure step's.
    return run_playbook(os.path.join(ROOT, "playbooks", "gitreceive.yml"), inventory=INVENTORY,
                        extra_vars={"paas_secrets_dir": SECRETS, "paas_git_pushers": pushers}, timeout=900,
                        extra_args=["--tags", "gitreceive-validate,gitreceive-configure"])


def tenant_playbook(state):
    extra = {"tenant_name": TENANT, "tenant_state": state, "paas_secrets_dir": SECRETS, "tenant_wait_timeout": 300,
             "tenant_cpus": 0.2, "tenant_mem": 256}
    su = os.environ.get("PAAS_SITE_ZK_SUPERUSER", "")
    if su:
        extra["tenant_zk_superuser_password"] = su.split(":", 1)[1]
    return run_playbook(os.path.join(ROOT, "tenant.yml"), inventory=INVENTORY, extra_vars=extra, timeout=900)


def printed_url(output):
    urls = re.findall(r"remote:\s+(http://[0-9.]+:\d+/)", output)
    assert urls, output
    return urls[-1]


def serves(url, text, timeout=30):
    mh.wait_for(lambda: mh.request(url, timeout=5).body.strip() == text, timeout, message="%s serves %r" % (url, text))


@pytest.fixture(scope="module")
def git():
    work = tempfile.mkdtemp(prefix="gitreceive-test-")
    keys = {}
    for name in ("alice", "bob", "eve"):
        keys[name] = os.path.join(work, name)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", keys[name]], check=True)
    pub = {n: open(k + ".pub").read().strip() for n, k in keys.items()}
    pushers = [{"name": "alice", "key": pub["alice"], "tenants": [TENANT]},
               {"name": "bob", "key": pub["bob"], "tenants": []}]
    start = time.monotonic()
    # The sample app's base image must be in the git host's Docker (built FROM it, nothing pulled).
    if docker_exec("docker", "image", "inspect", BASE_IMAGE).returncode != 0:
        save = subprocess.Popen(["docker", "save", BASE_IMAGE], stdout=subprocess.PIPE)
        res = docker_exec("docker", "load", stdin=save.stdout)
        save.wait()
        assert res.returncode == 0, res.stderr
    # A repository left by an earlier run of this test would not fast-forward.
    docker_exec("rm", "-rf", "/home/git/repos/%s" % TENANT)
    res = tenant_playbook("present")
    assert res.rc == 0, failed_task_messages(res.output)
    res = gitreceive_playbook(pushers)
    assert res.rc == 0, failed_task_messages(res.output)
    timings["setup_seconds"] = round(time.monotonic() - start, 1)
    g = Git(work, keys)
    os.makedirs(g.repo)
    g.run("init", "-q", "-b", "master")
    g.run("remote", "add", "paas-dev", "git@%s:%s/dev/web.git" % (HOST_ADDR, TENANT))
    with open(os.path.join(SECRETS, "tenants", TENANT, "secrets.yml")) as fh:
        g.token = yaml.safe_load(fh)["deploy_token"]
    g.paas = {"tenant": TENANT, "token": g.token, "app": "web", "instances": 1, "cpus": 0.1, "mem": 64,
              "port": 8000, "health_check": "/"}
    g.pushers = pushers
    yield g
    start = time.monotonic()
    res = tenant_playbook("absent")  # already gone unless a test failed before the last one
    shutil.rmtree(work, ignore_errors=True)
    timings["teardown_seconds"] = round(time.monotonic() - start, 1)
    os.makedirs(os.path.dirname(TIMINGS), exist_ok=True)
    with open(TIMINGS, "w") as fh:
        json.dump(timings, fh, indent=2, sort_keys=True)
    assert res.rc == 0, failed_task_messages(res.output)


def write_app(g, content, paas=None, dockerfile=DOCKERFILE):
    g.write("Dockerfile", dockerfile)
    g.write("index.html", content + "\n")
    g.write("paas.yml", yaml.safe_dump(paas if paas is not None else g.paas))


def test_first_push_builds_pushes_and_deploys(git):
    write_app(git, "hello v1")
    git.v1 = git.commit("v1")
    res = git.push()
    timings["first_push_seconds"] = round(res.seconds, 1)
    assert res.returncode == 0, res.output
    for line in ("Created %s/dev/web.git" % TENANT, "Step 1/3 : FROM " + BASE_IMAGE,
                 "Successfully tagged %s/%s/web:git-%s" % (REGISTRY, TENANT, git.v1[:12]),
                 "Pushing %s/%s/web:git-%s" % (REGISTRY, TENANT, git.v1[:12]), "/dev/web is running and healthy"):
        assert line in res.output, res.output
    git.url = printed_url(res.output)
    serves(git.url, "hello v1")
    assert git.remote_master() == git.v1


def test_second_push_serves_the_change(git):
    write_app(git, "hello v2")
    git.v2 = git.commit("v2")
    res = git.push()
    timings["change_push_seconds"] = round(res.seconds, 1)
    assert res.returncode == 0, res.output
    git.url = printed_url(res.output)
    serves(git.url, "hello v2")
    assert git.remote_master() == git.v2
    ca = os.environ.get("PAAS_REGISTRY_CA")
    auth = os.environ.get("PAAS_REGISTRY_PULL_AUTH")
    if REGISTRY and ca and auth:
        out = subprocess.run(["curl", "-fsS", "--cacert", ca, "-u", auth,
                              "https://%s/v2/%s/web/tags/list" % (REGISTRY, TENANT)],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        tags = json.loads(out.stdout)["tags"]
        assert {"git-" + git.v1[:12], "git-" + git.v2[:12]} <= set(tags), tags


def _broken_paas(git, **change):
    doc = dict(git.paas)
    for k, v in change.items():
        if v is None:
            doc.pop(k, None)
        else:
            doc[k] = v
    return doc


REJECTIONS = [
    ("wrong_token", lambda g: write_app(g, "x", _broken_paas(g, token="not-the-token-0123456789")),
     "HEAD:master", "alice", "token: does not match"),
    ("other_tenant_in_paas", lambda g: write_app(g, "x", _broken_paas(g, tenant="globex")),
     "HEAD:master", "alice", "tenant: 'globex' does not match the remote's tenant"),
    ("invalid_paas", lambda g: write_app(g, "x", _broken_paas(g, cpus=-1, mem="lots", replicas=2)),
     "HEAD:master", "alice", "cpus: must be between"),
    ("no_paas", lambda g: (write_app(g, "x"), os.remove(os.path.join(g.repo, "paas.yml"))),
     "HEAD:master", "alice", "paas.yml: the repository has no paas.yml"),
    ("failing_build", lambda g: write_app(g, "x", dockerfile=DOCKERFILE + "RUN exit 3\n"),
     "HEAD:master", "alice", "docker build failed"),
    ("other_branch", lambda g: write_app(g, "x"), "HEAD:feature", "alice", "not deployed: this remote deploys branch"),
    ("key_of_no_tenant", lambda g: write_app(g, "x"), "HEAD:master", "bob", "may not push to tenant 'gitdemo'"),
    ("unregistered_key", lambda g: write_app(g, "x"), "HEAD:master", "eve", "Permission denied"),
]


@pytest.mark.parametrize("case, prepare, refspec, key, message", REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_rejected_push_changes_nothing(git, case, prepare, refspec, key, message):
    prepare(git)
    git.commit(case)
    res = git.push(refspec, key=key)
    timings.setdefault("rejections_seconds", {})[case] = round(res.seconds, 1)
    assert res.returncode != 0, res.output
    assert message in res.output, res.output
    assert "pre-receive hook declined" in res.output or key != "alice"
    assert git.remote_master() == git.v2
    assert git.run("ls-remote", "paas-dev", "refs/heads/feature").stdout == ""
    assert mh.request(git.url, timeout=5).body.strip() == "hello v2"
    git.run("reset", "-q", "--hard", git.v2)


def test_no_shell_and_no_other_command(git):
    for res in (git.ssh(tty=True), git.ssh("sh", "-c", "id"), git.ssh("git-upload-pack", "'globex/dev/web.git'")):
        assert res.returncode != 0
        assert "uid=" not in res.stdout
    assert "not allowed" in git.ssh("sh", "-c", "id").stdout + git.ssh("sh", "-c", "id").stderr


def test_rollback_serves_the_previous_version(git):
    res = git.ssh("rollback", "%s/dev/web" % TENANT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "back from git-%s to git-%s" % (git.v2[:12], git.v1[:12]) in res.stdout + res.stderr
    serves(printed_url("remote: " + (res.stdout + res.stderr).strip().splitlines()[-1]), "hello v1")
    res = git.ssh("rollback", "%s/dev/web" % TENANT, "git-" + git.v2[:12])
    assert res.returncode == 0, res.stdout + res.stderr
    serves(printed_url("remote: " + (res.stdout + res.stderr).strip().splitlines()[-1]), "hello v2")
    assert git.ssh("rollback", "%s/dev/web" % TENANT, "git-0123456789ab").returncode != 0
    assert git.ssh("rollback", "%s/dev/web" % TENANT, key="bob").returncode != 0


def test_removed_tenant_and_pushers_lose_access(git):
    """The tenant removed and the pushers withdrawn: the git host is as converge left it."""
    res = tenant_playbook("absent")
    assert res.rc == 0, failed_task_messages(res.output)
    res = gitreceive_playbook([])
    assert res.rc == 0, failed_task_messages(res.output)
    assert res.changed() > 0
    push = git.push()
    assert push.returncode != 0 and "Permission denied" in push.output, push.output
    assert docker_exec("test", "-e", "/etc/gitreceive/tokens/%s" % TENANT).returncode != 0
