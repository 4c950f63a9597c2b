"""module_utils/marathon.py: id validation, normalisation and comparison, URL failover,
409 handling and waiting; with an injected transport or a small HTTP server on loopback."""
import base64
import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from module_utils import marathon as m


# ---------------------------------------------------------------------------------------
# ids

@pytest.mark.parametrize("raw,canonical", [
    ("/web", "/web"),
    ("web", "/web"),
    ("/tenants/acme", "/tenants/acme"),
    ("tenants/acme", "/tenants/acme"),
    ("/a", "/a"),
    ("/0", "/0"),
    ("/a-b/c-d-e", "/a-b/c-d-e"),
    ("/app.v1", "/app.v1"),
    ("/a.b.c/d9", "/a.b.c/d9"),
    ("/x--y", "/x--y"),
    ("/123/456", "/123/456"),
])
def test_valid_ids(raw, canonical):
    assert m.validate_app_id(raw) == canonical


@pytest.mark.parametrize("raw,fragment", [
    ("", "non-empty"),
    ("   ", "non-empty"),
    (None, "non-empty"),
    (42, "non-empty"),
    ("/", "root"),
    ("/web/", "end with '/'"),
    ("//web", "empty path segment"),
    ("/a//b", "empty path segment"),
    ("/a/./b", "relative segment"),
    ("/a/../b", "relative segment"),
    ("..", "relative segment"),
    ("/Web", "lowercase"),
    ("/under_score", "lowercase"),
    ("/-lead", "must not begin or end"),
    ("/trail-", "must not begin or end"),
    ("/a/b c", "segment 'b c'"),
    ("/a.-b", "segment 'a.-b'"),
    ("/a..b", "segment 'a..b'"),
    ("/.a", "segment '.a'"),
    ("/a.", "segment 'a.'"),
    ("/ünï", "segment"),
    ("/a/b@c", "segment 'b@c'"),
])
def test_invalid_ids(raw, fragment):
    with pytest.raises(m.MarathonInputError) as exc:
        m.validate_app_id(raw)
    assert exc.value.field == "app.id"
    assert fragment in str(exc.value)


# ---------------------------------------------------------------------------------------
# normalisation

def test_normalise_app_types():
    app = m.normalise_app({"id": "t/web", "instances": "2", "cpus": "0.5", "mem": 64, "env": {"A": 1, "B": True,
                           "C": 1.0, "S": {"secret": "s1"}}, "labels": {"n": 3},
                           "healthChecks": [{"portIndex": "0", "gracePeriodSeconds": "300", "path": "/ping"}],
                           "dependencies": ["db"]})
    assert app["id"] == "/t/web"
    assert app["instances"] == 2 and isinstance(app["instances"], int)
    assert app["cpus"] == 0.5
    assert app["env"] == {"A": "1", "B": "true", "C": "1", "S": {"secret": "s1"}}
    assert app["labels"] == {"n": "3"}
    assert app["healthChecks"][0] == {"portIndex": 0, "gracePeriodSeconds": 300, "path": "/ping"}
    assert app["dependencies"] == ["/db"]


@pytest.mark.parametrize("app,field", [
    ({"cmd": "x"}, "app.id"),
    ("not a dict", "app"),
    ({"id": "/a", "instances": "two"}, "app.instances"),
    ({"id": "/a", "instances": "1.5"}, "app.instances"),
    ({"id": "/a", "instances": True}, "app.instances"),
    ({"id": "/a", "cpus": [1]}, "app.cpus"),
    ({"id": "/a", "healthChecks": [{"portIndex": "x"}]}, "app.healthChecks[0].portIndex"),
    ({"id": "/A"}, "app.id"),
])
def test_normalise_app_errors(app, field):
    with pytest.raises(m.MarathonInputError) as exc:
        m.normalise_app(app)
    assert exc.value.field == field


# ---------------------------------------------------------------------------------------
# comparison

# What Marathon (1.11 / the stand-in) reports for WANT: every default filled in.
WANT = {"id": "/t/web", "cmd": "exec python3 -m http.server $PORT0", "instances": 2, "cpus": 0.1, "mem": 32,
        "env": {"A": "1"}, "labels": {"team": "t"}, "constraints": [["hostname", "UNIQUE"]],
        "portDefinitions": [{"port": 0, "name": "http"}],
        "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0, "gracePeriodSeconds": 30}],
        "upgradeStrategy": {"minimumHealthCapacity": 0.5},
        "container": {"type": "MESOS", "volumes": [{"containerPath": "data", "mode": "RW",
                                                    "persistent": {"size": 10}}]}}
