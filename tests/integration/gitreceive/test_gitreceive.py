"""git push to deploy, end to end on the converged site scenario.

The git host is the scenario's `gitreceive` host (agent1: Docker, the registry's CA).
The module fixture adds a small tenant with alice as its pusher (tenant.yml's
tenant_pushers: the tenant's record in ZooKeeper, which the git host reads), and
registers bob on the git host as a pusher of another tenant, otherco
(playbooks/gitreceive.yml's paas_git_pushers); eve is not registered anywhere. A Dockerfile app
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
# The git host's gitreceive_buildpack_image (tests/fixtures/buildpack-builder, built there).
BUILDPACK_IMAGE = os.environ.get("PAAS_BUILDPACK_IMAGE", "")
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


def tenant_playbook(state, pushers=None):
    """tenant.yml for the test's tenant; pushers None leaves tenant_pushers out (the kept list stays)."""
    extra = {"tenant_name": TENANT, "tenant_state": state, "paas_secrets_dir": SECRETS, "tenant_wait_timeout": 300,
             "tenant_cpus": 0.2, "tenant_mem": 256}
    if pushers is not None:
        extra["tenant_pushers"] = list(pushers)
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
    tenant_pushers = [{"name": "alice", "key": pub["alice"]}]
    pushers = [{"name": "bob", "key": pub["bob"], "tenants": ["otherco"]}]
    start = time.monotonic()
    # The sample app's base image must be in the git host's Docker (built FROM it, nothing pulled).
    if docker_exec("docker", "image", "inspect", BASE_IMAGE).returncode != 0:
        save = subprocess.Popen(["docker", "save", BASE_IMAGE], stdout=subprocess.PIPE)
        res = docker_exec("docker", "load", stdin=save.stdout)
        save.wait()
        assert res.returncode == 0, res.stderr
    # A repository left by an earlier run of this test would not fast-forward.
    docker_exec("rm", "-rf", "/home/git/repos/%s" % TENANT)
    res = tenant_playbook("present", tenant_pushers)
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
    g.tenant_pushers = tenant_pushers
    g.pub = pub
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


# paas.yml files the receiver refuses before building: (case, change, words of the message).
INVALID_PAAS = [
    ("cpus_negative", {"cpus": -1}, "cpus: must be between"),
    ("mem_not_a_number", {"mem": "lots"}, "mem: must be"),
    ("unknown_setting", {"replicas": 2}, "replicas: unknown setting"),
    ("instances_negative", {"instances": -1}, "instances: must be between"),
    ("port_too_high", {"port": 70000}, "port: must be between"),
    ("app_not_the_remote", {"app": "other"}, "app: 'other' does not match the remote's app 'web'"),
    ("app_bad_name", {"app": "Web_App"}, "app: 'Web_App' is not an app name"),
    ("no_token", {"token": None}, "token: is required"),
    ("token_not_string", {"token": 12345}, "token: must be a string"),
    ("bad_branch", {"branch": "a..b"}, "branch: 'a..b' is not a branch name"),
    ("env_bad_name", {"env": {"1BAD": "x"}}, "env.1BAD: is not a variable name"),
    ("health_check_relative", {"health_check": "health"}, "health_check.path: must be an HTTP path"),
    ("constraints_bad_operator", {"constraints": [["hostname", "SOMETIMES"]]},
     "constraints[0]: operator 'SOMETIMES' is not one of"),
]


