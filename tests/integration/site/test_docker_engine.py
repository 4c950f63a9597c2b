"""The Docker engine on the agents: Debian's pinned docker.io with log rotation."""
import json

import pytest

from paas_testlib.site import docker_exec

AGENTS = ["agent1", "agent2"]


@pytest.mark.parametrize("agent", AGENTS)
def test_engine_runs_with_log_rotation(agent):
    res = docker_exec(agent, "cat", "/etc/docker/daemon.json")
    assert res.returncode == 0
    config = json.loads(res.stdout)
    assert config["log-driver"] == "json-file"
    assert config["log-opts"] == {"max-size": "10m", "max-file": "3"}
    version = docker_exec(agent, "dpkg-query", "-W", "-f", "${Version}", "docker.io").stdout.decode()
    assert version == "20.10.24+dfsg1-1+deb12u1+b6"
    assert docker_exec(agent, "docker", "info", "--format", "{{.LoggingDriver}}").stdout.decode().strip() == "json-file"
