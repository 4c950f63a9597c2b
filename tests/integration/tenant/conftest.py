"""Tenants on the converged site scenario: addresses come from its verifier env."""
import os
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(os.path.dirname(HERE))
ROOT = os.environ.get("MOLECULE_PROJECT_DIRECTORY") or os.path.dirname(TESTS)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

# The Marathon release the site runs, packaged as an image (the test's stand-in for
# the private registry's Marathon image, when the scenario does not provide one).
LOCAL_IMAGE = "paas-test/tenant-marathon:1.11.24"
DOCKERFILE = """\
FROM paas-test/debian-systemd:bookworm
ADD marathon-1.11.24.tgz /opt/
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/marathon-1.11.24/bin/marathon"]
"""

def _pairs(name):
    return dict(item.split("=") for item in os.environ[name].split(","))


class TenantSite:
    masters = _pairs("PAAS_SITE_MASTERS")
    marathons = _pairs("PAAS_SITE_MARATHONS")
    agents = _pairs("PAAS_SITE_AGENTS")
    marathon_auth = os.environ.get("PAAS_SITE_MARATHON_AUTH") or None
    operator_auth = os.environ.get("PAAS_SITE_OPERATOR_AUTH") or None
    zk_hosts = os.environ.get("PAAS_SITE_ZK") or ",".join(
        "%s:2181" % addr.split(":")[0] for addr in masters.values())
    zk_superuser = os.environ.get("PAAS_SITE_ZK_SUPERUSER", "")
    # The git hosts' digest user (paas_gitreceive_zk_password), "user:password"; empty: not configured.
    zk_gitreceive = os.environ.get("PAAS_SITE_GITRECEIVE_ZK", "")
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")


def docker_exec(name, *cmd, timeout=120, stdin=None):
    return subprocess.run(["docker", "exec"] + (["-i"] if stdin is not None else []) + [name] + list(cmd),
                          capture_output=True, timeout=timeout, stdin=stdin)


@pytest.fixture(scope="session")
def tsite():
    return TenantSite()


@pytest.fixture(scope="session")
def marathon_image(tsite):
    """None when the scenario's inventory has paas_marathon_image (pushed to its private registry,
    PAAS_MARATHON_IMAGE); else the Marathon release built into a local image (the same recipe) and
    loaded into every agent's Docker engine, passed as paas_marathon_image."""
    if os.environ.get("PAAS_MARATHON_IMAGE"):
        return None
    tar = os.path.join(ROOT, "build", "tenant-marathon-image.tar")
    release = os.path.join(ROOT, "build", "releases", "marathon-1.11.24.tgz")
    stamp = "%s %d" % (release, int(os.path.getmtime(release)))
    if not os.path.exists(tar) or not os.path.exists(tar + ".stamp") or open(tar + ".stamp").read() != stamp:
        with tempfile.TemporaryDirectory() as ctx:
            with open(os.path.join(ctx, "Dockerfile"), "w") as fh:
                fh.write(DOCKERFILE)
            subprocess.run(["cp", release, ctx], check=True)
            res = subprocess.run(["docker", "build", "-q", "-t", LOCAL_IMAGE, ctx], capture_output=True,
                                 text=True, timeout=600)
            assert res.returncode == 0, res.stderr[-2000:]
        subprocess.run(["docker", "save", "-o", tar, LOCAL_IMAGE], check=True, timeout=300)
        with open(tar + ".stamp", "w") as fh:
            fh.write(stamp)
    for agent in tsite.agents:
        if docker_exec(agent, "docker", "image", "inspect", LOCAL_IMAGE).returncode != 0:
            with open(tar, "rb") as fh:
                res = docker_exec(agent, "docker", "load", stdin=fh, timeout=300)
            assert res.returncode == 0, res.stderr
    return LOCAL_IMAGE
