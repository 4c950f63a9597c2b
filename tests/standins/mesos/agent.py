"""The Mesos agent stand-in: registration, checkpointing/recovery, task execution."""
import base64
import collections
import json
import logging
import os
import random
import socket
import threading
import time
import uuid

from standin_common import httpd

from . import BUILD_DATE, BUILD_TIME, BUILD_USER, GIT_TAG, VERSION
from .containerizer import DockerContainerizer, LaunchError, MesosContainerizer, LABEL_PREFIX
from .resources import (Resources, attribute_is_superset, attributes_equal, attributes_v0,
                        format_attributes, normalize_json_resource, ranges_contain)

log = logging.getLogger("agent")

TERMINAL_STATES = {
    "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED",
    "TASK_GONE", "TASK_GONE_BY_OPERATOR",
}


def fetch_uris(uris, sandbox, timeout, frameworks_home=""):
    """A small Mesos fetcher: http(s)/file URIs or paths into the sandbox (extract, executable, output_file)."""
    import shutil
    import stat
    import tarfile
    import urllib.parse
    import urllib.request
    import zipfile
    for item in uris:
        value = item.get("value") or ""
        split = urllib.parse.urlsplit(value)
        name = item.get("output_file") or os.path.basename(split.path) or "download"
        dest = os.path.join(sandbox, name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if split.scheme in ("http", "https", "ftp"):
            with urllib.request.urlopen(value, timeout=timeout) as resp, open(dest, "wb") as out:
                shutil.copyfileobj(resp, out)
        else:
            path = split.path if split.scheme == "file" else value
            if not os.path.isabs(path) and frameworks_home:
                path = os.path.join(frameworks_home, path)
            if not os.path.isabs(path):
                raise ValueError("Relative URI '%s' and no --frameworks_home" % value)
            shutil.copyfile(path, dest)
        if item.get("executable"):
            os.chmod(dest, os.stat(dest).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        elif item.get("extract", True):
            lower = dest.lower()
            if lower.endswith((".tar", ".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz")):
                with tarfile.open(dest) as tar:
                    try:
                        tar.extractall(sandbox, filter="data")
                    except TypeError:  # Python < 3.11.4 has no extraction filters
                        tar.extractall(sandbox)
            elif lower.endswith(".zip"):
                with zipfile.ZipFile(dest) as zf:
                    zf.extractall(sandbox)
        log.info("Fetched %s into %s", value, dest)


class FatalError(Exception):
    """Aborts the agent with exit code 1 and the given message."""


def _id(v):
    return {"value": v}


def _val(obj):
    return obj.get("value") if isinstance(obj, dict) else obj


def new_uuid_b64():
    return base64.b64encode(uuid.uuid4().bytes).decode()


def write_json_atomic(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class LocalTask:
    def __init__(self, info, framework_id, container_id=None):
        self.info = info
        self.task_id = _val(info.get("task_id"))
        self.framework_id = framework_id
        self.container_id = container_id or str(uuid.uuid4())
        self.executor_id = self.task_id
        self.containerizer = None
        self.container_name = None
        self.container_ip = None
        self.docker_pid = None
        self.proc = None
        self.pid = None
        self.sandbox = None
        self.state = "TASK_STAGING"
        self.statuses = []
        self.kill_requested = False
        self.kill_reason = None
        self.launched = False
        self.remove_at = None
        self.health = None  # dict with healthy/consecutive failures
        self.started_at = None

    def checkpoint_dir(self, agent):
        return os.path.join(agent.meta_agent_dir(), "frameworks", self.framework_id, "executors",
                            self.executor_id, "runs", self.container_id)


class Agent:
    def __init__(self, flags, address, resources, attributes, credential, http_credentials):
        self.flags = flags
        self.addr = address
        self.hostname = address.hostname
        self.work_dir = os.path.abspath(flags.work_dir)
        self.meta_dir = os.path.join(self.work_dir, "meta")
        self.resources = resources
        self.attributes = attributes
        self.credential = credential
        self.http_credentials = http_credentials or {}
        self.lock = threading.RLock()
        self.flush_lock = threading.Lock()
        self.start_time = time.time()
        self.agent_id = None
        self.info = {
            "hostname": address.hostname,
            "port": address.advertise_port,
            "resources": resources,
            "attributes": attributes,
        }
        if flags.get("domain"):
            self.info["domain"] = flags.domain
        self.frameworks = {}
        self.completed_frameworks = collections.deque(maxlen=50)
        self.tasks = {}
        self.completed_tasks = collections.deque(maxlen=1000)
        self.master_info = None
        self.master_url = None
        self.registered = False
        self.registered_master_id = None
        self.needs_registration = threading.Event()
        self.master_changed = threading.Event()
        self.last_ping = time.monotonic()
        self.ping_window = None
        self.pending_updates = collections.deque()
        self.stop_event = threading.Event()
        self.exit_code = None
        self.exit_message = None
        self.detector = None
        self.containerizers = {}
        names = [c.strip() for c in flags.containerizers.split(",") if c.strip()]
        for name in names:
            if name == "docker":
                self.containerizers["docker"] = DockerContainerizer(self)
            elif name == "mesos":
                self.containerizers["mesos"] = MesosContainerizer(self)
            else:
                raise FatalError("Failed to create a containerizer: Unknown or unsupported containerizer: %s" % name)
        self._inspect_cache = (0.0, {})
        self.metrics_counters = collections.Counter()
        self.url = "http://%s:%d" % (address.advertise_ip, address.advertise_port)

    # ------------------------------------------------------------------
    # paths

    def latest_link(self):
        return os.path.join(self.meta_dir, "slaves", "latest")

    def meta_agent_dir(self, agent_id=None):
        return os.path.join(self.meta_dir, "slaves", agent_id or self.agent_id)

    def sandbox_dir(self, task):
        return os.path.join(self.work_dir, "slaves", self.agent_id, "frameworks", task.framework_id,
                            "executors", task.executor_id, "runs", task.container_id)

    # ------------------------------------------------------------------
    # recovery

    def recover(self):
        """Returns True when a checkpointed agent was recovered."""
        os.makedirs(self.meta_dir, exist_ok=True)
        latest = self.latest_link()
        if not os.path.lexists(latest):
            log.info("No checkpointed agent state found in %s: starting as a new agent", self.meta_dir)
            if self.flags.recover == "cleanup":
                log.info("Nothing to clean up (--recover=cleanup)")
            return False
        target = os.path.realpath(latest)
        info_path = os.path.join(target, "slave.info")
        try:
            with open(info_path) as fh:
                old = json.load(fh)
        except (OSError, ValueError) as exc:
            raise FatalError("Failed to perform recovery: Failed to read agent info from '%s': %s"
                             % (info_path, exc))
        problem = self._compatible(old, self.info)
        if problem:
            raise FatalError(
                "Failed to perform recovery: Incompatible agent info detected (%s).\n"
                "------------------------------------------------------------\n"
                "Old agent info:\n%s\n"
                "------------------------------------------------------------\n"
                "New agent info:\n%s\n"
                "------------------------------------------------------------\n"
                "To remedy this do as follows:\n"
                "Step 1: rm -f %s\n"
                "        This ensures agent doesn't recover old live executors.\n"
                "Step 2: Restart the agent."
                % (problem, self._describe(old), self._describe(self.info), latest))
        self.agent_id = _val(old.get("id"))
        log.info("Recovering agent %s from %s", self.agent_id, target)
        fw_root = os.path.join(target, "frameworks")
        recovered = []
        for fid in sorted(os.listdir(fw_root)) if os.path.isdir(fw_root) else []:
            fdir = os.path.join(fw_root, fid)
            try:
                with open(os.path.join(fdir, "framework.info")) as fh:
                    self.frameworks[fid] = json.load(fh)
            except (OSError, ValueError) as exc:
                if self.flags.strict:
                    raise FatalError("Failed to perform recovery: Failed to recover framework %s: %s" % (fid, exc))
                log.warning("Skipping framework %s: %s", fid, exc)
                continue
            edir = os.path.join(fdir, "executors")
            for eid in sorted(os.listdir(edir)) if os.path.isdir(edir) else []:
                rdir = os.path.join(edir, eid, "runs")
                for cid in sorted(os.listdir(rdir)) if os.path.isdir(rdir) else []:
                    run = os.path.join(rdir, cid)
                    try:
                        task = self._recover_run(fid, cid, run)
                    except (OSError, ValueError, KeyError) as exc:
                        if self.flags.strict:
                            raise FatalError("Failed to perform recovery: Failed to recover executor run %s: %s"
                                             % (run, exc))
                        log.warning("Skipping executor run %s: %s", run, exc)
                        continue
                    if task is not None:
                        recovered.append(task)
        for task in recovered:
            if task.state in TERMINAL_STATES:
                self.completed_tasks.append(task)
            else:
                self.tasks[task.task_id] = task
        if self.flags.recover == "cleanup":
            live = [t for t in recovered if t.state not in TERMINAL_STATES]
            log.info("Cleaning up %d live task(s) (--recover=cleanup)", len(live))
            for task in live:
                self._kill_now(task, 0)
                cz = self.containerizers.get(task.containerizer)
                if cz is not None:
                    try:
                        cz.remove(task)
                    except LaunchError:
                        pass
            os.unlink(latest)
            raise SystemExit(0)
        self._reconcile_recovered([t for t in recovered if t.state not in TERMINAL_STATES])
        log.info("Recovered %d live task(s) of agent %s", sum(1 for t in recovered
                                                                if t.state not in TERMINAL_STATES), self.agent_id)
        return True

    def _recover_run(self, fid, cid, run):
        with open(os.path.join(run, "container.info")) as fh:
            cinfo = json.load(fh)
        tasks_dir = os.path.join(run, "tasks")
        tids = sorted(os.listdir(tasks_dir)) if os.path.isdir(tasks_dir) else []
        if not tids:
            return None
        tdir = os.path.join(tasks_dir, tids[0])
        with open(os.path.join(tdir, "task.info")) as fh:
            info = json.load(fh)
        task = LocalTask(info, fid, cid)
        task.containerizer = cinfo.get("containerizer")
        task.container_name = cinfo.get("container_name")
        task.container_ip = cinfo.get("container_ip")
        task.pid = cinfo.get("pid")
        task.sandbox = cinfo.get("sandbox")
        task.launched = bool(cinfo.get("launched"))
        task.kill_requested = bool(cinfo.get("kill_requested"))
        updates = os.path.join(tdir, "task.updates")
        if os.path.exists(updates):
            with open(updates) as fh:
                for line in fh:
                    line = line.strip()
                    if line:
                        try:
                            task.statuses.append(json.loads(line))
                        except ValueError:
                            if self.flags.strict:
                                raise
        if task.statuses:
            task.state = task.statuses[-1]["state"]
        return task

    def _reconcile_recovered(self, tasks):
        live = [t for t in tasks if t.state not in TERMINAL_STATES]
        docker_tasks = [t for t in live if t.containerizer == "docker"]
        if docker_tasks:
            dz = self.containerizers.get("docker")
            if dz is None:
                for t in docker_tasks:
                    self._update(t, "TASK_FAILED", "Docker containerizer is not enabled any more",
                                 "REASON_EXECUTOR_TERMINATED")
            else:
                names = [t.container_name or dz.container_name(t.container_id) for t in docker_tasks]
                info = dz.docker.inspect(names)
                for t, name in zip(docker_tasks, names):
                    item = info.get(name)
                    if item is None:
                        if t.launched or t.state != "TASK_STAGING":
                            self._update(t, "TASK_LOST" if not t.kill_requested else "TASK_KILLED",
                                         "Container %s was not found during agent recovery" % name,
                                         "REASON_EXECUTOR_TERMINATED")
                        else:
                            self._update(t, "TASK_FAILED", "Agent restarted while the task was being launched",
                                         "REASON_AGENT_RESTARTED")
                        continue
                    st = item.get("State") or {}
                    if st.get("Running"):
                        t.container_name = name
                        t.launched = True
                        log.info("Recovered running container %s for task %s", name, t.task_id)
                        if t.state in ("TASK_STAGING", "TASK_STARTING"):
                            self._update(t, "TASK_RUNNING", "Container recovered", None)
                    else:
                        self._terminal_from_exit(t, int(st.get("ExitCode", -1)), st.get("Error") or "")
        for t in live:
            if t.containerizer == "mesos":
                from .containerizer import _pid_alive
                if t.pid and _pid_alive(t.pid):
                    log.info("Recovered running process %d for task %s", t.pid, t.task_id)
                else:
                    self._update(t, "TASK_FAILED" if not t.kill_requested else "TASK_KILLED",
                                 "Task process exited while the agent was not running",
                                 "REASON_EXECUTOR_TERMINATED")
            elif t.containerizer is None and t.state not in TERMINAL_STATES:
                self._update(t, "TASK_FAILED", "Agent restarted before the task was launched",
                             "REASON_AGENT_RESTARTED")

    @staticmethod
    def _describe(info):
        res = Resources(info.get("resources", []))
        return "hostname: %s\nport: %s\nresources: %s\nattributes: %s%s" % (
            info.get("hostname"), info.get("port"), res, format_attributes(info.get("attributes", [])),
            ("\nid: %s" % _val(info.get("id"))) if info.get("id") else "")

    def _compatible(self, old, new):
        policy = self.flags.reconfiguration_policy
        if old.get("hostname") != new.get("hostname"):
            return "hostname changed from '%s' to '%s'" % (old.get("hostname"), new.get("hostname"))
        if int(old.get("port", 0)) != int(new.get("port", 0)):
            return "port changed from %s to %s" % (old.get("port"), new.get("port"))
        if (old.get("domain") or None) != (new.get("domain") or None):
            return "domain changed"
        old_res = Resources([normalize_json_resource(r) for r in old.get("resources", [])])
        new_res = Resources(new.get("resources", []))
        old_attrs = old.get("attributes", [])
        new_attrs = new.get("attributes", [])
        if policy == "equal":
            if old_res != new_res:
                return "resources changed from '%s' to '%s'" % (old_res, new_res)
            if not attributes_equal(old_attrs, new_attrs):
                return "attributes changed from '%s' to '%s'" % (format_attributes(old_attrs),
                                                                 format_attributes(new_attrs))
            return None
        # additive
        for key, v in old_res.scalars.items():
            if new_res.scalars.get(key, 0.0) + 1e-9 < v:
                return "resource '%s' was reduced" % key[0]
        for key, v in old_res.ranges.items():
            if not ranges_contain(new_res.ranges.get(key, []), v):
                return "ranges of resource '%s' were reduced" % key[0]
        for key, v in old_res.sets.items():
            if not set(v) <= set(new_res.sets.get(key, set())):
                return "set of resource '%s' was reduced" % key[0]
        new_by_name = {a["name"]: a for a in new_attrs}
        for a in old_attrs:
            n = new_by_name.get(a["name"])
            if n is None:
                return "attribute '%s' was removed" % a["name"]
            if not attribute_is_superset(n, a):
                return "attribute '%s' was changed" % a["name"]
        return None

    def checkpoint_agent(self):
        d = self.meta_agent_dir()
        os.makedirs(d, exist_ok=True)
        info = dict(self.info)
        info["id"] = _id(self.agent_id)
        write_json_atomic(os.path.join(d, "slave.info"), info)
        latest = self.latest_link()
        tmp = latest + ".tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(d, tmp)
        os.replace(tmp, latest)

    def checkpoint_framework(self, fid):
        d = os.path.join(self.meta_agent_dir(), "frameworks", fid)
        os.makedirs(d, exist_ok=True)
        write_json_atomic(os.path.join(d, "framework.info"), self.frameworks[fid])

    def checkpoint_task(self, task):
        run = task.checkpoint_dir(self)
        tdir = os.path.join(run, "tasks", task.task_id)
        os.makedirs(tdir, exist_ok=True)
        write_json_atomic(os.path.join(run, "container.info"), {
            "containerizer": task.containerizer, "container_name": task.container_name,
            "container_ip": task.container_ip, "pid": task.pid, "sandbox": task.sandbox,
            "launched": task.launched, "kill_requested": task.kill_requested,
        })
        if not os.path.exists(os.path.join(tdir, "task.info")):
            write_json_atomic(os.path.join(tdir, "task.info"), task.info)

    def checkpoint_status(self, task, status):
        try:
            tdir = os.path.join(task.checkpoint_dir(self), "tasks", task.task_id)
            os.makedirs(tdir, exist_ok=True)
            with open(os.path.join(tdir, "task.updates"), "a") as fh:
                fh.write(json.dumps(status) + "\n")
        except OSError as exc:
            log.warning("Failed to checkpoint status update of task %s: %s", task.task_id, exc)

    def kill_orphans(self):
        dz = self.containerizers.get("docker")
        if dz is None or not self.flags.docker_kill_orphans:
            return
        try:
            names = dz.docker.list_containers("%swork_dir=%s" % (LABEL_PREFIX, self.work_dir))
        except LaunchError as exc:
            log.warning("Failed to list docker containers for orphan cleanup: %s", exc)
            return
        known = {t.container_name or dz.container_name(t.container_id) for t in self.tasks.values()}
        for name in names:
            if not name.startswith("mesos-") or name in known:
                continue
            log.info("Killing orphaned docker container %s", name)
            try:
                dz.docker.rm(name)
            except LaunchError as exc:
                log.warning("Failed to remove orphan %s: %s", name, exc)

    # ------------------------------------------------------------------
    # master detection / registration

    def on_master_change(self, st):
        with self.lock:
            from .zkgroup import leader_url
            url = leader_url(st.leader) if st.connected else None
            leader_id = (st.leader or {}).get("id") if st.connected else None
            if url != self.master_url or leader_id != (self.master_info or {}).get("id"):
                if url:
                    log.info("New master detected at %s", st.leader.get("pid", url))
                else:
                    log.warning("Lost leading master")
                self.master_url = url
                self.master_info = st.leader
                self.registered = False
                self.needs_registration.set()
                self.master_changed.set()

    def _auth_headers(self):
        if self.credential:
            return {"Authorization": httpd.basic_auth_header(*self.credential)}
        return {}

    def registration_loop(self):
        backoff = self.flags.registration_backoff_factor.secs
        attempt = 0
        while not self.stop_event.is_set():
            self.needs_registration.wait(1.0)
            with self.lock:
                if self.registered:
                    if self.ping_window and time.monotonic() - self.last_ping > self.ping_window:
                        log.warning("No pings from master received within %.1fs: reregistering",
                                    self.ping_window)
                        self.registered = False
                    else:
                        self.needs_registration.clear()
                        continue
                url = self.master_url
            if not url:
                continue
            if self.master_changed.is_set():
                self.master_changed.clear()
                attempt = 0
            delay = random.uniform(0, min(60.0, backoff * (2 ** attempt)))
            if self.master_changed.wait(delay):
                continue  # a new master was detected while backing off: start over
            if self.stop_event.is_set():
                return
            try:
                ok = self._register_once(url)
            except OSError as exc:
                log.warning("Failed to register with master %s: %s", url, exc)
                ok = False
            if ok:
                attempt = 0
                self.needs_registration.clear()
                self.flush_updates()
            else:
                attempt = min(attempt + 1, 6)

    def _register_once(self, url):
        with self.lock:
            reregister = self.agent_id is not None
            body = {"agent_info": dict(self.info), "url": self.url, "version": VERSION,
                    "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT",
                                     "AGENT_OPERATION_FEEDBACK", "RESOURCE_PROVIDER", "AGENT_DRAINING",
                                     "TASK_RESOURCE_LIMITS"]}
            if reregister:
                body["agent_info"]["id"] = _id(self.agent_id)
                body["tasks"] = [self._task_report(t) for t in self.tasks.values()]
                body["frameworks"] = [fi for fid, fi in self.frameworks.items()
                                      if any(t.framework_id == fid for t in self.tasks.values())]
        path = "/master/internal/reregister" if reregister else "/master/internal/register"
        status, obj, _, data = httpd.http_json("POST", url + path, body, headers=self._auth_headers(), timeout=10)
        if status == 401:
            log.error("Master %s refused authentication of this agent (check --credential)", url)
            return False
        if status != 200 or not isinstance(obj, dict):
            log.warning("Master %s refused %sregistration: %d %s", url, "re" if reregister else "", status,
                        data[:200].decode("utf-8", "replace"))
            return False
        if obj.get("shutdown"):
            log.warning("Agent asked to shut down by master %s because '%s'", url, obj.get("message"))
            self.shutdown_and_exit(obj.get("message") or "Shutdown requested by the master")
            return False
        with self.lock:
            if not reregister:
                self.agent_id = obj["agent_id"]
                self.checkpoint_agent()
                log.info("Registered with master %s; given agent ID %s", url, self.agent_id)
                self.kill_orphans()
            else:
                log.info("Reregistered with master %s as agent %s", url, self.agent_id)
                # the (possibly extended, --reconfiguration_policy=additive) agent info is now the checkpointed one
                self.checkpoint_agent()
            self.registered = True
            self.registered_master_id = obj.get("master_id")
            self.last_ping = time.monotonic()
            pt = float(obj.get("ping_timeout_secs", 15))
            self.ping_window = pt * int(obj.get("max_ping_timeouts", 5)) + pt
            kills = obj.get("kill_tasks") or []
        for k in kills:
            task = self.tasks.get(k.get("task_id"))
            if task is not None:
                log.info("Master asked to kill task %s (framework %s)", task.task_id, task.framework_id)
                self.kill_task(task.task_id, reason=None)
        return True

    def _task_report(self, task):
        return {"task_id": _id(task.task_id), "framework_id": _id(task.framework_id), "state": task.state,
                "statuses": task.statuses[-5:], "task_info": task.info, "name": task.info.get("name", "")}

    # ------------------------------------------------------------------
    # status updates

    def _update(self, task, state, message=None, reason=None, healthy=None, extra=None):
        status = {
            "task_id": _id(task.task_id),
            "state": state,
            "agent_id": _id(self.agent_id or ""),
            "executor_id": _id(task.executor_id),
            "timestamp": time.time(),
            "uuid": new_uuid_b64(),
            "source": "SOURCE_EXECUTOR",
        }
        if message:
            status["message"] = message
        if reason:
            status["reason"] = reason
        if healthy is not None:
            status["healthy"] = healthy
        ip = task.container_ip or self.addr.advertise_ip
        status["container_status"] = {"container_id": _id(task.container_id),
                                      "network_infos": [{"ip_addresses": [{"protocol": "IPv4", "ip_address": ip}]}]}
        if task.docker_pid or task.pid:
            status["container_status"]["executor_pid"] = task.docker_pid or task.pid
        if extra:
            status.update(extra)
        with self.lock:
            prev = task.state
            task.state = state
            task.statuses.append(status)
            if len(task.statuses) > 50:
                task.statuses = task.statuses[-50:]
            self.metrics_counters[state] += 1
            if state in TERMINAL_STATES:
                self.tasks.pop(task.task_id, None)
                self.completed_tasks.append(task)
            if self.agent_id:
                self.checkpoint_status(task, status)
            self.pending_updates.append((task.framework_id, status))
        if prev != state or healthy is not None:
            log.info("Task %s of framework %s is now %s%s", task.task_id, task.framework_id, state,
                     (" (%s)" % message) if message else "")
        threading.Thread(target=self.flush_updates, daemon=True).start()

    def flush_updates(self):
        # One flusher at a time: two threads sending the head of the queue at once could
        # deliver a stale TASK_STARTING after TASK_RUNNING (the master then keeps the stale
        # state). The real agent's status update manager keeps them in order.
        with self.flush_lock:
            self._flush_updates()

    def _flush_updates(self):
        while True:
            with self.lock:
                if not self.pending_updates or not self.registered or not self.master_url:
                    return
                fid, status = self.pending_updates[0]
                url = self.master_url
            try:
                code, obj, _, _ = httpd.http_json("POST", url + "/master/internal/status",
                                                  {"agent_id": _id(self.agent_id), "framework_id": _id(fid),
                                                   "status": status}, timeout=10)
            except OSError as exc:
                log.warning("Failed to send status update to master: %s", exc)
                return
            if code == 409:
                with self.lock:
                    self.registered = False
                    self.needs_registration.set()
                return
            if code != 200:
                return
            with self.lock:
                if self.pending_updates and self.pending_updates[0][1] is status:
                    self.pending_updates.popleft()
            if isinstance(obj, dict) and obj.get("kill"):
                tid = _val(status.get("task_id"))
                if tid in self.tasks:
                    self.kill_task(tid)

    # ------------------------------------------------------------------
    # task lifecycle

    def launch(self, body):
        fi = body.get("framework_info") or {}
        fid = body.get("framework_id") or _val(fi.get("id"))
        ti = body.get("task") or {}
        tid = _val(ti.get("task_id"))
        with self.lock:
            if not self.registered:
                raise httpd.HTTPError(409, "Agent is not registered")
            if _val(ti.get("agent_id")) != self.agent_id:
                raise httpd.HTTPError(400, "Task is for agent %s, this is %s" % (_val(ti.get("agent_id")),
                                                                               self.agent_id))
            if tid in self.tasks:
                raise httpd.HTTPError(409, "Task %s already exists" % tid)
            self.frameworks[fid] = fi
            self.checkpoint_framework(fid)
            task = LocalTask(ti, fid)
            self.tasks[tid] = task
        threading.Thread(target=self._launch, args=(task,), name="launch-%s" % tid[:40], daemon=True).start()
        return {}

    def _select_containerizer(self, task):
        container = task.info.get("container") or {}
        ctype = container.get("type")
        if ctype == "DOCKER":
            return self.containerizers.get("docker")
        if ctype == "MESOS" and (container.get("docker", {}).get("image") or
                                 ((container.get("mesos") or {}).get("image") or {}).get("docker")):
            # MESOS containers with a docker image (UCR) are run with the docker engine as well.
            return self.containerizers.get("docker") if "mesos" in self.containerizers else None
        if ctype in (None, "MESOS"):
            return self.containerizers.get("mesos")
        return None

    def task_env(self, task):
        env = {}
        env.update(self.flags.get("executor_environment_variables") or {})
        env.update({
            "MESOS_TASK_ID": task.task_id,
            "MESOS_FRAMEWORK_ID": task.framework_id,
            "MESOS_EXECUTOR_ID": task.executor_id,
            "MESOS_AGENT_ENDPOINT": "%s:%d" % (self.addr.advertise_ip, self.addr.advertise_port),
            "MESOS_SLAVE_ID": self.agent_id,
            "MESOS_CONTAINER_NAME": "mesos-%s" % task.container_id,
            "MESOS_SANDBOX": self.flags.sandbox_directory,
            "HOST": self.hostname,
            "LIBPROCESS_IP": self.addr.bind_ip if self.addr.bind_ip != "0.0.0.0" else self.addr.advertise_ip,
        })
        from .containerizer import command_env
        env.update(command_env(task.info.get("command")))
        return env

    def _launch(self, task):
        cz = self._select_containerizer(task)
        if cz is None:
            self._update(task, "TASK_FAILED", "No containerizer (--containerizers=%s) supports this task"
                         % self.flags.containerizers, "REASON_CONTAINER_LAUNCH_FAILED")
            return
        task.containerizer = cz.name
        try:
            task.sandbox = self.sandbox_dir(task)
            os.makedirs(task.sandbox, exist_ok=True)
            self.checkpoint_task(task)
        except OSError as exc:
            self._update(task, "TASK_FAILED", "Failed to create sandbox: %s" % exc, "REASON_CONTAINER_LAUNCH_FAILED")
            return
        self._update(task, "TASK_STARTING")
        deadline = time.time() + self.flags.executor_registration_timeout.secs
        try:
            fetch_uris(((task.info.get("command") or {}).get("uris") or []), task.sandbox,
                       self.flags.fetcher_stall_timeout.secs, self.flags.frameworks_home)
        except (OSError, ValueError) as exc:
            self._update(task, "TASK_FAILED", "Failed to fetch all URIs for container: %s" % exc,
                         "REASON_CONTAINER_LAUNCH_FAILED")
            return
        env = self.task_env(task)
        if cz.name == "mesos":
            env["MESOS_SANDBOX"] = task.sandbox
        try:
            if task.kill_requested:
                raise LaunchError("Task killed before it was launched")
            cz.launch(task, env, task.sandbox, deadline)
        except LaunchError as exc:
            if task.kill_requested:
                self._update(task, "TASK_KILLED", "Task killed before it was launched")
            else:
                reason = "REASON_EXECUTOR_REGISTRATION_TIMEOUT" if "timeout" in str(exc) else \
                    "REASON_CONTAINER_LAUNCH_FAILED"
                self._update(task, "TASK_FAILED", "Failed to launch container: %s" % exc, reason)
            return
        task.launched = True
        task.started_at = time.time()
        self.checkpoint_task(task)
        if task.kill_requested:
            threading.Thread(target=self._kill_now, args=(task, 0), daemon=True).start()
            return
        self._update(task, "TASK_RUNNING")
        if task.info.get("health_check"):
            threading.Thread(target=self._health_loop, args=(task,), daemon=True).start()

    def kill_task(self, tid, kill_policy=None, reason=None):
        with self.lock:
            task = self.tasks.get(tid)
            if task is None or task.state in TERMINAL_STATES:
                return False
            already = task.kill_requested
            task.kill_requested = True
            task.kill_reason = reason
            fi = self.frameworks.get(task.framework_id) or {}
            caps = {c.get("type") for c in fi.get("capabilities", [])}
        if already:
            return True
        if self.agent_id:
            try:
                self.checkpoint_task(task)
            except OSError:
                pass
        if not task.launched:
            return True  # the launch thread notices kill_requested
        if "TASK_KILLING_STATE" in caps:
            self._update(task, "TASK_KILLING")
        grace = None
        if kill_policy and kill_policy.get("grace_period"):
            gp = kill_policy["grace_period"]
            grace = float(gp.get("nanoseconds", 0)) / 1e9 if "nanoseconds" in gp else float(gp.get("seconds", 0))
        elif (task.info.get("kill_policy") or {}).get("grace_period"):
            grace = float(task.info["kill_policy"]["grace_period"].get("nanoseconds", 0)) / 1e9
        if grace is None:
            grace = max(self.flags.docker_stop_timeout.secs, 3.0)
        threading.Thread(target=self._kill_now, args=(task, grace), daemon=True).start()
        return True

    def _kill_now(self, task, grace):
        cz = self.containerizers.get(task.containerizer)
        if cz is None:
            return
        try:
            log.info("Killing task %s (container %s, grace period %.1fs)", task.task_id,
                     task.container_name or task.pid, grace)
            cz.kill(task, grace)
        except LaunchError as exc:
            log.warning("Failed to kill task %s: %s", task.task_id, exc)

    def _terminal_from_exit(self, task, code, error):
        if task.kill_requested:
            self._update(task, "TASK_KILLED", "Command terminated with signal" if code else "Command exited with status 0",
                         task.kill_reason)
        elif code is None:
            self._update(task, "TASK_FAILED", error or "Container terminated", "REASON_EXECUTOR_TERMINATED")
        elif code == 0:
            self._update(task, "TASK_FINISHED", "Command exited with status 0")
        else:
            self._update(task, "TASK_FAILED", "Command exited with status %d%s" % (code, (": " + error) if error else ""),
                         "REASON_COMMAND_EXECUTOR_FAILED")
        delay = self.flags.docker_remove_delay.secs
        task.remove_at = time.time() + delay

    def docker_inspect_cache(self, names):
        dz = self.containerizers.get("docker")
        return dz.docker.inspect(names) if dz else {}

    def monitor_loop(self):
        pending_removal = []
        while not self.stop_event.wait(1.0):
            try:
                with self.lock:
                    live = [t for t in self.tasks.values() if t.launched and t.state not in TERMINAL_STATES]
                by_cz = collections.defaultdict(list)
                for t in live:
                    by_cz[t.containerizer].append(t)
                for name, tasks in by_cz.items():
                    cz = self.containerizers.get(name)
                    if cz is None:
                        continue
                    try:
                        done = cz.poll(tasks)
                    except LaunchError as exc:
                        log.warning("Failed to poll %s containers: %s", name, exc)
                        continue
                    for t in tasks:
                        if t.task_id in done:
                            code, err = done[t.task_id]
                            self._terminal_from_exit(t, code, err)
                            pending_removal.append(t)
                t_now = time.time()
                for t in list(pending_removal):
                    if t.remove_at is not None and t_now >= t.remove_at:
                        pending_removal.remove(t)
                        cz = self.containerizers.get(t.containerizer)
                        if cz is not None:
                            try:
                                cz.remove(t)
                            except LaunchError:
                                pass
                if self.pending_updates:
                    self.flush_updates()
            except Exception:
                log.exception("Monitor loop failed")

    # ------------------------------------------------------------------
    # health checks (TaskInfo.health_check, "Mesos" health checks)

    def _health_loop(self, task):
        hc = task.info.get("health_check") or {}
        delay = float(hc.get("delay_seconds", 15.0))
        interval = float(hc.get("interval_seconds", 10.0))
        timeout = float(hc.get("timeout_seconds", 20.0))
        max_failures = int(hc.get("consecutive_failures", 3))
        grace = float(hc.get("grace_period_seconds", 10.0))
        start = time.time()
        failures = 0
        healthy = None
        if self.stop_event.wait(delay):
            return
        while not self.stop_event.is_set():
            with self.lock:
                if task.state in TERMINAL_STATES or task.kill_requested:
                    return
            ok = self._health_probe(task, hc, timeout)
            if ok:
                failures = 0
                if healthy is not True:
                    healthy = True
                    self._update(task, "TASK_RUNNING", "Health check passed", "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
                                 healthy=True)
            else:
                in_grace = healthy is None and time.time() - start < grace
                if not in_grace:
                    failures += 1
                    if healthy is not False:
                        healthy = False
                        self._update(task, "TASK_RUNNING", "Health check failed",
                                     "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED", healthy=False)
                    if max_failures and failures >= max_failures:
                        log.warning("Task %s failed %d consecutive health checks: killing it", task.task_id, failures)
                        self.kill_task(task.task_id, reason="REASON_TASK_HEALTH_CHECK_STATUS_UPDATED")
                        return
            if self.stop_event.wait(interval):
                return

    def _check_port(self, task, port):
        container = task.info.get("container") or {}
        docker = container.get("docker") or {}
        if (docker.get("network") or "").upper() == "BRIDGE":
            for pm in docker.get("port_mappings", []) or []:
                if int(pm.get("container_port", -1)) == int(port):
                    return int(pm["host_port"])
        return int(port)

    def _health_probe(self, task, hc, timeout):
        htype = hc.get("type")
        host = self.addr.advertise_ip
        try:
            if htype == "HTTP" or (htype is None and hc.get("http")):
                http = hc.get("http") or {}
                port = self._check_port(task, http.get("port", 0))
                scheme = (http.get("scheme") or "http").lower()
                path = http.get("path") or "/"
                code, _, _ = httpd.http_request("GET", "%s://%s:%d%s" % (scheme, host, port, path), timeout=timeout)
                statuses = http.get("statuses")
                if statuses:
                    return code in statuses
                return 200 <= code < 400
            if htype == "TCP" or (htype is None and hc.get("tcp")):
                port = self._check_port(task, (hc.get("tcp") or {}).get("port", 0))
                with socket.create_connection((host, port), timeout=timeout):
                    return True
            if htype == "COMMAND" or (htype is None and hc.get("command")):
                cz = self.containerizers.get(task.containerizer)
                cmd = (hc.get("command") or {}).get("value") or ""
                return cz.exec_check(task, cmd, timeout) if cz else False
        except OSError:
            return False
        return False

    # ------------------------------------------------------------------
    # master requests

    def ping(self, body):
        with self.lock:
            self.last_ping = time.monotonic()
            return {"agent_id": self.agent_id}

    def shutdown_framework(self, body):
        fid = body.get("framework_id")
        with self.lock:
            tids = [t.task_id for t in self.tasks.values() if t.framework_id == fid]
            fi = self.frameworks.get(fid)
        for tid in tids:
            self.kill_task(tid)
        if fi is not None:
            self.completed_frameworks.append(fi)
        return {}

    def shutdown_and_exit(self, message):
        log.warning("Shutting down: %s", message)
        with self.lock:
            tasks = list(self.tasks.values())
        threads = []
        for t in tasks:
            if t.launched:
                th = threading.Thread(target=self._kill_now, args=(t, 3.0), daemon=True)
                th.start()
                threads.append(th)
        for th in threads:
            th.join(30)
        try:
            if os.path.lexists(self.latest_link()):
                os.unlink(self.latest_link())
                log.info("Removed %s so that the agent registers as a new agent after a restart",
                         self.latest_link())
        except OSError:
            pass
        self.exit_code = 0
        self.exit_message = message
        self.stop_event.set()

    # ------------------------------------------------------------------
    # views

    def _task_v0(self, t):
        res = Resources([normalize_json_resource(r) for r in t.info.get("resources", [])])
        out = {
            "id": t.task_id, "name": t.info.get("name", ""), "framework_id": t.framework_id,
            "executor_id": "", "slave_id": self.agent_id, "state": t.state,
            "resources": res.to_v0(),
            "statuses": [{k: v for k, v in s.items() if k in ("state", "timestamp", "container_status",
                                                               "healthy", "message", "reason")}
                         for s in t.statuses],
        }
        for k in ("labels", "discovery", "container", "health_check"):
            if t.info.get(k):
                out[k] = t.info[k] if k != "labels" else t.info[k].get("labels", [])
        return out

    def _task_v1(self, t):
        out = {"name": t.info.get("name", ""), "task_id": _id(t.task_id), "framework_id": _id(t.framework_id),
               "agent_id": _id(self.agent_id), "executor_id": _id(t.executor_id), "state": t.state,
               "resources": t.info.get("resources", []), "statuses": t.statuses}
        if t.statuses:
            out["status_update_state"] = t.statuses[-1]["state"]
            out["status_update_uuid"] = t.statuses[-1].get("uuid")
        for k in ("labels", "discovery", "container", "health_check", "command"):
            if t.info.get(k):
                out[k] = t.info[k]
        return out

    def state_v0(self):
        with self.lock:
            res = Resources(self.resources)
            frameworks = []
            for fid, fi in self.frameworks.items():
                tasks = [t for t in self.tasks.values() if t.framework_id == fid]
                done = [t for t in self.completed_tasks if t.framework_id == fid]
                if not tasks and not done:
                    continue
                executors = []
                for t in tasks:
                    executors.append({
                        "id": t.executor_id, "name": "Command Executor (Task: %s)" % t.task_id,
                        "source": t.task_id, "container": t.container_id, "directory": t.sandbox,
                        "resources": Resources([normalize_json_resource(r)
                                                for r in t.info.get("resources", [])]).to_v0(),
                        "tasks": [self._task_v0(t)], "queued_tasks": [], "completed_tasks": [],
                    })
                completed_exec = [{
                    "id": t.executor_id, "name": "Command Executor (Task: %s)" % t.task_id, "source": t.task_id,
                    "container": t.container_id, "directory": t.sandbox, "tasks": [], "queued_tasks": [],
                    "completed_tasks": [self._task_v0(t)]} for t in done]
                frameworks.append({
                    "id": fid, "name": fi.get("name", ""), "user": fi.get("user", ""),
                    "failover_timeout": fi.get("failover_timeout", 0), "checkpoint": fi.get("checkpoint", False),
                    "role": fi.get("role", "*"), "roles": fi.get("roles") or [fi.get("role", "*")],
                    "hostname": fi.get("hostname", ""), "principal": fi.get("principal"),
                    "executors": executors, "completed_executors": completed_exec,
                })
            out = {
                "version": VERSION, "git_tag": GIT_TAG, "build_date": BUILD_DATE, "build_time": BUILD_TIME,
                "build_user": BUILD_USER, "start_time": self.start_time,
                "id": self.agent_id or "", "pid": "slave(1)@%s:%d" % (self.addr.advertise_ip, self.addr.advertise_port),
                "hostname": self.hostname,
                "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT",
                                 "AGENT_OPERATION_FEEDBACK", "RESOURCE_PROVIDER", "AGENT_DRAINING",
                                 "TASK_RESOURCE_LIMITS"],
                "resources": res.to_v0(),
                "reserved_resources": res.to_v0_by_role(),
                "unreserved_resources": res.filter_roles({"*"}).to_v0(),
                "reserved_resources_full": {r: res.filter_roles({r}).to_list() for r in res.roles() if r != "*"},
                "unreserved_resources_full": res.filter_roles({"*"}).to_list(),
                "attributes": attributes_v0(self.attributes),
                "flags": self.flags.as_strings(),
                "frameworks": frameworks,
                "completed_frameworks": [],
            }
            if self.master_info:
                out["master_hostname"] = self.master_info.get("hostname") or \
                    (self.master_info.get("address") or {}).get("hostname")
            if self.flags.get("log_dir"):
                out["log_dir"] = self.flags.log_dir
            if self.flags.get("domain"):
                out["domain"] = self.flags.domain
            return out

    def metrics(self):
        with self.lock:
            tasks = list(self.tasks.values())
            res = Resources(self.resources)
            used = Resources()
            for t in tasks:
                used = used + Resources([normalize_json_resource(r) for r in t.info.get("resources", [])])
            out = {
                "slave/registered": 1 if self.registered else 0,
                "slave/uptime_secs": time.time() - self.start_time,
                "slave/tasks_staging": sum(1 for t in tasks if t.state == "TASK_STAGING"),
                "slave/tasks_starting": sum(1 for t in tasks if t.state == "TASK_STARTING"),
                "slave/tasks_running": sum(1 for t in tasks if t.state == "TASK_RUNNING"),
                "slave/tasks_killing": sum(1 for t in tasks if t.state == "TASK_KILLING"),
                "slave/tasks_finished": self.metrics_counters["TASK_FINISHED"],
                "slave/tasks_failed": self.metrics_counters["TASK_FAILED"],
                "slave/tasks_killed": self.metrics_counters["TASK_KILLED"],
                "slave/tasks_lost": self.metrics_counters["TASK_LOST"],
                "slave/frameworks_active": len({t.framework_id for t in tasks}),
                "containerizer/mesos/container_destroy_errors": 0,
            }
            for name in ("cpus", "mem", "disk", "gpus"):
                out["slave/%s_total" % name] = res.scalar(name)
                out["slave/%s_used" % name] = used.scalar(name)
            return out

    def containers_v1(self):
        with self.lock:
            out = []
            for t in self.tasks.values():
                if not t.launched:
                    continue
                mem = sum(float(r.get("scalar", {}).get("value", 0)) for r in t.info.get("resources", [])
                          if r.get("name") == "mem")
                cpus = sum(float(r.get("scalar", {}).get("value", 0)) for r in t.info.get("resources", [])
                           if r.get("name") == "cpus")
                out.append({
                    "container_id": _id(t.container_id),
                    "executor_id": _id(t.executor_id),
                    "executor_name": "Command Executor (Task: %s)" % t.task_id,
                    "framework_id": _id(t.framework_id),
                    "container_status": {"network_infos": [{"ip_addresses": [
                        {"protocol": "IPv4", "ip_address": t.container_ip or self.addr.advertise_ip}]}],
                        "executor_pid": t.docker_pid or t.pid or 0},
                    "resource_statistics": {"timestamp": time.time(), "cpus_limit": cpus,
                                            "mem_limit_bytes": int(mem * 1024 * 1024)},
                })
            return out
