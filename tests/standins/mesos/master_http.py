"""HTTP endpoints of the master stand-in (v0 endpoints, operator API, scheduler API, internal)."""
import json
import logging
import queue
import time
import urllib.parse

from standin_common import recordio
from standin_common.httpd import HTTPError, Response, json_response

from .master import HEARTBEAT_INTERVAL, EventStream, _val, forbidden, reservation_roles, unreserve_principals
from .resources import ResourceError, normalize_json_resource

log = logging.getLogger("master.http")

READONLY = "readonly"
READWRITE = "readwrite"
SCHEDULER = "scheduler"


class MasterApp:
    def __init__(self, master):
        self.m = master

    # ------------------------------------------------------------------
    def authenticate(self, req, realm):
        flags = self.m.flags
        enabled = {
            READONLY: flags.authenticate_http_readonly,
            READWRITE: flags.authenticate_http_readwrite,
            SCHEDULER: flags.authenticate_http_frameworks or flags.authenticate_frameworks,
        }[realm]
        creds = req.basic_auth()
        if not enabled:
            if creds and self.m.credentials.get(creds[0]) == creds[1]:
                return creds[0]
            return None
        if creds and creds[0] in self.m.credentials and self.m.credentials[creds[0]] == creds[1]:
            return creds[0]
        raise HTTPError(401, "", headers=[("WWW-Authenticate", 'Basic realm="mesos-master-%s"' % realm)])

    def subject(self, realm, principal):
        """The principal authorization sees: only an *authenticated* one (libprocess runs no
        authenticator for a realm whose authentication is off, so the subject is then ANY)."""
        flags = self.m.flags
        enabled = {
            READONLY: flags.authenticate_http_readonly,
            READWRITE: flags.authenticate_http_readwrite,
        }[realm]
        return principal if enabled else None

    def redirect(self, req):
        info = self.m.leader_info
        if not info:
            raise HTTPError(503, "No leader elected")
        host = info.get("hostname") or (info.get("address") or {}).get("ip")
        base = "//%s:%d" % (host, int(info.get("port", 5050)))
        path = req.path
        if path in ("/redirect", "/master/redirect"):
            return Response(307, b"", headers=[("Location", base)])
        if path.startswith("/redirect/") or path.startswith("/master/redirect/"):
            raise HTTPError(404, "")
        return Response(307, b"", headers=[("Location", base + path)])

    def require_leader(self, req):
        if not self.m.elected():
            raise _Redirect(self.redirect(req))

    # ------------------------------------------------------------------
    def handle(self, req):
        try:
            return self._handle(req)
        except _Redirect as r:
            return r.response

    def _handle(self, req):
        path = req.path
        if path.startswith("/master/"):
            sub = path[len("/master"):]
        else:
            sub = path
        if sub.endswith(".json") and sub not in ("/state.json",):
            sub = sub[:-5]
        if sub == "/state.json":
            sub = "/state"

        if sub.startswith("/internal/"):
            return self.internal(req, sub[len("/internal/"):])
        if sub == "/health":
            return Response(200, b"", "text/plain; charset=utf-8")
        if sub == "/redirect" or sub.startswith("/redirect/"):
            return self.redirect(req)
        if sub == "/version":
            return json_response(self.m.version_json())
        if sub == "/metrics/snapshot":
            self.authenticate(req, READONLY)
            return json_response(self.m.metrics())
        if sub in ("/state", "/state-summary"):
            self.authenticate(req, READONLY)
            if sub == "/state-summary":
                self.require_leader(req)
            return json_response(self.m.state_v0())
        if sub == "/flags":
            self.authenticate(req, READONLY)
            return json_response({"flags": self.m.flags.as_strings()})
        if sub == "/api/v1/scheduler":
            return self.scheduler(req)
        if sub == "/api/v1":
            return self.operator(req)
        if sub == "/frameworks":
            self.authenticate(req, READONLY)
            self.require_leader(req)
            st = self.m.state_v0()
            fid = req.arg("framework_id")
            fws = [f for f in st["frameworks"] if not fid or f["id"] == fid]
            cfs = [f for f in st["completed_frameworks"] if not fid or f["id"] == fid]
            return json_response({"frameworks": fws, "completed_frameworks": cfs, "unregistered_frameworks": []})
        if sub == "/slaves":
            self.authenticate(req, READONLY)
            self.require_leader(req)
            st = self.m.state_v0()
            sid = req.arg("slave_id")
            return json_response({"slaves": [s for s in st["slaves"] if not sid or s["id"] == sid],
                                  "recovered_slaves": []})
        if sub == "/tasks":
            self.authenticate(req, READONLY)
            self.require_leader(req)
            return json_response(self.tasks(req))
        if sub == "/roles":
            self.authenticate(req, READONLY)
            self.require_leader(req)
            return json_response({"roles": self.m.roles_view()})
        if sub == "/weights":
            self.authenticate(req, READONLY)
            self.require_leader(req)
            return json_response([{"role": r, "weight": w} for r, w in sorted(self.m.weights.items())])
        if sub == "/teardown":
            if req.method != "POST":
                raise HTTPError(405, "Expecting 'POST', received '%s'" % req.method)
            principal = self.authenticate(req, READWRITE)
            self.require_leader(req)
            form = urllib.parse.parse_qs(req.body.decode("utf-8", "replace"))
            fid = (form.get("frameworkId") or req.args("frameworkId") or [None])[0]
            if not fid:
                raise HTTPError(400, "Missing 'frameworkId' query parameter in the request body")
            self.m.teardown_framework(fid, self.subject(READWRITE, principal))
            return Response(200, b"", "text/plain; charset=utf-8")
        if sub == "/quota" or sub.startswith("/quota/"):
            return self.quota_v0(req, sub)
        if sub in ("/reserve", "/unreserve"):
            return self.reserve_v0(req, sub[1:])
        if sub in ("/maintenance/status", "/maintenance/schedule"):
            self.authenticate(req, READONLY)
            self.require_leader(req)
            if sub.endswith("status"):
                return json_response({"draining_machines": [], "down_machines": []})
            return json_response({})
        raise HTTPError(404, "")

    # ------------------------------------------------------------------
    def tasks(self, req):
        st = self.m.state_v0()
        tasks = []
        for fw in st["frameworks"] + st["completed_frameworks"]:
            tasks.extend(fw["tasks"])
            tasks.extend(fw["unreachable_tasks"])
            tasks.extend(fw["completed_tasks"])
        fid = req.arg("framework_id")
        tid = req.arg("task_id")
        if fid:
            tasks = [t for t in tasks if t["framework_id"] == fid]
        if tid:
            tasks = [t for t in tasks if t["id"] == tid]

        def ts(t):
            return t["statuses"][0]["timestamp"] if t.get("statuses") else 0
        tasks.sort(key=ts, reverse=(req.arg("order", "desc") == "desc"))
        try:
            offset = int(req.arg("offset", "0"))
            limit = int(req.arg("limit", "100"))
        except ValueError:
            raise HTTPError(400, "Invalid limit/offset")
        return {"tasks": tasks[offset:offset + limit]}

    def quota_v0(self, req, sub):
        if req.method == "GET":
            principal = self.authenticate(req, READONLY)
            self.require_leader(req)
            return json_response(self.m.quota_status(self.subject(READONLY, principal)))
        principal = self.subject(READWRITE, self.authenticate(req, READWRITE))
        self.require_leader(req)
        if req.method == "POST":
            self.set_quota(req.json(), principal)
            return Response(200, b"", "text/plain; charset=utf-8")
        if req.method == "DELETE":
            role = sub[len("/quota/"):] if sub.startswith("/quota/") else None
            self.remove_quota(role, principal)
            return Response(200, b"", "text/plain; charset=utf-8")
        raise HTTPError(405, "Expecting 'GET', 'POST' or 'DELETE', received '%s'" % req.method)

    def set_quota(self, body, principal):
        """The pre-1.9 quota API (POST /quota, operator SET_QUOTA): a QuotaRequest
        (role, guarantee, force) sets guarantees and equal limits."""
        if not isinstance(body, dict):
            raise HTTPError(400, "Failed to validate set quota request JSON: Expecting a JSON object")
        role = body.get("role")
        guarantee = {}
        for r in body.get("guarantee", []):
            if r.get("type", "SCALAR") != "SCALAR":
                raise HTTPError(400, "Quota is only supported for scalar resources")
            guarantee[r["name"]] = {"value": float(r["scalar"]["value"])}
        self.m.update_quota({"force": body.get("force", False), "quota_configs": [
            {"role": role, "guarantees": guarantee, "limits": guarantee}]}, principal)

    def remove_quota(self, role, principal):
        """DELETE /quota/<role>, operator REMOVE_QUOTA."""
        if not role or role not in self.m.quotas:
            raise HTTPError(400, "Failed to remove quota: Role '%s' has no quota set" % role)
        self.m.update_quota({"force": True, "quota_configs": [{"role": role}]}, principal)

    def reservation(self, kind, agent_id, resources, principal):
        """RESERVE_RESOURCES / UNRESERVE_RESOURCES, /reserve, /unreserve. Reservations are not
        implemented by this stand-in: the request is checked and authorized like upstream
        (Master::Http::_reserve/_unreserve in src/master/http.cpp: unknown agent 400, then
        reserve_resources on every reservation role / unreserve_resources on every reserver
        principal, refused: 403 Forbidden) and an authorized one is answered 501."""
        m = self.m
        with m.lock:
            if agent_id not in m.agents:
                raise HTTPError(400, "No agent found with specified ID")
        if not isinstance(resources, list):
            raise HTTPError(400, "Failed to parse 'resources': Expecting a JSON array")
        for r in resources:
            try:
                normalize_json_resource(r)
            except ResourceError as exc:
                raise HTTPError(400, "Invalid resources: %s" % exc)
        if kind == "reserve":
            allowed = all(m.authorized("reserve_resources", principal, role) for role in reservation_roles(resources))
        else:
            allowed = all(m.authorized("unreserve_resources", principal, p) for p in unreserve_principals(resources))
        if not allowed:
            raise forbidden()
        raise HTTPError(501, "'%s' is not implemented by this master" % (
            "RESERVE_RESOURCES" if kind == "reserve" else "UNRESERVE_RESOURCES"))

    def reserve_v0(self, req, kind):
        if req.method != "POST":
            raise HTTPError(405, "Expecting 'POST', received '%s'" % req.method)
        principal = self.subject(READWRITE, self.authenticate(req, READWRITE))
        self.require_leader(req)
        form = urllib.parse.parse_qs(req.body.decode("utf-8", "replace"))
        agent_id = (form.get("slaveId") or [None])[0]
        if not agent_id:
            raise HTTPError(400, "Missing 'slaveId' query parameter in the request body")
        text = (form.get("resources") or [None])[0]
        if text is None:
            raise HTTPError(400, "Missing 'resources' query parameter in the request body")
        try:
            resources = json.loads(text)
        except ValueError as exc:
            raise HTTPError(400, "Error in parsing 'resources' query parameter in the request body: %s" % exc)
        return self.reservation(kind, agent_id, resources, principal)

    # ------------------------------------------------------------------
    def _check_post_json(self, req):
        if req.method != "POST":
            raise HTTPError(405, "Expecting a 'POST' request, received '%s'" % req.method)
        ctype = (req.header("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/x-protobuf":
            raise HTTPError(415, "This stand-in only supports 'application/json' request bodies")
        if ctype and ctype != "application/json":
            raise HTTPError(415, "Expecting 'Content-Type' of application/json or application/x-protobuf")
        accept = (req.header("Accept") or "application/json").lower()
        if not any(a in accept for a in ("application/json", "*/*", "application/recordio", "application/*")):
            raise HTTPError(406, "Expecting 'Accept' to allow application/json")
        return req.json()

    def scheduler(self, req):
        if req.method != "POST":
            raise HTTPError(405, "Expecting a 'POST' request, received '%s'" % req.method)
        principal = self.authenticate(req, SCHEDULER)
        self.require_leader(req)
        call = self._check_post_json(req)
        if not isinstance(call, dict) or "type" not in call:
            raise HTTPError(400, "Failed to validate scheduler::Call: Expecting 'type' to be present")
        if call["type"] == "SUBSCRIBE":
            return self.subscribe(req, call, principal)
        stream_id = req.header("Mesos-Stream-Id")
        if not stream_id:
            raise HTTPError(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
        self.m.scheduler_call(call, stream_id, principal)
        return Response(202, b"", "text/plain; charset=utf-8")

    def subscribe(self, req, call, principal):
        stream, fw = self.m.subscribe(call, principal)
        accept = (req.header("Accept") or "").lower()
        headers = [("Mesos-Stream-Id", stream.id)]
        ctype = "application/json"
        if "application/recordio" in accept:
            ctype = "application/recordio"
            headers.append(("Message-Content-Type", "application/json"))
        master = self.m

        def run(write, is_closed):
            last_heartbeat = time.monotonic()
            try:
                while True:
                    try:
                        event = stream.queue.get(timeout=1.0)
                    except queue.Empty:
                        event = False
                    if event is None:
                        # Deliver anything queued before the close marker (e.g. an ERROR).
                        while True:
                            try:
                                e = stream.queue.get_nowait()
                            except queue.Empty:
                                break
                            if e is not None:
                                write(recordio.encode(e))
                        return
                    if event is not False:
                        write(recordio.encode(event))
                    if time.monotonic() - last_heartbeat >= HEARTBEAT_INTERVAL:
                        write(recordio.encode({"type": "HEARTBEAT"}))
                        last_heartbeat = time.monotonic()
                    if is_closed():
                        return
            except OSError:
                return
            finally:
                stream.closed.set()
                master.stream_closed(fw, stream)

        return Response(200, b"", ctype, headers=headers, stream=run)

    # ------------------------------------------------------------------
    def operator(self, req):
        if req.method != "POST":
            raise HTTPError(405, "Expecting a 'POST' request, received '%s'" % req.method)
        principal = self.subject(READWRITE, self.authenticate(req, READWRITE))
        self.require_leader(req)
        call = self._check_post_json(req)
        if not isinstance(call, dict) or not call.get("type"):
            raise HTTPError(400, "Failed to validate master::Call: Expecting 'type' to be present")
        ctype = call["type"]
        m = self.m

        def ok(payload_key=None, payload=None):
            body = {"type": ctype}
            if payload_key:
                body[payload_key] = payload
            return json_response(body)

        if ctype == "GET_HEALTH":
            return ok("get_health", {"healthy": True})
        if ctype == "GET_FLAGS":
            return ok("get_flags", {"flags": [{"name": k, "value": v} for k, v in m.flags.as_strings().items()]})
        if ctype == "GET_VERSION":
            return ok("get_version", {"version_info": m.version_json()})
        if ctype == "GET_METRICS":
            return ok("get_metrics", {"metrics": [{"name": k, "value": float(v)} for k, v in
                                                  sorted(m.metrics().items())]})
        if ctype == "GET_LOGGING_LEVEL":
            return ok("get_logging_level", {"level": 0})
        if ctype == "SET_LOGGING_LEVEL":
            return Response(200, b"", "text/plain; charset=utf-8")
        if ctype == "GET_STATE":
            return ok("get_state", m.get_state_v1())
        if ctype == "GET_AGENTS":
            return ok("get_agents", m.get_agents_v1())
        if ctype == "GET_FRAMEWORKS":
            return ok("get_frameworks", m.get_frameworks_v1())
        if ctype == "GET_EXECUTORS":
            return ok("get_executors", {"executors": [], "completed_executors": []})
        if ctype == "GET_TASKS":
            return ok("get_tasks", m.get_tasks_v1())
        if ctype == "GET_ROLES":
            return ok("get_roles", m.get_roles_v1())
        if ctype == "GET_OPERATIONS":
            return ok("get_operations", {"operations": []})
        if ctype == "GET_WEIGHTS":
            return ok("get_weights", {"weight_infos": [{"role": r, "weight": w}
                                                       for r, w in sorted(m.weights.items())]})
        if ctype == "UPDATE_WEIGHTS":
            for wi in (call.get("update_weights") or {}).get("weight_infos", []):
                m.weights[wi["role"]] = float(wi.get("weight", 1.0))
            return Response(202, b"", "text/plain; charset=utf-8")
        if ctype == "GET_MASTER":
            with m.lock:
                body = {"master_info": m.info, "start_time": m.start_time}
                if m.elected_time:
                    body["elected_time"] = m.elected_time
            return ok("get_master", body)
        if ctype == "GET_QUOTA":
            return ok("get_quota", {"status": m.quota_status(principal)})
        if ctype == "UPDATE_QUOTA":
            m.update_quota(call.get("update_quota") or {}, principal)
            return Response(200, b"", "text/plain; charset=utf-8")
        if ctype == "SET_QUOTA":
            self.set_quota((call.get("set_quota") or {}).get("quota_request") or {}, principal)
            return Response(200, b"", "text/plain; charset=utf-8")
        if ctype == "REMOVE_QUOTA":
            self.remove_quota((call.get("remove_quota") or {}).get("role"), principal)
            return Response(200, b"", "text/plain; charset=utf-8")
        if ctype == "GET_MAINTENANCE_STATUS":
            return ok("get_maintenance_status", {"status": {}})
        if ctype == "GET_MAINTENANCE_SCHEDULE":
            return ok("get_maintenance_schedule", {"schedule": {}})
        if ctype == "DRAIN_AGENT":
            m.drain_agent(call.get("drain_agent") or {})
            return Response(200, b"", "text/plain; charset=utf-8")
        if ctype == "DEACTIVATE_AGENT":
            m.deactivate_agent(call.get("deactivate_agent") or {})
            return Response(200, b"", "text/plain; charset=utf-8")
        if ctype == "REACTIVATE_AGENT":
            m.reactivate_agent(call.get("reactivate_agent") or {})
            return Response(200, b"", "text/plain; charset=utf-8")
        if ctype == "MARK_AGENT_GONE":
            m.mark_agent_gone(call.get("mark_agent_gone") or {})
            return Response(200, b"", "text/plain; charset=utf-8")
        if ctype == "TEARDOWN":
            fid = _val((call.get("teardown") or {}).get("framework_id"))
            m.teardown_framework(fid, principal)
            return Response(200, b"", "text/plain; charset=utf-8")
        if ctype == "SUBSCRIBE":
            return self.operator_subscribe(req)
        if ctype in ("RESERVE_RESOURCES", "UNRESERVE_RESOURCES"):
            key = ctype.lower()
            body = call.get(key) or {}
            return self.reservation("reserve" if ctype == "RESERVE_RESOURCES" else "unreserve",
                                    _val(body.get("agent_id") or body.get("slave_id")), body.get("resources") or [],
                                    principal)
        if ctype in ("CREATE_VOLUMES", "DESTROY_VOLUMES",
                     "GROW_VOLUME", "SHRINK_VOLUME", "UPDATE_MAINTENANCE_SCHEDULE", "START_MAINTENANCE",
                     "STOP_MAINTENANCE", "LIST_FILES", "READ_FILE"):
            raise HTTPError(501, "'%s' is not implemented by this master" % ctype)
        raise HTTPError(400, "Failed to validate master::Call: Unknown call type '%s'" % ctype)

    def operator_subscribe(self, req):
        stream = EventStream()
        m = self.m
        with m.lock:
            stream.send({"type": "SUBSCRIBED", "subscribed": {
                "get_state": m.get_state_v1(), "heartbeat_interval_seconds": HEARTBEAT_INTERVAL}})
            m.operator_streams.add(stream)

        def run(write, is_closed):
            last = time.monotonic()
            try:
                while True:
                    try:
                        event = stream.queue.get(timeout=1.0)
                    except queue.Empty:
                        event = False
                    if event is None:
                        return
                    if event is not False:
                        write(recordio.encode(event))
                    if time.monotonic() - last >= HEARTBEAT_INTERVAL:
                        write(recordio.encode({"type": "HEARTBEAT"}))
                        last = time.monotonic()
                    if is_closed():
                        return
            except OSError:
                return
            finally:
                with m.lock:
                    m.operator_streams.discard(stream)

        return Response(200, b"", "application/json", stream=run)

    # ------------------------------------------------------------------
    def internal(self, req, what):
        if req.method != "POST":
            raise HTTPError(405, "")
        principal = None
        if what in ("register", "reregister"):
            if self.m.flags.authenticate_agents:
                creds = req.basic_auth()
                if not creds or self.m.credentials.get(creds[0]) != creds[1] or creds[0] not in self.m.credentials:
                    log.warning("Refusing agent registration from %s: authentication failed",
                                req.client_address[0])
                    raise HTTPError(401, "Agent authentication failed", headers=[
                        ("WWW-Authenticate", 'Basic realm="mesos-master-agent"')])
                principal = creds[0]
        if not self.m.elected():
            raise HTTPError(503, {"message": "Not the leading master", "leader": self.m.leader_http()})
        body = req.json()
        if what == "register":
            return json_response(self.m.register_agent(body, principal))
        if what == "reregister":
            return json_response(self.m.reregister_agent(body, principal))
        if what == "status":
            return json_response(self.m.agent_status_update(body))
        raise HTTPError(404, "")


class _Redirect(Exception):
    def __init__(self, response):
        super().__init__("redirect")
        self.response = response
