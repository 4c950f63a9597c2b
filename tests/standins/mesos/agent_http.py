"""HTTP endpoints of the agent stand-in."""
import logging

from standin_common.httpd import HTTPError, Response, json_response

log = logging.getLogger("agent.http")


class AgentApp:
    def __init__(self, agent):
        self.a = agent

    def authenticate(self, req, realm):
        flags = self.a.flags
        enabled = flags.authenticate_http_readonly if realm == "readonly" else flags.authenticate_http_readwrite
        if not enabled:
            return None
        creds = req.basic_auth()
        if creds and creds[0] in self.a.http_credentials and self.a.http_credentials[creds[0]] == creds[1]:
            return creds[0]
        raise HTTPError(401, "", headers=[("WWW-Authenticate", 'Basic realm="mesos-agent-%s"' % realm)])

    def handle(self, req):
        path = req.path
        if path.startswith("/slave(1)/"):
            sub = path[len("/slave(1)"):]
        else:
            sub = path
        if sub in ("/state.json",):
            sub = "/state"
        a = self.a
        if sub.startswith("/internal/"):
            return self.internal(req, sub[len("/internal/"):])
        if sub == "/health":
            return Response(200, b"", "text/plain; charset=utf-8")
        if sub == "/version":
            from . import BUILD_DATE, BUILD_TIME, BUILD_USER, GIT_TAG, VERSION
            return json_response({"version": VERSION, "build_date": BUILD_DATE, "build_time": BUILD_TIME,
                                  "build_user": BUILD_USER, "git_tag": GIT_TAG})
        if sub == "/state":
            self.authenticate(req, "readonly")
            return json_response(a.state_v0())
        if sub == "/flags":
            self.authenticate(req, "readonly")
            return json_response({"flags": a.flags.as_strings()})
        if sub == "/metrics/snapshot":
            self.authenticate(req, "readonly")
            return json_response(a.metrics())
        if sub == "/containers":
            self.authenticate(req, "readonly")
            return json_response([{
                "container_id": c["container_id"]["value"], "executor_id": c["executor_id"]["value"],
                "executor_name": c["executor_name"], "framework_id": c["framework_id"]["value"],
                "source": c["executor_id"]["value"], "status": c["container_status"],
                "statistics": c["resource_statistics"]} for c in a.containers_v1()])
        if sub == "/monitor/statistics":
            # src/slave/slave.cpp routes /monitor/statistics in the readonly realm.
            self.authenticate(req, "readonly")
            return json_response([{
                "executor_id": c["executor_id"]["value"], "executor_name": c["executor_name"],
                "framework_id": c["framework_id"]["value"], "source": c["executor_id"]["value"],
                "statistics": c["resource_statistics"]} for c in a.containers_v1()])
        if sub == "/containerizer/debug":
            self.authenticate(req, "readonly")
            return json_response({"pending": []})
        if sub.startswith("/files/"):
            # src/slave/main.cpp: Files is created with the readonly realm. This stand-in
            # attaches no paths, so browse/read/download answer 404 like for an unknown path.
            self.authenticate(req, "readonly")
            if sub == "/files/debug":
                return json_response({})
            if sub in ("/files/browse", "/files/read", "/files/download"):
                raise HTTPError(404, "")
            raise HTTPError(404, "")
        if sub in ("/logging/toggle", "/profiler/start", "/profiler/stop"):
            # libprocess endpoints: process::initialize() gives them the readwrite realm.
            self.authenticate(req, "readwrite")
            raise HTTPError(501, "'%s' is not implemented by this agent" % sub)
        if sub == "/api/v1":
            return self.operator(req)
        raise HTTPError(404, "")

    def operator(self, req):
        if req.method != "POST":
            raise HTTPError(405, "Expecting a 'POST' request, received '%s'" % req.method)
        self.authenticate(req, "readwrite")
        ctype = (req.header("Content-Type") or "application/json").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise HTTPError(415, "Expecting 'Content-Type' of application/json or application/x-protobuf")
        call = req.json()
        if not isinstance(call, dict) or not call.get("type"):
            raise HTTPError(400, "Failed to validate agent::Call: Expecting 'type' to be present")
        t = call["type"]
        a = self.a

        def ok(key, payload):
            return json_response({"type": t, key: payload})

        if t == "GET_HEALTH":
            return ok("get_health", {"healthy": True})
        if t == "GET_FLAGS":
            return ok("get_flags", {"flags": [{"name": k, "value": v} for k, v in a.flags.as_strings().items()]})
        if t == "GET_VERSION":
            from . import BUILD_DATE, BUILD_TIME, BUILD_USER, GIT_TAG, VERSION
            return ok("get_version", {"version_info": {"version": VERSION, "build_date": BUILD_DATE,
                                                       "build_time": BUILD_TIME, "build_user": BUILD_USER,
                                                       "git_tag": GIT_TAG}})
        if t == "GET_METRICS":
            return ok("get_metrics", {"metrics": [{"name": k, "value": float(v)}
                                                  for k, v in sorted(a.metrics().items())]})
        if t == "GET_LOGGING_LEVEL":
            return ok("get_logging_level", {"level": 0})
        if t == "SET_LOGGING_LEVEL":
            return Response(200, b"", "text/plain; charset=utf-8")
        if t == "GET_AGENT":
            info = dict(a.info)
            if a.agent_id:
                info["id"] = {"value": a.agent_id}
            return ok("get_agent", {"agent_info": info})
        if t == "GET_CONTAINERS":
            return ok("get_containers", {"containers": a.containers_v1()})
        if t == "GET_FRAMEWORKS":
            return ok("get_frameworks", self._frameworks())
        if t == "GET_EXECUTORS":
            return ok("get_executors", self._executors())
        if t == "GET_TASKS":
            return ok("get_tasks", self._tasks())
        if t == "GET_OPERATIONS":
            return ok("get_operations", {"operations": []})
        if t == "GET_RESOURCE_PROVIDERS":
            return ok("get_resource_providers", {"resource_providers": []})
        if t == "GET_STATE":
            return ok("get_state", {"get_tasks": self._tasks(), "get_executors": self._executors(),
                                    "get_frameworks": self._frameworks()})
        raise HTTPError(501, "'%s' is not implemented by this agent" % t)

    def _frameworks(self):
        with self.a.lock:
            active = {t.framework_id for t in self.a.tasks.values()}
            return {"frameworks": [{"framework_info": fi} for fid, fi in self.a.frameworks.items() if fid in active],
                    "completed_frameworks": [{"framework_info": fi} for fid, fi in self.a.frameworks.items()
                                             if fid not in active]}

    def _executors(self):
        with self.a.lock:
            out = []
            for t in self.a.tasks.values():
                out.append({"executor_info": {
                    "executor_id": {"value": t.executor_id}, "framework_id": {"value": t.framework_id},
                    "name": "Command Executor (Task: %s)" % t.task_id, "source": t.task_id,
                    "command": {"shell": False, "value": "mesos-executor"},
                    "resources": t.info.get("resources", [])}})
            return {"executors": out, "completed_executors": []}

    def _tasks(self):
        with self.a.lock:
            launched = [self.a._task_v1(t) for t in self.a.tasks.values() if t.launched]
            queued = [self.a._task_v1(t) for t in self.a.tasks.values() if not t.launched]
            completed = [self.a._task_v1(t) for t in self.a.completed_tasks]
            return {"launched_tasks": launched, "queued_tasks": queued, "pending_tasks": [],
                    "completed_tasks": completed, "terminated_tasks": []}

    def internal(self, req, what):
        if req.method != "POST":
            raise HTTPError(405, "")
        body = req.json()
        a = self.a
        if what == "ping":
            return json_response(a.ping(body))
        if what == "launch":
            return json_response(a.launch(body), 202)
        if what == "kill":
            found = a.kill_task(body.get("task_id"), body.get("kill_policy"))
            return json_response({"found": bool(found)}, 202)
        if what == "shutdown_framework":
            return json_response(a.shutdown_framework(body), 202)
        if what == "shutdown":
            import threading
            threading.Thread(target=a.shutdown_and_exit, args=(body.get("message") or "Shutdown by master",),
                             daemon=True).start()
            return json_response({}, 202)
        raise HTTPError(404, "")
