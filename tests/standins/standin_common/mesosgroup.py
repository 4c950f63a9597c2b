"""The Mesos master ZooKeeper group: contender (masters) and detector (everyone).

Layout (see zookeeper-layout.md): every master creates an EPHEMERAL|SEQUENTIAL
znode ``<path>/json.info_<10 digit sequence>`` whose data is the MasterInfo
JSON. The member with the lowest sequence is the leader. With credentials in
the URL the nodes get ACL world:READ + auth:ALL (creator all), without them
world:ALL.
"""
import json
import logging
import re
import threading
import time

from standin_common import zk as zkutil

log = logging.getLogger(__name__)

MEMBER_RE = re.compile(r"^(json\.info|info)_(\d{10})$")


class GroupState:
    def __init__(self, connected=False, leader=None, leader_node=None, my_node=None, members=0,
                 expired=False):
        self.connected = connected
        self.leader = leader            # MasterInfo dict or None
        self.leader_node = leader_node  # znode name
        self.my_node = my_node          # our znode name (contender only)
        self.members = members          # number of json.info_/info_ members
        self.expired = expired          # our membership was lost (session expiry)

    @property
    def am_leader(self):
        return self.my_node is not None and self.leader_node == self.my_node

    def key(self):
        return (self.connected, self.leader_node, self.my_node, self.members, self.expired,
                json.dumps(self.leader, sort_keys=True) if self.leader else None)


def sort_members(children):
    members = []
    for c in children:
        m = MEMBER_RE.match(c)
        if m:
            members.append((int(m.group(2)), c))
    members.sort()
    return [c for _, c in members]


class MasterGroup:
    """Contends (when ``info_fn`` is given) and detects the leading master."""

    def __init__(self, zkurl, session_timeout_secs, on_change, info_fn=None, name="zk-group"):
        self.zkurl = zkurl
        self.path = zkurl.path
        self.session_timeout = float(session_timeout_secs)
        self.on_change = on_change
        self.info_fn = info_fn
        self.client = zkutil.make_client(zkurl, session_timeout_secs)
        self.acl = zkutil.acl_world_read_creator_all() if zkurl.auth else zkutil.acl_world_all()
        self.wake = threading.Event()
        self.stop_event = threading.Event()
        self.my_node = None
        self.suspended_since = None
        self.session_lost = False
        self.last_key = None
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.name = name

    # kazoo callbacks -------------------------------------------------------
    def _listener(self, state):
        from kazoo.protocol.states import KazooState
        if state == KazooState.SUSPENDED:
            if self.suspended_since is None:
                self.suspended_since = time.monotonic()
            log.warning("Disconnected from ZooKeeper (%s)", self.zkurl.servers)
        elif state == KazooState.LOST:
            log.warning("ZooKeeper session expired")
            self.session_lost = True
            self.suspended_since = None
        else:
            if self.suspended_since is not None:
                log.info("Reconnected to ZooKeeper")
            self.suspended_since = None
        self.wake.set()

    def _children_watch(self, event):
        self.wake.set()

    # lifecycle ---------------------------------------------------------------
    def start(self):
        self.client.add_listener(self._listener)
        self.client.start_async()
        self.thread.start()

    def stop(self):
        self.stop_event.set()
        self.wake.set()
        try:
            if self.my_node:
                try:
                    self.client.delete(zkutil.join(self.path, self.my_node))
                except Exception:
                    pass
            self.client.stop()
            self.client.close()
        except Exception:
            pass

    def _publish(self, state):
        k = state.key()
        if k != self.last_key:
            self.last_key = k
            try:
                self.on_change(state)
            except SystemExit:
                raise
            except Exception:
                log.exception("Group change handler failed")

    def _run(self):
        while not self.stop_event.is_set():
            try:
                self._step()
            except SystemExit:
                raise
            except Exception as exc:
                log.warning("ZooKeeper group operation failed: %s", exc)
                self.wake.wait(1.0)
            self.wake.wait(1.0)
            self.wake.clear()

    def _step(self):
        from kazoo.exceptions import NoNodeError

        expired = False
        if self.session_lost:
            self.session_lost = False
            if self.my_node is not None:
                expired = True
                self.my_node = None
        if self.suspended_since is not None and time.monotonic() - self.suspended_since > self.session_timeout:
            # Mesos explicitly times out sessions that stay disconnected.
            if self.my_node is not None:
                expired = True
                self.my_node = None
        if not self.client.connected:
            if (not expired and self.suspended_since is not None
                    and time.monotonic() - self.suspended_since <= self.session_timeout):
                # A short disconnection (kazoo moving to another server) changes nothing: the
                # detector reports "no leading master" only when it times out after
                # --zk_session_timeout (high-availability.md, "Component Disconnection Handling").
                return
            self._publish(GroupState(connected=False, expired=expired))
            return
        if expired:
            # Let the owner react (a leader aborts) before re-contending.
            self._publish(GroupState(connected=True, expired=True))
        zkutil.ensure_path(self.client, self.path, self.acl)
        if self.info_fn is not None:
            if self.my_node is not None and not self.client.exists(zkutil.join(self.path, self.my_node)):
                log.warning("Our group membership %s disappeared", self.my_node)
                self.my_node = None
                self._publish(GroupState(connected=True, expired=True))
            if self.my_node is None:
                data = json.dumps(self.info_fn()).encode()
                created = self.client.create(zkutil.join(self.path, "json.info_"), data, acl=self.acl,
                                             ephemeral=True, sequence=True)
                self.my_node = created.rsplit("/", 1)[1]
                log.info("Created ZooKeeper group membership %s", created)
        children = self.client.get_children(self.path, watch=self._children_watch)
        members = sort_members(children)
        leader = None
        leader_node = None
        if members:
            leader_node = members[0]
            try:
                data, _ = self.client.get(zkutil.join(self.path, leader_node))
                if leader_node.startswith("json.info"):
                    leader = json.loads(data.decode("utf-8"))
                else:
                    leader = None
            except NoNodeError:
                self.wake.set()
                return
            except ValueError:
                log.warning("Failed to parse MasterInfo in %s", leader_node)
                leader = None
        self._publish(GroupState(connected=True, leader=leader, leader_node=leader_node,
                                 my_node=self.my_node, members=len(members)))


class StaticDetector:
    """--master=host:port (no ZooKeeper)."""

    def __init__(self, host, port, on_change):
        self.info = {"hostname": host, "port": port, "address": {"hostname": host, "ip": host, "port": port}}
        self.on_change = on_change

    def start(self):
        self.on_change(GroupState(connected=True, leader=self.info, leader_node="static", members=1))

    def stop(self):
        pass


def leader_url(info):
    """http://ip:port of a MasterInfo (address.ip preferred, like the Mesos CLI)."""
    if not info:
        return None
    addr = info.get("address") or {}
    host = addr.get("ip") or addr.get("hostname") or info.get("hostname")
    port = addr.get("port") or info.get("port") or 5050
    if not host and info.get("ip") is not None:
        import socket
        import struct
        host = socket.inet_ntoa(struct.pack("<I", int(info["ip"])))
    return "http://%s:%d" % (host, int(port))
