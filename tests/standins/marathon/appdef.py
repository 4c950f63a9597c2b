"""App definitions: JSON type checks, validation and normalization (v2 apps API, RAML app.raml).

``parse_app`` turns a request body into the canonical stored definition
(deprecated fields migrated the way Marathon 1.11 normalizes them, defaults
filled in). Errors:

* ``InvalidJson`` -> HTTP 400 ``{"message": "Invalid JSON", "details": [...]}``
  (wrong JSON types, like play-json's ``error.expected.jsstring``),
* ``ValidationFailed`` -> HTTP 422 ``{"message": "Object is not valid", "details": [...]}``.
"""
import copy
import datetime
import re

ID_SEGMENT_RE = re.compile(r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$")
ID_SEGMENT_PATTERN = r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$"
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NETWORK_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$")
EXECUTOR_RE = re.compile(r"^(//cmd)|(/?[^/]+(/[^/]+)*)|$")
CONSTRAINT_OPERATORS = ("UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS")
HC_PROTOCOLS = ("HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_TCP", "MESOS_HTTP", "MESOS_HTTPS")
MARATHON_HC = ("HTTP", "HTTPS", "TCP")
MESOS_HC = ("COMMAND", "MESOS_TCP", "MESOS_HTTP", "MESOS_HTTPS")
KNOWN_FIELDS = {
    "id", "acceptedResourceRoles", "args", "backoffFactor", "backoffSeconds", "cmd", "constraints", "container",
    "cpus", "dependencies", "disk", "env", "executor", "executorResources", "fetch", "healthChecks", "check",
    "instances", "labels", "maxLaunchDelaySeconds", "mem", "gpus", "ipAddress", "networks", "ports",
    "portDefinitions", "readinessChecks", "residency", "resourceLimits", "requirePorts", "secrets",
    "taskKillGracePeriodSeconds", "upgradeStrategy", "uris", "user", "version", "versionInfo", "killSelection",
    "unreachableStrategy", "tty", "role",
    # read-only AppInfo fields a client may send back: ignored
    "tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy", "deployments", "tasks", "lastTaskFailure",
    "readinessCheckResults", "tasksStats",
}
ARCHIVE_SUFFIXES = (".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip")


class InvalidJson(Exception):
    def __init__(self, details):
        super().__init__("Invalid JSON")
        self.details = details

    def body(self):
        return {"message": "Invalid JSON", "details": self.details}


class ValidationFailed(Exception):
    def __init__(self, details):
        super().__init__("Object is not valid")
        self.details = details

    def body(self):
        return {"message": "Object is not valid", "details": self.details}


def iso_now(t=None):
    dt = datetime.datetime.utcfromtimestamp(t) if t is not None else datetime.datetime.utcnow()
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


# ---------------------------------------------------------------------------
# ids


def resolve_id(raw, base="/"):
    """Absolute, canonical path id ("/a/b"); relative ids are resolved against ``base``."""
    if not raw.startswith("/"):
        raw = base.rstrip("/") + "/" + raw
    parts = []
    for seg in raw.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts:
                parts.pop()
            continue
        parts.append(seg)
    return "/" + "/".join(parts)


def id_errors(raw):
    errs = []
    segs = [s for s in raw.split("/") if s not in ("",)]
    for s in segs:
        if s in (".", ".."):
            continue
        if not ID_SEGMENT_RE.match(s):
            errs.append("must fully match regular expression '%s'" % ID_SEGMENT_PATTERN)
            break
    return errs


def id_to_task_prefix(app_id):
    """/foo/bar -> foo_bar (Marathon's task id prefix)."""
    return app_id.strip("/").replace("/", "_")


def id_to_hostname(app_id):
    """/group/app -> app.group (TaskInfo name / DNS style)."""
    return ".".join(reversed([s for s in app_id.split("/") if s]))


# ---------------------------------------------------------------------------
# type checking (play-json style errors)


class _Checker:
    def __init__(self):
        self.errors = []

    def err(self, path, msg):
        self.errors.append({"path": path, "errors": [msg]})

    def typed(self, obj, key, kinds, path, msg):
        if key not in obj or obj[key] is None:
            return
        v = obj[key]
        if isinstance(v, bool) and bool not in kinds:
            self.err(path, msg)
            return
        if not isinstance(v, kinds):
            self.err(path, msg)


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool) or (isinstance(v, float) and v.is_integer())


