"""Marathon REST API (v2) with leader proxying and HTTP basic authentication."""
import json
import logging
import queue
import re
import threading
import time

from standin_common import httpd
from standin_common.httpd import HTTPError, Response, json_response, text_response

from . import BUILDREF, VERSION, appdef, matching
from .core import AppLocked, Conflict, NotLeader, UnknownApp, UnknownGroup

log = logging.getLogger("marathon.api")

APP_KEY_ORDER = [
    "id", "acceptedResourceRoles", "backoffFactor", "backoffSeconds", "cmd", "args", "constraints", "container",
    "cpus", "dependencies", "disk", "env", "executor", "fetch", "healthChecks", "check", "instances", "labels",
    "maxLaunchDelaySeconds", "mem", "gpus", "networks", "portDefinitions", "readinessChecks", "requirePorts",
    "residency", "resourceLimits", "executorResources", "secrets", "taskKillGracePeriodSeconds", "upgradeStrategy",
    "user", "version", "versionInfo", "killSelection", "unreachableStrategy", "tty", "role",
]
HOP_HEADERS = {"host", "connection", "content-length", "transfer-encoding", "keep-alive", "proxy-connection",
               "te", "trailer", "upgrade"}


def ordered_app(app):
    out = {}
    for k in APP_KEY_ORDER:
        if k in app:
            out[k] = app[k]
    for k, v in app.items():
        if k not in out:
            out[k] = v
    return out


def parse_label_selector(text):
    """Marathon label selectors: existence, ==, !=, in (..), notin (..); comma = AND."""
    parts = []
    depth = 0
    cur = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur += text[i + 1]
            i += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
        i += 1
    if cur.strip():
        parts.append(cur.strip())
    selectors = []
    for p in parts:
        m = re.match(r"^(\S+)\s+(in|notin)\s+\((.*)\)$", p)
        if m:
            vals = {v.strip() for v in m.group(3).split(",")}
            selectors.append((m.group(1), m.group(2), vals))
            continue
        if "!=" in p:
            k, _, v = p.partition("!=")
            selectors.append((k.strip(), "!=", v.strip()))
        elif "==" in p:
            k, _, v = p.partition("==")
            selectors.append((k.strip(), "==", v.strip()))
        else:
            selectors.append((p, "exists", None))
    return selectors


def label_match(labels, selectors):
    for key, op, val in selectors:
        if op == "exists" and key not in labels:
            return False
        if op == "==" and labels.get(key) != val:
            return False
        if op == "!=" and (key not in labels or labels.get(key) == val):
            return False
        if op == "in" and labels.get(key) not in val:
            return False
        if op == "notin" and (key not in labels or labels.get(key) in val):
            return False
    return True


def task_id_to_app_id(task_id):
    if ".instance-" in task_id:
        prefix = task_id.split(".instance-", 1)[0]
    elif ".marathon-" in task_id:
        prefix = task_id.split(".marathon-", 1)[0]
    elif "." in task_id:
        prefix = task_id.split(".", 1)[0]
    else:
        return None
    return "/" + prefix.replace("_", "/")


def _mask_url(url):
    """Hide a password in zk://user:pass@hosts/path style URLs."""
    return re.sub(r"([^/@,:]+):([^/@,]*)@", r"\1:xxxxxxxx@", url or "")


class EventBus:
    def __init__(self):
        self.lock = threading.Lock()
        self.subscribers = set()

    def publish(self, event_type, payload):
        event = dict(payload)
        event["eventType"] = event_type
        event.setdefault("timestamp", appdef.iso_now())
        with self.lock:
            for q in list(self.subscribers):
                q.put(event)

    def subscribe(self):
        q = queue.Queue()
        with self.lock:
            self.subscribers.add(q)
        return q

    def unsubscribe(self, q):
        with self.lock:
            self.subscribers.discard(q)


