"""The private Docker registry of the site scenario: TLS with the generated CA,
htpasswd auth (anonymous and wrong passwords refused), the tenant Marathon image
in the catalog, agents pulling it with their credentials, and a Marathon app
running from it.

Self-contained (no conftest: the site tests' conftest module keeps its name).
Addresses and credentials come from the scenario's verifier env."""
import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from paas_testlib import mesos as mh  # noqa: E402

REGISTRY = os.environ.get("PAAS_REGISTRY", "")
CA = os.environ.get("PAAS_REGISTRY_CA", "")
PULL_AUTH = os.environ.get("PAAS_REGISTRY_PULL_AUTH", "")
IMAGE = os.environ.get("PAAS_MARATHON_IMAGE", "")
AGENTS = dict(item.split("=") for item in os.environ.get("PAAS_SITE_AGENTS", "").split(",") if "=" in item)
MARATHONS = [item.split("=")[1] for item in os.environ.get("PAAS_SITE_MARATHONS", "").split(",") if "=" in item]
MARATHON_AUTH = os.environ.get("PAAS_SITE_MARATHON_AUTH") or None

pytestmark = pytest.mark.skipif(not (REGISTRY and CA and IMAGE), reason="no registry in this scenario")

REPOSITORY = IMAGE.split("/", 1)[-1].rsplit(":", 1)[0]
TAG = IMAGE.rsplit(":", 1)[-1]
# The agent that did not build the image (the first one did): it has to pull.
PULL_AGENT = sorted(AGENTS)[-1] if AGENTS else None


def get(path, auth=None, method="GET", cafile=CA):
    """(status, body, headers) of an HTTPS request to the registry, verified with cafile."""
    req = urllib.request.Request("https://%s%s" % (REGISTRY, path), method=method)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    ctx = ssl.create_default_context(cafile=cafile)
    try:
        with urllib.request.urlopen(req, timeout=15, context=ctx) as resp:
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace"), dict(err.headers or {})


def docker_exec(name, *cmd, timeout=300):
    return subprocess.run(["docker", "exec", name] + list(cmd), capture_output=True, text=True, timeout=timeout)


def test_anonymous_requests_are_refused():
    status, _, headers = get("/v2/_catalog")
    assert status == 401
    assert headers.get("Www-Authenticate", headers.get("WWW-Authenticate", "")).startswith("Basic ")
    # an anonymous push starts with an upload: refused too
    assert get("/v2/%s/blobs/uploads/" % REPOSITORY, method="POST")[0] == 401


def test_a_wrong_password_is_refused():
    user = PULL_AUTH.split(":", 1)[0]
    assert get("/v2/_catalog", auth=user + ":not-the-password")[0] == 401
    assert get("/v2/_catalog", auth="nobody:" + PULL_AUTH.split(":", 1)[1])[0] == 401


def test_catalog_lists_the_marathon_image():
    status, body, _ = get("/v2/_catalog", auth=PULL_AUTH)
    assert status == 200, body
    assert REPOSITORY in json.loads(body)["repositories"]
    status, body, _ = get("/v2/%s/tags/list" % REPOSITORY, auth=PULL_AUTH)
    assert status == 200 and TAG in json.loads(body)["tags"]


def test_tls_is_verified_with_the_generated_ca_and_fails_without():
    host, port = REGISTRY.rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=CA)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            cert = tls.getpeercert()
    assert ("IP Address", host) in cert["subjectAltName"]
    with pytest.raises(urllib.error.URLError) as err:
        get("/v2/", cafile=None)
    assert isinstance(err.value.reason, ssl.SSLCertVerificationError)


def test_an_agent_pulls_the_image_with_its_credentials():
    agent = PULL_AGENT
    ca = docker_exec(agent, "cat", "/etc/docker/certs.d/%s/ca.crt" % REGISTRY)
    assert ca.returncode == 0 and ca.stdout.strip() == open(CA).read().strip()
    # without credentials the agent's engine is refused
    docker_exec(agent, "docker", "image", "rm", IMAGE)
    anon = docker_exec(agent, "docker", "--config", "/nonexistent", "pull", IMAGE)
    assert anon.returncode != 0 and ("no basic auth credentials" in anon.stderr or "unauthorized" in anon.stderr)
    # root's CLI configuration (what the Mesos agent's Docker containerizer uses) has the puller's
    start = time.monotonic()
    res = docker_exec(agent, "docker", "pull", IMAGE)
    assert res.returncode == 0, res.stderr
    print("pull of %s on %s: %.1f s" % (IMAGE, agent, time.monotonic() - start))
    inspect = json.loads(docker_exec(agent, "docker", "image", "inspect", IMAGE).stdout)[0]
    assert inspect["Config"]["Entrypoint"] == ["/opt/marathon-%s/bin/marathon" % TAG]
    version = docker_exec(agent, "docker", "run", "--rm", IMAGE, "--version")
    assert version.returncode == 0 and TAG in version.stdout


def _marathon(path, method="GET", body=None):
    res = None
    for addr in MARATHONS:
        res = mh.request("http://%s%s" % (addr, path), method=method, body=body, auth=MARATHON_AUTH,
                         timeout=15, follow=True)
        if res.status and res.status < 500:
            return res
    return res


def test_a_marathon_app_runs_from_the_private_image():
    """Central Marathon runs an app from the image; forcePullImage makes the agent's
    Docker containerizer pull it with root's credentials."""
    app_id = "/registry-test/marathon-image"
    app = {
        "id": app_id, "instances": 1, "cpus": 0.1, "mem": 64,
        "cmd": "cd /opt && exec python3 -m http.server $PORT0",
        "portDefinitions": [{"port": 0}],
        "container": {"type": "DOCKER", "docker": {"image": IMAGE, "forcePullImage": True, "network": "HOST"}},
        "constraints": [["hostname", "CLUSTER", AGENTS[PULL_AGENT].split(":")[0]]],
    }
    if _marathon("/v2/apps%s" % app_id).status == 200:  # a leftover of an interrupted run
        _marathon("/v2/apps%s?force=true" % app_id, method="DELETE")
        mh.wait_for(lambda: _marathon("/v2/apps%s" % app_id).status == 404, 60, message="the old app gone")
    res = _marathon("/v2/apps", method="POST", body=app)
    assert res.status in (200, 201), res.body
    try:
        def running():
            got = _marathon("/v2/apps%s" % app_id)
            tasks = [t for t in (got.json or {}).get("app", {}).get("tasks", []) if t.get("state") == "TASK_RUNNING"]
            return tasks[0] if got.status == 200 and tasks else None
        task = mh.wait_for(running, 180, interval=2, message="the app from %s running" % IMAGE)
        page = mh.wait_for(lambda: mh.request("http://%s:%s/" % (task["host"], task["ports"][0]), timeout=5).body,
                           60, message="the app answering")
        assert "marathon-%s" % TAG in page
    finally:
        _marathon("/v2/apps%s?force=true" % app_id, method="DELETE")