def check_types(raw):
    """Raise InvalidJson for values whose JSON type is wrong."""
    c = _Checker()
    if not isinstance(raw, dict):
        raise InvalidJson([{"path": "/", "errors": ["error.expected.jsobject"]}])
    strings = ("id", "cmd", "executor", "user", "version", "killSelection", "role")
    for k in strings:
        c.typed(raw, k, (str,), "/" + k, "error.expected.jsstring")
    for k in ("cpus", "mem", "disk", "backoffFactor"):
        if k in raw and raw[k] is not None and not _num(raw[k]):
            c.err("/" + k, "error.expected.jsnumber")
    for k in ("instances", "gpus", "backoffSeconds", "maxLaunchDelaySeconds", "taskKillGracePeriodSeconds"):
        if k in raw and raw[k] is not None and not _int(raw[k]):
            c.err("/" + k, "error.expected.jsnumber" if not _num(raw[k]) else "error.expected.int")
    for k in ("requirePorts", "tty"):
        c.typed(raw, k, (bool,), "/" + k, "error.expected.jsboolean")
    for k in ("args", "constraints", "dependencies", "fetch", "healthChecks", "networks", "ports",
              "portDefinitions", "readinessChecks", "uris", "acceptedResourceRoles"):
        c.typed(raw, k, (list,), "/" + k, "error.expected.jsarray")
    for k in ("container", "env", "labels", "upgradeStrategy", "secrets", "ipAddress", "residency"):
        c.typed(raw, k, (dict,), "/" + k, "error.expected.jsobject")
    if isinstance(raw.get("args"), list):
        for i, a in enumerate(raw["args"]):
            if not isinstance(a, str):
                c.err("/args(%d)" % i, "error.expected.jsstring")
    if isinstance(raw.get("env"), dict):
        for k, v in raw["env"].items():
            if not isinstance(v, str) and not (isinstance(v, dict) and isinstance(v.get("secret"), str)):
                c.err("/env/%s" % k, "error.expected.jsstring")
    if isinstance(raw.get("labels"), dict):
        for k, v in raw["labels"].items():
            if not isinstance(v, str):
                c.err("/labels/%s" % k, "error.expected.jsstring")
    if isinstance(raw.get("constraints"), list):
        for i, con in enumerate(raw["constraints"]):
            if not isinstance(con, list):
                c.err("/constraints(%d)" % i, "error.expected.jsarray")
            else:
                for j, x in enumerate(con):
                    if not isinstance(x, str):
                        c.err("/constraints(%d)(%d)" % (i, j), "error.expected.jsstring")
    for k in ("ports",):
        if isinstance(raw.get(k), list):
            for i, p in enumerate(raw[k]):
                if not _int(p):
                    c.err("/%s(%d)" % (k, i), "error.expected.jsnumber")
    for lk in ("healthChecks", "portDefinitions", "networks", "fetch", "readinessChecks"):
        if isinstance(raw.get(lk), list):
            for i, item in enumerate(raw[lk]):
                if not isinstance(item, dict) and not (lk == "fetch" and isinstance(item, str)):
                    c.err("/%s(%d)" % (lk, i), "error.expected.jsobject")
    us = raw.get("unreachableStrategy")
    if us is not None and not (us == "disabled" or isinstance(us, dict)):
        c.err("/unreachableStrategy", "error.expected.jsobject")
    ct = raw.get("container")
    if isinstance(ct, dict):
        c.typed(ct, "type", (str,), "/container/type", "error.expected.jsstring")
        c.typed(ct, "docker", (dict,), "/container/docker", "error.expected.jsobject")
        c.typed(ct, "volumes", (list,), "/container/volumes", "error.expected.jsarray")
        c.typed(ct, "portMappings", (list,), "/container/portMappings", "error.expected.jsarray")
        d = ct.get("docker")
        if isinstance(d, dict):
            c.typed(d, "image", (str,), "/container/docker/image", "error.expected.jsstring")
            c.typed(d, "network", (str,), "/container/docker/network", "error.expected.jsstring")
            c.typed(d, "forcePullImage", (bool,), "/container/docker/forcePullImage", "error.expected.jsboolean")
            c.typed(d, "privileged", (bool,), "/container/docker/privileged", "error.expected.jsboolean")
            c.typed(d, "parameters", (list,), "/container/docker/parameters", "error.expected.jsarray")
            c.typed(d, "portMappings", (list,), "/container/docker/portMappings", "error.expected.jsarray")
        for key in ("portMappings",):
            for src, pms in (("/container", ct.get(key)), ("/container/docker", (d or {}).get(key) if isinstance(d, dict) else None)):
                if isinstance(pms, list):
                    for i, pm in enumerate(pms):
                        if not isinstance(pm, dict):
                            c.err("%s/portMappings(%d)" % (src, i), "error.expected.jsobject")
                            continue
                        for f in ("containerPort", "hostPort", "servicePort"):
                            if pm.get(f) is not None and not _int(pm[f]):
                                c.err("%s/portMappings(%d)/%s" % (src, i, f), "error.expected.jsnumber")
    if c.errors:
        raise InvalidJson(c.errors)


