"""marathon_app against the Marathon stand-in on loopback, run the way an operator runs it
(``ansible localhost -m marathon_app``). The tests build on each other, in order."""
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from paas_testlib.ansible_run import run_module

APP_ID = "/itest/web"
APP = {"id": APP_ID, "cmd": "exec python3 -m http.server --bind 127.0.0.1 $PORT0", "instances": 1,
       "cpus": 0.1, "mem": 32, "env": {"GREETING": "hello", "N": 1},
       "portDefinitions": [{"port": 0, "name": "http"}],
       "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0, "intervalSeconds": 1,
                         "gracePeriodSeconds": 30, "timeoutSeconds": 2}]}


def why(r):
    return "%s\nstate: %s" % (r.msg, json.dumps(r.result.get("deployment_state"), indent=1)[:3000])


def dead_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d" % s.getsockname()[1]


def app_args(stack, auth, **kw):
    args = {"url": stack.marathon_urls, "app": APP, "wait_timeout": 60}
    args.update(auth)
    args.update(kw)
    return args


def marathon_app(stack, id_=APP_ID):
    try:
        return stack.get_json(stack.marathon_urls[0] + "/v2/apps" + id_)["app"]
    except OSError:
        return None


def test_01_create_is_changed_and_waits_for_healthy_tasks(stack, auth):
    r = run_module("marathon_app", app_args(stack, auth), diff=True)
    assert not r.failed, why(r)
    assert r.changed and r.result["operation"] == "create" and r.result["deployment_id"]
    app = r.result["app"]
    assert app["id"] == APP_ID and app["tasksRunning"] == 1 and app["tasksHealthy"] == 1
    assert app["deployments"] == []
    assert stack.get_json(stack.marathon_urls[0] + "/v2/deployments") == []
    assert app["env"] == {"GREETING": "hello", "N": "1"}
    assert "password" not in json.dumps(r.result) or auth["password"] not in json.dumps(r.result)


def test_02_same_input_again_is_unchanged(stack, auth):
    r = run_module("marathon_app", app_args(stack, auth), diff=True)
    assert not r.failed, why(r)
    assert not r.changed and r.result["deployment_id"] is None and r.result["differences"] == []
    assert r.result["app"]["tasksHealthy"] == 1


def test_03_scale_is_changed(stack, auth):
    r = run_module("marathon_app", app_args(stack, auth, app=dict(APP, instances=2)), diff=True)
    assert not r.failed, why(r)
    assert r.changed and r.result["operation"] == "update" and r.result["differences"] == ["instances"]
    assert r.result["app"]["instances"] == 2 and r.result["app"]["tasksHealthy"] == 2
    assert '"instances": 1' in r.result["diff"]["before"] and '"instances": 2' in r.result["diff"]["after"]
    again = run_module("marathon_app", app_args(stack, auth, app=dict(APP, instances=2)))
    assert not again.changed


def test_04_check_mode_reports_changed_without_changing(stack, auth):
    version = marathon_app(stack)["version"]
    r = run_module("marathon_app", app_args(stack, auth, app=dict(APP, instances=3, env={"GREETING": "hi"})),
                   check=True, diff=True)
    assert not r.failed, why(r)
    assert r.changed and sorted(r.result["differences"]) == ["env", "instances"]
    assert r.result["deployment_id"] is None
    assert '"GREETING": "hello"' in r.result["diff"]["before"] and '"GREETING": "hi"' in r.result["diff"]["after"]
    now = marathon_app(stack)
    assert now["instances"] == 2 and now["version"] == version and now["env"]["GREETING"] == "hello"


def test_05_dead_url_first_in_the_list_still_works(stack, auth):
    dead = dead_url()
    r = run_module("marathon_app", app_args(stack, auth, url=[dead] + stack.marathon_urls,
                                            app=dict(APP, instances=2)))
    assert not r.failed, why(r)
    assert not r.changed
    assert r.result["url"] == stack.marathon_urls[0]
    assert r.result["skipped_urls"] and r.result["skipped_urls"][0].startswith(dead)


