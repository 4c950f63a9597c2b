"""One server from a release archive (local file, checksum verified)."""
import os

import testinfra.utils.ansible_runner

from paas_testlib import zk as zkprobe
from paas_testlib.ansible_run import run_playbook

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("zookeeper")
ADDRESS = os.environ["PAAS_ZK_ADDRESS"]


def test_installed_from_the_archive(host):
    link = host.file("/opt/zookeeper")
    assert link.is_symlink and link.linked_to == "/opt/apache-zookeeper-3.8.4-bin"
    assert host.file("/opt/apache-zookeeper-3.8.4-bin/lib/zookeeper-3.8.4.jar").exists
    assert not host.package("zookeeper").is_installed
    assert host.package("openjdk-17-jre-headless").is_installed


def test_runs_under_systemd_as_its_own_user(host):
    assert host.service("zookeeper").is_enabled and host.service("zookeeper").is_running
    procs = [p for p in host.process.filter(comm="java") if "QuorumPeerMain" in p.args]
    assert len(procs) == 1 and procs[0].user == "zookeeper"
    assert "-Xmx128m" in procs[0].args
    assert "/opt/zookeeper/lib/*" in procs[0].args


def test_standalone_and_healthy(host):
    assert zkprobe.four_letter_word(ADDRESS, "ruok") == "imok"
    assert zkprobe.mode(ADDRESS) == "standalone"
    assert "Zookeeper version: 3.8.4" in zkprobe.four_letter_word(ADDRESS, "srvr")
    assert "zk_server_state\tstandalone" in zkprobe.four_letter_word(ADDRESS, "mntr")


def test_transaction_log_in_its_own_directory(host):
    assert host.file("/var/lib/zookeeper-txlog/version-2").is_directory
    assert host.file("/var/lib/zookeeper/myid").content_string.strip() == "7"


def test_superuser_digest_not_configured_by_default(host):
    env = host.file("/etc/default/zookeeper")
    assert env.mode == 0o640
    assert "superDigest" not in env.content_string


def test_a_wrong_checksum_fails_before_unpacking(host):
    """The archive is verified: a wrong checksum stops the run and leaves the install alone."""
    run = run_playbook(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml"),
                       inventory=os.environ["MOLECULE_INVENTORY_FILE"],
                       extra_vars={"zookeeper_archive_version": "3.8.99",
                                   "zookeeper_archive_checksum": "sha256:" + "0" * 64})
    assert run.rc != 0
    assert "Verify the copied tarball" in run.output
    assert not host.file("/opt/apache-zookeeper-3.8.99-bin").exists
    assert host.file("/opt/zookeeper").linked_to == "/opt/apache-zookeeper-3.8.4-bin"
    assert host.service("zookeeper").is_running