HAVE = {
    "id": "/t/web", "backoffFactor": 1.15, "backoffSeconds": 1, "cmd": "exec python3 -m http.server $PORT0",
    "constraints": [["hostname", "UNIQUE"]], "cpus": 0.1, "dependencies": [], "disk": 0.0, "env": {"A": "1"},
    "executor": "", "fetch": [],
    "healthChecks": [{"gracePeriodSeconds": 30, "intervalSeconds": 60, "maxConsecutiveFailures": 3,
                      "timeoutSeconds": 20, "delaySeconds": 15, "portIndex": 0, "path": "/",
                      "ignoreHttp1xx": False, "protocol": "HTTP", "ipProtocol": "IPv4"}],
    "instances": 2, "labels": {"team": "t"}, "maxLaunchDelaySeconds": 300, "mem": 32.0, "gpus": 0,
    "networks": [{"mode": "host"}], "portDefinitions": [{"port": 10000, "name": "http", "protocol": "tcp",
                                                         "labels": {}}],
    "readinessChecks": [], "requirePorts": False,
    "upgradeStrategy": {"maximumOverCapacity": 1.0, "minimumHealthCapacity": 0.5},
    "container": {"type": "MESOS", "volumes": [{"containerPath": "data", "mode": "RW",
                                                "persistent": {"size": 10, "type": "root", "constraints": []}}]},
    "version": "2024-01-01T00:00:00.000Z", "killSelection": "YOUNGEST_FIRST", "role": "*",
    "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0},
    "tasksStaged": 0, "tasksRunning": 2, "tasksHealthy": 2, "tasksUnhealthy": 0, "deployments": [],
}


def test_marathon_defaults_are_ignored():
    assert m.app_differences(m.normalise_app(WANT), HAVE) == []


@pytest.mark.parametrize("want", [
    {"id": "t/web"},                                   # id without the leading slash
    {"id": "/t/web", "mem": 32.0, "cpus": 0.1},        # 32 vs 32.0
    {"id": "/t/web", "instances": 2.0},
    {"id": "/t/web", "instances": "2"},                # templated number
    {"id": "/t/web", "env": {"A": 1}},                 # env values as strings
    {"id": "/t/web", "args": []},                      # empty value vs field not reported
    {"id": "/t/web", "fetch": []},
    {"id": "/t/web", "labels": {"team": "t"}},
    {"id": "/t/web", "portDefinitions": [{"port": 0}]},          # port 0: any port
    {"id": "/t/web", "portDefinitions": [{"port": 10000}]},      # the assigned port
    {"id": "/t/web", "healthChecks": [{"path": "/"}]},
    {"id": "/t/web", "requirePorts": False},
    {"id": "/t/web", "ports": [0]},                    # legacy field: sent, not compared
])
def test_same_input_is_unchanged(want):
    assert m.app_differences(m.normalise_app(want), HAVE) == []


@pytest.mark.parametrize("want,path", [
    ({"instances": 3}, "instances"),
    ({"cpus": 0.2}, "cpus"),
    ({"cmd": "sleep 1"}, "cmd"),
    ({"env": {"A": "2"}}, "env"),
    ({"env": {"A": "1", "B": "2"}}, "env"),            # added variable
    ({"env": {}}, "env"),                               # removed variable (env is compared whole)
    ({"labels": {"team": "u"}}, "labels"),
    ({"constraints": []}, "constraints"),
    ({"constraints": [["hostname", "CLUSTER", "a"]]}, "constraints[0]"),
    ({"constraints": [["hostname", "UNIQUE"], ["rack", "GROUP_BY"]]}, "constraints"),
    ({"healthChecks": [{"path": "/ping"}]}, "healthChecks[0].path"),
    ({"healthChecks": [{"gracePeriodSeconds": 300}]}, "healthChecks[0].gracePeriodSeconds"),
    ({"healthChecks": [{"intervalSeconds": 10}]}, "healthChecks[0].intervalSeconds"),   # a default changed
    ({"healthChecks": []}, "healthChecks"),
    ({"portDefinitions": [{"port": 0}, {"port": 0}]}, "portDefinitions"),
    ({"portDefinitions": [{"port": 10001}]}, "portDefinitions[0].port"),
    ({"portDefinitions": [{"port": 0, "name": "web"}]}, "portDefinitions[0].name"),
    ({"upgradeStrategy": {"minimumHealthCapacity": 1}}, "upgradeStrategy.minimumHealthCapacity"),
    ({"container": {"volumes": [{"persistent": {"size": 20}}]}}, "container.volumes[0].persistent.size"),
    ({"requirePorts": True}, "requirePorts"),
    ({"args": ["a"]}, "args"),
    ({"acceptedResourceRoles": ["*"]}, "acceptedResourceRoles"),
    ({"mem": True}, "mem"),
])
def test_changes_are_detected(want, path):
    full = dict(want, id="/t/web")
    if not isinstance(want.get("mem"), bool):
        full = m.normalise_app(full)
    assert path in m.app_differences(full, HAVE)


