"""Marathon's ZooKeeper usage: the state store (<path>/state) and leader election (<path>/leader-curator).

State encoding (JSON, one znode per entity)::

    <path>/state/framework-id            {"value": "<framework id>"}
    <path>/state/apps/<app id, '/' -> '_'>   {"app": {...}, "versions": [...], "history": {version: app}}
    <path>/state/groups/<group id, '/' -> '_'> {"id", "dependencies", "enforceRole", "version"}
    <path>/state/deployments/<id>        deployment plan
    <path>/state/instances/<task id>     instance (task) record

Leader election is a Curator LeaderLatch: participants create EPHEMERAL_SEQUENTIAL
``_c_<uuid>-latch-<seq>`` znodes under ``<path>/leader-curator`` with their
``host:port`` as data; the lowest sequence leads.
"""
import json
import logging
import threading
import time
import uuid

from standin_common import zk as zkutil

log = logging.getLogger("marathon.zk")


def app_node(app_id):
    return app_id.strip("/").replace("/", "_")


class ZkState:
    def __init__(self, zkurl, conf):
        self.zkurl = zkurl
        self.root = zkurl.path
        self.state_root = zkutil.join(self.root, "state")
        self.client = zkutil.make_client(zkurl, conf.zk_session_timeout / 1000.0)
        if zkurl.auth:
            self.acl = zkutil.acl_creator_all()
            self.latch_acl = zkutil.acl_creator_all() + [a for a in zkutil.acl_world_read_creator_all()
                                                          if a.id.scheme == "world"]
        else:
            self.acl = zkutil.acl_world_all()
            self.latch_acl = zkutil.acl_world_all()
        self.connect_timeout = conf.zk_connection_timeout / 1000.0
        self.listeners = []

    def start(self):
        self.client.add_listener(self._on_state)
        self.client.start(timeout=self.connect_timeout)

    def _on_state(self, state):
        for cb in list(self.listeners):
            try:
                cb(state)
            except Exception:
                log.exception("ZooKeeper state listener failed")

    def stop(self):
        try:
            self.client.stop()
            self.client.close()
        except Exception:
            pass

    def ensure_layout(self):
        # Create missing parents of the --zk path (if we are allowed to), then our own nodes.
        zkutil.ensure_path(self.client, self.root, self.acl)
        for sub in ("state", "state/apps", "state/groups", "state/deployments", "state/instances"):
            zkutil.ensure_path(self.client, zkutil.join(self.root, sub), self.acl)

    # generic ---------------------------------------------------------------
    def _put(self, path, obj):
        from kazoo.exceptions import NoNodeError, NodeExistsError
        data = json.dumps(obj, sort_keys=True).encode("utf-8")
        try:
            self.client.set(path, data)
        except NoNodeError:
            try:
                self.client.create(path, data, acl=self.acl, makepath=False)
            except NodeExistsError:
                self.client.set(path, data)

    def _delete(self, path):
        from kazoo.exceptions import NoNodeError
        try:
            self.client.delete(path, recursive=True)
        except NoNodeError:
            pass

    def _load_dir(self, sub):
        from kazoo.exceptions import NoNodeError
        base = zkutil.join(self.state_root, sub)
        out = {}
        try:
            children = self.client.get_children(base)
        except NoNodeError:
            return out
        for c in children:
            try:
                data, _ = self.client.get(zkutil.join(base, c))
                out[c] = json.loads(data.decode("utf-8"))
            except (NoNodeError, ValueError) as exc:
                log.warning("Skipping unreadable znode %s/%s: %s", base, c, exc)
        return out

    # framework id ------------------------------------------------------------
    def get_framework_id(self):
        from kazoo.exceptions import NoNodeError
        try:
            data, _ = self.client.get(zkutil.join(self.state_root, "framework-id"))
            return json.loads(data.decode("utf-8")).get("value")
        except (NoNodeError, ValueError):
            return None

    def set_framework_id(self, fid):
        self._put(zkutil.join(self.state_root, "framework-id"), {"value": fid})

    # apps ------------------------------------------------------------------------
    def load_apps(self):
        return {rec["app"]["id"]: rec for rec in self._load_dir("apps").values() if "app" in rec}

    def save_app(self, rec):
        self._put(zkutil.join(self.state_root, "apps", app_node(rec["app"]["id"])), rec)

    def delete_app(self, app_id):
        self._delete(zkutil.join(self.state_root, "apps", app_node(app_id)))

    # groups (explicitly created, possibly empty) ----------------------------------
    def load_groups(self):
        return {g["id"]: g for g in self._load_dir("groups").values() if "id" in g}

    def save_group(self, group):
        self._put(zkutil.join(self.state_root, "groups", app_node(group["id"])), group)

    def delete_group(self, group_id):
        self._delete(zkutil.join(self.state_root, "groups", app_node(group_id)))

    # deployments ---------------------------------------------------------------
    def load_deployments(self):
        return {d["id"]: d for d in self._load_dir("deployments").values() if "id" in d}

    def save_deployment(self, dep):
        self._put(zkutil.join(self.state_root, "deployments", dep["id"]), dep)

    def delete_deployment(self, dep_id):
        self._delete(zkutil.join(self.state_root, "deployments", dep_id))

    # instances -------------------------------------------------------------------
    def load_instances(self):
        return {i["taskId"]: i for i in self._load_dir("instances").values() if "taskId" in i}

    def save_instance(self, inst):
        self._put(zkutil.join(self.state_root, "instances", inst["taskId"]), inst)

    def delete_instance(self, task_id):
        self._delete(zkutil.join(self.state_root, "instances", task_id))


