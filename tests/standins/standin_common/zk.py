"""ZooKeeper URL parsing and kazoo client helpers."""
import logging
import os
import re

log = logging.getLogger(__name__)


class ZkUrlError(ValueError):
    pass


class ZkUrl:
    """zk://[user:pass@]host:port[,host:port...]/path

    ``servers`` is the comma separated host list kazoo expects, ``auth`` is
    ``(user, password)`` or None, ``path`` is the absolute znode path.
    """

    def __init__(self, servers, path, auth=None, raw=None):
        self.servers = servers
        self.path = path
        self.auth = auth
        self.raw = raw

    def masked(self):
        creds = ""
        if self.auth:
            creds = "%s:xxxxxxxx@" % self.auth[0]
        return "zk://%s%s%s" % (creds, self.servers, self.path)

    def __repr__(self):
        return "ZkUrl(%r)" % self.masked()


_HOSTPORT = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.\-]+)(:\d+)?$")


def parse_zk_url(url, allow_per_host_credentials=False):
    """Parse a zk:// URL (Mesos and Marathon syntax).

    Mesos: ``zk://user:pass@h1:p1,h2:p2/path``.
    Marathon additionally accepts credentials per host:
    ``zk://user:pass@h1:p1,user:pass@h2:p2/path`` (all must be equal).
    """
    if url is None:
        raise ZkUrlError("Missing ZooKeeper URL")
    url = url.strip()
    if not url.startswith("zk://"):
        raise ZkUrlError("Expecting 'zk://' at the beginning of the URL")
    rest = url[len("zk://"):]
    slash = rest.find("/")
    if slash < 0:
        hostpart, path = rest, "/"
    else:
        hostpart, path = rest[:slash], rest[slash:]
    if not hostpart:
        raise ZkUrlError("Expecting host(s) in the ZooKeeper URL")
    auth = None
    hosts = []
    for item in hostpart.split(","):
        item = item.strip()
        if "@" in item:
            cred, _, item = item.rpartition("@")
            if ":" not in cred:
                raise ZkUrlError("Expecting 'user:password' credentials in the ZooKeeper URL")
            user, _, pw = cred.partition(":")
            if auth is not None and auth != (user, pw):
                raise ZkUrlError("Conflicting credentials in the ZooKeeper URL")
            if auth is None and hosts and not allow_per_host_credentials:
                raise ZkUrlError("Credentials must precede the first host")
            auth = (user, pw)
        if not item or not _HOSTPORT.match(item):
            raise ZkUrlError("Invalid ZooKeeper host '%s'" % item)
        hosts.append(item)
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/")
    if "//" in path:
        raise ZkUrlError("Invalid ZooKeeper path '%s'" % path)
    return ZkUrl(",".join(hosts), path or "/", auth, url)


def read_url_maybe_file(value):
    """Mesos semantics: ``file:///path`` holds the actual URL."""
    if value is not None and value.startswith("file://"):
        path = value[len("file://"):]
        with open(path) as fh:
            return fh.read().strip()
    return value


# ---------------------------------------------------------------------------
# kazoo helpers (imported lazily so unit tests do not need kazoo).


def make_client(zkurl, timeout_secs, read_only=False):
    from kazoo.client import KazooClient
    from kazoo.retry import KazooRetry

    kwargs = {}
    if zkurl.auth:
        kwargs["auth_data"] = [("digest", "%s:%s" % zkurl.auth)]
    client = KazooClient(
        hosts=zkurl.servers,
        timeout=max(float(timeout_secs), 1.0),
        connection_retry=KazooRetry(max_tries=-1, delay=0.5, backoff=2, max_delay=5),
        command_retry=KazooRetry(max_tries=3, delay=0.3, backoff=2, max_delay=2),
        read_only=read_only,
        **kwargs
    )
    return client


def acl_world_all():
    from kazoo.security import OPEN_ACL_UNSAFE
    return list(OPEN_ACL_UNSAFE)


def acl_creator_all():
    from kazoo.security import CREATOR_ALL_ACL
    return list(CREATOR_ALL_ACL)


def acl_world_read_creator_all():
    from kazoo.security import CREATOR_ALL_ACL, READ_ACL_UNSAFE
    return list(READ_ACL_UNSAFE) + list(CREATOR_ALL_ACL)


def ensure_path(client, path, acl):
    """Create every missing component of ``path`` with ``acl``.

    Components that already exist are left alone (even if their ACL would
    forbid us to create them: we only need them to exist).
    """
    from kazoo.exceptions import NodeExistsError, NoAuthError

    if path in ("", "/"):
        return
    parts = [p for p in path.split("/") if p]
    cur = ""
    for p in parts:
        cur = cur + "/" + p
        try:
            if client.exists(cur):
                continue
        except NoAuthError:
            continue
        try:
            client.create(cur, b"", acl=acl)
        except NodeExistsError:
            pass
        except NoAuthError:
            if not client.exists(cur):
                raise


def join(*parts):
    out = "/".join(p.strip("/") for p in parts if p and p.strip("/"))
    return "/" + out


def split_hostport(value, default_port):
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    else:
        host, port = value, ""
    return host, int(port) if port else default_port


def env_flag(name):
    return os.environ.get(name)
