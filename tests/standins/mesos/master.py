"""The Mesos master stand-in.

State is held in memory (like a freshly elected master before agents and
frameworks re-register). See README.md for the internal master<->agent
protocol.
"""
import base64
import collections
import concurrent.futures
import json
import logging
import os
import queue
import threading
import time
import uuid

from standin_common import httpd
from standin_common.httpd import HTTPError

from . import BUILD_DATE, BUILD_TIME, BUILD_USER, GIT_TAG, VERSION
from . import acls
from .net import ip_to_uint32
from .resources import Resources, ResourceError, attributes_v0, normalize_json_resource

log = logging.getLogger("master")

TERMINAL_STATES = {
    "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED",
    "TASK_GONE", "TASK_GONE_BY_OPERATOR",
}
HEARTBEAT_INTERVAL = 15.0
DEFAULT_REFUSE_SECONDS = 5.0
TASK_COUNTER_STATES = [
    "TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_FINISHED", "TASK_KILLED",
    "TASK_FAILED", "TASK_LOST", "TASK_ERROR", "TASK_UNREACHABLE", "TASK_DROPPED", "TASK_GONE",
    "TASK_GONE_BY_OPERATOR",
]


def now():
    return time.time()


# The body of libprocess' ``process::http::Forbidden()`` (3rdparty/libprocess/include/process/http.hpp).
FORBIDDEN_BODY = "403 Forbidden."


def forbidden(body=FORBIDDEN_BODY):
    return HTTPError(403, body)


def framework_roles(fi):
    """protobuf::framework::getRoles: ``roles`` of a MULTI_ROLE framework, else ``{role}`` ("*" by default)."""
    caps = {c.get("type") for c in fi.get("capabilities", []) if isinstance(c, dict)}
    if "MULTI_ROLE" in caps:
        return sorted(set(fi.get("roles") or []))
    return [fi.get("role") or "*"]


def stringify_set(values):
    """stout's stringify(std::set<std::string>)."""
    return "{ " + ", ".join(sorted(values)) + " }"


def register_framework_object(fi):
    """ActionObject::frameworkRegistration printed (src/master/authorization.cpp)."""
    return "register framework %s with roles %s" % (_val(fi.get("id")) or "", stringify_set(framework_roles(fi)))


def task_user(ti, fi):
    """RUN_TASK object: TaskInfo.command.user, else TaskInfo.executor.command.user, else FrameworkInfo.user."""
    cmd = ti.get("command") or {}
    if cmd.get("user") is not None:
        return cmd["user"]
    ecmd = (ti.get("executor") or {}).get("command") or {}
    if ecmd.get("user") is not None:
        return ecmd["user"]
    return fi.get("user")


def launch_task_object(ti, fi):
    return "launch task %s of framework %s under user '%s'" % (
        _val(ti.get("task_id")) or "", _val(fi.get("id")) or "", task_user(ti, fi) or "")


def reservation_roles(resources):
    """The unique reservation roles of RESERVE resources (ActionObject::reserve, getReservationRole)."""
    out = []
    for r in resources or []:
        reservations = r.get("reservations") or []
        if reservations:
            role = reservations[-1].get("role") or "*"
        else:
            role = r.get("role") or "*"       # pre-reservation-refinement format
        if role not in out:
            out.append(role)
    return out


def unreserve_principals(resources):
    """UNRESERVE objects (ActionObject::unreserve): the reserver principal of each resource,
    plus one ANY object (None) if some reservation carries no principal."""
    out = []
    without = False
    for r in resources or []:
        reservations = r.get("reservations") or []
        if reservations:
            principal = reservations[-1].get("principal")
        else:
            principal = (r.get("reservation") or {}).get("principal")
        if principal is not None:
            out.append(principal)
        else:
            without = True
    if without:
        out.append(None)
    return out


def ns(t):
    return {"nanoseconds": int(t * 1e9)} if t else None


def new_uuid_b64():
    return base64.b64encode(uuid.uuid4().bytes).decode()


def _id(value):
    return {"value": value}


def _val(obj, default=None):
    if isinstance(obj, dict):
        return obj.get("value", default)
    return obj if obj is not None else default


class EventStream:
    def __init__(self):
        self.id = str(uuid.uuid4())
        self.queue = queue.Queue()
        self.closed = threading.Event()

    def send(self, event):
        if not self.closed.is_set():
            self.queue.put(event)

    def close(self):
        self.closed.set()
        self.queue.put(None)


class TaskRec:
    def __init__(self, info, framework_id, agent_id, state="TASK_STAGING"):
        self.info = info
        self.task_id = _val(info.get("task_id"))
        self.name = info.get("name", "")
        self.framework_id = framework_id
        self.agent_id = agent_id
        self.resources = [normalize_json_resource(r) for r in info.get("resources", [])]
        self.state = state
        self.statuses = []
        self.status_update_uuid = None
        self.kill_reason = None  # set when the master asked the agent to kill (drain/gone)
        self.unreachable_time = None

    def latest_status(self):
        return self.statuses[-1] if self.statuses else None

    def res(self):
        return Resources(self.resources)


class AgentRec:
    def __init__(self, agent_id, info, url, version, capabilities):
        self.id = agent_id
        self.info = info
        self.url = url
        self.version = version
        self.capabilities = capabilities or []
        self.total = Resources(info.get("resources", []))
        self.registered_time = now()
        self.reregistered_time = None
        self.state = "registered"   # registered | unreachable
        self.deactivated = False
        self.drain = None           # {"state": ..., "config": {...}}
        self.tasks = {}             # task_id -> TaskRec
        self.missed_pings = 0
        self.next_ping = now()
        self.ping_in_flight = False
        self.unreachable_time = None

    @property
    def active(self):
        return self.state == "registered" and not self.deactivated

    @property
    def hostname(self):
        return self.info.get("hostname")

    def pid(self):
        hp = self.url.split("//", 1)[-1]
        return "slave(1)@%s" % hp

    def used(self):
        r = Resources()
        for t in self.tasks.values():
            if t.state not in TERMINAL_STATES:
                r = r + t.res()
        return r


class FrameworkRec:
    def __init__(self, fid, info):
        self.id = fid
        self.info = dict(info)
        self.info["id"] = _id(fid)
        self.stream = None
        self.connected = False
        self.active = False
        self.recovered = False
        self.registered_time = now()
        self.reregistered_time = None
        self.unregistered_time = None
        self.disconnected_at = None
        self.tasks = {}              # task_id -> TaskRec
        self.unreachable_tasks = {}  # task_id -> TaskRec
        self.completed_tasks = collections.deque(maxlen=1000)
        self.offers = set()
        self.kill_on_reregister = set()
        self.filters = {}            # agent_id -> (expiry, Resources)
        self.suppressed = False

    @property
    def name(self):
        return self.info.get("name", "")

    def roles(self):
        caps = self.capabilities()
        if "MULTI_ROLE" in caps and self.info.get("roles"):
            return list(self.info["roles"])
        return [self.info.get("role") or "*"]

    def capabilities(self):
        return {c.get("type") for c in self.info.get("capabilities", []) if isinstance(c, dict)}

    @property
    def partition_aware(self):
        return "PARTITION_AWARE" in self.capabilities()

    def failover_timeout(self):
        try:
            return float(self.info.get("failover_timeout", 0) or 0)
        except (TypeError, ValueError):
            return 0.0


class Offer:
    def __init__(self, oid, framework_id, agent_id, resources, role):
        self.id = oid
        self.framework_id = framework_id
        self.agent_id = agent_id
        self.resources = resources
        self.role = role
        self.created = now()