class LeaderLatch:
    """Curator LeaderLatch compatible election."""

    def __init__(self, zkstate, participant_id, on_change):
        self.zk = zkstate
        self.client = zkstate.client
        self.path = zkutil.join(zkstate.root, "leader-curator")
        self.participant_id = participant_id
        self.on_change = on_change
        self.my_node = None
        self.is_leader = False
        self.leader_id = None
        self.wake = threading.Event()
        self.stop_event = threading.Event()
        self.suspended = False
        self.lost = False
        self.thread = threading.Thread(target=self._run, name="leader-latch", daemon=True)
        self.last = None
        zkstate.listeners.append(self._on_state)

    def _on_state(self, state):
        from kazoo.protocol.states import KazooState
        if state == KazooState.SUSPENDED:
            self.suspended = True
        elif state == KazooState.LOST:
            self.lost = True
            self.suspended = True
        else:
            self.suspended = False
        self.wake.set()

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_event.set()
        self.wake.set()
        self.abdicate()

    def abdicate(self):
        node = self.my_node
        self.my_node = None
        if node:
            try:
                self.client.delete(zkutil.join(self.path, node))
            except Exception:
                pass

    @staticmethod
    def sequence(name):
        idx = name.rfind("latch-")
        try:
            return int(name[idx + len("latch-"):]) if idx >= 0 else None
        except ValueError:
            return None

    def _watch(self, event):
        self.wake.set()

    def _publish(self, leader, leader_id):
        key = (leader, leader_id)
        if key != self.last:
            self.last = key
            self.is_leader = leader
            self.leader_id = leader_id
            try:
                self.on_change(leader, leader_id)
            except SystemExit:
                raise
            except Exception:
                log.exception("Leadership change handler failed")

    def _run(self):
        while not self.stop_event.is_set():
            try:
                self._step()
            except SystemExit:
                raise
            except Exception as exc:
                log.warning("Leader election step failed: %s", exc)
                self._publish(False, None)
                self.wake.wait(1.0)
            self.wake.wait(1.0)
            self.wake.clear()

    def _step(self):
        from kazoo.exceptions import NoNodeError
        if self.lost:
            self.lost = False
            if self.my_node:
                log.warning("ZooKeeper session lost: abdicating leadership and rejoining the election")
            self.my_node = None
        if self.suspended or not self.client.connected:
            self._publish(False, None)
            return
        zkutil.ensure_path(self.client, self.path, self.zk.latch_acl)
        if self.my_node is not None and not self.client.exists(zkutil.join(self.path, self.my_node)):
            self.my_node = None
        if self.my_node is None and not self.stop_event.is_set():
            created = self.client.create(zkutil.join(self.path, "_c_%s-latch-" % uuid.uuid4()),
                                         self.participant_id.encode("utf-8"), acl=self.zk.latch_acl,
                                         ephemeral=True, sequence=True)
            self.my_node = created.rsplit("/", 1)[1]
            log.info("Joined leader election as %s (%s)", self.my_node, self.participant_id)
        children = self.client.get_children(self.path, watch=self._watch)
        members = sorted((self.sequence(c), c) for c in children if self.sequence(c) is not None)
        if not members:
            self._publish(False, None)
            return
        leader_node = members[0][1]
        try:
            data, _ = self.client.get(zkutil.join(self.path, leader_node))
            leader_id = data.decode("utf-8")
        except NoNodeError:
            self.wake.set()
            return
        self._publish(leader_node == self.my_node, leader_id)


def current_leader(client, root):
    """host:port of the leader from <root>/leader-curator, or None."""
    from kazoo.exceptions import NoNodeError
    path = zkutil.join(root, "leader-curator")
    try:
        children = client.get_children(path)
    except NoNodeError:
        return None
    members = sorted((LeaderLatch.sequence(c), c) for c in children if LeaderLatch.sequence(c) is not None)
    for _, node in members:
        try:
            return client.get(zkutil.join(path, node))[0].decode("utf-8")
        except NoNodeError:
            continue
    return None


def wait_connected(client, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if client.connected:
            return True
        time.sleep(0.1)
    return client.connected
