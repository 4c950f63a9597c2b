"""Marathon's scheduler core: apps, instances, deployments, offers, health checks."""
import collections
import concurrent.futures
import copy
import logging
import math
import os
import socket
import threading
import time
import uuid

from standin_common import httpd

from . import appdef, matching
from .appdef import iso_now

log = logging.getLogger("marathon.core")

ACTIVE_STATES = {"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE"}
TERMINAL_STATES = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED",
                   "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"}
FAILURE_STATES = {"TASK_FAILED", "TASK_ERROR", "TASK_FINISHED", "TASK_LOST", "TASK_DROPPED", "TASK_GONE",
                  "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"}


class AppLocked(Exception):
    def __init__(self, deployment_ids):
        ids = sorted(deployment_ids)
        super().__init__("App is locked by one or more deployments. Override with the option '?force=true'. "
                         "View details at '/v2/deployments/%s'." % ",".join(ids))
        self.deployment_ids = ids


class UnknownApp(Exception):
    def __init__(self, app_id):
        super().__init__("App '%s' does not exist" % app_id)


class Conflict(Exception):
    pass


class UnknownGroup(Exception):
    def __init__(self, group_id):
        super().__init__("Group '%s' does not exist" % group_id)


class NotLeader(Exception):
    pass


def java_double(v):
    return repr(float(v))


def sanitize_env(name):
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in name.upper())
    return out