class MarathonApp:
    def __init__(self, conf, core, election, zk_masked):
        self.conf = conf
        self.core = core
        self.election = election
        self.zk_masked = zk_masked
        self.me = "%s:%d" % (conf.hostname, conf.http_port)
        self.events = EventBus()
        self.credentials = None
        if conf.get("http_credentials"):
            user, _, pw = conf.http_credentials.partition(":")
            self.credentials = (user, pw)
        self.abdicate_cb = None

    # ------------------------------------------------------------------
    def leader_hostport(self):
        if not self.conf.ha:
            return self.me
        return self.election.leader_id if self.election is not None else None

    def handle(self, req):
        if self.credentials is not None:
            creds = req.basic_auth()
            if creds != self.credentials:
                return json_response({"message": "Invalid username or password."}, 401, headers=[
                    ("WWW-Authenticate", 'Basic realm="%s"' % self.conf.http_realm)])
        try:
            resp = self._handle(req)
        except HTTPError as err:
            resp = err.response()
        except appdef.InvalidJson as err:
            resp = json_response(err.body(), 400)
        except appdef.ValidationFailed as err:
            resp = json_response(err.body(), 422)
        except AppLocked as err:
            resp = json_response({"message": str(err), "deployments": [{"id": d} for d in err.deployment_ids]}, 409)
        except Conflict as err:
            resp = json_response({"message": str(err)}, 409)
        except (UnknownApp, UnknownGroup) as err:
            resp = json_response({"message": str(err)}, 404)
        except NotLeader:
            resp = self._proxy(req)
        leader = self.leader_hostport()
        if leader and resp is not None:
            resp.headers.append(("X-Marathon-Leader", "http://%s" % leader))
        return resp

    def _handle(self, req):
        path = req.path.rstrip("/") or "/"
        if path == "/ping":
            accept = req.header("Accept") or ""
            if "application/json" in accept and "text/plain" not in accept and "*/*" not in accept:
                return json_response("pong")
            return Response(200, b"pong", "text/plain; charset=utf-8",
                            headers=[("Cache-Control", "must-revalidate,no-cache,no-store")])
        if path == "/v2/leader":
            if req.method == "GET":
                leader = self.leader_hostport()
                if not leader:
                    return json_response({"message": "There is no leader"}, 404)
                return json_response({"leader": leader})
            if req.method == "DELETE":
                if not self.core.leader:
                    if not self.leader_hostport():
                        return json_response({"message": "There is no leader"}, 404)
                    return self._proxy(req)
                if self.abdicate_cb is not None:
                    threading.Timer(0.5, self.abdicate_cb).start()
                return json_response({"message": "Leadership abdicated"})
            raise HTTPError(405, {"message": "HTTP 405 Method Not Allowed"})
        if path == "/metrics":
            return json_response(self.metrics())
        if path in ("/v2/pods", "/v2/plugins") and req.method == "GET":
            return json_response([] if path == "/v2/pods" else {"plugins": []})
        if not self.core.leader:
            return self._proxy(req)
        if path == "/v2/info":
            return json_response(self.info())
        if path == "/v2/apps":
            return self.apps_root(req)
        if path.startswith("/v2/apps/"):
            return self.apps_item(req, path[len("/v2/apps"):])
        if path == "/v2/tasks":
            return self.tasks_list(req)
        if path == "/v2/tasks/delete":
            return self.tasks_delete(req)
        if path == "/v2/deployments":
            return self.deployments_list(req)
        if path.startswith("/v2/deployments/"):
            return self.deployment_delete(req, path[len("/v2/deployments/"):])
        if path == "/v2/queue":
            return self.queue(req)
        if path.startswith("/v2/queue/") and path.endswith("/delay"):
            if req.method != "DELETE":
                raise HTTPError(405, {"message": "HTTP 405 Method Not Allowed"})
            app_id = appdef.resolve_id(path[len("/v2/queue"):-len("/delay")])
            self.core.reset_delay(app_id)
            return Response(200, b"", "application/json")
        if path == "/v2/groups" or path.startswith("/v2/groups/"):
            return self.groups(req, path[len("/v2/groups"):] or "/")
        if path == "/v2/events":
            return self.event_stream(req)
        raise HTTPError(404, {"message": "URI not found: %s" % req.path})

    # ------------------------------------------------------------------
    # leader proxy

    def _proxy(self, req):
        leader = self.leader_hostport()
        if not leader or leader == self.me and not self.core.leader:
            return json_response({"message": "Could not determine the current leader"}, 503)
        via = req.header("X-Marathon-Via") or ""
        if self.me in via:
            return json_response({"message": "Detected proxying loop."}, 502)
        headers = {}
        for k, v in req.headers.items():
            if k.lower() not in HOP_HEADERS:
                headers[k] = v
        headers["X-Marathon-Via"] = (via + ", " if via else "") + "1.1 " + self.me
        try:
            status, rh, data = httpd.http_request(req.method, "http://%s%s" % (leader, req.raw_path),
                                                  req.body if req.body else None, headers,
                                                  timeout=self.conf.leader_proxy_read_timeout / 1000.0)
        except OSError as exc:
            log.warning("Failed to proxy %s %s to the leader %s: %s", req.method, req.path, leader, exc)
            return json_response({"message": "Could not proxy the request to the leader %s: %s" % (leader, exc)},
                                 503)
        out_headers = [(k, v) for k, v in rh.items() if k.lower() not in HOP_HEADERS and k.lower() not in
                       ("content-type", "x-marathon-leader", "date", "server")]
        out_headers.append(("X-Marathon-Via", headers["X-Marathon-Via"]))
        return Response(status, data, rh.get("content-type", "application/json"), headers=out_headers)

    # ------------------------------------------------------------------
    # apps

    def _embeds(self, req, single):
        raw = set()
        for v in req.args("embed"):
            raw.update(x.strip() for x in v.split(",") if x.strip())
        prefix = "app." if single else "apps."
        if not raw:
            out = {"counts", "deployments"}
            if single:
                out |= {"tasks", "lastTaskFailure", "readiness"}
            return out
        out = set()
        for e in raw:
            e = e.replace("apps.", "").replace("app.", "")
            if e == "failures":
                out |= {"lastTaskFailure", "tasks", "counts", "deployments"}
            elif e in ("count", "counts"):
                out.add("counts")
            elif e == "tasks":
                out |= {"tasks", "deployments"}
            else:
                out.add(e)
        del prefix
        return out

    def app_json(self, rec, embeds):
        core = self.core
        app = rec["app"]
        out = ordered_app(app)
        if "counts" in embeds:
            out.update(core.app_counts(app))
        if "deployments" in embeds:
            out["deployments"] = [{"id": d["id"]} for d in core._deployments_for(app["id"])]
        if "readiness" in embeds:
            out["readinessCheckResults"] = []
        if "tasks" in embeds:
            out["tasks"] = [core.task_view(i, app) for i in core.app_instances(app["id"])]
        if "lastTaskFailure" in embeds and app["id"] in core.last_failure:
            out["lastTaskFailure"] = core.last_failure[app["id"]]
        if "taskStats" in embeds:
            out["taskStats"] = {}
        return out

    def _read_json(self, req):
        if not req.body:
            raise appdef.InvalidJson([{"path": "/", "errors": ["error.expected.jsobject"]}])
        try:
            return json.loads(req.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPError(400, {"message": "Invalid JSON", "details": [{"path": "/", "errors": [
                "Invalid JSON: %s" % exc]}]})

    def _deployment_result(self, dep, status=200):
        return json_response({"version": dep["version"], "deploymentId": dep["id"]}, status,
                             headers=[("Marathon-Deployment-Id", dep["id"])])

    def apps_root(self, req):
        core = self.core
        if req.method == "GET":
            embeds = self._embeds(req, single=False)
            id_filter = req.arg("id")
            cmd_filter = req.arg("cmd")
            label = req.arg("label")
            selectors = parse_label_selector(label) if label else None
            with core.lock:
                out = []
                for app_id in sorted(core.apps):
                    rec = core.apps[app_id]
                    app = rec["app"]
                    if id_filter and id_filter.lower() not in app_id.lower():
                        continue
                    if cmd_filter and cmd_filter not in (app.get("cmd") or ""):
                        continue
                    if selectors is not None and not label_match(app.get("labels") or {}, selectors):
                        continue
                    out.append(self.app_json(rec, embeds))
            return json_response({"apps": out})
        if req.method == "POST":
            body = self._read_json(req)
            app, dep = core.create_app(body, force=req.flag("force"))
            self.events.publish("api_post_event", {"clientIp": req.client_address[0], "uri": "/v2/apps",
                                                   "appDefinition": app})
            with core.lock:
                out = self.app_json(core.apps[app["id"]], {"counts", "deployments", "readiness"})
                out["tasks"] = []
            core.flush()
            return json_response(out, 201, headers=[("Location", "/v2/apps%s" % app["id"]),
                                                    ("Marathon-Deployment-Id", dep["id"])])
        if req.method in ("PUT", "PATCH"):
            body = self._read_json(req)
            if not isinstance(body, list):
                raise appdef.InvalidJson([{"path": "/", "errors": ["error.expected.jsarray"]}])
            partial = req.method == "PATCH" or req.flag("partialUpdate", True)
            last = None
            for item in body:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    raise appdef.InvalidJson([{"path": "/id", "errors": ["error.path.missing"]}])
                app_id = appdef.resolve_id(item["id"])
                if req.method == "PATCH" and app_id not in core.apps:
                    raise UnknownApp(app_id)
                _, _, last = core.update_app(app_id, item, partial=partial, force=req.flag("force"))
            core.flush()
            if last is None:
                return json_response({"version": appdef.iso_now(), "deploymentId": None})
            return self._deployment_result(last)
        raise HTTPError(405, {"message": "HTTP 405 Method Not Allowed"})

    def apps_item(self, req, rest):
        core = self.core
        segs = [s for s in rest.split("/") if s]
        if not segs:
            return self.apps_root(req)
        sub = None
        arg = None
        if segs[-1] == "restart":
            sub, segs = "restart", segs[:-1]
        elif segs[-1] == "tasks":
            sub, segs = "tasks", segs[:-1]
        elif len(segs) >= 2 and segs[-2] == "tasks":
            sub, arg, segs = "task", segs[-1], segs[:-2]
        elif segs[-1] == "versions":
            sub, segs = "versions", segs[:-1]
        elif len(segs) >= 2 and segs[-2] == "versions":
            sub, arg, segs = "version", segs[-1], segs[:-2]
        app_id = appdef.resolve_id("/" + "/".join(segs))
        force = req.flag("force")
        if sub is None:
            if req.method == "GET":
                with core.lock:
                    core._require_leader()
                    rec = core.apps.get(app_id)
                    if rec is None:
                        if any(a.startswith(app_id.rstrip("/") + "/") for a in core.apps):
                            # like Marathon: GET /v2/apps/<group> lists the apps below it
                            embeds = self._embeds(req, single=False)
                            return json_response({"apps": [self.app_json(core.apps[a], embeds)
                                                           for a in sorted(core.apps)
                                                           if a.startswith(app_id.rstrip("/") + "/")]})
                        raise UnknownApp(app_id)
                    return json_response({"app": self.app_json(rec, self._embeds(req, single=True))})
            if req.method in ("PUT", "PATCH"):
                body = self._read_json(req)
                if not isinstance(body, dict):
                    raise appdef.InvalidJson([{"path": "/", "errors": ["error.expected.jsobject"]}])
                if req.method == "PATCH" and app_id not in core.apps:
                    raise UnknownApp(app_id)
                partial = req.method == "PATCH" or req.flag("partialUpdate", True)
                created, app, dep = core.update_app(app_id, body, partial=partial, force=force)
                self.events.publish("api_post_event", {"clientIp": req.client_address[0], "uri": req.path,
                                                       "appDefinition": app})
                core.flush()
                return self._deployment_result(dep, 201 if created else 200)
            if req.method == "DELETE":
                dep = core.delete_app(app_id, force=force)
                return self._deployment_result(dep)
            raise HTTPError(405, {"message": "HTTP 405 Method Not Allowed"})
        if sub == "restart":
            if req.method != "POST":
                raise HTTPError(405, {"message": "HTTP 405 Method Not Allowed"})
            dep = core.restart_app(app_id, force=force)
            core.flush()
            return self._deployment_result(dep)
        if sub == "versions":
            with core.lock:
                core._require_leader()
                rec = core.apps.get(app_id)
                if rec is None:
                    raise UnknownApp(app_id)
                return json_response({"versions": list(reversed(rec.get("versions", [])))})
        if sub == "version":
            with core.lock:
                core._require_leader()
                rec = core.apps.get(app_id)
                if rec is None:
                    raise UnknownApp(app_id)
                app = (rec.get("history") or {}).get(arg)
                if app is None:
                    return json_response({"message": "App '%s' does not exist in version %s" % (app_id, arg)}, 404)
                return json_response(ordered_app(app))
        if sub == "tasks":
            if req.method == "GET":
                with core.lock:
                    core._require_leader()
                    rec = core.apps.get(app_id)
                    if rec is None:
                        raise UnknownApp(app_id)
                    tasks = [core.task_view(i, rec["app"]) for i in core.app_instances(app_id)]
                if "text/plain" in (req.header("Accept") or "") and "application/json" not in (req.header("Accept") or ""):
                    return text_response(self._tasks_text({app_id: tasks}))
                return json_response({"tasks": tasks})
            if req.method == "DELETE":
                killed, dep = core.kill_tasks(None, scale=req.flag("scale"), wipe=req.flag("wipe"),
                                              app_id=app_id, host=req.arg("host"))
                if dep is not None:
                    return self._deployment_result(dep)
                with core.lock:
                    rec = core.apps.get(app_id)
                    return json_response({"tasks": [core.task_view(i, rec["app"] if rec else None) for i in killed]})
            raise HTTPError(405, {"message": "HTTP 405 Method Not Allowed"})
        if sub == "task":
            if req.method != "DELETE":
                raise HTTPError(405, {"message": "HTTP 405 Method Not Allowed"})
            with core.lock:
                core._require_leader()
                if app_id not in core.apps:
                    raise UnknownApp(app_id)
            killed, dep = core.kill_tasks([arg], scale=req.flag("scale"), wipe=req.flag("wipe"), app_id=app_id)
            if not killed:
                return json_response({"message": "Task '%s' does not exist" % arg}, 404)
            if dep is not None:
                return self._deployment_result(dep)
            with core.lock:
                rec = core.apps.get(app_id)
                return json_response({"task": core.task_view(killed[0], rec["app"] if rec else None)})
        raise HTTPError(404, {"message": "URI not found: %s" % req.path})

    # ------------------------------------------------------------------
    # tasks

    def _tasks_text(self, by_app):
        lines = []
        for app_id, tasks in sorted(by_app.items()):
            if not tasks:
                continue
            sps = tasks[0].get("servicePorts") or [0]
            for idx, sp in enumerate(sps):
                cols = [app_id.strip("/").replace("/", "_"), str(sp)]
                for t in tasks:
                    if idx < len(t.get("ports") or []):
                        cols.append("%s:%d" % (t["host"], t["ports"][idx]))
                lines.append("\t".join(cols))
        return "\n".join(lines) + ("\n" if lines else "")

    def tasks_list(self, req):
        core = self.core
        if req.method != "GET":
            raise HTTPError(405, {"message": "HTTP 405 Method Not Allowed"})
        statuses = set(req.args("status")) | set(req.args("status[]"))
        want = {"running": {"TASK_RUNNING"}, "staging": {"TASK_STAGING", "TASK_STARTING"}}
        states = set()
        for s in statuses:
            states |= want.get(s.lower(), set())
        with core.lock:
            core._require_leader()
            tasks = []
            by_app = {}
            for inst in sorted(core.instances.values(), key=lambda i: i["taskId"]):
                if states and inst.get("state") not in states:
                    continue
                rec = core.apps.get(inst["appId"])
                view = core.task_view(inst, rec["app"] if rec else None)
                tasks.append(view)
                by_app.setdefault(inst["appId"], []).append(view)
        accept = req.header("Accept") or ""
        if "text/plain" in accept and "application/json" not in accept:
            return text_response(self._tasks_text(by_app))
        return json_response({"tasks": tasks})

    def tasks_delete(self, req):
        if req.method != "POST":
            raise HTTPError(405, {"message": "HTTP 405 Method Not Allowed"})
        body = self._read_json(req)
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list):
            raise appdef.InvalidJson([{"path": "/ids", "errors": ["error.path.missing"]}])
        for tid in ids:
            if not isinstance(tid, str) or task_id_to_app_id(tid) is None:
                return json_response({"message": "Invalid task id %s" % tid}, 400)
        killed, dep = self.core.kill_tasks(ids, scale=req.flag("scale"), wipe=req.flag("wipe"))
        if dep is not None:
            return self._deployment_result(dep)
        with self.core.lock:
            return json_response({"tasks": [self.core.task_view(i, (self.core.apps.get(i["appId"]) or {}).get("app"))
                                            for i in killed]})

    # ------------------------------------------------------------------
    # deployments

    def deployment_json(self, dep):
        steps = dep.get("steps") or [{"actions": []}]
        current = steps[-1]["actions"]
        return {
            "id": dep["id"],
            "version": dep["version"],
            "affectedApps": dep["affectedApps"],
            "affectedPods": dep.get("affectedPods", []),
            "steps": steps,
            "currentActions": [dict(a, readinessCheckResults=[]) for a in current],
            "currentStep": len(steps),
            "totalSteps": len(steps),
        }

    def deployments_list(self, req):
        if req.method != "GET":
            raise HTTPError(405, {"message": "HTTP 405 Method Not Allowed"})
        with self.core.lock:
            self.core._require_leader()
            deps = sorted(self.core.deployments.values(), key=lambda d: d.get("created", 0))
            return json_response([self.deployment_json(d) for d in deps])

    def deployment_delete(self, req, dep_id):
        if req.method != "DELETE":
            raise HTTPError(405, {"message": "HTTP 405 Method Not Allowed"})
        new, found = self.core.cancel_deployment(dep_id, force=req.flag("force"))
        if not found:
            return json_response({"message": "DeploymentPlan %s does not exist" % dep_id}, 404)
        self.core.flush()
        if new is None:
            return Response(202, b"", "application/json")
        return self._deployment_result(new)

    # ------------------------------------------------------------------
    # queue

    def queue(self, req):
        core = self.core
        embed_offers = any("lastUnusedOffers" in e for e in req.args("embed"))
        t = time.time()
        with core.lock:
            core._require_leader()
            out = []
            for app_id in sorted(core.demand):
                count = core.demand[app_id]
                rec = core.apps.get(app_id)
                if count <= 0 or rec is None:
                    continue
                stats = core.queue_stats.get(app_id) or core._new_stats()
                delay = core.delays.get(app_id)
                left = max(0, int(round(delay["until"] - t))) if delay else 0
                overdue = not (delay and t < delay["until"])
                summary = {
                    "processedOffersCount": stats["processed"],
                    "unusedOffersCount": stats["unused"],
                    "rejectSummaryLastOffers": matching.reject_summary(list(stats["last_by_agent"].values())),
                    "rejectSummaryLaunchAttempt": matching.reject_summary(stats["attempt"]),
                }
                if stats["lastUnusedOfferAt"]:
                    summary["lastUnusedOfferAt"] = stats["lastUnusedOfferAt"]
                if stats["lastUsedOfferAt"]:
                    summary["lastUsedOfferAt"] = stats["lastUsedOfferAt"]
                item = {"app": ordered_app(rec["app"]), "count": count, "role": rec["app"].get("role", "*"),
                        "delay": {"timeLeftSeconds": left, "overdue": overdue}, "since": stats["since"],
                        "processedOffersSummary": summary}
                if embed_offers:
                    item["lastUnusedOffers"] = list(stats["lastUnusedOffers"])
                out.append(item)
        return json_response({"queue": out})

    # ------------------------------------------------------------------
    # groups

    def _group_json(self, group_id, embeds):
        core = self.core
        prefix = "/" if group_id == "/" else group_id.rstrip("/") + "/"
        apps = []
        children = set()
        for item in sorted(set(core.apps) | set(core.groups)):
            if not item.startswith(prefix) or item == group_id:
                continue
            rest = item[len(prefix):]
            if "/" in rest:
                children.add(prefix + rest.split("/", 1)[0])
            elif item in core.apps:
                apps.append(item)
            else:
                children.add(item)
        versions = [core.apps[a]["app"]["version"] for a in core.apps if a.startswith(prefix)]
        versions += [g.get("version", "") for gid, g in core.groups.items() if gid == group_id or gid.startswith(prefix)]
        meta = core.groups.get(group_id, {})
        out = {"id": group_id, "apps": [], "groups": [], "pods": [],
               "dependencies": meta.get("dependencies", []),
               "version": max(versions) if versions else appdef.iso_now(),
               "enforceRole": bool(meta.get("enforceRole", False))}
        if "apps" in embeds:
            app_embeds = {e[len("apps."):] for e in embeds if e.startswith("apps.")} or set()
            out["apps"] = [self.app_json(core.apps[a], app_embeds) for a in apps]
        if "groups" in embeds:
            out["groups"] = [self._group_json(c, embeds) for c in sorted(children)]
        return out

    def groups(self, req, rest):
        core = self.core
        group_id = appdef.resolve_id(rest)
        force = req.flag("force")
        if req.method == "GET":
            raw = set()
            for v in req.args("embed"):
                raw.update(x.strip() for x in v.split(",") if x.strip())
            embeds = {e.replace("group.", "", 1) for e in raw} if raw else {"groups", "apps"}
            if raw and any(e.startswith("apps.") for e in embeds):
                embeds.add("apps")
            with core.lock:
                core._require_leader()
                if not core.group_exists(group_id):
                    raise UnknownGroup(group_id)
                return json_response(self._group_json(group_id, embeds))
        if req.method == "DELETE":
            version, dep = core.delete_group(group_id, force=force)
            return self._deployment_result(dep)
        if req.method in ("POST", "PUT", "PATCH"):
            body = self._read_json(req)
            if not isinstance(body, dict):
                raise appdef.InvalidJson([{"path": "/", "errors": ["error.expected.jsobject"]}])
            if req.method == "POST":
                if not isinstance(body.get("id"), str):
                    raise appdef.InvalidJson([{"path": "/id", "errors": ["error.path.missing"]}])
                target = appdef.resolve_id(body["id"], group_id)
                version, dep = core.update_group(target, body, force=force, create=True)
                return self._deployment_result(dep, 201)
            if req.flag("dryRun"):
                return json_response({"steps": []})
            version, dep = core.update_group(group_id, body, force=force)
            if dep is None:
                return json_response({"version": version, "deploymentId": None})
            return self._deployment_result(dep)
        raise HTTPError(405, {"message": "HTTP 405 Method Not Allowed"})

    # ------------------------------------------------------------------
    # events (SSE)

    def event_stream(self, req):
        if req.method != "GET":
            raise HTTPError(405, {"message": "HTTP 405 Method Not Allowed"})
        q = self.events.subscribe()
        q.put({"eventType": "event_stream_attached", "remoteAddress": req.client_address[0],
               "timestamp": appdef.iso_now()})
        bus = self.events

        def run(write, is_closed):
            try:
                while True:
                    try:
                        ev = q.get(timeout=1.0)
                    except queue.Empty:
                        ev = None
                    if ev is not None:
                        write("event: %s\ndata: %s\n\n" % (ev["eventType"], json.dumps(ev)))
                    elif is_closed():
                        return
            except OSError:
                return
            finally:
                bus.unsubscribe(q)
        return Response(200, b"", "text/event-stream", stream=run)

    # ------------------------------------------------------------------
    # info / metrics

    def info(self):
        c = self.conf
        core = self.core
        leader = self.leader_hostport()
        features = sorted(core.features)
        cfg = {
            "access_control_allow_origin": [o.strip() for o in (c.get("access_control_allow_origin") or "").split(",")
                                            if o.strip()] or None,
            "checkpoint": c.checkpoint,
            "decline_offer_duration": c.decline_offer_duration,
            "default_network_name": c.get("default_network_name"),
            "env_vars_prefix": c.get("env_vars_prefix"),
            "executor": c.executor,
            "failover_timeout": c.failover_timeout,
            "features": features,
            "framework_name": c.framework_name,
            "ha": c.ha,
            "hostname": c.hostname,
            "launch_token": c.launch_tokens,
            "launch_token_refresh_interval": c.launch_token_refresh_interval,
            "leader_proxy_connection_timeout_ms": c.leader_proxy_connection_timeout,
            "leader_proxy_read_timeout_ms": c.leader_proxy_read_timeout,
            "local_port_max": c.local_port_max,
            "local_port_min": c.local_port_min,
            "master": _mask_url(c.master),
            "max_instances_per_offer": c.max_instances_per_offer,
            "mesos_bridge_name": c.mesos_bridge_name,
            "mesos_heartbeat_failure_threshold": c.mesos_heartbeat_failure_threshold,
            "mesos_heartbeat_interval": c.mesos_heartbeat_interval,
            "mesos_leader_ui_url": c.get("mesos_leader_ui_url"),
            "mesos_role": c.get("mesos_role"),
            "mesos_user": c.mesos_user,
            "min_revive_offers_interval": c.min_revive_offers_interval,
            "offer_matching_timeout": c.offer_matching_timeout,
            "on_elected_prepare_timeout": c.on_elected_prepare_timeout,
            "reconciliation_initial_delay": c.reconciliation_initial_delay,
            "reconciliation_interval": c.reconciliation_interval,
            "scale_apps_initial_delay": c.scale_apps_initial_delay,
            "scale_apps_interval": c.scale_apps_interval,
            "store_cache": c.store_cache,
            "task_launch_confirm_timeout": c.task_launch_confirm_timeout,
            "task_launch_timeout": c.task_launch_timeout,
            "task_lost_expunge_initial_delay": c.task_lost_expunge_initial_delay,
            "task_lost_expunge_interval": c.task_lost_expunge_interval,
            "task_reservation_timeout": c.task_reservation_timeout,
            "webui_url": c.get("webui_url"),
        }
        cfg = {k: v for k, v in cfg.items() if v is not None or k in ("features",)}
        out = {
            "name": "marathon",
            "version": VERSION,
            "buildref": BUILDREF,
            "elected": bool(core.leader),
            "leader": leader,
            "frameworkId": core.framework_id if core.leader else None,
            "marathon_config": cfg,
            "zookeeper_config": {
                "zk": self.zk_masked,
                "zk_compression": c.zk_compression,
                "zk_compression_threshold": c.zk_compression_threshold,
                "zk_connection_timeout": c.zk_connection_timeout,
                "zk_max_node_size": c.zk_max_node_size,
                "zk_max_versions": c.zk_max_versions,
                "zk_session_timeout": c.zk_session_timeout,
                "zk_timeout": c.zk_timeout,
            },
            "http_config": {"http_port": c.http_port, "https_port": c.https_port},
        }
        if out["frameworkId"] is None:
            del out["frameworkId"]
        if leader is None:
            del out["leader"]
        return out

    def metrics(self):
        core = self.core
        with core.lock:
            running = sum(1 for i in core.instances.values() if i.get("state") == "TASK_RUNNING")
            staged = sum(1 for i in core.instances.values() if i.get("state") in ("TASK_STAGING", "TASK_STARTING"))
            gauges = {
                "marathon.apps.active.gauge": {"value": len(core.apps)},
                "marathon.deployments.active.gauge": {"value": len(core.deployments)},
                "marathon.instances.running.gauge": {"value": running},
                "marathon.instances.staged.gauge": {"value": staged},
                "marathon.leadership.elected.gauge": {"value": 1 if core.leader else 0},
            }
        return {"version": "4.0.0", "counters": {}, "gauges": gauges, "histograms": {}, "meters": {}, "timers": {}}