# ---------------------------------------------------------------------------
# normalization helpers


def _network_from_docker(network, conf):
    n = (network or "").upper()
    if n == "BRIDGE":
        return [{"mode": "container/bridge"}]
    if n == "HOST":
        return [{"mode": "host"}]
    if n == "USER":
        net = {"mode": "container"}
        if conf.get("default_network_name"):
            net["name"] = conf.get("default_network_name")
        return [net]
    if n == "NONE":
        return [{"mode": "container"}]
    return None


def is_extract(uri):
    return uri.lower().endswith(ARCHIVE_SUFFIXES)


def migrate_deprecated(raw, conf, errors):
    """Translate deprecated fields into the canonical API (in place on a copy)."""
    app = copy.deepcopy(raw)
    ct = app.get("container")
    docker = (ct or {}).get("docker") if isinstance(ct, dict) else None
    if isinstance(docker, dict) and docker.get("network") is not None:
        if app.get("networks"):
            errors.append(("/", "must not specify both container.docker.network and networks"))
        else:
            nets = _network_from_docker(docker["network"], conf)
            if nets is None:
                errors.append(("/container/docker/network", "error.unknown.enum.literal"))
            else:
                app["networks"] = nets
        docker.pop("network", None)
    if app.get("ipAddress") is not None:
        if app.get("networks"):
            errors.append(("/", "must not specify both networks and ipAddress"))
        else:
            net = {"mode": "container"}
            name = app["ipAddress"].get("networkName") or conf.get("default_network_name")
            if name:
                net["name"] = name
            app["networks"] = [net]
        app.pop("ipAddress", None)
    if isinstance(docker, dict) and docker.get("portMappings") is not None:
        if ct.get("portMappings"):
            errors.append(("/container", "cannot specify both portMappings and docker.portMappings"))
        else:
            ct["portMappings"] = docker["portMappings"]
        docker.pop("portMappings", None)
    if app.get("ports") is not None:
        if app.get("portDefinitions") is not None and \
                [p.get("port", 0) for p in app["portDefinitions"]] != list(app["ports"]):
            errors.append(("/", "cannot specify both ports and port definitions"))
        elif app.get("portDefinitions") is None:
            app["portDefinitions"] = [{"port": int(p)} for p in app["ports"]]
        ports = [p for p in app["ports"] if p]
        if len(set(ports)) != len(ports):
            errors.append(("/", "ports must be unique"))
        app.pop("ports", None)
    if app.get("uris"):
        if app.get("fetch"):
            errors.append(("/uris", "may not be set in conjunction with fetch"))
        else:
            app["fetch"] = [{"uri": u, "extract": is_extract(u)} for u in app["uris"]]
    app.pop("uris", None)
    return app


def _norm_networks(nets, conf, errors):
    if not nets:
        return [{"mode": "host"}]
    out = []
    for i, n in enumerate(nets):
        mode = n.get("mode", "container")
        if mode not in ("container", "container/bridge", "host"):
            errors.append(("/networks(%d)/mode" % i, "error.unknown.enum.literal"))
            continue
        item = {"mode": mode}
        if n.get("name") is not None:
            if mode != "container":
                errors.append(("/networks(%d)" % i, "must not specify a name for %s networking" % mode))
            elif not NETWORK_NAME_RE.match(n["name"]):
                errors.append(("/networks(%d)/name" % i, "error.pattern"))
            item["name"] = n["name"]
        elif mode == "container":
            if conf.get("default_network_name"):
                item["name"] = conf.get("default_network_name")
            else:
                errors.append(("/networks(%d)/name" % i,
                               "container network name must be specified, or --default_network_name configured"))
        if n.get("labels"):
            item["labels"] = dict(n["labels"])
        out.append(item)
    modes = {n["mode"] for n in out}
    if "host" in modes and len(out) > 1:
        errors.append(("/networks", "may only specify a single host network"))
    if "container/bridge" in modes and len(out) > 1:
        errors.append(("/networks", "may only specify a single container/bridge network"))
    return out or [{"mode": "host"}]


def network_mode(app):
    nets = app.get("networks") or [{"mode": "host"}]
    if any(n.get("mode") == "container/bridge" for n in nets):
        return "container/bridge"
    if any(n.get("mode") == "container" for n in nets):
        return "container"
    return "host"


