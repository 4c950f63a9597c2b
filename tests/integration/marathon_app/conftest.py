"""Self-contained: a private ZooKeeper, a Mesos master + agent and a Marathon stand-in,
all on loopback ports of this machine (tests/paas_testlib/standin_stack.py). Skips when
ZooKeeper (Debian package ``zookeeper``) is not installed or cannot be started."""
import pytest

from paas_testlib.standin_stack import StackError, StandinStack, zookeeper_classpath

CREDENTIALS = ("ops", "marathon-itest-pw")


def _stack(tmp_path_factory, marathons):
    if zookeeper_classpath() is None:
        pytest.skip("ZooKeeper is not installed (apt-get install zookeeper)")
    tmp = str(tmp_path_factory.mktemp("marathon-stack"))
    s = StandinStack(tmp, marathons=marathons, credentials="%s:%s" % CREDENTIALS)
    try:
        s.start()
    except StackError as exc:
        s.stop()
        if "ZooKeeper" in str(exc):
            pytest.skip("ZooKeeper could not be started: %s" % str(exc)[:300])
        raise
    return s


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One Marathon."""
    s = _stack(tmp_path_factory, 1)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def ha_stack(tmp_path_factory):
    """Two Marathons (leader + standby) sharing one ZooKeeper state."""
    s = _stack(tmp_path_factory, 2)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def auth():
    return {"username": CREDENTIALS[0], "password": CREDENTIALS[1]}