class Master:
    def __init__(self, flags, address, credentials, zkurl=None):
        self.flags = flags
        self.addr = address
        self.credentials = credentials or {}
        self.zkurl = zkurl
        # --acls (src/master/main.cpp): no flag, no authorizer: everything is authorized.
        self.authorizer = acls.create(flags.get("acls"))
        self.id = str(uuid.uuid4())
        self.lock = threading.RLock()
        self.start_time = now()
        self.elected_time = None
        self.serving = False
        self.group = None
        self.group_state = None
        self.leading_node = None  # our group membership while we lead (or led and got disconnected)
        self.leader_info = None
        self.agents = {}
        self.unreachable_agents = {}
        self.gone_agents = set()
        self.frameworks = {}
        self.completed_frameworks = collections.deque(maxlen=max(1, int(flags.max_completed_frameworks)))
        self.offers = {}
        self.quotas = {}
        self.weights = {}
        self.operator_streams = set()
        self.fw_counter = 0
        self.agent_counter = 0
        self.offer_counter = 0
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="master-rpc")
        self.stop_event = threading.Event()
        self.counters = collections.Counter()
        self.quorum = int(flags.quorum) if flags.get("quorum") is not None else 1
        self.ping_timeout = flags.agent_ping_timeout.secs
        self.max_pings = int(flags.max_agent_ping_timeouts)
        self.min_allocatable = self._parse_min_allocatable(flags.min_allocatable_resources)
        self.role_whitelist = None
        if flags.get("roles"):
            self.role_whitelist = {r.strip() for r in flags.roles.split(",") if r.strip()}
        if flags.get("weights"):
            for item in flags.weights.split(","):
                if "=" in item:
                    role, _, w = item.partition("=")
                    try:
                        self.weights[role.strip()] = float(w)
                    except ValueError:
                        pass
        self.info = {
            "id": self.id,
            "ip": ip_to_uint32(address.advertise_ip),
            "port": address.advertise_port,
            "pid": "master@%s:%d" % (address.advertise_ip, address.advertise_port),
            "hostname": address.hostname,
            "version": VERSION,
            "address": {"hostname": address.hostname, "ip": address.advertise_ip,
                        "port": address.advertise_port},
            "capabilities": [{"type": "AGENT_UPDATE"}, {"type": "AGENT_DRAINING"}, {"type": "QUOTA_V2"}],
        }
        if flags.get("domain"):
            self.info["domain"] = flags.domain

    # ------------------------------------------------------------------
    # authorization (src/authorizer/local/authorizer.cpp via acls.py)

    def authorized(self, action, subject, value=None):
        if self.authorizer is None:
            return True
        return self.authorizer.authorized(action, subject, value)

    def framework_may_register(self, fi):
        """REGISTER_FRAMEWORK for FrameworkInfo ``fi``; the subject is FrameworkInfo.principal
        (Framework::createObjectApprovers in src/master/framework.cpp)."""
        if self.authorizer is None:
            return True
        return self.authorizer.authorized_roles("register_frameworks", fi.get("principal"), framework_roles(fi))

    # ------------------------------------------------------------------
    # lifecycle

    def start(self, group=None):
        self.group = group
        for target, name in ((self._allocator_loop, "allocator"), (self._pinger_loop, "agent-pinger"),
                             (self._housekeeping_loop, "housekeeping")):
            threading.Thread(target=target, name=name, daemon=True).start()
        if group is None:
            # Standalone: this master is the leader.
            with self.lock:
                self.leader_info = self.info
                self._become_serving()
        else:
            group.start()

    def stop(self):
        self.stop_event.set()
        with self.lock:
            for fw in self.frameworks.values():
                if fw.stream:
                    fw.stream.close()
        if self.group:
            self.group.stop()

    def _parse_min_allocatable(self, text):
        out = []
        if not text:
            return out
        for alternative in text.split("|"):
            req = {}
            for item in alternative.split(";"):
                if ":" in item:
                    name, _, v = item.partition(":")
                    try:
                        req[name.strip()] = float(v)
                    except ValueError:
                        pass
            if req:
                out.append(req)
        return out

    # ------------------------------------------------------------------
    # election

    def on_group_change(self, st):
        with self.lock:
            self.group_state = st
            if st.expired and self.leading_node is not None:
                # high-availability.md: a leader disconnected from ZooKeeper (session expired) aborts.
                log.error("Lost leadership... committing suicide!")
                logging.shutdown()
                os._exit(1)
            if st.connected and st.my_node is not None and not st.am_leader:
                self.leading_node = None
            quorum_ok = st.connected and st.members >= self.quorum
            self.leader_info = st.leader if quorum_ok else None
            should_serve = bool(st.connected and st.am_leader and quorum_ok)
            if st.connected and st.am_leader and not quorum_ok:
                log.warning("Elected as the leading master candidate but only %d of the required %d "
                            "(--quorum) masters are in the group: not serving", st.members, self.quorum)
            if should_serve and not self.serving:
                log.info("Elected as the leading master!")
                self.leading_node = st.my_node
                self._become_serving()
            elif not should_serve and self.serving:
                log.warning("No longer the serving leader (connected=%s, leader=%s, members=%d)",
                            st.connected, st.leader_node, st.members)
                self._step_down()
            if self.leader_info and not self.serving:
                log.info("The newly elected leader is %s with id %s", self.leader_info.get("pid"),
                         self.leader_info.get("id"))

    def _become_serving(self):
        self.serving = True
        self.elected_time = now()
        self.agents.clear()
        self.unreachable_agents.clear()
        self.frameworks.clear()
        self.offers.clear()
        log.info("Recovered 0 agents from the registry; allowing %s for agents to reregister",
                 self.flags.agent_reregister_timeout)

    def _step_down(self):
        self.serving = False
        self.elected_time = None
        for fw in list(self.frameworks.values()):
            if fw.stream:
                fw.stream.send({"type": "ERROR", "error": {"message": "Master is no longer the leader"}})
                fw.stream.close()
        for s in list(self.operator_streams):
            s.close()
        self.frameworks.clear()
        self.agents.clear()
        self.offers.clear()

    def elected(self):
        return self.serving

    def in_reregistration_window(self):
        return self.elected_time is not None and \
            now() - self.elected_time < self.flags.agent_reregister_timeout.secs

    # ------------------------------------------------------------------
    # event helpers

    def _send(self, fw, event):
        if fw.stream is not None and fw.connected:
            fw.stream.send(event)

    def _operator_event(self, event):
        for s in list(self.operator_streams):
            s.send(event)

    def _status(self, task, state, message=None, reason=None, source="SOURCE_MASTER", healthy=None, uuid_=True):
        st = {
            "task_id": _id(task.task_id),
            "state": state,
            "agent_id": _id(task.agent_id),
            "timestamp": now(),
            "source": source,
        }
        if uuid_:
            st["uuid"] = new_uuid_b64()
        if message:
            st["message"] = message
        if reason:
            st["reason"] = reason
        if healthy is not None:
            st["healthy"] = healthy
        return st

    def _forward(self, fw, status):
        if fw is None:
            return
        self._send(fw, {"type": "UPDATE", "update": {"status": status}})

    def _apply_status(self, task, status):
        """Record a status on a task and do the bookkeeping for terminal states."""
        task.state = status["state"]
        task.statuses.append(status)
        if len(task.statuses) > 20:
            task.statuses = task.statuses[-20:]
        if status.get("uuid"):
            task.status_update_uuid = status["uuid"]
        self.counters[status["state"]] += 1
        fw = self.frameworks.get(task.framework_id)
        self._operator_event({"type": "TASK_UPDATED", "task_updated": {
            "framework_id": _id(task.framework_id), "agent_id": _id(task.agent_id),
            "state": task.state, "status": status}})
        if task.state in TERMINAL_STATES:
            agent = self.agents.get(task.agent_id)
            if agent:
                agent.tasks.pop(task.task_id, None)
            if fw:
                fw.tasks.pop(task.task_id, None)
                fw.unreachable_tasks.pop(task.task_id, None)
                fw.completed_tasks.append(task)

    # ------------------------------------------------------------------
    # agents (internal protocol)

    def register_agent(self, body, principal):
        info = dict(body.get("agent_info") or {})
        url = body.get("url")
        if not info.get("hostname") or not url:
            raise HTTPError(400, "Missing agent_info.hostname or url")
        try:
            info["resources"] = [normalize_json_resource(r) for r in info.get("resources", [])]
        except ResourceError as exc:
            raise HTTPError(400, str(exc))
        with self.lock:
            self._require_serving()
            if self.flags.require_agent_domain and not info.get("domain"):
                raise HTTPError(403, "Agent does not have a domain configured")
            # A new agent at the same address replaces the old one (agent restarted without its checkpoint).
            for old in list(self.agents.values()):
                if old.url == url:
                    log.info("Removing agent %s at %s: a new agent registered at the same address", old.id, url)
                    self._remove_agent(old, "TASK_LOST", "TASK_GONE", "REASON_AGENT_RESTARTED",
                                       "Agent %s restarted" % old.id, tell_agent=False)
            agent_id = "%s-S%d" % (self.id, self.agent_counter)
            self.agent_counter += 1
            info["id"] = _id(agent_id)
            info.setdefault("port", self.addr.port)
            agent = AgentRec(agent_id, info, url, body.get("version", VERSION), body.get("capabilities"))
            self.agents[agent_id] = agent
            log.info("Registered agent %s at %s (%s) with %s", agent_id, agent.pid(), agent.hostname,
                     agent.total)
            self._operator_event({"type": "AGENT_ADDED", "agent_added": {"agent": self._agent_v1(agent)}})
            return self._registration_reply(agent)

    def _registration_reply(self, agent):
        return {
            "agent_id": agent.id,
            "master_id": self.id,
            "master_info": self.info,
            "ping_timeout_secs": self.ping_timeout,
            "max_ping_timeouts": self.max_pings,
        }

    def reregister_agent(self, body, principal):
        info = dict(body.get("agent_info") or {})
        agent_id = _val(info.get("id"))
        url = body.get("url")
        if not agent_id or not url:
            raise HTTPError(400, "Missing agent_info.id or url")
        try:
            info["resources"] = [normalize_json_resource(r) for r in info.get("resources", [])]
        except ResourceError as exc:
            raise HTTPError(400, str(exc))
        with self.lock:
            self._require_serving()
            if agent_id in self.gone_agents:
                log.warning("Agent %s attempted to reregister after being marked gone; asking it to shut down",
                            agent_id)
                return {"shutdown": True, "message": "Agent attempted to re-register after removal"}
            agent = self.agents.get(agent_id)
            was_unreachable = agent_id in self.unreachable_agents
            if agent is None:
                agent = AgentRec(agent_id, info, url, body.get("version", VERSION), body.get("capabilities"))
                old = self.unreachable_agents.pop(agent_id, None)
                if old is not None:
                    agent.registered_time = old.registered_time
                    agent.deactivated = old.deactivated
                    agent.drain = old.drain
                self.agents[agent_id] = agent
            else:
                agent.info = info
                agent.url = url
                agent.total = Resources(info.get("resources", []))
            agent.state = "registered"
            agent.reregistered_time = now()
            agent.missed_pings = 0
            agent.next_ping = now() + self.ping_timeout
            for fi in body.get("frameworks", []):
                fid = _val(fi.get("id"))
                if fid and fid not in self.frameworks:
                    if any(c.id == fid for c in self.completed_frameworks):
                        continue
                    fw = FrameworkRec(fid, fi)
                    fw.recovered = True
                    fw.connected = False
                    fw.active = False
                    self.frameworks[fid] = fw
                    log.info("Recovered framework %s (%s) from agent %s", fid, fw.name, agent_id)
            reported = {}
            kill = []
            for t in body.get("tasks", []):
                tid = _val(t.get("task_id"))
                fid = _val(t.get("framework_id"))
                if not tid or not fid:
                    continue
                fw = self.frameworks.get(fid)
                if fw is None:
                    # Framework was removed (torn down): the agent must kill the task.
                    kill.append((fid, tid))
                    continue
                task = agent.tasks.get(tid) or fw.tasks.get(tid) or fw.unreachable_tasks.get(tid)
                if task is None:
                    task = TaskRec(t.get("task_info") or {"task_id": _id(tid), "name": t.get("name", "")},
                                   fid, agent_id, t.get("state", "TASK_RUNNING"))
                task.agent_id = agent_id
                task.state = t.get("state", task.state)
                if t.get("statuses"):
                    task.statuses = list(t["statuses"])[-20:]
                    task.status_update_uuid = task.statuses[-1].get("uuid")
                if task.state in TERMINAL_STATES:
                    continue
                if tid in fw.kill_on_reregister:
                    # Non partition-aware frameworks were told TASK_LOST already.
                    fw.kill_on_reregister.discard(tid)
                    kill.append((fid, tid))
                    continue
                came_back = tid in fw.unreachable_tasks
                fw.unreachable_tasks.pop(tid, None)
                fw.tasks[tid] = task
                agent.tasks[tid] = task
                reported[tid] = task
                if came_back and task.statuses:
                    st = dict(task.statuses[-1])
                    st["timestamp"] = now()
                    st["uuid"] = new_uuid_b64()
                    st["reason"] = "REASON_AGENT_REREGISTERED"
                    st["message"] = "Unreachable agent re-reregistered"
                    self._forward(fw, st)
            # Tasks the master believed were on this agent but the agent does not know about are lost.
            for tid, task in list(agent.tasks.items()):
                if tid not in reported and task.state not in TERMINAL_STATES:
                    fw = self.frameworks.get(task.framework_id)
                    st = self._status(task, "TASK_GONE" if fw and fw.partition_aware else "TASK_LOST",
                                      "Task is unknown to the agent", "REASON_TASK_UNKNOWN")
                    self._apply_status(task, st)
                    self._forward(fw, st)
            log.info("Reregistered agent %s at %s (%s)%s", agent_id, agent.pid(), agent.hostname,
                     " (was unreachable)" if was_unreachable else "")
            self._operator_event({"type": "AGENT_ADDED", "agent_added": {"agent": self._agent_v1(agent)}})
            reply = self._registration_reply(agent)
            reply["kill_tasks"] = [{"framework_id": f, "task_id": t} for f, t in kill]
        return reply

    def agent_status_update(self, body):
        agent_id = _val(body.get("agent_id"))
        status = body.get("status") or {}
        tid = _val(status.get("task_id"))
        fid = _val(body.get("framework_id"))
        with self.lock:
            self._require_serving()
            agent = self.agents.get(agent_id)
            if agent is None or agent.state != "registered":
                raise HTTPError(409, {"reregister": True, "message": "Agent %s is not registered" % agent_id})
            fw = self.frameworks.get(fid)
            task = agent.tasks.get(tid) or (fw.tasks.get(tid) if fw else None)
            if task is None:
                if status.get("state") not in TERMINAL_STATES and fw is None:
                    return {"kill": True}
                if fw is not None:
                    self._forward(fw, status)
                return {}
            prev = task.state
            if task.kill_reason and status.get("state") in TERMINAL_STATES:
                state, reason = task.kill_reason
                status = dict(status)
                status["state"] = state
                status["reason"] = reason
            self._apply_status(task, status)
            if prev != status.get("state"):
                log.info("Status update %s for task %s of framework %s from agent %s", status.get("state"),
                         tid, fid, agent_id)
            self._forward(fw, status)
            if agent.drain and agent.drain.get("state") == "DRAINING" and not agent.tasks:
                self._finish_drain(agent)
        return {}

    def _require_serving(self):
        if not self.serving:
            raise HTTPError(503, "Master is not the elected leader")

    def _agent_rpc(self, agent_url, path, body, timeout=5.0):
        return httpd.http_json("POST", agent_url + "/slave(1)/internal/" + path, body, timeout=timeout)

    def _async_agent_call(self, agent, path, body, on_error=None):
        url = agent.url

        def run():
            try:
                status, obj, _, _ = self._agent_rpc(url, path, body)
                if status >= 300:
                    raise OSError("agent answered %d" % status)
            except OSError as exc:
                log.warning("Failed to send %s to agent %s: %s", path, agent.id, exc)
                if on_error:
                    on_error()
        self.pool.submit(run)

    # ------------------------------------------------------------------
    # agent health

    def _pinger_loop(self):
        while not self.stop_event.wait(0.5):
            with self.lock:
                if not self.serving:
                    continue
                t = now()
                for agent in list(self.agents.values()):
                    if agent.state != "registered" or agent.ping_in_flight or t < agent.next_ping:
                        continue
                    agent.ping_in_flight = True
                    agent.next_ping = t + self.ping_timeout
                    self.pool.submit(self._ping, agent, agent.url)

    def _ping(self, agent, url):
        ok = False
        try:
            status, obj, _, _ = self._agent_rpc(url, "ping", {"master_id": self.id, "agent_id": agent.id},
                                                timeout=self.ping_timeout)
            ok = status == 200 and (obj or {}).get("agent_id") == agent.id
        except OSError:
            ok = False
        with self.lock:
            agent.ping_in_flight = False
            if self.agents.get(agent.id) is not agent or agent.state != "registered":
                return
            if ok:
                agent.missed_pings = 0
                return
            agent.missed_pings += 1
            log.warning("Agent %s (%s) did not respond to ping %d/%d", agent.id, agent.hostname,
                        agent.missed_pings, self.max_pings)
            if agent.missed_pings >= self.max_pings:
                self._mark_unreachable(agent)

    def _mark_unreachable(self, agent):
        log.warning("Marking agent %s (%s) unreachable: health check timed out", agent.id, agent.hostname)
        agent.state = "unreachable"
        agent.unreachable_time = now()
        self._rescind_agent_offers(agent)
        for task in list(agent.tasks.values()):
            fw = self.frameworks.get(task.framework_id)
            if fw is not None and fw.partition_aware:
                st = self._status(task, "TASK_UNREACHABLE", "Agent %s is unreachable" % agent.id,
                                  "REASON_AGENT_REMOVED")
                task.state = "TASK_UNREACHABLE"
                task.statuses.append(st)
                task.unreachable_time = now()
                self.counters["TASK_UNREACHABLE"] += 1
                fw.tasks.pop(task.task_id, None)
                fw.unreachable_tasks[task.task_id] = task
                self._forward(fw, st)
            else:
                st = self._status(task, "TASK_LOST", "Agent %s is unreachable" % agent.id,
                                  "REASON_AGENT_REMOVED")
                self._apply_status(task, st)
                if fw is not None:
                    # The framework was told TASK_LOST: kill the task if the agent comes back.
                    fw.kill_on_reregister.add(task.task_id)
                self._forward(fw, st)
        agent.tasks.clear()
        self.agents.pop(agent.id, None)
        self.unreachable_agents[agent.id] = agent
        self._operator_event({"type": "AGENT_REMOVED", "agent_removed": {"agent_id": _id(agent.id)}})

    def _remove_agent(self, agent, lost_state, pa_state, reason, message, tell_agent=True):
        self._rescind_agent_offers(agent)
        for task in list(agent.tasks.values()):
            fw = self.frameworks.get(task.framework_id)
            st = self._status(task, pa_state if fw and fw.partition_aware else lost_state, message, reason)
            self._apply_status(task, st)
            self._forward(fw, st)
        agent.tasks.clear()
        self.agents.pop(agent.id, None)
        self.unreachable_agents.pop(agent.id, None)
        self._operator_event({"type": "AGENT_REMOVED", "agent_removed": {"agent_id": _id(agent.id)}})
        if tell_agent:
            self._async_agent_call(agent, "shutdown", {"message": message})

    # ------------------------------------------------------------------
    # frameworks

    def subscribe(self, call, principal):
        sub = call.get("subscribe") or {}
        fi = dict(sub.get("framework_info") or {})
        missing = [f for f in ("user", "name") if f not in fi]
        if missing:
            raise HTTPError(400, "Failed to validate scheduler::Call: Missing required fields: %s"
                            % ", ".join("subscribe.framework_info." + m for m in missing))
        caps = {c.get("type") for c in fi.get("capabilities", []) if isinstance(c, dict)}
        if fi.get("roles") and "MULTI_ROLE" not in caps:
            raise HTTPError(400, "Framework cannot use 'roles' without the MULTI_ROLE capability")
        if fi.get("roles") and fi.get("role"):
            raise HTTPError(400, "'FrameworkInfo.role' must not be set when 'FrameworkInfo.roles' is set")
        roles = fi.get("roles") or [fi.get("role") or "*"]
        for role in roles:
            if role in ("", ".", "..") or role.startswith("-") or any(ch.isspace() for ch in role) \
                    or role.startswith("/") or role.endswith("/") or "//" in role:
                raise HTTPError(400, "Invalid role '%s'" % role)
            if self.role_whitelist is not None and role != "*" and role not in self.role_whitelist:
                raise HTTPError(400, "Role '%s' is not present in the master's --roles" % role)
        if principal is not None and fi.get("principal") is not None and fi.get("principal") != principal:
            raise HTTPError(403, "Authenticated principal '%s' does not match principal '%s' set in "
                                 "`FrameworkInfo`" % (principal, fi.get("principal")))
        with self.lock:
            self._require_serving()
            fid = _val(fi.get("id"))
            if fid and any(c.id == fid for c in self.completed_frameworks):
                stream = EventStream()
                stream.send({"type": "ERROR", "error": {"message": "Framework has been removed"}})
                stream.close()
                return stream, None
            if not self.framework_may_register(fi):
                # src/master/master.cpp checkSubscribeAuthorization: the framework gets an
                # ERROR event (FrameworkErrorMessage) on its stream, which is then closed.
                message = "Not authorized to " + register_framework_object(fi)
                log.info("Refusing subscription of framework '%s': %s", fi.get("name"), message)
                stream = EventStream()
                stream.send({"type": "ERROR", "error": {"message": message}})
                stream.close()
                return stream, None
            stream = EventStream()
            if fid and fid in self.frameworks:
                fw = self.frameworks[fid]
                if fw.stream is not None:
                    fw.stream.send({"type": "ERROR", "error": {
                        "message": "Framework failed over"}})
                    fw.stream.close()
                fi["id"] = _id(fid)
                fw.info = fi
                fw.reregistered_time = now()
                fw.recovered = False
                log.info("Framework %s (%s) failed over / resubscribed", fid, fw.name)
                self._operator_event({"type": "FRAMEWORK_UPDATED",
                                      "framework_updated": {"framework": self._framework_v1(fw)}})
            else:
                if not fid:
                    fid = "%s-%04d" % (self.id, self.fw_counter)
                    self.fw_counter += 1
                else:
                    log.info("Framework %s (%s) resubscribed after master failover", fid, fi.get("name"))
                fw = FrameworkRec(fid, fi)
                if _val(fi.get("id")):
                    fw.reregistered_time = now()
                self.frameworks[fid] = fw
                log.info("Subscribed framework %s (%s) with roles %s", fid, fw.name, fw.roles())
                self._operator_event({"type": "FRAMEWORK_ADDED",
                                      "framework_added": {"framework": self._framework_v1(fw)}})
            fw.stream = stream
            fw.connected = True
            fw.active = True
            fw.disconnected_at = None
            fw.unregistered_time = None
            fw.suppressed = False
            fw.filters.clear()
            for oid in list(fw.offers):
                self.offers.pop(oid, None)
            fw.offers.clear()
            stream.send({"type": "SUBSCRIBED", "subscribed": {
                "framework_id": _id(fid),
                "heartbeat_interval_seconds": HEARTBEAT_INTERVAL,
                "master_info": self.info,
            }})
            return stream, fw

    def stream_closed(self, fw, stream):
        with self.lock:
            if fw is None or self.frameworks.get(fw.id) is not fw or fw.stream is not stream:
                return
            log.info("Framework %s (%s) disconnected", fw.id, fw.name)
            fw.stream = None
            fw.connected = False
            fw.active = False
            fw.disconnected_at = now()
            fw.unregistered_time = None
            self._rescind_framework_offers(fw, send=False)
            if fw.failover_timeout() <= 0:
                self._teardown(fw, "Framework disconnected with a zero failover timeout")

    def _teardown(self, fw, why):
        log.info("Removing framework %s (%s): %s", fw.id, fw.name, why)
        self._rescind_framework_offers(fw, send=False)
        for task in list(fw.tasks.values()) + list(fw.unreachable_tasks.values()):
            agent = self.agents.get(task.agent_id)
            if agent is not None:
                self._async_agent_call(agent, "kill", {"framework_id": fw.id, "task_id": task.task_id})
            st = self._status(task, "TASK_KILLED", "Framework %s removed" % fw.id, "REASON_FRAMEWORK_REMOVED")
            self._apply_status(task, st)
        for agent in self.agents.values():
            self._async_agent_call(agent, "shutdown_framework", {"framework_id": fw.id})
        fw.tasks.clear()
        fw.unreachable_tasks.clear()
        if fw.stream is not None:
            fw.stream.close()
            fw.stream = None
        fw.connected = False
        fw.active = False
        fw.unregistered_time = now()
        self.frameworks.pop(fw.id, None)
        self.completed_frameworks.append(fw)
        self._operator_event({"type": "FRAMEWORK_REMOVED",
                              "framework_removed": {"framework_info": fw.info}})

    def teardown_framework(self, fid, principal=None):
        """/teardown and operator TEARDOWN (Master::Http::_teardown, src/master/http.cpp):
        TEARDOWN_FRAMEWORK with the operator's principal as subject and the framework's
        principal as object (ANY when the framework has none); refused: 403 Forbidden."""
        with self.lock:
            self._require_serving()
            fw = self.frameworks.get(fid)
            if fw is None:
                raise HTTPError(400, "No framework found with specified ID")
            if not self.authorized("teardown_frameworks", principal, fw.info.get("principal")):
                raise forbidden()
            self._teardown(fw, "Teardown requested")

    def scheduler_call(self, call, stream_id, principal):
        ctype = call.get("type")
        fid = _val(call.get("framework_id"))
        with self.lock:
            self._require_serving()
            fw = self.frameworks.get(fid)
            if fw is None:
                raise HTTPError(403, "Framework cannot be found")
            if fw.stream is None or not fw.connected:
                raise HTTPError(403, "Framework is not subscribed")
            if stream_id != fw.stream.id:
                raise HTTPError(400, "The stream ID '%s' included in this request didn't match the stream ID "
                                     "currently associated with framework ID %s" % (stream_id, fid))
            if principal is not None and fw.info.get("principal") not in (None, principal):
                raise HTTPError(403, "Authenticated principal does not match the framework principal")
            handler = {
                "TEARDOWN": self._call_teardown,
                "ACCEPT": self._call_accept,
                "DECLINE": self._call_decline,
                "REVIVE": self._call_revive,
                "SUPPRESS": self._call_suppress,
                "KILL": self._call_kill,
                "SHUTDOWN": self._call_noop,
                "ACKNOWLEDGE": self._call_noop,
                "ACKNOWLEDGE_OPERATION_STATUS": self._call_noop,
                "RECONCILE": self._call_reconcile,
                "RECONCILE_OPERATIONS": self._call_noop,
                "MESSAGE": self._call_noop,
                "REQUEST": self._call_noop,
                "UPDATE_FRAMEWORK": self._call_update_framework,
            }.get(ctype)
            if handler is None:
                raise HTTPError(400, "Failed to validate scheduler::Call: Unknown call type '%s'" % ctype)
            handler(fw, call)

    def _call_noop(self, fw, call):
        pass

    def _call_teardown(self, fw, call):
        self._teardown(fw, "Framework requested teardown")

    def _call_update_framework(self, fw, call):
        fi = (call.get("update_framework") or {}).get("framework_info") or {}
        # Master::updateFramework (src/master/master.cpp): the new FrameworkInfo must pass
        # REGISTER_FRAMEWORK (with the framework's approvers, i.e. its original principal).
        if self.authorizer is not None:
            check = dict(fi)
            check["principal"] = fw.info.get("principal")
            if not self.framework_may_register(check):
                raise forbidden("Not authorized to " + register_framework_object(fi))
        fi["id"] = _id(fw.id)
        fw.info = fi

    def _call_revive(self, fw, call):
        fw.suppressed = False
        fw.filters.clear()

    def _call_suppress(self, fw, call):
        fw.suppressed = True
        self._rescind_framework_offers(fw, send=True)

    def _call_decline(self, fw, call):
        body = call.get("decline") or {}
        refuse = float((body.get("filters") or {}).get("refuse_seconds", DEFAULT_REFUSE_SECONDS))
        for oid in body.get("offer_ids", []):
            offer = self.offers.get(_val(oid))
            if offer is None or offer.framework_id != fw.id:
                continue
            self._remove_offer(offer)
            if refuse > 0:
                fw.filters[offer.agent_id] = (now() + refuse, offer.resources)

    def _call_accept(self, fw, call):
        body = call.get("accept") or {}
        refuse = float((body.get("filters") or {}).get("refuse_seconds", DEFAULT_REFUSE_SECONDS))
        offers = []
        invalid = None
        for oid in body.get("offer_ids", []):
            offer = self.offers.get(_val(oid))
            if offer is None or offer.framework_id != fw.id:
                invalid = "Offer %s is no longer valid" % _val(oid)
                continue
            offers.append(offer)
        if offers and len({o.agent_id for o in offers}) > 1:
            invalid = "Aggregated offers must belong to one single agent"
        for o in offers:
            self._remove_offer(o)
        agent = self.agents.get(offers[0].agent_id) if offers else None
        if agent is not None and agent.state != "registered":
            agent = None
            invalid = invalid or "Agent is no longer registered"
        available = Resources()
        for o in offers:
            available = available + o.resources
        launched = False
        for op in body.get("operations", []):
            otype = op.get("type")
            if otype == "LAUNCH":
                for ti in (op.get("launch") or {}).get("task_infos", []):
                    if self._launch_task(fw, agent, ti, available, invalid):
                        available = available - Resources(ti.get("resources", []))
                        launched = True
            elif otype == "LAUNCH_GROUP":
                tasks = ((op.get("launch_group") or {}).get("task_group") or {}).get("tasks", [])
                if invalid or agent is None:
                    for ti in tasks:
                        self._task_error(fw, ti, agent, invalid or "Agent is not registered", "REASON_INVALID_OFFERS",
                                         "TASK_DROPPED" if fw.partition_aware else "TASK_LOST")
                    continue
                # Master::_accept, LAUNCH_GROUP: every task must be authorized; the (last) refusal is
                # reported for all tasks of the group (upstream text, missing space included).
                error = None
                for ti in tasks:
                    if not self.authorized("run_tasks", fw.info.get("principal"), task_user(ti, fw.info)):
                        error = "Task '%s' is not authorized to%s" % (_val(ti.get("task_id")) or "",
                                                                     launch_task_object(ti, fw.info))
                for ti in tasks:
                    if error:
                        self._task_error(fw, ti, agent, error, "REASON_TASK_GROUP_UNAUTHORIZED")
                    else:
                        self._task_error(fw, ti, agent, "LAUNCH_GROUP is not supported by this master",
                                         "REASON_TASK_GROUP_INVALID")
            elif otype in ("RESERVE", "UNRESERVE"):
                self._drop_reservation_operation(fw, op)
            else:
                log.info("Ignoring unsupported offer operation %s from framework %s", otype, fw.id)
        if agent is not None and refuse > 0 and not available.empty():
            fw.filters[agent.id] = (now() + refuse, available)
        return launched

    def _drop_reservation_operation(self, fw, op):
        """Offer operations RESERVE/UNRESERVE. This stand-in has no reservations, but it
        authorizes them like Master::_accept does (reserve_resources / unreserve_resources with
        the framework principal as subject) so a refusal reads like upstream; an authorized
        one is dropped as unsupported. Both end as upstream's Master::drop: a log line and,
        for an operation with an id, an OPERATION_ERROR update."""
        otype = op.get("type")
        principal = fw.info.get("principal")
        message = None
        if otype == "RESERVE":
            resources = (op.get("reserve") or {}).get("resources") or []
            for role in reservation_roles(resources):
                if not self.authorized("reserve_resources", principal, role):
                    message = "Principal '%s' no authorized to perform action RESERVE_RESOURCES on object %s" % (
                        principal or "", json.dumps({"value": role}))
                    break
        else:
            resources = (op.get("unreserve") or {}).get("resources") or []
            for reserver in unreserve_principals(resources):
                if not self.authorized("unreserve_resources", principal, reserver):
                    message = "Principal '%s' no authorized to %s" % (
                        principal or "", "perform action UNRESERVE_RESOURCES on ANY object" if reserver is None
                        else "perform action UNRESERVE_RESOURCES on object %s" % json.dumps({"value": reserver}))
                    break
        if message is None:
            message = "%s is not supported by this master (no reservations)" % otype
        log.warning("Dropping %s operation from framework %s (%s): %s", otype, fw.id, fw.name, message)
        if _val(op.get("id")):
            self._send(fw, {"type": "UPDATE_OPERATION_STATUS", "update_operation_status": {"status": {
                "operation_id": op["id"], "state": "OPERATION_ERROR", "message": message,
                "uuid": {"value": new_uuid_b64()}}}})

    def _task_error(self, fw, ti, agent, message, reason, state="TASK_ERROR"):
        tid = _val(ti.get("task_id")) or ""
        aid = _val(ti.get("agent_id")) or (agent.id if agent else "")
        st = {"task_id": _id(tid), "state": state, "agent_id": _id(aid), "timestamp": now(),
              "source": "SOURCE_MASTER", "reason": reason, "message": message, "uuid": new_uuid_b64()}
        self.counters[state] += 1
        self._forward(fw, st)

    def _launch_task(self, fw, agent, ti, available, invalid):
        tid = _val(ti.get("task_id"))
        if invalid or agent is None:
            self._task_error(fw, ti, agent, invalid or "Agent is not registered",
                             "REASON_INVALID_OFFERS", "TASK_DROPPED" if fw.partition_aware else "TASK_LOST")
            return False
        if not self.authorized("run_tasks", fw.info.get("principal"), task_user(ti, fw.info)):
            # src/master/master.cpp Master::_accept, LAUNCH (the upstream text says "no authorized").
            self._task_error(fw, ti, agent, "Principal '%s' no authorized to %s" % (
                fw.info.get("principal") or "", launch_task_object(ti, fw.info)), "REASON_TASK_UNAUTHORIZED")
            return False
        problems = []
        if not tid:
            problems.append("Task ID is missing")
        elif tid in fw.tasks or tid in fw.unreachable_tasks:
            problems.append("Task has duplicate ID: %s" % tid)
        if _val(ti.get("agent_id")) != agent.id:
            problems.append("Task uses invalid agent: %s" % _val(ti.get("agent_id")))
        try:
            need = Resources([normalize_json_resource(r) for r in ti.get("resources", [])])
        except ResourceError as exc:
            problems.append("Task uses invalid resources: %s" % exc)
            need = None
        if need is not None:
            if need.empty():
                problems.append("Task uses no resources")
            elif not available.contains(need):
                problems.append("Task uses more resources %s than available %s" % (need, available))
        if "command" not in ti and "executor" not in ti:
            problems.append("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present")
        if problems:
            self._task_error(fw, ti, agent, "; ".join(problems), "REASON_TASK_INVALID")
            return False
        task = TaskRec(ti, fw.id, agent.id)
        st = self._status(task, "TASK_STAGING", uuid_=False)
        task.statuses.append(st)
        self.counters["TASK_STAGING"] += 1
        fw.tasks[tid] = task
        agent.tasks[tid] = task
        log.info("Launching task %s of framework %s (%s) on agent %s (%s)", tid, fw.id, fw.name, agent.id,
                 agent.hostname)
        self._operator_event({"type": "TASK_ADDED", "task_added": {"task": self._task_v1(task)}})

        def failed():
            with self.lock:
                if task.state == "TASK_STAGING" and self.frameworks.get(fw.id) is fw:
                    s = self._status(task, "TASK_DROPPED" if fw.partition_aware else "TASK_LOST",
                                     "Failed to send the task to the agent", "REASON_AGENT_DISCONNECTED")
                    self._apply_status(task, s)
                    self._forward(fw, s)
        self._async_agent_call(agent, "launch", {"framework_info": fw.info, "framework_id": fw.id, "task": ti},
                               on_error=failed)
        return True

    def _call_kill(self, fw, call):
        body = call.get("kill") or {}
        tid = _val(body.get("task_id"))
        aid = _val(body.get("agent_id"))
        task = fw.tasks.get(tid)
        if task is not None:
            agent = self.agents.get(task.agent_id)
            if agent is not None:
                log.info("Asked to kill task %s of framework %s", tid, fw.id)
                payload = {"framework_id": fw.id, "task_id": tid}
                if body.get("kill_policy"):
                    payload["kill_policy"] = body["kill_policy"]
                self._async_agent_call(agent, "kill", payload)
            return
        if tid in fw.unreachable_tasks:
            return  # cannot reach the agent; the task will be killed if it comes back and is unknown
        agent_known = aid in self.agents
        if not agent_known and aid and self.in_reregistration_window():
            return
        pseudo = TaskRec({"task_id": _id(tid)}, fw.id, aid or "")
        st = self._status(pseudo, "TASK_UNKNOWN" if fw.partition_aware else "TASK_LOST",
                          "Attempted to kill an unknown task", "REASON_RECONCILIATION", uuid_=False)
        self._forward(fw, st)

    def _call_reconcile(self, fw, call):
        tasks = (call.get("reconcile") or {}).get("tasks", [])
        if not tasks:
            for task in list(fw.tasks.values()) + list(fw.unreachable_tasks.values()):
                if task.state in TERMINAL_STATES:
                    continue
                st = dict(task.latest_status() or self._status(task, task.state))
                st.pop("uuid", None)
                st["state"] = task.state
                st["reason"] = "REASON_RECONCILIATION"
                st["timestamp"] = now()
                self._forward(fw, st)
            return
        for item in tasks:
            tid = _val(item.get("task_id"))
            aid = _val(item.get("agent_id"))
            task = fw.tasks.get(tid) or fw.unreachable_tasks.get(tid)
            if task is not None:
                st = dict(task.latest_status() or self._status(task, task.state))
                st.pop("uuid", None)
                st["state"] = task.state
                st["reason"] = "REASON_RECONCILIATION"
                st["timestamp"] = now()
                self._forward(fw, st)
                continue
            pseudo = TaskRec({"task_id": _id(tid)}, fw.id, aid or "")
            if aid and aid in self.agents:
                state = "TASK_GONE" if fw.partition_aware else "TASK_LOST"
            elif aid and aid in self.unreachable_agents:
                state = "TASK_UNREACHABLE" if fw.partition_aware else "TASK_LOST"
            elif aid and aid in self.gone_agents:
                state = "TASK_GONE_BY_OPERATOR" if fw.partition_aware else "TASK_LOST"
            elif self.in_reregistration_window():
                continue  # the agent may still reregister: no answer (like a recovering agent)
            else:
                state = "TASK_UNKNOWN" if fw.partition_aware else "TASK_LOST"
            st = self._status(pseudo, state, "Reconciliation: task is unknown", "REASON_RECONCILIATION",
                              uuid_=False)
            self._forward(fw, st)

    # ------------------------------------------------------------------
    # offers / allocation

    def _remove_offer(self, offer):
        self.offers.pop(offer.id, None)
        fw = self.frameworks.get(offer.framework_id)
        if fw:
            fw.offers.discard(offer.id)

    def _rescind(self, offer, send=True):
        self._remove_offer(offer)
        fw = self.frameworks.get(offer.framework_id)
        if send and fw:
            self._send(fw, {"type": "RESCIND", "rescind": {"offer_id": _id(offer.id)}})

    def _rescind_agent_offers(self, agent):
        for offer in list(self.offers.values()):
            if offer.agent_id == agent.id:
                self._rescind(offer)

    def _rescind_framework_offers(self, fw, send=True):
        for oid in list(fw.offers):
            offer = self.offers.get(oid)
            if offer:
                self._rescind(offer, send)
        fw.offers.clear()

    def _offered(self, agent):
        r = Resources()
        for o in self.offers.values():
            if o.agent_id == agent.id:
                r = r + o.resources
        return r

    def _role_consumed(self, role):
        r = Resources()
        for fw in self.frameworks.values():
            if role not in fw.roles():
                continue
            for t in fw.tasks.values():
                if t.state not in TERMINAL_STATES:
                    r = r + t.res()
        return r

    def _meets_min(self, res):
        if not self.min_allocatable:
            return not res.empty()
        for alt in self.min_allocatable:
            ok = True
            for name, q in alt.items():
                if name in ("ports",):
                    have = sum(e - b + 1 for b, e in res.ranges_of(name))
                else:
                    have = res.scalar(name)
                if have + 1e-9 < q:
                    ok = False
                    break
            if ok:
                return True
        return False

    def _allocator_loop(self):
        interval = max(0.1, self.flags.allocation_interval.secs)
        while not self.stop_event.wait(interval):
            try:
                self.allocate()
            except Exception:
                log.exception("Allocation failed")

    def allocate(self):
        with self.lock:
            if not self.serving:
                return
            t = now()
            if self.flags.get("offer_timeout") is not None:
                for offer in list(self.offers.values()):
                    if t - offer.created > self.flags.offer_timeout.secs:
                        self._rescind(offer)
            frameworks = [fw for fw in self.frameworks.values()
                          if fw.connected and fw.active and not fw.suppressed]
            # DRF-ish: frameworks with the smallest cpu allocation first.
            frameworks.sort(key=lambda f: sum(tk.res().scalar("cpus") for tk in f.tasks.values()))
            new_offers = collections.defaultdict(list)
            for agent in self.agents.values():
                if not agent.active or agent.drain:
                    continue
                for fw in frameworks:
                    if any(self.offers[o].agent_id == agent.id for o in fw.offers if o in self.offers):
                        continue
                    avail = agent.total - agent.used() - self._offered(agent)
                    roles = set(fw.roles())
                    offerable = avail.filter_roles(roles | {"*"})
                    role = fw.roles()[0]
                    quota = self.quotas.get(role)
                    if quota and quota.get("limits"):
                        consumed = self._role_consumed(role)
                        for name, lim in quota["limits"].items():
                            headroom = float(_val(lim, 0)) - consumed.scalar(name)
                            for key in [k for k in offerable.scalars if k[0] == name]:
                                if headroom <= 0:
                                    offerable.scalars[key] = 0.0
                                else:
                                    offerable.scalars[key] = min(offerable.scalars[key], headroom)
                                    headroom -= offerable.scalars[key]
                    if not self._meets_min(offerable):
                        continue
                    flt = fw.filters.get(agent.id)
                    if flt is not None:
                        if flt[0] > t and flt[1].contains(offerable):
                            continue
                        if flt[0] <= t:
                            fw.filters.pop(agent.id, None)
                    oid = "%s-O%d" % (self.id, self.offer_counter)
                    self.offer_counter += 1
                    offer = Offer(oid, fw.id, agent.id, offerable, role)
                    self.offers[oid] = offer
                    fw.offers.add(oid)
                    new_offers[fw.id].append(self._offer_json(offer, agent))
            for fid, offers in new_offers.items():
                fw = self.frameworks[fid]
                self._send(fw, {"type": "OFFERS", "offers": {"offers": offers}})

    def _offer_json(self, offer, agent):
        host, _, port = agent.url.split("//", 1)[-1].partition(":")
        return {
            "id": _id(offer.id),
            "framework_id": _id(offer.framework_id),
            "agent_id": _id(agent.id),
            "hostname": agent.hostname,
            "url": {"scheme": "http", "address": {"hostname": agent.hostname, "ip": host,
                                                  "port": int(port or 5051)}, "path": "/slave(1)"},
            "resources": offer.resources.to_list(allocation_role=offer.role),
            "attributes": agent.info.get("attributes", []),
            "allocation_info": {"role": offer.role},
            "executor_ids": [],
        }

    # ------------------------------------------------------------------
    # housekeeping: failover timeouts, drains

    def _housekeeping_loop(self):
        while not self.stop_event.wait(1.0):
            try:
                with self.lock:
                    if not self.serving:
                        continue
                    t = now()
                    for fw in list(self.frameworks.values()):
                        if fw.connected or fw.disconnected_at is None:
                            continue
                        if t - fw.disconnected_at > fw.failover_timeout():
                            self._teardown(fw, "Framework failover timeout (%ss) expired" % fw.failover_timeout())
                    for agent in list(self.agents.values()):
                        if agent.drain and agent.drain.get("state") == "DRAINING" and not agent.tasks:
                            self._finish_drain(agent)
            except Exception:
                log.exception("Housekeeping failed")

    # ------------------------------------------------------------------
    # operator actions

    def _agent_for_operator(self, agent_id):
        agent = self.agents.get(agent_id)
        if agent is None:
            raise HTTPError(404, "Unknown agent %s" % agent_id)
        return agent

    def drain_agent(self, body):
        aid = _val(body.get("agent_id"))
        with self.lock:
            self._require_serving()
            agent = self.agents.get(aid) or self.unreachable_agents.get(aid)
            if agent is None:
                raise HTTPError(404, "Unknown agent %s" % aid)
            config = {"mark_gone": bool(body.get("mark_gone", False))}
            if body.get("max_grace_period") is not None:
                config["max_grace_period"] = body["max_grace_period"]
            agent.deactivated = True
            agent.drain = {"state": "DRAINING", "config": config}
            self._rescind_agent_offers(agent)
            log.info("Draining agent %s (mark_gone=%s)", aid, config["mark_gone"])
            kill_state = ("TASK_GONE_BY_OPERATOR", "REASON_AGENT_DRAINING") if config["mark_gone"] \
                else ("TASK_KILLED", "REASON_AGENT_DRAINING")
            for task in list(agent.tasks.values()):
                task.kill_reason = kill_state
                payload = {"framework_id": task.framework_id, "task_id": task.task_id}
                grace = body.get("max_grace_period")
                if grace is not None:
                    payload["kill_policy"] = {"grace_period": grace}
                self._async_agent_call(agent, "kill", payload)
            if not agent.tasks:
                self._finish_drain(agent)

    def _finish_drain(self, agent):
        agent.drain["state"] = "DRAINED"
        log.info("Agent %s is drained", agent.id)
        if agent.drain.get("config", {}).get("mark_gone"):
            self._mark_gone(agent)

    def _mark_gone(self, agent):
        log.info("Marking agent %s (%s) gone", agent.id, agent.hostname)
        self.gone_agents.add(agent.id)
        self._remove_agent(agent, "TASK_LOST", "TASK_GONE_BY_OPERATOR", "REASON_AGENT_REMOVED_BY_OPERATOR",
                           "Agent %s marked gone by operator" % agent.id, tell_agent=True)

    def mark_agent_gone(self, body):
        aid = _val(body.get("agent_id"))
        with self.lock:
            self._require_serving()
            if aid in self.gone_agents:
                return
            agent = self.agents.get(aid) or self.unreachable_agents.get(aid)
            if agent is None:
                raise HTTPError(404, "Unknown agent %s" % aid)
            self._mark_gone(agent)

    def deactivate_agent(self, body):
        aid = _val(body.get("agent_id"))
        with self.lock:
            self._require_serving()
            agent = self.agents.get(aid) or self.unreachable_agents.get(aid)
            if agent is None:
                raise HTTPError(404, "Unknown agent %s" % aid)
            agent.deactivated = True
            self._rescind_agent_offers(agent)
            log.info("Deactivated agent %s", aid)

    def reactivate_agent(self, body):
        aid = _val(body.get("agent_id"))
        with self.lock:
            self._require_serving()
            agent = self.agents.get(aid) or self.unreachable_agents.get(aid)
            if agent is None:
                raise HTTPError(404, "Unknown agent %s" % aid)
            agent.deactivated = False
            agent.drain = None
            log.info("Reactivated agent %s", aid)

    def update_quota(self, body, principal=None):
        """UPDATE_QUOTA (and the older SET_QUOTA / REMOVE_QUOTA, POST/DELETE /quota, which
        come here too). After validation every role is authorized against ``update_quotas``
        (UPDATE_QUOTA_WITH_CONFIG / UPDATE_QUOTA, object: the role); if one is refused the
        whole request is 403 Forbidden (src/master/quota_handler.cpp)."""
        configs = body.get("quota_configs") or []
        force = bool(body.get("force", False))
        new = {}
        for cfg in configs:
            role = cfg.get("role")
            if not role or role == "." or role == ".." or role.startswith("-") or any(c.isspace() for c in role):
                raise HTTPError(400, "Invalid role '%s'" % role)
            if "/" in role:
                raise HTTPError(400, "Quota is not supported on nested roles ('%s')" % role)
            for kind in ("limits", "guarantees"):
                for name, q in (cfg.get(kind) or {}).items():
                    if name == "ports":
                        raise HTTPError(400, "Quota is not supported for non-scalar resource '%s'" % name)
                    try:
                        value = float(_val(q))
                    except (TypeError, ValueError):
                        raise HTTPError(400, "Invalid quota value for '%s' of role '%s'" % (name, role))
                    if value < 0:
                        raise HTTPError(400, "Negative quota value for '%s' of role '%s'" % (name, role))
            g = cfg.get("guarantees") or {}
            lim = cfg.get("limits") or {}
            for name, q in g.items():
                if name in lim and float(_val(q)) > float(_val(lim[name])):
                    raise HTTPError(400, "Role '%s' guarantee for '%s' exceeds its limit" % (role, name))
            new[role] = {"role": role,
                         "guarantees": {k: {"value": float(_val(v))} for k, v in g.items()},
                         "limits": {k: {"value": float(_val(v))} for k, v in lim.items()}}
        with self.lock:
            self._require_serving()
            if not force:
                for role, cfg in new.items():
                    consumed = self._role_consumed(role)
                    for name, q in cfg["limits"].items():
                        if consumed.scalar(name) > q["value"] + 1e-9:
                            raise HTTPError(400, "Invalid QuotaConfig: Role '%s' is already consuming '%s' "
                                                 "which exceeds the requested limit. Use 'force' to override"
                                            % (role, name))
            denied = [role for role in new if not self.authorized("update_quotas", principal, role)]
            if denied:
                raise forbidden()
            for role, cfg in new.items():
                if not cfg["limits"] and not cfg["guarantees"]:
                    self.quotas.pop(role, None)
                else:
                    self.quotas[role] = cfg
                # rescind offers exceeding the new limits
                for fw in self.frameworks.values():
                    if role in fw.roles():
                        self._rescind_framework_offers(fw)
            log.info("Updated quota for roles %s", sorted(new))

    # ------------------------------------------------------------------
    # JSON views

    def _task_v0(self, task):
        fw = self.frameworks.get(task.framework_id)
        out = {
            "id": task.task_id,
            "name": task.name,
            "framework_id": task.framework_id,
            "executor_id": "",
            "slave_id": task.agent_id,
            "agent_id": task.agent_id,
            "state": task.state,
            "resources": task.res().to_v0(),
            "role": fw.roles()[0] if fw else "*",
            "statuses": [self._status_v0(s) for s in task.statuses],
        }
        info = task.info
        if info.get("labels"):
            out["labels"] = (info["labels"] or {}).get("labels", [])
        if info.get("discovery"):
            out["discovery"] = info["discovery"]
        if info.get("container"):
            out["container"] = info["container"]
        if info.get("health_check"):
            out["health_check"] = info["health_check"]
        if info.get("kill_policy"):
            out["kill_policy"] = info["kill_policy"]
        return out

    def _status_v0(self, s):
        out = {"state": s.get("state"), "timestamp": s.get("timestamp")}
        for k in ("container_status", "healthy", "labels", "message", "reason"):
            if k in s:
                out[k] = s[k]
        return out

    def _task_v1(self, task):
        out = {
            "name": task.name,
            "task_id": _id(task.task_id),
            "framework_id": _id(task.framework_id),
            "agent_id": _id(task.agent_id),
            "state": task.state,
            "resources": task.resources,
            "statuses": task.statuses,
        }
        latest = task.latest_status()
        if latest is not None:
            out["status_update_state"] = latest.get("state")
            if task.status_update_uuid:
                out["status_update_uuid"] = task.status_update_uuid
        for k in ("labels", "discovery", "container", "health_check", "kill_policy", "command"):
            if task.info.get(k):
                out[k] = task.info[k]
        return out

    def _agent_v0(self, agent):
        used = agent.used()
        offered = self._offered(agent)
        out = {
            "id": agent.id,
            "pid": agent.pid(),
            "hostname": agent.hostname,
            "port": agent.info.get("port"),
            "registered_time": agent.registered_time,
            "resources": agent.total.to_v0(),
            "used_resources": used.to_v0(),
            "offered_resources": offered.to_v0(),
            "reserved_resources": agent.total.to_v0_by_role(),
            "unreserved_resources": agent.total.filter_roles({"*"}).to_v0(),
            "resources_full": agent.total.to_list(),
            "used_resources_full": used.to_list(),
            "offered_resources_full": offered.to_list(),
            "attributes": attributes_v0(agent.info.get("attributes", [])),
            "active": agent.active,
            "deactivated": agent.deactivated,
            "version": agent.version,
            "capabilities": agent.capabilities,
        }
        if agent.reregistered_time:
            out["reregistered_time"] = agent.reregistered_time
        if agent.drain:
            out["drain_info"] = agent.drain
        if agent.info.get("domain"):
            out["domain"] = agent.info["domain"]
        return out

    def _agent_v1(self, agent):
        out = {
            "agent_info": agent.info,
            "active": agent.active,
            "deactivated": agent.deactivated,
            "pid": agent.pid(),
            "registered_time": ns(agent.registered_time),
            "total_resources": agent.total.to_list(),
            "allocated_resources": agent.used().to_list(),
            "offered_resources": self._offered(agent).to_list(),
            "version": agent.version,
            "capabilities": [{"type": c} if isinstance(c, str) else c for c in agent.capabilities],
        }
        if agent.reregistered_time:
            out["reregistered_time"] = ns(agent.reregistered_time)
        if agent.drain:
            out["drain_info"] = agent.drain
        return out

    def _framework_v0(self, fw, completed=False):
        used = Resources()
        for t in fw.tasks.values():
            used = used + t.res()
        offered = Resources()
        for oid in fw.offers:
            o = self.offers.get(oid)
            if o:
                offered = offered + o.resources
        tasks = list(fw.tasks.values())
        info = fw.info
        out = {
            "id": fw.id,
            "name": fw.name,
            "pid": None,
            "used_resources": used.to_v0(),
            "offered_resources": offered.to_v0(),
            "resources": used.to_v0(),
            "capabilities": sorted(fw.capabilities() - {None}),
            "hostname": info.get("hostname", ""),
            "webui_url": info.get("webui_url", ""),
            "active": fw.active,
            "connected": fw.connected,
            "recovered": fw.recovered,
            "user": info.get("user", ""),
            "failover_timeout": fw.failover_timeout(),
            "checkpoint": bool(info.get("checkpoint", False)),
            "role": info.get("role", "*") if not info.get("roles") else fw.roles()[0],
            "roles": fw.roles(),
            "registered_time": fw.registered_time,
            "unregistered_time": fw.unregistered_time or 0,
            "principal": info.get("principal"),
            "tasks": [self._task_v0(t) for t in tasks],
            "unreachable_tasks": [self._task_v0(t) for t in fw.unreachable_tasks.values()],
            "completed_tasks": [self._task_v0(t) for t in fw.completed_tasks],
            "offers": [self._offer_v0(self.offers[o]) for o in fw.offers if o in self.offers],
            "executors": [],
        }
        if out["principal"] is None:
            del out["principal"]
        if fw.reregistered_time:
            out["reregistered_time"] = fw.reregistered_time
        for st in TASK_COUNTER_STATES:
            out[st] = sum(1 for t in tasks if t.state == st)
        return out

    def _offer_v0(self, offer):
        return {"id": offer.id, "framework_id": offer.framework_id, "slave_id": offer.agent_id,
                "resources": offer.resources.to_v0()}

    def _framework_v1(self, fw):
        out = {
            "framework_info": fw.info,
            "active": fw.active,
            "connected": fw.connected,
            "recovered": fw.recovered,
            "registered_time": ns(fw.registered_time),
            "offers": [self._offer_json(self.offers[o], self.agents[self.offers[o].agent_id])
                       for o in fw.offers if o in self.offers and self.offers[o].agent_id in self.agents],
            "allocated_resources": sum((t.res() for t in fw.tasks.values()), Resources()).to_list(),
            "offered_resources": [],
        }
        if fw.reregistered_time:
            out["reregistered_time"] = ns(fw.reregistered_time)
        if fw.unregistered_time:
            out["unregistered_time"] = ns(fw.unregistered_time)
        return out

    def state_v0(self):
        with self.lock:
            out = {
                "version": VERSION,
                "git_tag": GIT_TAG,
                "build_date": BUILD_DATE,
                "build_time": BUILD_TIME,
                "build_user": BUILD_USER,
                "start_time": self.start_time,
                "id": self.id,
                "pid": self.info["pid"],
                "hostname": self.addr.hostname,
                "capabilities": [c["type"] for c in self.info["capabilities"]],
                "activated_slaves": sum(1 for a in self.agents.values() if a.active),
                "deactivated_slaves": sum(1 for a in self.agents.values() if not a.active),
                "unreachable_slaves": len(self.unreachable_agents),
                "flags": self.flags.as_strings(),
                "slaves": [],
                "recovered_slaves": [],
                "frameworks": [],
                "completed_frameworks": [],
                "orphan_tasks": [],
                "unregistered_frameworks": [],
            }
            if self.flags.get("cluster"):
                out["cluster"] = self.flags.cluster
            if self.flags.get("log_dir"):
                out["log_dir"] = self.flags.log_dir
            if self.flags.get("external_log_file"):
                out["external_log_file"] = self.flags.external_log_file
            if self.leader_info:
                out["leader"] = self.leader_info.get("pid")
                out["leader_info"] = self.leader_info
            if self.serving:
                out["elected_time"] = self.elected_time
                out["slaves"] = [self._agent_v0(a) for a in self.agents.values()]
                out["frameworks"] = [self._framework_v0(f) for f in self.frameworks.values()]
                out["completed_frameworks"] = [self._framework_v0(f, True) for f in self.completed_frameworks]
            return out

    def roles_view(self):
        with self.lock:
            roles = set(self.quotas) | set(self.weights) | {"*"}
            for fw in self.frameworks.values():
                roles |= set(fw.roles())
            for agent in self.agents.values():
                roles |= set(agent.total.roles())
            out = []
            for role in sorted(roles):
                allocated = Resources()
                offered = Resources()
                fws = []
                for fw in self.frameworks.values():
                    if role in fw.roles():
                        fws.append(fw.id)
                        for t in fw.tasks.values():
                            allocated = allocated + t.res()
                        for oid in fw.offers:
                            if oid in self.offers:
                                offered = offered + self.offers[oid].resources
                reserved = Resources()
                for agent in self.agents.values():
                    reserved = reserved + agent.total.filter_roles({role}) if role != "*" else reserved
                item = {
                    "name": role,
                    "weight": self.weights.get(role, 1.0),
                    "frameworks": fws,
                    "resources": allocated.to_v0(),
                    "allocated": allocated.to_v0(),
                    "offered": offered.to_v0(),
                    "reserved": reserved.to_v0(),
                }
                q = self.quotas.get(role)
                consumed = (allocated + reserved).to_v0()
                item["quota"] = {
                    "role": role,
                    "limit": {k: v["value"] for k, v in (q or {}).get("limits", {}).items()},
                    "guarantee": {k: v["value"] for k, v in (q or {}).get("guarantees", {}).items()},
                    "consumed": consumed,
                }
                out.append(item)
            return out

    def quota_status(self, principal=None):
        """GET_QUOTA / GET /quota: only the roles ``get_quotas`` lets the principal see
        (QuotaHandler::_status, src/master/quota_handler.cpp)."""
        with self.lock:
            visible = [role for role in sorted(self.quotas) if self.authorized("get_quotas", principal, role)]
            configs = []
            for role in visible:
                q = self.quotas[role]
                cfg = {"role": role}
                if q["guarantees"]:
                    cfg["guarantees"] = q["guarantees"]
                if q["limits"]:
                    cfg["limits"] = q["limits"]
                configs.append(cfg)
            infos = []
            if configs:
                infos.append({"configs": configs})
            for role in visible:
                q = self.quotas[role]
                infos.append({"role": role, "guarantee": [
                    {"name": k, "type": "SCALAR", "scalar": {"value": v["value"]}, "role": "*"}
                    for k, v in sorted(q["guarantees"].items())]})
            return {"infos": infos, "configs": configs}

    def metrics(self):
        with self.lock:
            elected = 1 if self.serving else 0
            out = {
                "master/elected": elected,
                "master/uptime_secs": now() - self.start_time,
                "registrar/log/recovered": elected,
                "registrar/log/ensemble_size": float(self.group_state.members if self.group_state else 1),
            }
            if not self.serving:
                return out
            agents = list(self.agents.values())
            tasks = [t for fw in self.frameworks.values() for t in fw.tasks.values()]
            total = sum((a.total for a in agents), Resources())
            used = sum((a.used() for a in agents), Resources())
            out.update({
                "master/slaves_active": sum(1 for a in agents if a.active),
                "master/slaves_inactive": sum(1 for a in agents if not a.active),
                "master/slaves_connected": len(agents),
                "master/slaves_disconnected": 0,
                "master/slaves_unreachable": len(self.unreachable_agents),
                "master/frameworks_active": sum(1 for f in self.frameworks.values() if f.active),
                "master/frameworks_inactive": sum(1 for f in self.frameworks.values() if not f.active),
                "master/frameworks_connected": sum(1 for f in self.frameworks.values() if f.connected),
                "master/frameworks_disconnected": sum(1 for f in self.frameworks.values() if not f.connected),
                "master/tasks_staging": sum(1 for t in tasks if t.state == "TASK_STAGING"),
                "master/tasks_starting": sum(1 for t in tasks if t.state == "TASK_STARTING"),
                "master/tasks_running": sum(1 for t in tasks if t.state == "TASK_RUNNING"),
                "master/tasks_killing": sum(1 for t in tasks if t.state == "TASK_KILLING"),
                "master/tasks_unreachable": sum(len(f.unreachable_tasks) for f in self.frameworks.values()),
                "master/tasks_finished": self.counters["TASK_FINISHED"],
                "master/tasks_failed": self.counters["TASK_FAILED"],
                "master/tasks_killed": self.counters["TASK_KILLED"],
                "master/tasks_lost": self.counters["TASK_LOST"],
                "master/tasks_error": self.counters["TASK_ERROR"],
                "master/tasks_dropped": self.counters["TASK_DROPPED"],
                "master/tasks_gone": self.counters["TASK_GONE"],
                "master/tasks_gone_by_operator": self.counters["TASK_GONE_BY_OPERATOR"],
                "master/outstanding_offers": len(self.offers),
            })
            for name in ("cpus", "mem", "disk", "gpus"):
                out["master/%s_total" % name] = total.scalar(name)
                out["master/%s_used" % name] = used.scalar(name)
                out["master/%s_percent" % name] = (used.scalar(name) / total.scalar(name)) if total.scalar(name) else 0.0
            return out

    def version_json(self):
        return {"version": VERSION, "build_date": BUILD_DATE, "build_time": BUILD_TIME,
                "build_user": BUILD_USER, "git_tag": GIT_TAG}

    def get_state_v1(self):
        with self.lock:
            return {
                "get_agents": self.get_agents_v1(),
                "get_frameworks": self.get_frameworks_v1(),
                "get_tasks": self.get_tasks_v1(),
                "get_executors": {"executors": [], "completed_executors": []},
            }

    def get_agents_v1(self):
        with self.lock:
            return {"agents": [self._agent_v1(a) for a in self.agents.values()], "recovered_agents": []}

    def get_frameworks_v1(self):
        with self.lock:
            return {"frameworks": [self._framework_v1(f) for f in self.frameworks.values()],
                    "completed_frameworks": [self._framework_v1(f) for f in self.completed_frameworks]}

    def get_tasks_v1(self):
        with self.lock:
            tasks, unreachable, completed = [], [], []
            for fw in list(self.frameworks.values()) + list(self.completed_frameworks):
                tasks.extend(self._task_v1(t) for t in fw.tasks.values())
                unreachable.extend(self._task_v1(t) for t in fw.unreachable_tasks.values())
                completed.extend(self._task_v1(t) for t in fw.completed_tasks)
            return {"tasks": tasks, "pending_tasks": [], "unreachable_tasks": unreachable,
                    "completed_tasks": completed, "orphan_tasks": []}

    def get_roles_v1(self):
        out = []
        for r in self.roles_view():
            item = {"name": r["name"], "weight": r["weight"],
                    "frameworks": [_id(f) for f in r["frameworks"]]}
            with self.lock:
                res = Resources()
                for fw in self.frameworks.values():
                    if r["name"] in fw.roles():
                        for t in fw.tasks.values():
                            res = res + t.res()
            item["resources"] = res.to_list()
            q = self.quotas.get(r["name"])
            if q:
                item["quota"] = {"role": r["name"], "limit": q["limits"], "guarantee": q["guarantees"]}
            out.append(item)
        return {"roles": out}

    def leader_http(self):
        """(host:port) of the leading master, or None."""
        info = self.leader_info
        if not info:
            return None
        return "%s:%d" % (info.get("hostname") or info["address"]["ip"], int(info.get("port", 5050)))