def test_number_and_bool_are_not_confused():
    assert m.app_differences({"id": "/a", "x": 1}, {"id": "/a", "x": True}) == ["x"]
    assert m.app_differences({"id": "/a", "x": False}, {"id": "/a", "x": 0}) == ["x"]


def test_subset_for_diff():
    want = m.normalise_app({"id": "/t/web", "instances": 3, "healthChecks": [{"path": "/"}],
                            "env": {"A": "1"}})
    sub = m.app_subset(want, HAVE)
    assert sub == {"id": "/t/web", "instances": 2, "healthChecks": [{"path": "/"}], "env": {"A": "1"}}


# ---------------------------------------------------------------------------------------
# the client with an injected transport

class FakeMarathon:
    """A scripted transport: (method, path-with-query) -> list of (status, body) answers
    (the last one repeats). URLs in ``dead`` refuse connections."""

    def __init__(self, routes=None, dead=(), unavailable=()):
        self.routes = {k: list(v) for k, v in (routes or {}).items()}
        self.dead = set(dead)
        self.unavailable = set(unavailable)
        self.calls = []
        self.now = 0.0

    def __call__(self, method, url, body, headers, timeout):
        base, _, rest = url.partition("//")[2].partition("/")
        base = url.split("//")[0] + "//" + base
        path = "/" + rest
        self.calls.append((method, url, json.loads(body) if body else None, dict(headers)))
        if base in self.dead:
            raise OSError("[Errno 111] Connection refused")
        if base in self.unavailable:
            return 503, {}, b'{"message": "Could not determine the current leader"}'
        answers = self.routes.get((method, path))
        if answers is None:
            return 404, {}, json.dumps({"message": "App '%s' does not exist" % path}).encode()
        status, payload = answers.pop(0) if len(answers) > 1 else answers[0]
        hdrs = {}
        if isinstance(payload, tuple):
            payload, hdrs = payload
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return status, hdrs, raw

    def sleep(self, seconds):
        self.now += seconds

    def clock(self):
        return self.now


def client_for(fake, urls=("http://m1:8080",), **kw):
    return m.MarathonClient(list(urls), transport=fake, sleep=fake.sleep, clock=fake.clock, **kw)


APP_PATH = "/v2/apps/t/web?embed=app.counts&embed=app.deployments&embed=app.tasks"


@pytest.mark.parametrize("urls,dead,unavailable,answered", [
    (["http://m1:8080"], [], [], "http://m1:8080"),
    (["http://m1:8080", "http://m2:8080"], ["http://m1:8080"], [], "http://m2:8080"),
    (["http://m1:8080", "http://m2:8080", "http://m3:8080"], ["http://m1:8080"], ["http://m2:8080"],
     "http://m3:8080"),
    (["http://m1:8080", "http://m2:8080"], [], ["http://m1:8080"], "http://m2:8080"),
])
def test_failover_across_urls(urls, dead, unavailable, answered):
    fake = FakeMarathon({("GET", APP_PATH): [(200, {"app": HAVE})]}, dead=dead, unavailable=unavailable)
    client = client_for(fake, urls)
    assert client.get_app("/t/web")["id"] == "/t/web"
    assert client.urls[client.current] == answered
    assert [u for u, _ in client.failed_over] == urls[:urls.index(answered)]
    # the instance that answered is used first from then on
    fake.calls.clear()
    client.get_app("/t/web")
    assert fake.calls[0][1].startswith(answered)


