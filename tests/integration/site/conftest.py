"""The whole-site scenario: addresses come from the scenario's verifier env."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(os.path.dirname(HERE))
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from paas_testlib.site import Site, docker_exec  # noqa: E402


@pytest.fixture(scope="session")
def site():
    return Site()


@pytest.fixture(scope="session")
def app_image(site):
    """The app image in every agent's Docker engine (nothing is pulled from a registry)."""
    root = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.dirname(TESTS))
    tar = os.path.join(root, "build", "site-app-image.tar")
    if not os.path.exists(tar):
        os.makedirs(os.path.dirname(tar), exist_ok=True)
        subprocess.run(["docker", "save", "-o", tar, site.image], check=True, timeout=300)
    for agent in site.agents:
        if docker_exec(agent, "docker", "image", "inspect", site.image).returncode != 0:
            with open(tar, "rb") as fh:
                res = docker_exec(agent, "docker", "load", stdin=fh, timeout=300)
            assert res.returncode == 0, res.stderr
    return site.image