REJECTIONS = [
    ("invalid_paas_" + case, (lambda change: lambda g: write_app(g, "x", _broken_paas(g, **change)))(change),
     "HEAD:master", "alice", words) for case, change, words in INVALID_PAAS
] + [
    ("wrong_token", lambda g: write_app(g, "x", _broken_paas(g, token="not-the-token-0123456789")),
     "HEAD:master", "alice", "token: does not match"),
    ("other_tenant_in_paas", lambda g: write_app(g, "x", _broken_paas(g, tenant="globex")),
     "HEAD:master", "alice", "tenant: 'globex' does not match the remote's tenant"),
    ("not_yaml", lambda g: (write_app(g, "x"), g.write("paas.yml", "tenant: [unclosed\n")),
     "HEAD:master", "alice", "paas.yml: not valid YAML"),
    ("not_a_mapping", lambda g: (write_app(g, "x"), g.write("paas.yml", "- tenant\n")),
     "HEAD:master", "alice", "paas.yml: the file must be a mapping"),
    ("no_paas", lambda g: (write_app(g, "x"), os.remove(os.path.join(g.repo, "paas.yml"))),
     "HEAD:master", "alice", "paas.yml: the repository has no paas.yml"),
    ("failing_build", lambda g: write_app(g, "x", dockerfile=DOCKERFILE + "RUN exit 3\n"),
     "HEAD:master", "alice", "docker build failed"),
    ("other_branch", lambda g: write_app(g, "x"), "HEAD:feature", "alice", "not deployed: this remote deploys branch"),
    ("key_of_another_tenant", lambda g: write_app(g, "x"), "HEAD:master", "bob", "may not push to tenant 'gitdemo'"),
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


def test_tenant_pushers_are_kept_by_tenant_yml(git):
    """tenant.yml adds and removes the tenant's pushers (its record in ZooKeeper): carol
    reads the repository once listed, not before and not after; a re-run is changed=0, and
    so is a run without tenant_pushers, which keeps them."""
    carol_key = os.path.join(git.work, "carol")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "carol", "-f", carol_key], check=True)
    git.keys["carol"] = carol_key
    carol = {"name": "carol", "key": open(carol_key + ".pub").read().strip()}
    assert git.run("ls-remote", "paas-dev", key="carol", check=False).returncode != 0
    res = tenant_playbook("present", git.tenant_pushers + [carol])
    assert res.rc == 0, failed_task_messages(res.output)
    assert res.changed() > 0
    out = git.run("ls-remote", "paas-dev", "refs/heads/master", key="carol").stdout.split()
    assert out[0] == git.v2
    res = tenant_playbook("present", git.tenant_pushers + [carol])
    assert res.rc == 0 and res.changed() == 0, failed_task_messages(res.output)
    res = tenant_playbook("present")
    assert res.rc == 0 and res.changed() == 0, failed_task_messages(res.output)
    assert git.run("ls-remote", "paas-dev", "refs/heads/master", key="carol").stdout.split()[0] == git.v2
    res = tenant_playbook("present", git.tenant_pushers)
    assert res.rc == 0, failed_task_messages(res.output)
    denied = git.run("ls-remote", "paas-dev", key="carol", check=False)
    assert denied.returncode != 0 and "Permission denied" in denied.stderr, denied.stderr
    assert git.remote_master() == git.v2  # alice still reads and pushes


def test_bad_tenant_pushers_fail_before_any_change(git):
    res = tenant_playbook("present", git.tenant_pushers + [{"name": "mallory", "key": "ssh-ed25519 not*base64"},
                                                           {"name": "al ice", "key": git.pub["bob"]}])
    assert res.rc != 0
    messages = "\n".join(failed_task_messages(res.output))
    assert "tenant_pushers[1].key its base64 part does not decode" in messages, messages
    assert "tenant_pushers[2].name 'al ice'" in messages, messages
    assert res.changed() == 0
    assert git.remote_master() == git.v2


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


def test_a_tree_without_dockerfile_is_built_by_the_buildpack_builder(git):
    """No Dockerfile: the builder image's /build runs with the pushed tree in /app, the
    container is committed as the slug image and runs "/start web" (herokuish's interface)."""
    if not BUILDPACK_IMAGE:
        pytest.skip("no buildpack builder configured on the git host (PAAS_BUILDPACK_IMAGE)")
    ctx = os.path.join(ROOT, "tests", "fixtures", "buildpack-builder")
    tar = subprocess.Popen(["tar", "-C", ctx, "-cf", "-", "."], stdout=subprocess.PIPE)
    res = docker_exec("docker", "build", "-q", "-t", BUILDPACK_IMAGE, "-", stdin=tar.stdout)
    tar.stdout.close()
    tar.wait()
    assert res.returncode == 0, res.stderr
    slug = Git(git.work, git.keys)
    slug.repo = os.path.join(git.work, "slug")
    os.makedirs(os.path.join(slug.repo, "public"))
    slug.run("init", "-q", "-b", "master")
    slug.run("remote", "add", "paas-dev", "git@%s:%s/dev/slug.git" % (HOST_ADDR, TENANT))
    slug.write("Procfile", 'web: exec python3 -m http.server "$PORT" --directory /app/public\n')
    slug.write("public/index.html", "slug v1\n")
    slug.write("paas.yml", yaml.safe_dump(dict(git.paas, app="slug")))
    slug.commit("slug v1")
    res = slug.push()
    timings["buildpack_push_seconds"] = round(res.seconds, 1)
    assert res.returncode == 0, res.output
    for line in ("with the buildpack builder %s" % BUILDPACK_IMAGE, "Test buildpack: 3 files in /app",
                 "Procfile web process: exec python3 -m http.server", "/dev/slug is running and healthy"):
        assert line in res.output, res.output
    url = printed_url(res.output)
    serves(url, "slug v1")
    # A tree the builder refuses (no web process) is rejected and the running version stays.
    slug.write("Procfile", "worker: sleep 1000\n")
    slug.commit("no web")
    res = slug.push()
    assert res.returncode != 0 and "the buildpack build failed" in res.output, res.output
    assert "No web process in a Procfile" in res.output, res.output
    serves(url, "slug v1")
    # The builder containers are removed, after a good and after a failed build.
    left = docker_exec("docker", "ps", "-a", "--filter", "name=gitreceive-build-", "--format", "{{.Names}}")
    assert left.returncode == 0 and left.stdout.strip() == b"", left.stdout


