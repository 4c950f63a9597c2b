import os
import uuid

import pytest
from kazoo.client import KazooClient


@pytest.fixture(scope="session")
def zk_hosts():
    hosts = os.environ.get("PAAS_ZK_HOSTS")
    if not hosts:
        pytest.fail("PAAS_ZK_HOSTS is not set: these tests need a real ZooKeeper ensemble "
                    "(the molecule zookeeper-cluster scenario sets it)")
    return hosts


@pytest.fixture(scope="session")
def superuser():
    """'super:password' of the ensemble's digest superuser, when it has one."""
    return os.environ.get("PAAS_ZK_SUPERUSER")


@pytest.fixture
def zk(zk_hosts, superuser):
    """A kazoo client with superuser rights (to inspect and clean up)."""
    auth = [("digest", superuser)] if superuser else []
    client = KazooClient(hosts=zk_hosts, auth_data=auth, timeout=10)
    client.start(timeout=15)
    try:
        yield client
    finally:
        client.stop()
        client.close()


@pytest.fixture
def base(zk):
    """A fresh, unique path for one test; removed afterwards."""
    zk.ensure_path("/itest")
    path = "/itest/%s" % uuid.uuid4().hex[:10]
    yield path
    if zk.exists(path):
        zk.delete(path, recursive=True)