class _Recorder(BaseHTTPRequestHandler):
    requests = []

    def log_message(self, *args):
        pass

    def _any(self):
        type(self).requests.append((self.command, self.path))
        self.send_response(500)
        self.end_headers()

    do_GET = do_POST = do_PUT = do_DELETE = _any


@pytest.mark.parametrize("bad_id,fragment", [
    ("/ITest/Web", "segment 'ITest'"),
    ("/itest/web_1", "segment 'web_1'"),
    ("/itest/-web", "segment '-web'"),
    ("/itest//web", "empty path segment"),
    ("/itest/../web", "relative segment"),
])
def test_06_bad_id_is_a_clear_error_and_no_request_is_made(stack, auth, bad_id, fragment):
    _Recorder.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d" % server.server_address[1]
        r = run_module("marathon_app", app_args(stack, auth, url=[url], app=dict(APP, id=bad_id)))
    finally:
        server.shutdown()
        server.server_close()
    assert r.failed and fragment in r.msg and r.msg.startswith("app.id:")
    assert "lowercase letters" in r.msg or "segment" in r.msg
    assert _Recorder.requests == []
    assert "Traceback" not in r.stdout + r.stderr


def test_07_wrong_password_is_a_message_with_url_and_status(stack, auth):
    r = run_module("marathon_app", app_args(stack, dict(auth, password="wrong")))
    assert r.failed and r.result["status"] == 401
    assert "returned HTTP 401" in r.msg and stack.marathon_urls[0] + "/v2/apps/itest/web" in r.msg
    assert "Traceback" not in r.stdout + r.stderr


def test_08_validation_error_from_marathon_is_a_message(stack, auth):
    r = run_module("marathon_app", app_args(stack, auth, app={"id": "/itest/broken", "cmd": "sleep 100",
                                                              "instances": -1}))
    assert r.failed and r.result["status"] == 422 and "HTTP 422" in r.msg
    assert marathon_app(stack, "/itest/broken") is None


STUCK = {"id": "/itest/stuck", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 1}


def test_09_timeout_reports_the_deployment_state_and_409_waits_then_force(stack, auth):
    # 100 cpus can never be placed: the deployment stays.
    r = run_module("marathon_app", app_args(stack, auth, app=dict(STUCK, cpus=100), wait_timeout=3))
    assert r.failed and "timed out after 3 s" in r.msg
    dep = r.result["deployment_id"]
    assert dep and dep in r.msg and "step" in r.msg
    # a change while the deployment runs: Marathon answers 409, the module waits (and times out)
    r = run_module("marathon_app", app_args(stack, auth, app=STUCK, wait_timeout=3))
    assert r.failed and "timed out after 3 s" in r.msg and dep in r.msg and "answered 409" in r.msg
    assert r.result["deployment_id"] is None
    # with force the request is repeated with ?force=true and succeeds
    r = run_module("marathon_app", app_args(stack, auth, app=STUCK, force=True, wait_timeout=60))
    assert not r.failed, why(r)
    assert r.changed and r.result["deployment_id"] != dep
    assert r.result["app"]["cpus"] == 0.1 and r.result["app"]["tasksRunning"] == 1
    assert dep not in [d["id"] for d in stack.get_json(stack.marathon_urls[0] + "/v2/deployments")]


def test_10_absent_is_changed_then_unchanged(stack, auth):
    for app_id in ("/itest/stuck", APP_ID):
        r = run_module("marathon_app", app_args(stack, auth, app={"id": app_id}, state="absent"), diff=True)
        assert not r.failed, why(r)
        assert r.changed and r.result["operation"] == "delete" and r.result["app"] is None
        assert r.result["diff"]["after"] == ""
        assert marathon_app(stack, app_id) is None
    r = run_module("marathon_app", app_args(stack, auth, app={"id": APP_ID}, state="absent"))
    assert not r.failed and not r.changed and r.result["deployment_id"] is None
    r = run_module("marathon_app", app_args(stack, auth, app={"id": APP_ID}, state="absent"), check=True)
    assert not r.failed and not r.changed