def _norm_port_definitions(pds, errors):
    out = []
    for i, pd in enumerate(pds):
        port = pd.get("port", 0)
        if not _int(port) or not 0 <= int(port) <= 65535:
            errors.append(("/portDefinitions(%d)/port" % i, "got %s, expected between 0 and 65535" % port))
            port = 0
        item = {"port": int(port)}
        proto = pd.get("protocol", "tcp")
        if proto not in ("tcp", "udp", "udp,tcp"):
            errors.append(("/portDefinitions(%d)/protocol" % i, "error.unknown.enum.literal"))
        if pd.get("name") is not None:
            if not NAME_RE.match(pd["name"]):
                errors.append(("/portDefinitions(%d)/name" % i, "error.pattern"))
            item["name"] = pd["name"]
        item["protocol"] = proto
        if pd.get("labels"):
            item["labels"] = dict(pd["labels"])
        out.append(item)
    names = [p["name"] for p in out if "name" in p]
    if len(set(names)) != len(names):
        errors.append(("/portDefinitions", "Port names must be unique."))
    ports = [p["port"] for p in out if p["port"] != 0]
    if len(set(ports)) != len(ports):
        errors.append(("/portDefinitions", "Ports must be unique."))
    return out


def _norm_port_mappings(pms, mode, errors, base="/container/portMappings"):
    out = []
    for i, pm in enumerate(pms):
        item = {"containerPort": int(pm.get("containerPort", 0) or 0)}
        hp = pm.get("hostPort")
        if hp is None and mode == "container/bridge":
            hp = 0
        if hp is not None:
            item["hostPort"] = int(hp)
        item["labels"] = dict(pm.get("labels") or {})
        if pm.get("name") is not None:
            if not NAME_RE.match(pm["name"]):
                errors.append(("%s(%d)/name" % (base, i), "error.pattern"))
            item["name"] = pm["name"]
        proto = pm.get("protocol", "tcp")
        if proto not in ("tcp", "udp", "udp,tcp"):
            errors.append(("%s(%d)/protocol" % (base, i), "error.unknown.enum.literal"))
        item["protocol"] = proto
        item["servicePort"] = int(pm.get("servicePort", 0) or 0)
        if pm.get("networkNames"):
            item["networkNames"] = list(pm["networkNames"])
        for f in ("containerPort", "hostPort", "servicePort"):
            if item.get(f) is not None and not 0 <= item[f] <= 65535:
                errors.append(("%s(%d)/%s" % (base, i, f), "got %d, expected between 0 and 65535" % item[f]))
        out.append(item)
    names = [p["name"] for p in out if "name" in p]
    if len(set(names)) != len(names):
        errors.append((base, "Port names must be unique."))
    return out


def _norm_container(ct, mode, errors):
    out = {"type": ct.get("type") or "DOCKER"}
    if out["type"] not in ("DOCKER", "MESOS"):
        errors.append(("/container/type", "error.unknown.enum.literal"))
    docker = ct.get("docker")
    if docker is not None:
        d = {}
        if docker.get("credential") is not None:
            d["credential"] = docker["credential"]
        d["forcePullImage"] = bool(docker.get("forcePullImage", False))
        image = docker.get("image")
        if not image:
            errors.append(("/container/docker/image", "must not be empty"))
        d["image"] = image or ""
        d["parameters"] = []
        for i, p in enumerate(docker.get("parameters") or []):
            if not isinstance(p, dict) or not p.get("key"):
                errors.append(("/container/docker/parameters(%d)/key" % i, "error.minLength"))
                continue
            d["parameters"].append({"key": p["key"], "value": str(p.get("value", ""))})
        d["privileged"] = bool(docker.get("privileged", False))
        if docker.get("pullConfig") is not None:
            d["pullConfig"] = docker["pullConfig"]
            if out["type"] == "DOCKER":
                errors.append(("/container/docker/pullConfig", "pullConfig is not supported with Docker containerizer"))
        if out["type"] == "MESOS" and docker.get("parameters"):
            errors.append(("/container/docker/parameters", "must be empty"))
        out["docker"] = d
    elif out["type"] == "DOCKER":
        errors.append(("/container/docker", "not defined"))
    vols = []
    for i, v in enumerate(ct.get("volumes") or []):
        if not isinstance(v, dict):
            errors.append(("/container/volumes(%d)" % i, "error.expected.jsobject"))
            continue
        item = dict(v)
        if "containerPath" not in item or not item.get("containerPath"):
            errors.append(("/container/volumes(%d)/containerPath" % i, "must not be empty"))
        if "hostPath" in item and "persistent" not in item and "external" not in item and "secret" not in item:
            if not item.get("hostPath"):
                errors.append(("/container/volumes(%d)/hostPath" % i, "must not be empty"))
            item.setdefault("mode", "RW")
            if item["mode"] not in ("RW", "RO"):
                errors.append(("/container/volumes(%d)/mode" % i, "error.unknown.enum.literal"))
        vols.append(item)
    out["volumes"] = vols
    if ct.get("portMappings") is not None:
        out["portMappings"] = _norm_port_mappings(ct["portMappings"], mode, errors)
    if ct.get("linuxInfo") is not None:
        out["linuxInfo"] = ct["linuxInfo"]
    return out