class Core:
    def __init__(self, conf, store, start_threads=True):
        self.conf = conf
        self.store = store
        self.lock = threading.RLock()
        self.driver = None
        self.leader = False
        self.subscribed = False
        self.framework_id = None
        self.apps = {}            # id -> {"app": def, "versions": [...], "history": {}}
        self.instances = {}       # task id -> record
        self.deployments = {}     # id -> deployment
        self.groups = {}          # explicitly created groups: id -> {id, dependencies, enforceRole, version}
        self.hc = {}              # task id -> [result dict per health check]
        self.hc_next = {}         # (task id, idx) -> next check time
        self.delays = {}          # app id -> {"delay": secs, "until": t}
        self.last_failure = {}    # app id -> lastTaskFailure
        self.queue_stats = {}     # app id -> stats
        self.expunged = set()     # task ids we forgot about (kill if they show up)
        self.demand = {}          # app id -> instances to launch now
        self.suppressed = False
        self.last_revive = 0.0
        self.last_reconcile = 0.0
        self.outbox = []
        self.stop_event = threading.Event()
        self.hc_pool = concurrent.futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="health")
        self.hc_running = set()
        self.elected_at = None
        self.default_roles = self._default_roles()
        self.features = {f.strip() for f in (conf.get("enable_features") or "").split(",") if f.strip()}
        self.event_sink = None
        self._last_version_ts = 0.0
        if start_threads:
            threading.Thread(target=self._tick_loop, name="scheduler-tick", daemon=True).start()
            threading.Thread(target=self._hc_loop, name="health-checks", daemon=True).start()

    # ------------------------------------------------------------------
    @property
    def role(self):
        return self.conf.get("mesos_role") or "*"

    def _default_roles(self):
        if self.conf.get("default_accepted_resource_roles"):
            return {r.strip() for r in self.conf.default_accepted_resource_roles.split(",") if r.strip()}
        behavior = self.conf.accepted_resource_roles_default_behavior
        if behavior == "unreserved":
            return {"*"}
        if behavior == "reserved":
            return {self.role}
        return {"*", self.role}

    def framework_info(self):
        c = self.conf
        fi = {
            "user": c.mesos_user,
            "name": c.framework_name,
            "failover_timeout": float(c.failover_timeout),
            "checkpoint": bool(c.checkpoint),
            "hostname": c.hostname,
            "webui_url": c.get("webui_url") or "http://%s:%d" % (c.hostname, c.http_port),
            "roles": [self.role],
            "capabilities": [{"type": "TASK_KILLING_STATE"}, {"type": "PARTITION_AWARE"},
                             {"type": "MULTI_ROLE"}, {"type": "REGION_AWARE"}],
        }
        if c.get("mesos_authentication_principal"):
            fi["principal"] = c.mesos_authentication_principal
        if self.framework_id:
            fi["id"] = {"value": self.framework_id}
        return fi

    # ------------------------------------------------------------------
    # leadership

    def elected(self, driver_factory):
        with self.lock:
            log.info("Elected as leader: loading state from ZooKeeper")
            self.apps = self.store.load_apps()
            self.deployments = self.store.load_deployments()
            self.instances = self.store.load_instances()
            self.groups = self.store.load_groups()
            self.framework_id = self.store.get_framework_id()
            self.hc.clear()
            self.hc_next.clear()
            self.delays.clear()
            self.queue_stats.clear()
            self.expunged.clear()
            self.suppressed = False
            self.leader = True
            self.elected_at = time.time()
            log.info("Loaded %d app(s), %d deployment(s), %d instance(s); framework id %s",
                     len(self.apps), len(self.deployments), len(self.instances), self.framework_id)
            self.driver = driver_factory(self.framework_info, self.handle_event)
        self.driver.start()

    def defeated(self):
        with self.lock:
            if not self.leader:
                return
            log.warning("Lost leadership: stopping the scheduler")
            self.leader = False
            self.subscribed = False
            driver = self.driver
            self.driver = None
            self.apps = {}
            self.instances = {}
            self.deployments = {}
            self.groups = {}
            self.outbox = []
        if driver is not None:
            driver.stop()

    def _require_leader(self):
        if not self.leader:
            raise NotLeader()

    # ------------------------------------------------------------------
    # outbound calls

    def _queue(self, call):
        self.outbox.append(call)

    def flush(self):
        with self.lock:
            calls = self.outbox
            self.outbox = []
            driver = self.driver
        if driver is None:
            return
        for call in calls:
            driver.call(call)

    # ------------------------------------------------------------------
    # Mesos events

    def handle_event(self, event):
        etype = event.get("type")
        with self.lock:
            if not self.leader:
                return
            if etype == "SUBSCRIBED":
                fid = event["subscribed"]["framework_id"]["value"]
                if fid != self.framework_id:
                    self.framework_id = fid
                    self.store.set_framework_id(fid)
                    log.info("Stored framework id %s", fid)
                self.subscribed = True
                self.suppressed = False
                self._reconcile(explicit=True)
            elif etype == "_DISCONNECTED":
                self.subscribed = False
            elif etype == "OFFERS":
                self._offers(event["offers"].get("offers", []))
            elif etype == "UPDATE":
                self._status_update(event["update"]["status"])
            elif etype == "RESCIND":
                pass
            elif etype == "ERROR":
                msg = (event.get("error") or {}).get("message", "")
                if msg == "Framework has been removed":
                    log.error("Error: %s. In case Mesos does not allow registration with the current frameworkId, "
                              "delete the ZooKeeper node %s/state/framework-id. CAUTION: if you remove this "
                              "node, all tasks started with the current frameworkId will be orphaned! "
                              "Removing the framework id and exiting.", msg, self.store.root)
                    try:
                        self.store.client.delete(self.store.state_root + "/framework-id")
                    except Exception:
                        pass
                    logging.shutdown()
                    os._exit(106)
        self.flush()

    def _next_version(self):
        """A new, strictly increasing version timestamp (millisecond resolution)."""
        t = max(time.time(), self._last_version_ts + 0.001)
        self._last_version_ts = t
        return iso_now(t)

    def _emit(self, event_type, payload):
        sink = self.event_sink
        if sink is not None:
            try:
                sink(event_type, payload)
            except Exception:
                log.exception("Event sink failed")

    def _reconcile(self, explicit):
        tasks = [{"task_id": {"value": tid}, "agent_id": {"value": i["agentId"]}}
                 for tid, i in self.instances.items() if i.get("agentId")]
        if explicit and tasks:
            self._queue({"type": "RECONCILE", "reconcile": {"tasks": tasks}})
        self._queue({"type": "RECONCILE", "reconcile": {"tasks": []}})
        self.last_reconcile = time.time()

    def _ack(self, status):
        if status.get("uuid") and status.get("agent_id"):
            self._queue({"type": "ACKNOWLEDGE", "acknowledge": {
                "agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]}})

    def _status_update(self, status):
        tid = status["task_id"]["value"]
        state = status.get("state")
        self._ack(status)
        inst = self.instances.get(tid)
        if inst is not None:
            self._emit("status_update_event", {
                "slaveId": inst.get("agentId"), "taskId": tid, "taskStatus": state,
                "message": status.get("message", ""), "appId": inst["appId"], "host": inst.get("host"),
                "ipAddresses": inst.get("ipAddresses") or [], "ports": inst.get("ports") or [],
                "version": inst.get("version")})
        if inst is None:
            if state not in TERMINAL_STATES and state != "TASK_UNREACHABLE":
                log.info("Killing unknown task %s (state %s)", tid, state)
                self._queue({"type": "KILL", "kill": {"task_id": {"value": tid},
                                                      "agent_id": status.get("agent_id")}})
            return
        prev = inst.get("state")
        if prev == "TASK_RUNNING" and state in ("TASK_STAGING", "TASK_STARTING"):
            # a stale update delivered late (a task never goes back from RUNNING): ignore it
            log.debug("Ignoring out-of-order %s for running task %s", state, tid)
            return
        app_rec = self.apps.get(inst["appId"])
        app = app_rec["app"] if app_rec else None
        if state in TERMINAL_STATES:
            log.info("Task %s of %s is terminal: %s (%s)", tid, inst["appId"], state, status.get("message", ""))
            killed = inst.get("killRequestedAt") is not None
            if app is not None and (not killed or inst.get("killReason") == "unhealthy") and \
                    (state in FAILURE_STATES or inst.get("killReason") == "unhealthy"):
                self.last_failure[inst["appId"]] = {
                    "appId": inst["appId"], "host": inst.get("host", ""), "message": status.get("message", ""),
                    "state": state, "taskId": tid, "timestamp": iso_now(), "version": inst.get("version"),
                    "slaveId": inst.get("agentId")}
                self._increase_delay(app)
            self._forget(tid)
            return
        if state == "TASK_UNREACHABLE":
            if inst.get("unreachableSince") is None:
                inst["unreachableSince"] = time.time()
                log.warning("Task %s of %s is unreachable", tid, inst["appId"])
            inst["state"] = state
            self.store.save_instance(inst)
            return
        inst["state"] = state
        inst["unreachableSince"] = None
        inst["inactive"] = False
        if "healthy" in status:
            inst["healthy"] = bool(status["healthy"])
            now_iso = iso_now(status.get("timestamp") or time.time())
            if inst["healthy"]:
                inst.setdefault("hcFirstSuccess", now_iso)
                inst["hcLastSuccess"] = now_iso
                inst["hcFailures"] = 0
            else:
                inst["hcLastFailure"] = now_iso
                inst["hcLastFailureCause"] = status.get("message")
                inst["hcFailures"] = inst.get("hcFailures", 0) + 1
        cs = status.get("container_status") or {}
        ips = []
        for ni in cs.get("network_infos") or []:
            for ip in ni.get("ip_addresses") or []:
                if ip.get("ip_address"):
                    ips.append({"ipAddress": ip["ip_address"], "protocol": ip.get("protocol", "IPv4")})
        if ips:
            inst["ipAddresses"] = ips
        if state == "TASK_RUNNING" and not inst.get("startedAt"):
            inst["startedAt"] = iso_now()
            inst["startedAtTs"] = time.time()
        if prev != state or "healthy" in status:
            self.store.save_instance(inst)
            if prev != state:
                log.info("Task %s of %s is %s", tid, inst["appId"], state)

    def _forget(self, tid):
        self.instances.pop(tid, None)
        self.hc.pop(tid, None)
        for k in [k for k in self.hc_next if k[0] == tid]:
            self.hc_next.pop(k, None)
        self.store.delete_instance(tid)

    def _increase_delay(self, app):
        d = self.delays.get(app["id"])
        t = time.time()
        if d is None or d["delay"] <= 0:
            delay = float(app["backoffSeconds"])
        else:
            delay = min(d["delay"] * app["backoffFactor"], float(app["maxLaunchDelaySeconds"]))
        self.delays[app["id"]] = {"delay": delay, "until": t + delay}
        log.info("Launch delay of %s is now %.1fs", app["id"], delay)

    def reset_delay(self, app_id):
        with self.lock:
            self._require_leader()
            if app_id not in self.apps:
                raise UnknownApp(app_id)
            self.delays.pop(app_id, None)

    # ------------------------------------------------------------------
    # instance bookkeeping helpers

    def app_instances(self, app_id):
        return [i for i in self.instances.values() if i["appId"] == app_id]

    def _is_active(self, inst):
        return inst.get("state") in ACTIVE_STATES and not inst.get("killRequestedAt") and not inst.get("inactive")

    def _health_alive(self, inst, app):
        """True/False when all/any health checks are known healthy/unhealthy, None when unknown."""
        hcs = app.get("healthChecks") or []
        if not hcs:
            return None
        results = self.hc.get(inst["taskId"]) or []
        states = []
        for idx, h in enumerate(hcs):
            if h["protocol"] in appdef.MESOS_HC:
                states.append(inst.get("healthy"))
            else:
                r = results[idx] if idx < len(results) else None
                states.append(None if r is None else r.get("alive"))
        if any(s is False for s in states):
            return False
        if all(s is True for s in states):
            return True
        return None

    def _healthy(self, inst, app):
        if inst.get("state") != "TASK_RUNNING":
            return False
        if not app.get("healthChecks"):
            return True
        return self._health_alive(inst, app) is True

    # ------------------------------------------------------------------
    # periodic scheduling

    def _tick_loop(self):
        while not self.stop_event.wait(1.0):
            try:
                self.tick()
            except Exception:
                log.exception("Scheduler tick failed")
            self.flush()

    def tick(self):
        with self.lock:
            if not self.leader:
                return
            t = time.time()
            # unreachable instances
            for inst in list(self.instances.values()):
                if inst.get("state") != "TASK_UNREACHABLE" or inst.get("unreachableSince") is None:
                    continue
                rec = self.apps.get(inst["appId"])
                strategy = rec["app"].get("unreachableStrategy") if rec else {"inactiveAfterSeconds": 0,
                                                                              "expungeAfterSeconds": 0}
                if strategy == "disabled":
                    continue
                age = t - inst["unreachableSince"]
                if age >= strategy["expungeAfterSeconds"]:
                    log.info("Expunging unreachable task %s of %s", inst["taskId"], inst["appId"])
                    self.expunged.add(inst["taskId"])
                    self._forget(inst["taskId"])
                elif age >= strategy["inactiveAfterSeconds"] and not inst.get("inactive"):
                    inst["inactive"] = True
                    self.store.save_instance(inst)
            # launch timeouts and kill retries
            timeout = self.conf.task_launch_timeout / 1000.0
            for inst in list(self.instances.values()):
                if inst.get("killRequestedAt"):
                    if t - inst.get("lastKillSent", 0) > 10 and inst.get("state") != "TASK_UNREACHABLE":
                        self._send_kill(inst)
                    continue
                if inst.get("state") in ("TASK_STAGING", "TASK_STARTING") and \
                        t - inst.get("launchedAt", t) > timeout:
                    log.warning("Task %s did not become running within %.0fs: killing it", inst["taskId"], timeout)
                    self._kill(inst, "launch-timeout")
            # instances of deleted apps
            for inst in list(self.instances.values()):
                if inst["appId"] not in self.apps and not inst.get("killRequestedAt"):
                    if inst.get("state") == "TASK_UNREACHABLE":
                        continue
                    self._kill(inst, "app-removed")
            # per app plan
            self.demand = {}
            for app_id, rec in self.apps.items():
                self._plan(rec["app"], t)
            self._reset_delays(t)
            # deployments
            for dep in list(self.deployments.values()):
                if self._deployment_done(dep):
                    log.info("Deployment %s (version %s) of %s finished", dep["id"], dep["version"],
                             ", ".join(dep["affectedApps"]))
                    self.deployments.pop(dep["id"], None)
                    self.store.delete_deployment(dep["id"])
                    self._emit("deployment_success", {"id": dep["id"], "plan": {
                        "id": dep["id"], "version": dep["version"], "steps": dep["steps"]}})
            # queue bookkeeping
            for app_id in list(self.queue_stats):
                if self.demand.get(app_id, 0) <= 0:
                    self.queue_stats.pop(app_id, None)
            for app_id, n in self.demand.items():
                if n > 0 and app_id not in self.queue_stats:
                    self.queue_stats[app_id] = self._new_stats()
            if not self.subscribed:
                return
            launchable = sum(n for a, n in self.demand.items() if n > 0 and not self._delayed(a, t))
            interval = self.conf.min_revive_offers_interval / 1000.0
            if launchable > 0:
                if self.suppressed or t - self.last_revive >= interval:
                    self._queue({"type": "REVIVE", "revive": {"roles": [self.role]}})
                    self.suppressed = False
                    self.last_revive = t
            elif self.conf.suppress_offers and not self.suppressed and not any(
                    n > 0 for n in self.demand.values()):
                self._queue({"type": "SUPPRESS", "suppress": {"roles": [self.role]}})
                self.suppressed = True
            if t - self.last_reconcile > self.conf.reconciliation_interval / 1000.0:
                self._reconcile(explicit=True)

    def _new_stats(self):
        return {"since": iso_now(), "processed": 0, "unused": 0, "lastUnusedOfferAt": None,
                "lastUsedOfferAt": None, "attempt": [], "last_by_agent": {}, "lastUnusedOffers": collections.deque(
                    maxlen=50)}

    def _delayed(self, app_id, t=None):
        d = self.delays.get(app_id)
        return d is not None and (t or time.time()) < d["until"]

    def _reset_delays(self, t):
        for app_id in list(self.delays):
            rec = self.apps.get(app_id)
            if rec is None:
                self.delays.pop(app_id, None)
                continue
            if self._delayed(app_id, t):
                continue
            for inst in self.app_instances(app_id):
                if inst.get("state") == "TASK_RUNNING" and t - inst.get("startedAtTs", t) >= 10 and \
                        self._healthy(inst, rec["app"]):
                    self.delays.pop(app_id, None)
                    break

    def _plan(self, app, t):
        app_id = app["id"]
        n = app["instances"]
        config = app["versionInfo"]["lastConfigChangeAt"]
        active = [i for i in self.app_instances(app_id) if self._is_active(i)]
        current = [i for i in active if i.get("configVersion") == config]
        old = [i for i in active if i.get("configVersion") != config]
        if not old:
            if len(current) < n:
                self.demand[app_id] = n - len(current)
            elif len(current) > n:
                excess = len(current) - n
                pending = [i for i in current if i.get("state") != "TASK_RUNNING"]
                pending.sort(key=lambda i: i.get("stagedAt") or "", reverse=True)
                victims = pending[:excess]
                rest = [i for i in current if i not in victims]
                victims += matching.select_kills(app, rest, excess - len(victims))
                for v in victims:
                    self._kill(v, "scale-down")
            return
        # rolling upgrade (default: start new, wait healthy, kill old)
        us = app["upgradeStrategy"]
        min_healthy = int(math.ceil(n * us["minimumHealthCapacity"] - 1e-9))
        max_capacity = int(math.floor(n * (1 + us["maximumOverCapacity"]) + 1e-9))
        healthy_new = [i for i in current if self._healthy(i, app)]
        healthy_old = [i for i in old if self._healthy(i, app)]
        unhealthy_old = [i for i in old if i not in healthy_old]
        killed = 0
        for i in unhealthy_old:
            self._kill(i, "upgrade")
            killed += 1
        can_kill = max(0, len(healthy_old) + len(healthy_new) - min_healthy)
        if len(current) > n:
            can_kill = len(healthy_old)
        healthy_old.sort(key=lambda i: i.get("stagedAt") or "")
        for i in healthy_old[:can_kill]:
            self._kill(i, "upgrade")
            killed += 1
        remaining_old = len(old) - killed
        launch = max(0, min(n - len(current), max_capacity - (remaining_old + len(current))))
        if launch == 0 and killed == 0 and len(current) < n and remaining_old > 0 and \
                all(self._healthy(i, app) for i in current):
            # no room to start a new instance without going below the health capacity: kill one
            victim = sorted(old, key=lambda i: i.get("stagedAt") or "")[0]
            self._kill(victim, "upgrade")
        if launch > 0:
            self.demand[app_id] = launch

    def _kill(self, inst, reason):
        if inst.get("killRequestedAt"):
            return
        log.info("Killing task %s of %s (%s)", inst["taskId"], inst["appId"], reason)
        inst["killRequestedAt"] = time.time()
        inst["killReason"] = reason
        self.store.save_instance(inst)
        self._send_kill(inst)

    def _send_kill(self, inst):
        inst["lastKillSent"] = time.time()
        call = {"type": "KILL", "kill": {"task_id": {"value": inst["taskId"]}}}
        if inst.get("agentId"):
            call["kill"]["agent_id"] = {"value": inst["agentId"]}
        rec = self.apps.get(inst["appId"])
        grace = (rec or {}).get("app", {}).get("taskKillGracePeriodSeconds") if rec else None
        if grace is not None:
            call["kill"]["kill_policy"] = {"grace_period": {"nanoseconds": int(grace * 1e9)}}
        self._queue(call)

    def _app_satisfied(self, app):
        config = app["versionInfo"]["lastConfigChangeAt"]
        insts = [i for i in self.app_instances(app["id"]) if i.get("state") not in TERMINAL_STATES]
        if any(i.get("configVersion") != config for i in insts):
            return False
        live = [i for i in insts if not i.get("killRequestedAt") and not i.get("inactive")]
        if len(live) != app["instances"] or len(insts) != len(live):
            return False
        return all(self._healthy(i, app) for i in live)

    def _deployment_done(self, dep):
        for app_id, target in dep["targets"].items():
            if target["kind"] == "StopApplication":
                if app_id in self.apps:
                    continue
                if any(i["appId"] == app_id for i in self.instances.values()):
                    return False
            else:
                rec = self.apps.get(app_id)
                if rec is None or not self._app_satisfied(rec["app"]):
                    return False
        return True

    # ------------------------------------------------------------------
    # offers

    def _offers(self, offers):
        t = time.time()
        decline_refuse = self.conf.decline_offer_duration / 1000.0
        candidates = sorted(a for a, n in self.demand.items() if n > 0 and a in self.apps and not self._delayed(a, t))
        remaining = {a: self.demand[a] for a in candidates}
        for offer in offers:
            oid = offer["id"]
            task_infos = []
            failed = False
            try:
                self._match_offer(offer, candidates, remaining, task_infos)
            except Exception:  # noqa: BLE001 - whatever went wrong, the offer is answered below
                # Like Marathon, never leave an offer unanswered: a leaked offer keeps the
                # agent's resources from everyone until the master rescinds it.
                log.exception("Processing offer %s failed; answering it anyway", oid.get("value"))
                failed = True
            if task_infos:
                self._queue({"type": "ACCEPT", "accept": {
                    "offer_ids": [oid],
                    "operations": [{"type": "LAUNCH", "launch": {"task_infos": task_infos}}],
                    "filters": {"refuse_seconds": 5.0}}})
            else:
                self._queue({"type": "DECLINE", "decline": {"offer_ids": [oid], "filters": {
                    "refuse_seconds": 5.0 if failed else decline_refuse}}})

    def _match_offer(self, offer, candidates, remaining, task_infos):
        """Instances of the candidate apps placed on one offer (their TaskInfos appended)."""
        pool = matching.OfferPool(offer)
        per_offer = 0
        for app_id in candidates:
            app = self.apps[app_id]["app"]
            stats = self.queue_stats.setdefault(app_id, self._new_stats())
            roles = matching.accepted_roles(app, self.default_roles, self.role)
            while remaining.get(app_id, 0) > 0 and per_offer < self.conf.max_instances_per_offer:
                placed = [(i.get("host"), i.get("attributes") or [])
                          for i in self.app_instances(app_id) if self._is_active(i)]
                alloc, reasons = matching.match(app, pool, placed, roles)
                stats["processed"] += 1
                agent = offer["agent_id"]["value"]
                stats["last_by_agent"][agent] = reasons
                stats["attempt"].append(reasons)
                if alloc is None:
                    stats["unused"] += 1
                    stats["lastUnusedOfferAt"] = iso_now()
                    stats["lastUnusedOffers"].append({"offer": self._offer_view(offer), "timestamp": iso_now(),
                                                      "reason": reasons})
                    break
                stats["lastUsedOfferAt"] = iso_now()
                task_infos.append(self._launch(app, offer, alloc, pool))
                remaining[app_id] -= 1
                self.demand[app_id] = remaining[app_id]
                per_offer += 1

    @staticmethod
    def _offer_view(offer):
        res = []
        for r in offer.get("resources", []):
            item = {"name": r["name"], "role": matching.resource_role(r)}
            if r.get("type") == "SCALAR":
                item["scalar"] = r["scalar"]["value"]
            elif r.get("type") == "RANGES":
                item["ranges"] = [{"begin": x["begin"], "end": x["end"]} for x in r["ranges"].get("range", [])]
            elif r.get("type") == "SET":
                item["set"] = list(r["set"].get("item", []))
            res.append(item)
        attrs = []
        for a in offer.get("attributes", []):
            item = {"name": a["name"]}
            if a.get("type") == "SCALAR":
                item["scalar"] = a["scalar"]["value"]
            elif a.get("type") == "RANGES":
                item["ranges"] = [{"begin": x["begin"], "end": x["end"]} for x in a["ranges"].get("range", [])]
            elif a.get("type") == "SET":
                item["set"] = list(a["set"].get("item", []))
            else:
                item["text"] = (a.get("text") or {}).get("value", "")
            attrs.append(item)
        return {"id": offer["id"]["value"], "agentId": offer["agent_id"]["value"], "hostname": offer.get("hostname"),
                "resources": res, "attributes": attrs}

    def _launch(self, app, offer, alloc, pool):
        instance_uuid = str(uuid.uuid4())
        prefix = appdef.id_to_task_prefix(app["id"])
        instance_id = "%s.instance-%s" % (prefix, instance_uuid)
        task_id = "%s._app.1" % instance_id
        host_ports = [p for p, _ in alloc["ports"]]
        ti = self._task_info(app, offer, alloc, task_id, host_ports)
        domain = ((offer.get("domain") or {}).get("fault_domain") or {})
        inst = {
            "taskId": task_id, "instanceId": instance_id, "appId": app["id"], "version": app["version"],
            "configVersion": app["versionInfo"]["lastConfigChangeAt"],
            "agentId": offer["agent_id"]["value"], "host": offer.get("hostname"),
            "ports": [p for p in host_ports if p is not None],
            "servicePorts": appdef.service_ports(app),
            "stagedAt": iso_now(), "launchedAt": time.time(), "state": "TASK_STAGING",
            "attributes": offer.get("attributes", []), "role": pool.alloc_role,
            "region": (domain.get("region") or {}).get("name"), "zone": (domain.get("zone") or {}).get("name"),
        }
        self.instances[task_id] = inst
        self.store.save_instance(inst)
        log.info("Launching task %s of %s on %s (ports %s)", task_id, app["id"], inst["host"], inst["ports"])
        return ti

    def _task_env(self, app, task_id, host, host_ports):
        env = {}
        prefix = self.conf.get("env_vars_prefix") or ""
        docker = ((app.get("container") or {}).get("docker") or {})
        env["MESOS_TASK_ID"] = task_id
        env["MARATHON_APP_ID"] = app["id"]
        env["MARATHON_APP_VERSION"] = app["version"]
        if docker.get("image"):
            env["MARATHON_APP_DOCKER_IMAGE"] = docker["image"]
        env["MARATHON_APP_RESOURCE_CPUS"] = java_double(app["cpus"])
        env["MARATHON_APP_RESOURCE_MEM"] = java_double(app["mem"])
        env["MARATHON_APP_RESOURCE_DISK"] = java_double(app["disk"])
        env["MARATHON_APP_RESOURCE_GPUS"] = str(int(app.get("gpus", 0)))
        labels = app.get("labels") or {}
        env["MARATHON_APP_LABELS"] = " ".join(sanitize_env(k) for k in sorted(labels))
        for k, v in labels.items():
            if len(v) < 512:
                env["MARATHON_APP_LABEL_" + sanitize_env(k)] = v
        mode = appdef.network_mode(app)
        if mode == "host":
            requested = [pd["port"] for pd in app.get("portDefinitions") or []]
            names = [pd.get("name") for pd in app.get("portDefinitions") or []]
            effective = host_ports
        else:
            pms = (app.get("container") or {}).get("portMappings") or []
            requested = [pm.get("containerPort", 0) for pm in pms]
            names = [pm.get("name") for pm in pms]
            effective = []
            for pm, hp in zip(pms, host_ports):
                if hp is not None:
                    effective.append(hp)
                else:
                    effective.append(pm.get("containerPort") or None)
        eff = [p for p in effective if p is not None]
        for idx, p in enumerate(effective):
            if p is not None:
                env[prefix + "PORT%d" % idx] = str(p)
        for req, p in zip(requested, effective):
            if req and p is not None:
                env[prefix + "PORT_%d" % req] = str(p)
        for name, p in zip(names, effective):
            if name and p is not None:
                env[prefix + "PORT_" + sanitize_env(name)] = str(p)
        if eff:
            env[prefix + "PORT"] = str(eff[0])
            env[prefix + "PORTS"] = ",".join(str(p) for p in eff)
        env[prefix + "HOST"] = host
        for k, v in (app.get("env") or {}).items():
            if isinstance(v, str):
                env[k] = v
        return env

    def _task_info(self, app, offer, alloc, task_id, host_ports):
        host = offer.get("hostname")
        resources = matching.allocation_resources(alloc, (offer.get("allocation_info") or {}).get("role") or self.role)
        env = self._task_env(app, task_id, host, host_ports)
        command = {"environment": {"variables": [{"name": k, "value": env[k]} for k in sorted(env)]}}
        if app.get("cmd"):
            command["shell"] = True
            command["value"] = app["cmd"]
        elif app.get("args"):
            command["shell"] = False
            command["arguments"] = list(app["args"])
            if not ((app.get("container") or {}).get("docker") or {}).get("image"):
                command["value"] = app["args"][0]
        else:
            command["shell"] = False
        if app.get("user"):
            command["user"] = app["user"]
        if app.get("fetch"):
            command["uris"] = [{"value": f["uri"], "executable": f["executable"], "extract": f["extract"],
                                "cache": f["cache"], **({"output_file": f["destPath"]} if f.get("destPath") else {})}
                               for f in app["fetch"]]
        ti = {
            "name": appdef.id_to_hostname(app["id"]),
            "task_id": {"value": task_id},
            "agent_id": offer["agent_id"],
            "resources": resources,
            "command": command,
        }
        if app.get("labels"):
            ti["labels"] = {"labels": [{"key": k, "value": v} for k, v in sorted(app["labels"].items())]}
        mode = appdef.network_mode(app)
        container = app.get("container")
        if container is not None:
            docker = container.get("docker") or {}
            volumes = [{"container_path": v["containerPath"], "host_path": v["hostPath"],
                        "mode": v.get("mode", "RW")} for v in container.get("volumes") or []
                       if v.get("hostPath") and v.get("containerPath")]
            if container.get("type") == "DOCKER":
                net = {"host": "HOST", "container/bridge": "BRIDGE", "container": "USER"}[mode]
                d = {"image": docker.get("image"), "network": net, "privileged": bool(docker.get("privileged")),
                     "force_pull_image": bool(docker.get("forcePullImage")),
                     "parameters": [{"key": p["key"], "value": p["value"]} for p in docker.get("parameters") or []]}
                pms = []
                for pm, hp in zip(container.get("portMappings") or [], host_ports):
                    if hp is None and mode != "container":
                        continue
                    cp = pm.get("containerPort") or hp
                    for proto in (pm.get("protocol") or "tcp").split(","):
                        item = {"container_port": cp, "protocol": proto}
                        if hp is not None:
                            item["host_port"] = hp
                        pms.append(item)
                if mode != "host":
                    d["port_mappings"] = [p for p in pms if "host_port" in p]
                c = {"type": "DOCKER", "docker": d, "volumes": volumes}
            else:
                c = {"type": "MESOS", "volumes": volumes}
                if docker.get("image"):
                    c["mesos"] = {"image": {"type": "DOCKER", "docker": {"name": docker["image"]},
                                            "cached": not docker.get("forcePullImage", False)}}
                    c["docker"] = {"image": docker["image"], "network": "HOST" if mode == "host" else "BRIDGE",
                                   "force_pull_image": bool(docker.get("forcePullImage"))}
            if mode == "container":
                c["network_infos"] = [{"name": n.get("name")} for n in app.get("networks") or [] if n.get("name")]
            ti["container"] = c
        ports_disc = []
        if mode == "host":
            for pd, hp in zip(app.get("portDefinitions") or [], host_ports):
                if hp is not None:
                    item = {"number": hp, "protocol": pd.get("protocol", "tcp")}
                    if pd.get("name"):
                        item["name"] = pd["name"]
                    ports_disc.append(item)
        else:
            for pm, hp in zip((container or {}).get("portMappings") or [], host_ports):
                num = hp if hp is not None else pm.get("containerPort")
                if num:
                    item = {"number": num, "protocol": pm.get("protocol", "tcp")}
                    if pm.get("name"):
                        item["name"] = pm["name"]
                    ports_disc.append(item)
        ti["discovery"] = {"visibility": "FRAMEWORK", "name": ti["name"], "ports": {"ports": ports_disc}}
        mesos_hc = [h for h in app.get("healthChecks") or [] if h["protocol"] in appdef.MESOS_HC]
        if mesos_hc:
            h = mesos_hc[0]
            hc = {"delay_seconds": float(h["delaySeconds"]), "interval_seconds": float(h["intervalSeconds"]),
                  "timeout_seconds": float(h["timeoutSeconds"]), "consecutive_failures": h["maxConsecutiveFailures"],
                  "grace_period_seconds": float(h["gracePeriodSeconds"])}
            if h["protocol"] == "COMMAND":
                hc["type"] = "COMMAND"
                hc["command"] = {"value": h["command"]["value"], "shell": True}
            else:
                port = self._hc_port(app, h, host_ports, for_mesos=True)
                if h["protocol"] == "MESOS_TCP":
                    hc["type"] = "TCP"
                    hc["tcp"] = {"port": port}
                else:
                    hc["type"] = "HTTP"
                    hc["http"] = {"port": port, "path": h.get("path", "/"),
                                  "scheme": "https" if h["protocol"] == "MESOS_HTTPS" else "http"}
            ti["health_check"] = hc
        if app.get("taskKillGracePeriodSeconds") is not None:
            ti["kill_policy"] = {"grace_period": {"nanoseconds": int(app["taskKillGracePeriodSeconds"] * 1e9)}}
        return ti

    def _hc_port(self, app, h, host_ports, for_mesos=False):
        if h.get("port"):
            return h["port"]
        idx = h.get("portIndex", 0)
        mode = appdef.network_mode(app)
        if for_mesos and mode != "host":
            pms = (app.get("container") or {}).get("portMappings") or []
            if idx < len(pms) and pms[idx].get("containerPort"):
                return pms[idx]["containerPort"]
        if idx < len(host_ports):
            return host_ports[idx]
        return None

    # ------------------------------------------------------------------
    # Marathon-run health checks (HTTP, HTTPS, TCP)

    def _hc_loop(self):
        while not self.stop_event.wait(0.5):
            try:
                self._hc_round()
            except Exception:
                log.exception("Health check round failed")
            self.flush()

    def _hc_round(self):
        jobs = []
        with self.lock:
            if not self.leader:
                return
            t = time.time()
            for inst in list(self.instances.values()):
                if inst.get("state") != "TASK_RUNNING" or inst.get("killRequestedAt"):
                    continue
                rec = self.apps.get(inst["appId"])
                if rec is None:
                    continue
                app = rec["app"]
                hcs = app.get("healthChecks") or []
                if not hcs:
                    continue
                results = self.hc.setdefault(inst["taskId"], [None] * len(hcs))
                if len(results) != len(hcs):
                    results[:] = (results + [None] * len(hcs))[:len(hcs)]
                for idx, h in enumerate(hcs):
                    if h["protocol"] not in appdef.MARATHON_HC:
                        continue
                    key = (inst["taskId"], idx)
                    if key in self.hc_running:
                        continue
                    due = self.hc_next.get(key)
                    if due is None:
                        due = t + 1.0
                        self.hc_next[key] = due
                    if t < due:
                        continue
                    self.hc_next[key] = t + max(0.5, h["intervalSeconds"])
                    port = self._hc_port(app, h, inst.get("ports") or [])
                    self.hc_running.add(key)
                    jobs.append((key, inst["taskId"], idx, h, inst.get("host"), port))
        for job in jobs:
            self.hc_pool.submit(self._hc_run, *job)

    def _hc_run(self, key, task_id, idx, h, host, port):
        ok, cause = False, None
        try:
            if port is None or not host:
                cause = "No port/host available for the health check"
            elif h["protocol"] == "TCP":
                with socket.create_connection((host, int(port)), timeout=h["timeoutSeconds"] or 1):
                    ok = True
            else:
                scheme = "https" if h["protocol"] == "HTTPS" else "http"
                status, _, _ = httpd.http_request("GET", "%s://%s:%d%s" % (scheme, host, int(port), h.get("path", "/")),
                                                  timeout=h["timeoutSeconds"] or 1)
                if 200 <= status < 400 or (h.get("ignoreHttp1xx") and 100 <= status < 200):
                    ok = True
                else:
                    cause = "%d" % status
        except OSError as exc:
            cause = str(exc) or exc.__class__.__name__
        with self.lock:
            self.hc_running.discard(key)
            inst = self.instances.get(task_id)
            rec = self.apps.get(inst["appId"]) if inst else None
            if inst is None or rec is None or inst.get("state") != "TASK_RUNNING":
                return
            results = self.hc.setdefault(task_id, [None] * len(rec["app"].get("healthChecks") or []))
            if idx >= len(results):
                return
            r = results[idx] or {"alive": None, "consecutiveFailures": 0, "firstSuccess": None,
                                 "lastSuccess": None, "lastFailure": None, "lastFailureCause": None,
                                 "instanceId": inst["instanceId"]}
            now_iso = iso_now()
            if ok:
                r["alive"] = True
                r["consecutiveFailures"] = 0
                r["lastSuccess"] = now_iso
                if not r["firstSuccess"]:
                    r["firstSuccess"] = now_iso
            else:
                started = inst.get("startedAtTs") or time.time()
                in_grace = not r["firstSuccess"] and time.time() - started < h["gracePeriodSeconds"]
                if not in_grace:
                    r["consecutiveFailures"] += 1
                    r["alive"] = False
                    r["lastFailure"] = now_iso
                    r["lastFailureCause"] = cause
                    if h["maxConsecutiveFailures"] and r["consecutiveFailures"] >= h["maxConsecutiveFailures"]:
                        log.warning("Task %s of %s failed %d consecutive health checks: killing it",
                                    task_id, inst["appId"], r["consecutiveFailures"])
                        self._kill(inst, "unhealthy")
            results[idx] = r

    # ------------------------------------------------------------------
    # API operations

    def _deployments_for(self, app_id):
        return [d for d in self.deployments.values() if app_id in d["affectedApps"]]

    def _check_lock(self, app_ids, force):
        locked = set()
        for app_id in app_ids:
            for d in self._deployments_for(app_id):
                locked.add(d["id"])
        if locked and not force:
            raise AppLocked(locked)
        for dep_id in locked:
            log.info("Canceling deployment %s (forced)", dep_id)
            self.deployments.pop(dep_id, None)
            self.store.delete_deployment(dep_id)

    def _used_service_ports(self, exclude=None):
        used = set()
        for app_id, rec in self.apps.items():
            if app_id != exclude:
                used.update(p for p in appdef.service_ports(rec["app"]) if p)
        return used

    def _store_app(self, app, previous_rec=None):
        rec = previous_rec or {"versions": [], "history": {}}
        rec = {"app": app, "versions": list(rec.get("versions", [])), "history": dict(rec.get("history", {}))}
        rec["versions"].append(app["version"])
        rec["history"][app["version"]] = app
        max_versions = max(1, int(self.conf.zk_max_versions))
        while len(rec["versions"]) > max_versions:
            old = rec["versions"].pop(0)
            rec["history"].pop(old, None)
        self.apps[app["id"]] = rec
        self.store.save_app(rec)
        return rec

    def _new_deployment(self, targets, version):
        dep_id = str(uuid.uuid4())
        steps = []
        kinds = {}
        for app_id, target in targets.items():
            kinds[app_id] = target["kind"]
        if any(t["kind"] == "StartApplication" for t in targets.values()):
            steps.append({"actions": [{"action": "StartApplication", "app": a} for a, k in kinds.items()
                                      if k == "StartApplication"]})
            scale = [a for a, k in kinds.items() if k == "StartApplication" and targets[a].get("instances", 0) > 0]
            if scale:
                steps.append({"actions": [{"action": "ScaleApplication", "app": a} for a in scale]})
        for kind in ("ScaleApplication", "RestartApplication", "StopApplication"):
            acts = [{"action": kind, "app": a} for a, k in kinds.items() if k == kind]
            if acts:
                steps.append({"actions": acts})
        dep = {"id": dep_id, "version": version, "affectedApps": sorted(targets), "affectedPods": [],
               "steps": steps, "targets": targets, "created": time.time()}
        self.deployments[dep_id] = dep
        self.store.save_deployment(dep)
        return dep

    # -- building blocks (caller holds the lock, checks locks, creates the deployment) --

    def _create(self, app, version):
        if app["id"] in self.apps:
            raise Conflict("An app with id [%s] already exists." % app["id"])
        self._check_group_conflict(app["id"])
        if self.conf.get("max_apps") is not None and len(self.apps) >= self.conf.max_apps:
            raise appdef.ValidationFailed([{"path": "/", "errors": [
                "The maximum number of apps (%d) has been reached" % self.conf.max_apps]}])
        app["version"] = version
        app["versionInfo"] = {"lastScalingAt": version, "lastConfigChangeAt": version}
        appdef.assign_service_ports(app, self._used_service_ports(), self.conf.local_port_min,
                                    self.conf.local_port_max)
        self._store_app(app)
        log.info("Created app %s", app["id"])
        return {"kind": "StartApplication", "original": None, "instances": app["instances"]}

    def _update(self, new, rec, version):
        app_id = new["id"]
        old = rec["app"]
        config_changed = appdef.config_view(_without_service_ports(new, old)) != \
            appdef.config_view(_without_service_ports(old, old))
        new["version"] = version
        if config_changed:
            new["versionInfo"] = {"lastScalingAt": version, "lastConfigChangeAt": version}
            self.delays.pop(app_id, None)
            kind = "RestartApplication"
        else:
            new["versionInfo"] = {"lastScalingAt": version,
                                  "lastConfigChangeAt": old["versionInfo"]["lastConfigChangeAt"]}
            kind = "ScaleApplication"
        appdef.assign_service_ports(new, self._used_service_ports(exclude=app_id), self.conf.local_port_min,
                                    self.conf.local_port_max, previous=old)
        self._store_app(new, rec)
        log.info("Updated app %s (%s)", app_id, kind)
        return {"kind": kind, "original": old}

    def _delete(self, app_id):
        rec = self.apps.pop(app_id)
        self.store.delete_app(app_id)
        self.delays.pop(app_id, None)
        self.queue_stats.pop(app_id, None)
        for inst in self.app_instances(app_id):
            if inst.get("state") == "TASK_UNREACHABLE":
                self.expunged.add(inst["taskId"])
                self._forget(inst["taskId"])
            else:
                self._kill(inst, "app-removed")
        log.info("Deleted app %s", app_id)
        return {"kind": "StopApplication", "original": rec["app"]}

    def create_app(self, raw, force=False):
        with self.lock:
            self._require_leader()
            app = appdef.parse_app(raw, self.conf, enabled_features=self.features)
            if app["id"] in self.apps:
                raise Conflict("An app with id [%s] already exists." % app["id"])
            self._check_group_conflict(app["id"])
            self._check_lock([app["id"]], force)
            self._check_running_deployments()
            version = self._next_version()
            target = self._create(app, version)
            dep = self._new_deployment({app["id"]: target}, version)
            return app, dep

    def _check_group_conflict(self, app_id):
        prefix = app_id.rstrip("/") + "/"
        if app_id in self.groups:
            raise Conflict("A group with id [%s] already exists." % app_id)
        for other in self.apps:
            if other.startswith(prefix):
                raise Conflict("A group with id [%s] already exists." % app_id)
            if app_id.startswith(other.rstrip("/") + "/"):
                raise Conflict("An app with id [%s] already exists." % other)

    def _check_running_deployments(self):
        if len(self.deployments) >= self.conf.max_running_deployments:
            raise Conflict("Max number of running deployments is reached: %d" % self.conf.max_running_deployments)

    def update_app(self, app_id, raw, partial=True, force=False):
        """PUT/PATCH /v2/apps/{id}. Returns (created, app, deployment)."""
        with self.lock:
            self._require_leader()
            app_id = appdef.resolve_id(app_id)
            rec = self.apps.get(app_id)
            if rec is None:
                raw2 = dict(raw)
                raw2["id"] = app_id
                app, dep = self.create_app(raw2, force)
                return True, app, dep
            body = dict(raw)
            if "id" in body and appdef.resolve_id(body["id"]) != app_id:
                body["id"] = app_id
            new = appdef.parse_app(body, self.conf, path_id=app_id, base=rec["app"] if partial else None,
                                   enabled_features=self.features)
            self._check_lock([app_id], force)
            self._check_running_deployments()
            version = self._next_version()
            target = self._update(new, rec, version)
            dep = self._new_deployment({app_id: target}, version)
            return False, new, dep

    def delete_app(self, app_id, force=False):
        with self.lock:
            self._require_leader()
            app_id = appdef.resolve_id(app_id)
            if app_id not in self.apps:
                raise UnknownApp(app_id)
            self._check_lock([app_id], force)
            version = self._next_version()
            target = self._delete(app_id)
            dep = self._new_deployment({app_id: target}, version)
        self.flush()
        return dep

    # -- groups ------------------------------------------------------------------

    def group_exists(self, group_id):
        if group_id == "/":
            return True
        prefix = group_id.rstrip("/") + "/"
        return group_id in self.groups or any(g.startswith(prefix) for g in self.groups) or \
            any(a.startswith(prefix) for a in self.apps)

    def _flatten_group(self, body, group_id, apps, groups, path="/"):
        if not isinstance(body, dict):
            raise appdef.InvalidJson([{"path": path, "errors": ["error.expected.jsobject"]}])
        groups[group_id] = {"id": group_id, "dependencies": list(body.get("dependencies") or []),
                            "enforceRole": bool(body.get("enforceRole", False))}
        for i, raw in enumerate(body.get("apps") or []):
            if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
                raise appdef.InvalidJson([{"path": "%sapps(%d)/id" % (path, i), "errors": ["error.path.missing"]}])
            app_id = appdef.resolve_id(raw["id"], group_id)
            if app_id.rsplit("/", 1)[0] != group_id.rstrip("/"):
                raise appdef.ValidationFailed([{"path": "%sapps(%d)/id" % (path, i), "errors": [
                    "app id %s must be a direct child of group %s" % (app_id, group_id)]}])
            apps[app_id] = dict(raw, id=app_id)
        for i, sub in enumerate(body.get("groups") or []):
            if not isinstance(sub, dict) or not isinstance(sub.get("id"), str):
                raise appdef.InvalidJson([{"path": "%sgroups(%d)/id" % (path, i), "errors": ["error.path.missing"]}])
            sub_id = appdef.resolve_id(sub["id"], group_id)
            self._flatten_group(sub, sub_id, apps, groups, "%sgroups(%d)/" % (path, i))

    def update_group(self, group_id, body, force=False, create=False):
        """POST /v2/groups (create=True) and PUT /v2/groups/{id}: one deployment for all changes."""
        with self.lock:
            self._require_leader()
            group_id = appdef.resolve_id(group_id)
            if create and self.group_exists(group_id) and group_id != "/":
                raise Conflict("Group %s is already created. Use PUT to change this group." % group_id)
            if group_id in self.apps:
                raise Conflict("An app with id [%s] already exists." % group_id)
            prefix = group_id.rstrip("/") + "/"
            existing = [a for a in self.apps if a.startswith(prefix)]
            version = self._next_version()
            targets = {}
            if body.get("scaleBy") is not None and not body.get("apps") and not body.get("groups"):
                factor = float(body["scaleBy"])
                self._check_lock(existing, force)
                for app_id in existing:
                    rec = self.apps[app_id]
                    new = copy.deepcopy(rec["app"])
                    new["instances"] = int(math.ceil(new["instances"] * factor))
                    targets[app_id] = self._update(new, rec, version)
                dep = self._new_deployment(targets, version) if targets else None
                return version, dep
            if body.get("version") is not None and not body.get("apps") and not body.get("groups"):
                raise appdef.ValidationFailed([{"path": "/version", "errors": [
                    "Rolling back a group to a version is not supported by this Marathon"]}])
            apps, groups = {}, {}
            self._flatten_group(body, group_id, apps, groups)
            parsed = {}
            for app_id, raw in apps.items():
                parsed[app_id] = appdef.parse_app(raw, self.conf, enabled_features=self.features)
            replace = "apps" in body or "groups" in body
            removed = [a for a in existing if a not in parsed] if replace else []
            self._check_lock(list(parsed) + removed, force)
            self._check_running_deployments()
            for app_id in removed:
                targets[app_id] = self._delete(app_id)
            for app_id, app in parsed.items():
                rec = self.apps.get(app_id)
                if rec is None:
                    targets[app_id] = self._create(app, version)
                else:
                    targets[app_id] = self._update(app, rec, version)
            if replace:
                for gid in [g for g in self.groups if g.startswith(prefix) and g not in groups]:
                    self.groups.pop(gid, None)
                    self.store.delete_group(gid)
            for gid, g in groups.items():
                if gid == "/":
                    continue
                g["version"] = version
                self.groups[gid] = g
                self.store.save_group(g)
            dep = self._new_deployment(targets, version)
        self.flush()
        return version, dep

    def delete_group(self, group_id, force=False):
        with self.lock:
            self._require_leader()
            group_id = appdef.resolve_id(group_id)
            if not self.group_exists(group_id):
                raise UnknownGroup(group_id)
            prefix = "/" if group_id == "/" else group_id.rstrip("/") + "/"
            apps = [a for a in self.apps if a.startswith(prefix)]
            self._check_lock(apps, force)
            version = self._next_version()
            targets = {a: self._delete(a) for a in apps}
            for gid in [g for g in self.groups if g == group_id or g.startswith(prefix)]:
                self.groups.pop(gid, None)
                self.store.delete_group(gid)
            dep = self._new_deployment(targets, version)
        self.flush()
        return version, dep

    def restart_app(self, app_id, force=False):
        with self.lock:
            self._require_leader()
            app_id = appdef.resolve_id(app_id)
            rec = self.apps.get(app_id)
            if rec is None:
                raise UnknownApp(app_id)
            self._check_lock([app_id], force)
            old = rec["app"]
            new = copy.deepcopy(old)
            version = self._next_version()
            new["version"] = version
            new["versionInfo"] = {"lastScalingAt": version, "lastConfigChangeAt": version}
            self._store_app(new, rec)
            dep = self._new_deployment({app_id: {"kind": "RestartApplication", "original": old}}, version)
            return dep

    def cancel_deployment(self, dep_id, force=False):
        with self.lock:
            self._require_leader()
            dep = self.deployments.get(dep_id)
            if dep is None:
                return None, False
            self.deployments.pop(dep_id, None)
            self.store.delete_deployment(dep_id)
            if force:
                log.info("Deployment %s canceled (force)", dep_id)
                return None, True
            version = self._next_version()
            targets = {}
            for app_id, target in dep["targets"].items():
                original = target.get("original")
                rec = self.apps.get(app_id)
                if original is None:
                    if rec is not None:
                        del self.apps[app_id]
                        self.store.delete_app(app_id)
                        for inst in self.app_instances(app_id):
                            self._kill(inst, "rollback")
                    targets[app_id] = {"kind": "StopApplication", "original": rec["app"] if rec else None}
                else:
                    restored = copy.deepcopy(original)
                    restored["version"] = version
                    restored["versionInfo"] = {"lastScalingAt": version,
                                               "lastConfigChangeAt": original["versionInfo"]["lastConfigChangeAt"]}
                    self._store_app(restored, rec)
                    kind = "StartApplication" if rec is None else "RestartApplication"
                    targets[app_id] = {"kind": kind, "original": rec["app"] if rec else None,
                                       "instances": restored["instances"]}
            new = self._new_deployment(targets, version)
            log.info("Deployment %s canceled; rolling back with deployment %s", dep_id, new["id"])
            return new, True

    def kill_tasks(self, task_ids, scale=False, wipe=False, app_id=None, host=None):
        """Returns (killed instance records, deployment or None)."""
        with self.lock:
            self._require_leader()
            if app_id is not None:
                app_id = appdef.resolve_id(app_id)
                if app_id not in self.apps:
                    raise UnknownApp(app_id)
            insts = []
            for tid in task_ids or []:
                inst = self.instances.get(tid)
                if inst is None:
                    # also accept instance ids
                    inst = next((i for i in self.instances.values() if i["instanceId"] == tid), None)
                if inst is None or (app_id and inst["appId"] != app_id):
                    continue
                insts.append(inst)
            if task_ids is None and app_id is not None:
                insts = [i for i in self.app_instances(app_id) if not host or i.get("host") == host]
            result = [copy.deepcopy(i) for i in insts]
            dep = None
            if scale:
                by_app = collections.Counter(i["appId"] for i in insts if not i.get("killRequestedAt"))
                targets = {}
                version = self._next_version()
                for a, count in by_app.items():
                    rec = self.apps.get(a)
                    if rec is None:
                        continue
                    self._check_lock([a], force=True)
                    new = copy.deepcopy(rec["app"])
                    new["instances"] = max(0, new["instances"] - count)
                    new["version"] = version
                    new["versionInfo"] = dict(new["versionInfo"], lastScalingAt=version)
                    targets[a] = {"kind": "ScaleApplication", "original": rec["app"]}
                    self._store_app(new, rec)
                if targets:
                    dep = self._new_deployment(targets, version)
            for inst in insts:
                if inst.get("state") == "TASK_UNREACHABLE":
                    self.expunged.add(inst["taskId"])
                    self._forget(inst["taskId"])
                else:
                    self._kill(inst, "api")
        self.flush()
        return result, dep

    # ------------------------------------------------------------------
    # views

    def task_view(self, inst, app=None):
        out = {
            "appId": inst["appId"],
            "host": inst.get("host", ""),
            "id": inst["taskId"],
            "ipAddresses": inst.get("ipAddresses") or [],
            "ports": inst.get("ports") or [],
            "servicePorts": inst.get("servicePorts") or [],
            "slaveId": inst.get("agentId"),
            "state": inst.get("state"),
            "stagedAt": inst.get("stagedAt"),
            "version": inst.get("version"),
            "localVolumes": [],
            "role": inst.get("role") or self.role,
        }
        if inst.get("startedAt"):
            out["startedAt"] = inst["startedAt"]
        if inst.get("region"):
            out["region"] = inst["region"]
        if inst.get("zone"):
            out["zone"] = inst["zone"]
        if app is not None and app.get("healthChecks"):
            results = []
            for idx, h in enumerate(app["healthChecks"]):
                if h["protocol"] in appdef.MARATHON_HC:
                    r = (self.hc.get(inst["taskId"]) or [None] * (idx + 1))
                    r = r[idx] if idx < len(r) else None
                    if r is not None and r.get("alive") is not None:
                        results.append(dict(r))
                elif inst.get("healthy") is not None:
                    results.append({"alive": bool(inst["healthy"]), "consecutiveFailures": inst.get("hcFailures", 0),
                                    "firstSuccess": inst.get("hcFirstSuccess"), "lastSuccess": inst.get("hcLastSuccess"),
                                    "lastFailure": inst.get("hcLastFailure"),
                                    "lastFailureCause": inst.get("hcLastFailureCause"),
                                    "instanceId": inst["instanceId"]})
            out["healthCheckResults"] = results
        return out

    def app_counts(self, app):
        insts = self.app_instances(app["id"])
        staged = sum(1 for i in insts if i.get("state") in ("TASK_STAGING", "TASK_STARTING"))
        running = sum(1 for i in insts if i.get("state") == "TASK_RUNNING")
        healthy = unhealthy = 0
        if app.get("healthChecks"):
            for i in insts:
                if i.get("state") != "TASK_RUNNING":
                    continue
                alive = self._health_alive(i, app)
                if alive is True:
                    healthy += 1
                elif alive is False:
                    unhealthy += 1
        return {"tasksStaged": staged, "tasksRunning": running, "tasksHealthy": healthy, "tasksUnhealthy": unhealthy}


def _without_service_ports(app, old):
    """Compare configs ignoring service ports assigned by Marathon (0 in the request means 'keep')."""
    c = copy.deepcopy(app)
    for pd in c.get("portDefinitions") or []:
        if pd.get("port") in appdef.service_ports(old) or pd.get("port") == 0:
            pd["port"] = 0
    for pm in ((c.get("container") or {}).get("portMappings") or []):
        if pm.get("servicePort") in appdef.service_ports(old) or pm.get("servicePort") == 0:
            pm["servicePort"] = 0
    return c