def test_all_urls_dead():
    fake = FakeMarathon(dead=["http://m1:8080", "http://m2:8080"])
    client = client_for(fake, ["http://m1:8080", "http://m2:8080/"])
    with pytest.raises(m.MarathonUnavailable) as exc:
        client.get_app("/t/web")
    assert "http://m1:8080: [Errno 111] Connection refused" in str(exc.value)
    assert "http://m2:8080: [Errno 111]" in str(exc.value)


def test_url_string_with_commas_and_bad_urls():
    assert m.MarathonClient("http://a:1, http://b:2/").urls == ["http://a:1", "http://b:2"]
    for bad in ("", [], "marathon:8080", "ftp://x"):
        with pytest.raises(m.MarathonInputError):
            m.MarathonClient(bad)


def test_http_error_has_url_status_and_message():
    fake = FakeMarathon({("POST", "/v2/apps"): [(422, {"message": "Object is not valid", "details": [
        {"path": "/cmd", "errors": ["must not be an empty string"]}]})]})
    with pytest.raises(m.MarathonHTTPError) as exc:
        client_for(fake).create_app({"id": "/t/web", "cmd": ""})
    err = exc.value
    assert err.status == 422 and err.url == "http://m1:8080/v2/apps"
    assert "POST http://m1:8080/v2/apps returned HTTP 422: Object is not valid (/cmd: must not be an empty string)" \
        == str(err)


def test_invalid_json_answer():
    fake = FakeMarathon({("GET", APP_PATH): [(200, b"<html>proxy error</html>")]})
    with pytest.raises(m.MarathonHTTPError) as exc:
        client_for(fake).get_app("/t/web")
    assert exc.value.status == 200 and "not valid JSON" in str(exc.value)


def test_get_missing_app_is_none():
    assert client_for(FakeMarathon()).get_app("/nope") is None


def test_basic_auth_header():
    fake = FakeMarathon({("GET", APP_PATH): [(200, {"app": HAVE})]})
    client_for(fake, username="ops", password="s3cret:x").get_app("/t/web")
    assert fake.calls[0][3]["Authorization"] == "Basic " + base64.b64encode(b"ops:s3cret:x").decode()


LOCKED = {"message": "App is locked by one or more deployments. Override with the option '?force=true'.",
          "deployments": [{"id": "dep-1"}]}


@pytest.mark.parametrize("method,call", [
    ("PUT", lambda c: c.update_app({"id": "/t/web", "instances": 3}, deadline=100)),
    ("DELETE", lambda c: c.delete_app("/t/web", deadline=100)),
    ("POST", lambda c: c.create_app({"id": "/t/web"}, deadline=100)),
])
def test_409_waits_for_the_locking_deployment(method, call):
    path = "/v2/apps" if method == "POST" else "/v2/apps/t/web"
    fake = FakeMarathon({
        (method, path): [(409, LOCKED), (200, {"deploymentId": "dep-2", "version": "v"})],
        ("GET", "/v2/deployments"): [(200, [{"id": "dep-1"}]), (200, [{"id": "dep-1"}]), (200, [])],
    })
    assert call(client_for(fake)) == "dep-2"
    methods = [c[0] for c in fake.calls]
    assert methods == [method, "GET", "GET", "GET", method]
    assert all("force" not in c[1] for c in fake.calls)


def test_409_with_force_repeats_with_force_true():
    fake = FakeMarathon({
        ("PUT", "/v2/apps/t/web"): [(409, LOCKED)],
        ("PUT", "/v2/apps/t/web?force=true"): [(200, {"deploymentId": "dep-3"})],
    })
    assert client_for(fake).update_app({"id": "/t/web", "instances": 3}, force=True, deadline=100) == "dep-3"
    assert [c[1] for c in fake.calls] == ["http://m1:8080/v2/apps/t/web", "http://m1:8080/v2/apps/t/web?force=true"]