def _norm_health_checks(hcs, errors):
    out = []
    for i, hc in enumerate(hcs):
        base = "/healthChecks(%d)" % i
        proto = hc.get("protocol", "HTTP" if not hc.get("command") else "COMMAND")
        if proto == "MARATHON_HTTP":
            proto = "HTTP"
        if proto not in HC_PROTOCOLS:
            errors.append((base + "/protocol", "error.unknown.enum.literal"))
            proto = "HTTP"
        item = {}
        for k, d in (("gracePeriodSeconds", 300), ("intervalSeconds", 60), ("maxConsecutiveFailures", 3),
                     ("timeoutSeconds", 20), ("delaySeconds", 15)):
            v = hc.get(k, d)
            if not _int(v) or v < 0:
                errors.append((base + "/" + k, "got %s, expected 0 or more" % v))
                v = d
            item[k] = int(v)
        if proto == "COMMAND":
            cmd = hc.get("command")
            if not isinstance(cmd, dict) or not cmd.get("value"):
                errors.append((base + "/command", "Command health check requires a command value"))
            item["command"] = cmd if isinstance(cmd, dict) else {"value": ""}
        else:
            if hc.get("port") is not None:
                item["port"] = int(hc["port"])
            if hc.get("portIndex") is not None:
                item["portIndex"] = int(hc["portIndex"])
            if "port" not in item and "portIndex" not in item:
                item["portIndex"] = 0
            if proto in ("HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS"):
                item["path"] = hc.get("path") or "/"
                item["ignoreHttp1xx"] = bool(hc.get("ignoreHttp1xx", False))
        item["protocol"] = proto
        item["ipProtocol"] = hc.get("ipProtocol", "IPv4")
        if item["ipProtocol"] not in ("IPv4", "IPv6"):
            errors.append((base + "/ipProtocol", "error.unknown.enum.literal"))
        if item["timeoutSeconds"] >= item["intervalSeconds"] > 0 and proto in MARATHON_HC:
            pass
        out.append(item)
    if sum(1 for h in out if h["protocol"] in ("MESOS_TCP", "MESOS_HTTP", "MESOS_HTTPS")) + \
            (1 if any(h["protocol"] == "COMMAND" for h in out) else 0) > 1:
        errors.append(("/", "AppDefinition can contain at most one Mesos health check"))
    return out


def _norm_readiness(rcs, errors):
    out = []
    for i, rc in enumerate(rcs):
        item = {
            "name": rc.get("name", "readinessCheck"),
            "protocol": rc.get("protocol", "HTTP"),
            "path": rc.get("path", "/"),
            "portName": rc.get("portName", "http-api"),
            "intervalSeconds": int(rc.get("intervalSeconds", 30)),
            "timeoutSeconds": int(rc.get("timeoutSeconds", 10)),
            "httpStatusCodesForReady": list(rc.get("httpStatusCodesForReady") or [200]),
            "preserveLastResponse": bool(rc.get("preserveLastResponse", False)),
        }
        if item["protocol"] not in ("HTTP", "HTTPS"):
            errors.append(("/readinessChecks(%d)/protocol" % i, "error.unknown.enum.literal"))
        if item["timeoutSeconds"] >= item["intervalSeconds"]:
            errors.append(("/readinessChecks(%d)/timeoutSeconds" % i,
                           "got %d, expected less than %d" % (item["timeoutSeconds"], item["intervalSeconds"])))
        out.append(item)
    if len(out) > 1:
        errors.append(("/readinessChecks", "got %d, expected 1 or less" % len(out)))
    return out


def constraint_errors(con):
    """SchedulingValidation.complyWithAppConstraintRules."""
    if len(con) < 2 or len(con) > 3:
        return "Each constraint must have either 2 or 3 fields"
    field, op = con[0], con[1]
    value = con[2] if len(con) == 3 else None
    if not field:
        return "Missing field and operator"
    if op not in CONSTRAINT_OPERATORS:
        return "Constraint operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS"
    if op == "UNIQUE":
        return "Value specified but not used" if value is not None else None
    if op in ("CLUSTER", "IS"):
        return "Missing value" if value is None else None
    if op == "GROUP_BY":
        if value not in (None, ""):
            try:
                int(value)
            except ValueError:
                return "Value was specified but is not a number"
        return None
    if op == "MAX_PER":
        try:
            int(value)
        except (TypeError, ValueError):
            return "Value was not specified or is not a number"
        return None
    if op in ("LIKE", "UNLIKE"):
        if value is None:
            return "A regular expression value must be provided"
        try:
            re.compile(value)
        except re.error:
            return "'%s' is not a valid regular expression" % value
    return None