# A Dockerfile RUN step that probes the control plane from inside the build: every probe
# prints "<name> <errno>" (0: connected); the build goes on whatever it finds.
PROBE = """import socket
for name, host, port in %r:
    s = socket.socket()
    s.settimeout(3)
    print("PROBE", name, s.connect_ex((host, port)), flush=True)
    s.close()
"""


def test_a_build_cannot_reach_the_control_plane(git):
    """From a Dockerfile RUN step on the git host: ZooKeeper, the Mesos masters and agents
    (this host's own agent too) and Marathon refused; the registry and the push still work."""
    control = os.environ.get("PAAS_SITE_ZK", "172.31.5.11:2181").split(",")[0].split(":")[0]
    agent = os.environ.get("PAAS_SITE_AGENTS", "agent2=172.31.5.22:5051").split(",")[-1].split("=")[1]
    targets = [("zookeeper", control, 2181), ("mesos-master", control, 5050), ("marathon", control, 8080),
               ("other-agent", agent.split(":")[0], 5051), ("own-agent", HOST_ADDR, 5051)]
    registry = REGISTRY.rsplit(":", 1) if REGISTRY else None
    if registry:
        targets.append(("registry", registry[0], int(registry[1])))
    git.write("probe.py", PROBE % (targets,))
    write_app(git, "hello probe", dockerfile=DOCKERFILE.replace(
        "COPY index.html", "COPY probe.py /probe.py\nRUN python3 /probe.py\nCOPY index.html"))
    git.commit("probe")
    res = git.push()
    assert res.returncode == 0, res.output
    found = dict(line.split()[1:3] for line in res.output.splitlines() for line in [line.replace("remote:", "")]
                 if line.strip().startswith("PROBE"))
    assert set(found) == {t[0] for t in targets}, res.output
    for name, _host, _port in targets:
        if name == "registry":
            assert found[name] == "0", "the build could not reach the registry: %s" % found
        else:
            assert found[name] != "0", "a build reached %s: %s" % (name, found)
    serves(printed_url(res.output), "hello probe")
    # The rules survive a restart of Docker (the unit runs again after it).
    assert docker_exec("systemctl", "restart", "docker").returncode == 0
    rules = docker_exec("iptables", "-S", "DOCKER-USER")
    assert b"PAAS-BUILD" in rules.stdout, rules.stdout + rules.stderr
    assert b"PAAS-BUILD" in docker_exec("iptables", "-S", "INPUT").stdout


def test_removed_tenant_and_pushers_lose_access(git):
    """The tenant removed: its pushers lose access at once (its record is gone); the next
    gitreceive run prunes its repositories; bob withdrawn: the git host is as converge left it."""
    res = tenant_playbook("absent")
    assert res.rc == 0, failed_task_messages(res.output)
    push = git.push()
    assert push.returncode != 0 and "Permission denied" in push.output, push.output
    assert docker_exec("test", "-d", "/home/git/repos/%s" % TENANT).returncode == 0
    res = gitreceive_playbook([])
    assert res.rc == 0, failed_task_messages(res.output)
    assert res.changed() > 0
    assert docker_exec("test", "-e", "/home/git/repos/%s" % TENANT).returncode != 0
    assert git.run("ls-remote", "paas-dev", key="bob", check=False).returncode != 0