def test_409_locked_times_out_with_the_deployment_state():
    fake = FakeMarathon({
        ("PUT", "/v2/apps/t/web"): [(409, LOCKED)],
        ("GET", "/v2/deployments"): [(200, [{"id": "dep-1", "currentStep": 1, "totalSteps": 2,
                                             "currentActions": [{"action": "ScaleApplication", "app": "/t/web"}]}])],
    })
    with pytest.raises(m.MarathonTimeout) as exc:
        client_for(fake).update_app({"id": "/t/web"}, deadline=5)
    assert "dep-1 step 1/2 (ScaleApplication /t/web)" in str(exc.value)


def test_409_without_deployments_is_an_error():
    fake = FakeMarathon({("POST", "/v2/apps"): [(409, {"message": "An app with id [/t/web] already exists."})]})
    with pytest.raises(m.MarathonHTTPError) as exc:
        client_for(fake).create_app({"id": "/t/web"}, force=True, deadline=100)
    assert exc.value.status == 409 and "already exists" in str(exc.value)


def test_deployment_id_from_header_and_body():
    fake = FakeMarathon({("POST", "/v2/apps"): [(201, ({"id": "/t/web", "deployments": [{"id": "d-body"}]},
                                                       {"marathon-deployment-id": "d-head"}))]})
    assert client_for(fake).create_app({"id": "/t/web"}) == "d-head"
    fake = FakeMarathon({("POST", "/v2/apps"): [(201, {"id": "/t/web", "deployments": [{"id": "d-body"}]})]})
    assert client_for(fake).create_app({"id": "/t/web"}) == "d-body"


def test_delete_of_missing_app_is_none():
    assert client_for(FakeMarathon()).delete_app("/t/web") is None


# ---------------------------------------------------------------------------------------
# waiting

def _app(**counts):
    app = copy.deepcopy(HAVE)
    app.update(counts)
    return app


def test_wait_until_running_and_healthy():
    fake = FakeMarathon({
        ("GET", "/v2/deployments"): [(200, [{"id": "d1", "affectedApps": ["/t/web"]}]), (200, [])],
        ("GET", APP_PATH): [(200, {"app": _app(tasksRunning=1, tasksHealthy=0)}),
                            (200, {"app": _app(tasksRunning=2, tasksHealthy=1)}),
                            (200, {"app": _app(tasksRunning=2, tasksHealthy=2)})],
    })
    app = client_for(fake).wait_app("/t/web", "d1", deadline=60)
    assert app["tasksHealthy"] == 2


@pytest.mark.parametrize("counts,healthy", [
    (dict(tasksRunning=2, tasksHealthy=2), True),
    (dict(tasksRunning=2, tasksHealthy=1), False),
    (dict(tasksRunning=1, tasksHealthy=1), False),
    (dict(tasksRunning=2, tasksHealthy=0, healthChecks=[]), True),
    (dict(tasksRunning=2, tasksHealthy=2, deployments=[{"id": "x"}]), False),
    (dict(instances=0, tasksRunning=0, tasksHealthy=0), True),
])
def test_app_healthy(counts, healthy):
    assert m.app_healthy(_app(**counts)) is healthy


def test_wait_timeout_reports_deployment_state():
    fake = FakeMarathon({
        ("GET", "/v2/deployments"): [(200, [{"id": "d1", "affectedApps": ["/t/web"], "currentStep": 2,
                                             "totalSteps": 2, "currentActions": [
                                                 {"action": "StartApplication", "app": "/t/web"}]}])],
        ("GET", APP_PATH): [(200, {"app": _app(tasksRunning=0, tasksHealthy=0)})],
    })
    with pytest.raises(m.MarathonTimeout) as exc:
        client_for(fake).wait_app("/t/web", "d1", deadline=3)
    assert "d1 step 2/2 (StartApplication /t/web)" in str(exc.value)
    assert exc.value.state["deployments"][0]["id"] == "d1"


def test_wait_timeout_reports_counts_when_no_deployment():
    fake = FakeMarathon({("GET", "/v2/deployments"): [(200, [])],
                         ("GET", APP_PATH): [(200, {"app": _app(tasksRunning=2, tasksHealthy=1)})]})
    with pytest.raises(m.MarathonTimeout) as exc:
        client_for(fake).wait_app("/t/web", None, deadline=2)
    assert "tasksRunning=2 tasksHealthy=1" in str(exc.value)


def test_wait_absent():
    fake = FakeMarathon({("GET", "/v2/deployments"): [(200, [{"id": "d1", "affectedApps": ["/t/web"]}]),
                                                      (200, [])]})
    assert client_for(fake).wait_app("/t/web", "d1", deadline=60, absent=True) is None