def _min(errors, app, key, minimum, path=None, integer=False):
    v = app.get(key)
    if v is None:
        return
    if v < minimum:
        errors.append((path or "/" + key, "got %s, expected %s or more" % (v, minimum)))


def _fail(errors):
    if errors:
        merged = {}
        order = []
        for path, msg in errors:
            if path not in merged:
                merged[path] = []
                order.append(path)
            if msg not in merged[path]:
                merged[path].append(msg)
        raise ValidationFailed([{"path": p, "errors": merged[p]} for p in order])


def parse_app(raw, conf, path_id=None, base=None, enabled_features=()):
    """Validate and normalize a full app definition (POST, PUT with partialUpdate=false).

    ``path_id``: the id from the URL (PUT /v2/apps/{id}); ``base``: an existing
    canonical definition to merge over (partial updates).
    """
    check_types(raw)
    errors = []
    raw = {k: v for k, v in raw.items() if k in KNOWN_FIELDS}
    for k in ("version", "versionInfo", "tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy",
              "deployments", "tasks", "lastTaskFailure", "readinessCheckResults", "tasksStats"):
        raw.pop(k, None)
    if path_id is not None:
        raw["id"] = path_id
    app = migrate_deprecated(raw, conf, errors)
    if base is not None:
        merged = copy.deepcopy(base)
        for k in ("version", "versionInfo"):
            merged.pop(k, None)
        if "networks" in app and "portDefinitions" not in app and \
                network_mode(app) != "host":
            merged.pop("portDefinitions", None)
        if "networks" in app and network_mode(app) == "host" and "container" not in app:
            if isinstance(merged.get("container"), dict):
                merged["container"].pop("portMappings", None)
        if ("cmd" in app and app["cmd"] is not None) and "args" not in app:
            merged.pop("args", None)
        if ("args" in app and app["args"]) and "cmd" not in app:
            merged.pop("cmd", None)
        for k, v in app.items():
            if v is None:
                merged.pop(k, None)
            else:
                merged[k] = v
        app = merged
    return normalize(app, conf, errors, enabled_features)


