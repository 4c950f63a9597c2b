# -*- coding: utf-8 -*-
# One Marathon REST client for this project: used by the marathon_app module and by
# the git-push builder. Standard library only and no AnsibleModule inside, so that
# it can be imported on its own (``from marathon import MarathonClient`` with this
# directory on sys.path, or ``ansible.module_utils.marathon`` inside a module).
#
#  - failover across several Marathon base URLs (a dead instance is not an error),
#  - HTTP basic auth, certificate checking that can be turned off,
#  - app id validation the way Marathon does it (before any request),
#  - comparison of a wanted app definition with what Marathon reports (only the
#    fields the user gave; Marathon's defaults are ignored),
#  - waiting for deployments to finish and tasks to be running and healthy,
#  - 409 handling (wait for the deployment that locks the app, or force).
#
# Errors: MarathonInputError (bad input, raised before any request),
# MarathonHTTPError (an instance answered with an error status; has url, status,
# message), MarathonUnavailable (no instance could be reached), MarathonTimeout
# (waiting took longer than allowed; has ``state``).

from __future__ import annotations

import base64
import copy
import json
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

# One path segment of a Marathon PathId (RAML stringTypes.raml, PathId).
ID_SEGMENT_RE = re.compile(r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$")

# Maps of user data: compared exactly (all keys), wherever they appear.
EXACT_MAPS = ("env", "labels")
# Port numbers where 0 means "let Marathon choose" (it then reports the chosen one).
ANY_PORT_KEYS = {"portDefinitions": ("port",), "portMappings": ("servicePort", "hostPort")}
# Fields Marathon accepts but rewrites into another form (ports -> portDefinitions, ...):
# they are sent as given but cannot be compared with what Marathon reports.
LEGACY_FIELDS = ("ports", "uris", "ipAddress")
# Numeric app fields; numeric strings (from Jinja templating) are converted.
NUMERIC_FIELDS = {"instances": int, "cpus": float, "mem": float, "disk": float, "gpus": int,
                  "backoffSeconds": int, "backoffFactor": float, "maxLaunchDelaySeconds": int,
                  "taskKillGracePeriodSeconds": int}
HEALTH_NUMERIC = ("portIndex", "port", "gracePeriodSeconds", "intervalSeconds", "timeoutSeconds",
                  "maxConsecutiveFailures", "delaySeconds")

RETRYABLE_STATUS = (502, 503, 504)  # no leader / proxy to the leader failed: try the next instance


class MarathonError(Exception):
    """Base class of every error this client raises."""


class MarathonInputError(MarathonError, ValueError):
    """Invalid input, found before any request; ``field`` names the offending field."""

    def __init__(self, field, message):
        super(MarathonInputError, self).__init__("%s: %s" % (field, message))
        self.field = field


class MarathonHTTPError(MarathonError):
    """A Marathon instance answered with an error status."""

    def __init__(self, method, url, status, message, body=None):
        self.method = method
        self.url = url
        self.status = status
        self.message = message
        self.body = body
        super(MarathonHTTPError, self).__init__("%s %s returned HTTP %s: %s" % (method, url, status, message))


class MarathonUnavailable(MarathonError):
    """No Marathon instance could be reached; ``errors`` has one (url, reason) per instance."""

    def __init__(self, method, path, errors, no_leader=False):
        self.errors = errors
        self.no_leader = no_leader
        detail = "; ".join("%s: %s" % (u, e) for u, e in errors)
        super(MarathonUnavailable, self).__init__("%s %s: no Marathon instance answered (%s)"
                                                  % (method, path, detail))


class MarathonTimeout(MarathonError):
    """Waiting for a deployment or for tasks took too long; ``state`` says where it stopped."""

    def __init__(self, message, state=None):
        super(MarathonTimeout, self).__init__(message)
        self.state = state


# ---------------------------------------------------------------------------------------
# app ids

def validate_app_id(app_id, field="app.id"):
    """Canonical absolute app id (``/group/app``) or MarathonInputError.

    Each segment must match Marathon's PathId segment pattern (lowercase letters,
    digits, '-' and '.'; no '-' at the start or end of a dot-separated label).
    Relative ids are taken from the root, as Marathon does; '.' and '..' segments,
    empty segments and a trailing '/' are refused to keep ids unambiguous.
    """
    if not isinstance(app_id, str) or not app_id.strip():
        raise MarathonInputError(field, "is required and must be a non-empty string")
    raw = app_id[1:] if app_id.startswith("/") else app_id
    if raw == "":
        raise MarathonInputError(field, "must not be the root group '/'")
    if raw.endswith("/"):
        raise MarathonInputError(field, "must not end with '/', got %r" % (app_id,))
    for seg in raw.split("/"):
        if seg == "":
            raise MarathonInputError(field, "empty path segment in %r" % (app_id,))
        if seg in (".", ".."):
            raise MarathonInputError(field, "relative segment %r is not allowed in %r; give the absolute id"
                                     % (seg, app_id))
        if not ID_SEGMENT_RE.match(seg):
            raise MarathonInputError(
                field, "segment %r of %r is not a valid Marathon id: each segment may only contain lowercase "
                       "letters a-z, digits 0-9, '-' and '.', and must not begin or end with '-' or '.' "
                       "(pattern %s)" % (seg, app_id, ID_SEGMENT_RE.pattern))
    return "/" + raw


# ---------------------------------------------------------------------------------------
# normalisation and comparison

def _scalar_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _to_number(value, kind, field):
    if isinstance(value, bool):
        raise MarathonInputError(field, "must be a number, got a boolean")
    if isinstance(value, (int, float)):
        return kind(value) if kind is int and float(value).is_integer() else value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise MarathonInputError(field, "must be a number, got %r" % (value,))
        if kind is int:
            if not number.is_integer():
                raise MarathonInputError(field, "must be a whole number, got %r" % (value,))
            return int(number)
        return number
    raise MarathonInputError(field, "must be a number, got %s" % type(value).__name__)


def normalise_app(app):
    """The app definition as it will be sent: canonical id, numbers as numbers,
    env and label values as strings. Raises MarathonInputError."""
    if not isinstance(app, dict):
        raise MarathonInputError("app", "must be a dict (a Marathon app definition)")
    if "id" not in app:
        raise MarathonInputError("app.id", "is required")
    out = copy.deepcopy(app)
    out["id"] = validate_app_id(app["id"])
    for key, kind in NUMERIC_FIELDS.items():
        if out.get(key) is not None:
            out[key] = _to_number(out[key], kind, "app.%s" % key)
    for i, hc in enumerate(out.get("healthChecks") or []):
        if isinstance(hc, dict):
            for key in HEALTH_NUMERIC:
                if hc.get(key) is not None:
                    hc[key] = _to_number(hc[key], int, "app.healthChecks[%d].%s" % (i, key))
    if isinstance(out.get("env"), dict):
        out["env"] = dict((k, v if isinstance(v, dict) else _scalar_text(v)) for k, v in out["env"].items())
    if isinstance(out.get("labels"), dict):
        out["labels"] = dict((k, _scalar_text(v)) for k, v in out["labels"].items())
    if isinstance(out.get("dependencies"), list):
        out["dependencies"] = ["/" + d.lstrip("/") if isinstance(d, str) else d for d in out["dependencies"]]
    return out


def _empty(value):
    return value is None or value == {} or value == [] or value == ""


def _num(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(want, have, key=None, parent=None):
    """True when ``have`` (Marathon's view) satisfies ``want`` (the user's)."""
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return _empty(want) and _empty(have)
        if key in EXACT_MAPS:
            if set(want) != set(have):
                return False
        for k, v in want.items():
            if k not in have:
                if not _empty(v):
                    return False
                continue
            if not _equal(v, have[k], k, key):
                return False
        return True
    if isinstance(want, list):
        if have is None:
            return want == []
        if not isinstance(have, list) or len(want) != len(have):
            return False
        return all(_equal(w, h, key, parent) for w, h in zip(want, have))
    if _num(want) and _num(have):
        return float(want) == float(have)
    if want is None:
        return _empty(have)
    if isinstance(want, str) and isinstance(have, str):
        return want == have
    if isinstance(want, bool) or isinstance(have, bool):
        return want is have
    if parent in EXACT_MAPS:
        return _scalar_text(want) == _scalar_text(have)
    return want == have


def _any_port(container_key, key, value):
    return value == 0 and key in ANY_PORT_KEYS.get(container_key, ())


def app_differences(want, have, path=""):
    """Dotted paths of the fields of ``want`` that ``have`` does not match.

    Only keys given in ``want`` are compared, recursively: Marathon fills in defaults
    (and nested defaults such as a health check's intervalSeconds) that the user did
    not ask for. Maps named env/labels are compared whole. Lists are compared element
    by element (same length, dict elements on their given keys). Numbers compare by
    value (1 == 1.0). Port 0 in portDefinitions/portMappings means "any port".
    """
    diffs = []
    _collect(want, have, path, None, diffs)
    return diffs


def _collect(want, have, path, key, diffs):
    if isinstance(want, dict) and isinstance(have, dict) and key not in EXACT_MAPS:
        for k, v in want.items():
            if path == "" and k in LEGACY_FIELDS:
                continue
            sub = "%s.%s" % (path, k) if path else k
            if k not in have:
                if not _empty(v):
                    diffs.append(sub)
                continue
            _collect(v, have[k], sub, k, diffs)
        return
    if isinstance(want, list) and isinstance(have, list) and len(want) == len(have) \
            and all(isinstance(w, dict) for w in want) and key in ANY_PORT_KEYS:
        for i, (w, h) in enumerate(zip(want, have)):
            if not isinstance(h, dict):
                diffs.append("%s[%d]" % (path, i))
                continue
            for k, v in w.items():
                if _any_port(key, k, v):
                    continue
                if not _equal(v, h.get(k), k, key) and not (_empty(v) and k not in h):
                    diffs.append("%s[%d].%s" % (path, i, k))
        return
    if isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        for i, (w, h) in enumerate(zip(want, have)):
            if isinstance(w, (dict, list)):
                _collect(w, h, "%s[%d]" % (path, i), key, diffs)
            elif not _equal(w, h, key):
                diffs.append("%s[%d]" % (path, i))
        return
    if not _equal(want, have, key):
        diffs.append(path or "/")


def app_subset(want, have, key=None):
    """The part of ``have`` that corresponds to the keys of ``want`` (the diff's before).
    Values equal under the comparison rules (32 and 32.0) are shown as the user wrote them."""
    if isinstance(want, dict) and isinstance(have, dict):
        if key in EXACT_MAPS:
            return copy.deepcopy(want) if _equal(want, have, key) else copy.deepcopy(have)
        return dict((k, app_subset(v, have[k], k)) for k, v in want.items() if k in have)
    if isinstance(want, list) and isinstance(have, list):
        out = []
        for i, h in enumerate(have):
            out.append(app_subset(want[i], h, key) if i < len(want) else copy.deepcopy(h))
        return out
    if not isinstance(want, (dict, list)) and _equal(want, have, key):
        return copy.deepcopy(want)
    return copy.deepcopy(have)


def app_expected(want, have, key=None):
    """``want`` as Marathon will hold it (the diff's after): port 0 takes the port
    Marathon assigned."""
    if isinstance(want, dict):
        out = {}
        for k, v in want.items():
            h = have.get(k) if isinstance(have, dict) else None
            if key in ANY_PORT_KEYS and _any_port(key, k, v) and _num(h):
                out[k] = h
            else:
                out[k] = app_expected(v, h, k)
        return out
    if isinstance(want, list):
        hl = have if isinstance(have, list) else []
        return [app_expected(w, hl[i] if i < len(hl) else None, key) for i, w in enumerate(want)]
    return copy.deepcopy(want)


# ---------------------------------------------------------------------------------------
# transport

def urllib_transport(method, url, body, headers, timeout, validate_certs=True):
    """Send one request; returns (status, headers dict (lower-case keys), body bytes).
    HTTP error statuses are returned, not raised; connection problems raise OSError."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    handlers = [urllib.request.ProxyHandler()]
    if url.startswith("https:"):
        ctx = ssl.create_default_context()
        if not validate_certs:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        handlers.append(urllib.request.HTTPSHandler(context=ctx))
    opener = urllib.request.build_opener(*handlers)
    resp = None
    try:
        try:
            resp = opener.open(req, timeout=timeout)
        except urllib.error.HTTPError as exc:
            resp = exc
        data = resp.read()
        status = resp.status if hasattr(resp, "status") and resp.status is not None else resp.code
        return status, dict((k.lower(), v) for k, v in resp.headers.items()), data
    except urllib.error.URLError as exc:
        raise OSError(str(exc.reason))
    except (socket.timeout, TimeoutError):
        raise OSError("timed out after %s s" % timeout)
    finally:
        if resp is not None:
            resp.close()


def _message(data):
    try:
        body = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, AttributeError):
        text = (data or b"").decode("utf-8", "replace").strip()
        return (text[:300] or "(empty body)"), None
    if isinstance(body, dict):
        msg = body.get("message") or ""
        details = body.get("details")
        if details:
            parts = []
            for d in details if isinstance(details, list) else [details]:
                if isinstance(d, dict):
                    parts.append("%s: %s" % (d.get("path", "/"), ", ".join(str(e) for e in d.get("errors", []))))
                else:
                    parts.append(str(d))
            msg = (msg + " " if msg else "") + "(" + "; ".join(parts) + ")"
        return msg or json.dumps(body)[:300], body
    return json.dumps(body)[:300], body


# ---------------------------------------------------------------------------------------
# the client

class MarathonClient(object):
    """Talks to one Marathon cluster through any of ``urls`` (tried in turn).

    ``transport(method, url, body, headers, timeout)`` may be injected (tests); the
    default uses urllib. ``sleep`` and ``clock`` too.
    """

    def __init__(self, urls, username=None, password=None, validate_certs=True, timeout=10.0,
                 transport=None, sleep=time.sleep, clock=time.monotonic, poll_interval=1.0, leader_wait=30.0):
        if isinstance(urls, str):
            urls = [u.strip() for u in urls.split(",")]
        urls = [u.rstrip("/") for u in (urls or []) if isinstance(u, str) and u.strip()]
        if not urls:
            raise MarathonInputError("url", "at least one Marathon URL is required")
        for u in urls:
            parsed = urllib.parse.urlparse(u)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise MarathonInputError("url", "%r is not an http(s) URL such as http://marathon1:8080" % (u,))
        self.urls = urls
        self.current = 0
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.headers = {"Accept": "application/json"}
        if username is not None or password is not None:
            token = base64.b64encode(("%s:%s" % (username or "", password or "")).encode("utf-8")).decode("ascii")
            self.headers["Authorization"] = "Basic " + token
        self._transport = transport
        self.sleep = sleep
        self.clock = clock
        self.poll_interval = poll_interval
        self.leader_wait = leader_wait  # seconds to retry while instances answer 503 (no leader)
        self.failed_over = []  # (url, reason) of instances skipped during this client's life

    # -- raw requests ----------------------------------------------------------------------
    def _send(self, method, url, body, headers):
        if self._transport is not None:
            return self._transport(method, url, body, headers, self.timeout)
        return urllib_transport(method, url, body, headers, self.timeout, self.validate_certs)

    def request(self, method, path, body=None, params=None, ok=(200, 201, 202, 204)):
        """(status, JSON body or None, headers) from the first instance that answers.

        Connection errors and 502/503/504 move on to the next URL. When every URL failed
        and one answered 503 (Marathon without a leader, during an election), the round is
        repeated for up to ``leader_wait`` seconds. Any other status not in ``ok`` raises
        MarathonHTTPError with the URL and status.
        """
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        data = None
        headers = dict(self.headers)
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        give_up = self.clock() + self.leader_wait
        while True:
            try:
                return self._request_once(method, path + query, data, headers, ok)
            except MarathonUnavailable as exc:
                # An instance answered but has no leader (election in progress after the
                # leader died): try again for a little while.
                if not exc.no_leader or self.clock() >= give_up:
                    raise
                self.sleep(self.poll_interval)

    def _request_once(self, method, path, data, headers, ok):
        errors = []
        no_leader = False
        n = len(self.urls)
        for attempt in range(n):
            idx = (self.current + attempt) % n
            url = self.urls[idx] + path
            try:
                status, rheaders, raw = self._send(method, url, data, headers)
            except (OSError, ValueError) as exc:
                errors.append((self.urls[idx], str(exc) or type(exc).__name__))
                continue
            if status in RETRYABLE_STATUS:
                msg, _ = _message(raw)
                errors.append((self.urls[idx], "HTTP %d: %s" % (status, msg)))
                no_leader = no_leader or status == 503
                continue
            if idx != self.current:
                self.failed_over.extend(errors)
                self.current = idx
            if status not in ok:
                msg, parsed = _message(raw)
                raise MarathonHTTPError(method, url, status, msg, parsed)
            if not raw or not raw.strip():
                return status, None, rheaders
            try:
                return status, json.loads(raw.decode("utf-8")), rheaders
            except (ValueError, UnicodeDecodeError) as exc:
                raise MarathonHTTPError(method, url, status, "the answer is not valid JSON (%s): %r"
                                        % (exc, raw[:200]))
        raise MarathonUnavailable(method, path.split("?")[0], errors, no_leader)

    @staticmethod
    def _app_path(app_id):
        return "/v2/apps/" + urllib.parse.quote(app_id.lstrip("/"), safe="/")

    # -- reading ---------------------------------------------------------------------------
    def ping(self):
        status, _body, _h = self.request("GET", "/v2/info")
        return status == 200

    def get_app(self, app_id):
        """The app as Marathon holds it (with counts, deployments and tasks), or None."""
        try:
            _s, body, _h = self.request("GET", self._app_path(app_id),
                                        params=[("embed", "app.counts"), ("embed", "app.deployments"),
                                                ("embed", "app.tasks")])
        except MarathonHTTPError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(body, dict) or not isinstance(body.get("app"), dict):
            raise MarathonHTTPError("GET", self.urls[self.current] + self._app_path(app_id), 200,
                                    "unexpected answer (no 'app' object; is %s a group?)" % app_id, body)
        return body["app"]

    def deployments(self):
        _s, body, _h = self.request("GET", "/v2/deployments")
        return body if isinstance(body, list) else []

    # -- writing (409 aware) ---------------------------------------------------------------
    def _write(self, method, path, body=None, force=False, deadline=None):
        """A write; on 409 'locked by deployments' wait for them (until ``deadline``), or
        repeat it once with ``?force=true`` when ``force``."""
        forced = False
        while True:
            params = [("force", "true")] if forced else None
            try:
                status, answer, headers = self.request(method, path, body=body, params=params)
                return status, answer or {}, headers
            except MarathonHTTPError as exc:
                locking = locking_deployments(exc)
                if not locking or forced:
                    raise
                if force:
                    forced = True
                    continue
                if deadline is None or self.clock() >= deadline:
                    raise
                try:
                    self.wait_deployments(locking, deadline)
                except MarathonTimeout as timeout:
                    raise MarathonTimeout("%s %s answered 409 (the app is locked by deployment(s) %s; set "
                                          "force to override) and waiting for them failed: %s"
                                          % (method, exc.url, ", ".join(locking), timeout), timeout.state)

    @staticmethod
    def _deployment_id(answer, headers):
        dep = (headers or {}).get("marathon-deployment-id")
        if dep:
            return dep
        if isinstance(answer, dict):
            if answer.get("deploymentId"):
                return answer["deploymentId"]
            deps = answer.get("deployments")
            if isinstance(deps, list) and deps and isinstance(deps[0], dict):
                return deps[0].get("id")
        return None

    def create_app(self, app, force=False, deadline=None):
        """POST /v2/apps. Returns the deployment id."""
        status, answer, headers = self._write("POST", "/v2/apps", app, force=force, deadline=deadline)
        return self._deployment_id(answer, headers)

    def update_app(self, app, force=False, deadline=None):
        """PUT /v2/apps/<id> (partial update: fields not given keep their value)."""
        status, answer, headers = self._write("PUT", self._app_path(app["id"]), app, force=force,
                                              deadline=deadline)
        return self._deployment_id(answer, headers)

    def delete_app(self, app_id, force=False, deadline=None):
        """DELETE /v2/apps/<id>. Returns the deployment id, or None if the app was already gone."""
        try:
            status, answer, headers = self._write("DELETE", self._app_path(app_id), force=force,
                                                  deadline=deadline)
        except MarathonHTTPError as exc:
            if exc.status == 404:
                return None
            raise
        return self._deployment_id(answer, headers)

    # -- waiting ---------------------------------------------------------------------------
    def wait_deployments(self, ids, deadline):
        """Until none of ``ids`` is listed in /v2/deployments; MarathonTimeout otherwise."""
        ids = set(i for i in ids if i)
        while True:
            running = [d for d in self.deployments() if d.get("id") in ids]
            if not running:
                return
            if self.clock() >= deadline:
                raise MarathonTimeout("deployment(s) %s still running: %s"
                                      % (", ".join(sorted(ids)), describe_deployments(running)), running)
            self.sleep(self.poll_interval)

    def wait_app(self, app_id, deployment_id=None, deadline=None, absent=False):
        """Until the deployment is gone and (present) tasksRunning == instances and, with
        health checks, tasksHealthy == instances; (absent) the app is gone.
        Returns the app as Marathon reports it at the end (None when absent)."""
        while True:
            deps = self.deployments()
            mine = [d for d in deps if (deployment_id and d.get("id") == deployment_id)
                    or app_id in (d.get("affectedApps") or [])]
            app = None if mine and absent else self.get_app(app_id)
            if not mine:
                if absent and app is None:
                    return None
                if not absent and app is not None and app_healthy(app):
                    return app
            if deadline is None or self.clock() >= deadline:
                if mine:
                    state = describe_deployments(mine)
                elif absent:
                    state = "the app still exists"
                elif app is None:
                    state = "the app does not exist"
                else:
                    state = describe_counts(app)
                raise MarathonTimeout("%s not %s in time: %s" % (app_id, "removed" if absent else "deployed", state),
                                      {"deployments": mine, "app": app})
            self.sleep(self.poll_interval)


def locking_deployments(exc):
    """Ids of the deployments named by a 409 'app is locked' answer ([] for other errors)."""
    if getattr(exc, "status", None) != 409 or not isinstance(exc.body, dict):
        return []
    return [d.get("id") for d in exc.body.get("deployments") or [] if isinstance(d, dict) and d.get("id")]


def app_healthy(app):
    instances = app.get("instances", 0) or 0
    if app.get("tasksRunning", 0) != instances:
        return False
    if app.get("healthChecks") and app.get("tasksHealthy", 0) != instances:
        return False
    if app.get("deployments"):
        return False
    return True


def describe_counts(app):
    return ("instances=%s tasksRunning=%s tasksHealthy=%s tasksStaged=%s tasksUnhealthy=%s"
            % (app.get("instances"), app.get("tasksRunning"), app.get("tasksHealthy"),
               app.get("tasksStaged"), app.get("tasksUnhealthy")))


def describe_deployments(deps):
    out = []
    for d in deps:
        actions = ", ".join("%s %s" % (a.get("action"), a.get("app") or a.get("pod") or "")
                            for a in d.get("currentActions") or [])
        out.append("%s step %s/%s (%s)" % (d.get("id"), d.get("currentStep"), d.get("totalSteps"),
                                           actions or "no current action"))
    return "; ".join(out)