# ---------------------------------------------------------------------------------------
# the default (urllib) transport against a small HTTP server on loopback

class _Handler(BaseHTTPRequestHandler):
    seen = []

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        type(self).seen.append((self.command, self.path, self.headers.get("Authorization"), body))
        if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"ops:pw").decode():
            self._send(401, {"message": "Invalid username or password."})
        elif self.path.startswith("/v2/apps/missing"):
            self._send(404, {"message": "App '/missing' does not exist"})
        elif self.path.startswith("/v2/apps/t/web") and self.command == "GET":
            self._send(200, {"app": HAVE})
        elif self.path == "/v2/apps" and self.command == "POST":
            self._send(201, {"id": "/t/web"}, {"Marathon-Deployment-Id": "d-real"})
        else:
            self._send(500, b"boom")

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def _send(self, status, payload, headers=None):
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def loopback_server():
    _Handler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _dead_url():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d" % s.getsockname()[1]


def test_real_transport_failover_auth_and_errors(loopback_server, monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    dead = _dead_url()
    client = m.MarathonClient([dead, loopback_server], username="ops", password="pw", timeout=3)
    assert client.get_app("/t/web")["id"] == "/t/web"
    assert client.failed_over[0][0] == dead
    assert client.get_app("/missing") is None
    assert client.create_app({"id": "/t/web"}) == "d-real"
    assert json.loads(_Handler.seen[-1][3]) == {"id": "/t/web"}
    with pytest.raises(m.MarathonHTTPError) as exc:
        client.update_app({"id": "/t/web"})
    assert exc.value.status == 500 and exc.value.url == loopback_server + "/v2/apps/t/web"
    bad = m.MarathonClient([loopback_server], username="ops", password="wrong", timeout=3)
    with pytest.raises(m.MarathonHTTPError) as exc:
        bad.get_app("/t/web")
    assert exc.value.status == 401 and "Invalid username or password." in str(exc.value)


def test_subset_and_expected_hide_equivalent_values():
    want = m.normalise_app({"id": "/t/web", "mem": 32, "portDefinitions": [{"port": 0, "name": "http"}]})
    assert m.app_subset(want, HAVE) == {"id": "/t/web", "mem": 32,
                                        "portDefinitions": [{"port": 10000, "name": "http"}]}
    assert m.app_expected(want, HAVE) == m.app_subset(want, HAVE)


def test_client_imports_standalone_without_ansible():
    """The git-push builder imports the client on its own: stdlib only, no ansible import."""
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = ("import sys; sys.path.insert(0, %r); import marathon; "
            "c = marathon.MarathonClient('http://127.0.0.1:1'); "
            "assert not [k for k in sys.modules if k.startswith('ansible')], 'ansible imported'; "
            "print(marathon.validate_app_id('a/b'))" % os.path.join(root, "module_utils"))
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "/a/b"


def test_no_leader_is_retried_until_an_instance_leads():
    """m1 is dead, m2 answers 503 (election in progress) twice, then has a leader."""
    fake = FakeMarathon({("GET", APP_PATH): [(200, {"app": HAVE})]}, dead=["http://m1:8080"],
                        unavailable=["http://m2:8080"])
    real_call = fake.__call__
    answers = {"n": 0}

    def transport(method, url, body, headers, timeout):
        if url.startswith("http://m2:8080"):
            answers["n"] += 1
            if answers["n"] > 2:
                fake.unavailable.clear()
        return real_call(method, url, body, headers, timeout)
    client = m.MarathonClient(["http://m1:8080", "http://m2:8080"], transport=transport, sleep=fake.sleep,
                              clock=fake.clock)
    assert client.get_app("/t/web")["id"] == "/t/web"
    assert answers["n"] == 3 and fake.now == 2.0


def test_no_leader_gives_up_after_leader_wait():
    fake = FakeMarathon(unavailable=["http://m1:8080"])
    client = client_for(fake, leader_wait=5)
    with pytest.raises(m.MarathonUnavailable) as exc:
        client.get_app("/t/web")
    assert exc.value.no_leader and "HTTP 503: Could not determine the current leader" in str(exc.value)
    assert 5 <= fake.now <= 6