def normalize(app, conf, errors=None, enabled_features=()):
    errors = list(errors or [])
    out = {}
    raw_id = app.get("id")
    if not raw_id:
        errors.append(("/id", "error.path.missing" if raw_id is None else "must not be empty"))
        out["id"] = "/"
    else:
        errs = id_errors(raw_id)
        for e in errs:
            errors.append(("/id", e))
        out["id"] = resolve_id(raw_id)
        if out["id"] == "/":
            errors.append(("/id", "must not be root"))
    if app.get("cmd") is not None:
        if len(app["cmd"]) <= 1:
            errors.append(("/cmd", "must not be an empty string"))
        out["cmd"] = app["cmd"]
    if app.get("args"):
        out["args"] = list(app["args"])
    nets = _norm_networks(app.get("networks"), conf, errors)
    mode = network_mode({"networks": nets})
    role_default = conf.get("mesos_role") or "*"
    out["backoffFactor"] = float(app.get("backoffFactor", 1.15))
    out["backoffSeconds"] = int(app.get("backoffSeconds", 1))
    if app.get("constraints"):
        cons = []
        for i, con in enumerate(app["constraints"]):
            e = constraint_errors(con)
            if e:
                errors.append(("/constraints(%d)" % i, e))
            cons.append(list(con))
        out["constraints"] = cons
    else:
        out["constraints"] = []
    container = None
    if app.get("container") is not None:
        container = _norm_container(app["container"], mode, errors)
        if mode == "host":
            if container.get("portMappings"):
                errors.append(("/", "portMappings are not allowed with host-networking"))
            container.pop("portMappings", None)
        elif container.get("portMappings") is None:
            container["portMappings"] = _norm_port_mappings([{"name": "default"}], mode, errors)
        out["container"] = container
    elif mode != "host":
        out["container"] = container = {"type": "MESOS", "volumes": [],
                                        "portMappings": _norm_port_mappings([{"name": "default"}], mode, errors)}
    out["cpus"] = float(app.get("cpus", 1.0))
    out["disk"] = float(app.get("disk", 0.0))
    out["env"] = dict(app.get("env") or {})
    out["executor"] = app.get("executor", "") or ""
    if not EXECUTOR_RE.fullmatch(out["executor"]):
        errors.append(("/executor", "error.pattern"))
    fetch = []
    for i, f in enumerate(app.get("fetch") or []):
        if isinstance(f, str):
            f = {"uri": f}
        if not f.get("uri"):
            errors.append(("/fetch(%d)/uri" % i, "error.path.missing"))
            continue
        item = {"uri": f["uri"], "executable": bool(f.get("executable", False)),
                "extract": bool(f.get("extract", True)), "cache": bool(f.get("cache", False))}
        if f.get("destPath"):
            item["destPath"] = f["destPath"]
        fetch.append(item)
    out["fetch"] = fetch
    out["healthChecks"] = _norm_health_checks(app.get("healthChecks") or [], errors)
    out["instances"] = int(app.get("instances", 1))
    out["labels"] = dict(app.get("labels") or {})
    out["maxLaunchDelaySeconds"] = int(app.get("maxLaunchDelaySeconds", 300))
    out["mem"] = float(app.get("mem", 128.0))
    out["gpus"] = int(app.get("gpus", 0))
    out["networks"] = nets
    if mode == "host":
        pds = app.get("portDefinitions")
        if pds is None:
            pds = [{"port": 0, "name": "default", "protocol": "tcp"}]
        out["portDefinitions"] = _norm_port_definitions(pds, errors)
        out["requirePorts"] = bool(app.get("requirePorts", False))
    else:
        if app.get("portDefinitions"):
            errors.append(("/", "portDefinitions are only allowed with host-networking"))
        out["requirePorts"] = False
    out["readinessChecks"] = _norm_readiness(app.get("readinessChecks") or [], errors)
    if out["readinessChecks"]:
        names = {p.get("name") for p in (out.get("portDefinitions") or [])} | \
            {p.get("name") for p in ((out.get("container") or {}).get("portMappings") or [])}
        for i, rc in enumerate(out["readinessChecks"]):
            if rc["portName"] not in names:
                errors.append(("/readinessChecks(%d)/portName" % i,
                               "No port definition reference for portName %s" % rc["portName"]))
    us = app.get("upgradeStrategy") or {}
    out["upgradeStrategy"] = {
        "maximumOverCapacity": float(us.get("maximumOverCapacity", 1.0)),
        "minimumHealthCapacity": float(us.get("minimumHealthCapacity", 1.0)),
    }
    for k in ("maximumOverCapacity", "minimumHealthCapacity"):
        v = out["upgradeStrategy"][k]
        if v > 1:
            errors.append(("/upgradeStrategy/%s" % k, "is greater than 1"))
        if v < 0:
            errors.append(("/upgradeStrategy/%s" % k, "is less than 0"))
    if app.get("user") is not None:
        out["user"] = app["user"]
    out["killSelection"] = app.get("killSelection", "YOUNGEST_FIRST")
    if out["killSelection"] not in ("YOUNGEST_FIRST", "OLDEST_FIRST"):
        errors.append(("/killSelection", "error.unknown.enum.literal"))
    ur = app.get("unreachableStrategy")
    if ur == "disabled":
        out["unreachableStrategy"] = "disabled"
    else:
        ur = ur or {}
        out["unreachableStrategy"] = {
            "inactiveAfterSeconds": int(ur.get("inactiveAfterSeconds", 0)),
            "expungeAfterSeconds": int(ur.get("expungeAfterSeconds", 0)),
        }
        if out["unreachableStrategy"]["inactiveAfterSeconds"] < 0:
            errors.append(("/unreachableStrategy/inactiveAfterSeconds", "got -1, expected 0 or more"))
        if out["unreachableStrategy"]["expungeAfterSeconds"] < out["unreachableStrategy"]["inactiveAfterSeconds"]:
            errors.append(("/unreachableStrategy/expungeAfterSeconds",
                           "got %d, expected %d or more" % (out["unreachableStrategy"]["expungeAfterSeconds"],
                                                            out["unreachableStrategy"]["inactiveAfterSeconds"])))
    if app.get("acceptedResourceRoles") is not None:
        roles = list(app["acceptedResourceRoles"])
        if not roles:
            errors.append(("/acceptedResourceRoles", "must not be empty"))
        for i, r in enumerate(roles):
            if not isinstance(r, str) or not r or r.startswith("-") or " " in r:
                errors.append(("/acceptedResourceRoles(%d)" % i, "Invalid role"))
        out["acceptedResourceRoles"] = roles
    if app.get("taskKillGracePeriodSeconds") is not None:
        out["taskKillGracePeriodSeconds"] = int(app["taskKillGracePeriodSeconds"])
    deps = []
    for i, dep in enumerate(app.get("dependencies") or []):
        for e in id_errors(dep):
            errors.append(("/dependencies(%d)" % i, e))
        deps.append(resolve_id(dep, out["id"].rsplit("/", 1)[0] or "/"))
    out["dependencies"] = deps
    if app.get("secrets"):
        out["secrets"] = dict(app["secrets"])
        if "secrets" not in enabled_features:
            errors.append(("/secrets", "Feature secrets is not enabled. Enable with --enable_features secrets)"))
    for k, v in out["env"].items():
        if isinstance(v, dict):
            if "secrets" not in enabled_features:
                errors.append(("/env/%s" % k, "Feature secrets is not enabled. Enable with --enable_features secrets)"))
            elif v.get("secret") not in (out.get("secrets") or {}):
                errors.append(("/env/%s" % k, "references an undefined secret named '%s'" % v.get("secret")))
    if app.get("tty") is not None:
        out["tty"] = bool(app["tty"])
    role = app.get("role") or role_default
    if role not in ("*", role_default):
        errors.append(("/role", "got %s, expected one of: [%s]" % (role, ", ".join(sorted({"*", role_default})))))
    out["role"] = role
    for k in ("residency", "resourceLimits", "executorResources", "check"):
        if app.get(k) is not None:
            out[k] = app[k]
    # numeric minimums
    _min(errors, out, "cpus", 0.001)
    _min(errors, out, "mem", 0.0)
    _min(errors, out, "disk", 0.0)
    _min(errors, out, "gpus", 0)
    _min(errors, out, "instances", 0)
    _min(errors, out, "backoffSeconds", 0)
    _min(errors, out, "backoffFactor", 1.0)
    _min(errors, out, "maxLaunchDelaySeconds", 0)
    _min(errors, out, "taskKillGracePeriodSeconds", 0)
    # cmd / args / container
    has_cmd = "cmd" in out
    has_args = bool(out.get("args"))
    has_image = bool(((out.get("container") or {}).get("docker") or {}).get("image"))
    if not ((has_cmd ^ has_args) or (not (has_cmd and has_args) and has_image)):
        errors.append(("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."))
    # health check port indices
    n_ports = len(out.get("portDefinitions") or ((out.get("container") or {}).get("portMappings") or []))
    for i, hc in enumerate(out["healthChecks"]):
        if hc["protocol"] in MARATHON_HC and "port" not in hc:
            if not 0 <= hc.get("portIndex", 0) < n_ports:
                errors.append(("/healthChecks(%d)" % i,
                               "Health check port indices must address an element of the ports array or "
                               "container port mappings."))
    if out["gpus"] > 0 and (out.get("container") or {}).get("type") == "DOCKER":
        errors.append(("/", "GPU resources only work with the Mesos containerizer"))
    if out["labels"].get("MARATHON_SINGLE_INSTANCE_APP") == "true" and out["instances"] > 1:
        errors.append(("/", "Single instance app may only have one instance"))
    _fail(errors)
    return out


def config_view(app):
    """The definition without scaling/versioning fields (to detect config changes)."""
    c = copy.deepcopy(app)
    for k in ("instances", "version", "versionInfo"):
        c.pop(k, None)
    for pd in c.get("portDefinitions") or []:
        pd.pop("_assigned", None)
    return c


def assign_service_ports(app, used, lo, hi, previous=None):
    """Replace 0 service ports with unique ports in [lo, hi] (kept from ``previous`` when possible)."""
    prev_ports = []
    if previous is not None:
        prev_ports = [p.get("port") for p in previous.get("portDefinitions") or []] or \
            [p.get("servicePort") for p in ((previous.get("container") or {}).get("portMappings") or [])]
    used = set(used)

    def pick(idx):
        if idx < len(prev_ports) and prev_ports[idx] and prev_ports[idx] not in used:
            return prev_ports[idx]
        for p in range(lo, hi + 1):
            if p not in used:
                return p
        raise ValidationFailed([{"path": "/", "errors": ["All service ports in [%d-%d] are in use" % (lo, hi)]}])

    if app.get("portDefinitions"):
        for i, pd in enumerate(app["portDefinitions"]):
            if pd["port"] == 0:
                pd["port"] = pick(i)
            used.add(pd["port"])
    pms = (app.get("container") or {}).get("portMappings")
    if pms:
        for i, pm in enumerate(pms):
            if pm.get("servicePort", 0) == 0:
                pm["servicePort"] = pick(i)
            used.add(pm["servicePort"])
    return app


def service_ports(app):
    if app.get("portDefinitions"):
        return [p["port"] for p in app["portDefinitions"]]
    return [p.get("servicePort", 0) for p in ((app.get("container") or {}).get("portMappings") or [])]
