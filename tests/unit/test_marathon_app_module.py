"""library/marathon_app.py run() with a fake AnsibleModule and an injected transport:
input checks before any request, create/update/delete decisions, check mode, diff,
error messages."""
import sys

import pytest

from module_utils import marathon as m

sys.modules.setdefault("ansible.module_utils.marathon", m)
import marathon_app  # noqa: E402  (library/, on sys.path via conftest)

from test_module_utils_marathon import APP_PATH, HAVE, FakeMarathon  # noqa: E402


class Done(Exception):
    def __init__(self, failed, result):
        super().__init__(result.get("msg"))
        self.failed = failed
        self.result = result


class FakeModule:
    def __init__(self, check_mode=False, diff=False, **params):
        self.params = dict(url="http://m1:8080", app=None, state="present", force=False, wait=True,
                           wait_timeout=600, username=None, password=None, validate_certs=True)
        self.params.update(params)
        self.check_mode = check_mode
        self._diff = diff

    def fail_json(self, **kw):
        raise Done(True, kw)

    def exit_json(self, **kw):
        raise Done(False, kw)


def run(fake, check_mode=False, diff=False, **params):
    def factory(urls, **kw):
        return m.MarathonClient(urls, transport=fake, sleep=fake.sleep, clock=fake.clock, **kw)
    with pytest.raises(Done) as done:
        marathon_app.run(FakeModule(check_mode=check_mode, diff=diff, **params), client_factory=factory)
    return done.value


@pytest.mark.parametrize("params,fragment", [
    (dict(app={"id": "/Bad_Id"}), "app.id: segment 'Bad_Id'"),
    (dict(app={"cmd": "sleep 1"}), "app.id: is required"),
    (dict(app={"id": "/a/../b"}), "relative segment"),
    (dict(app={"id": "/"}), "root group"),
    (dict(app={"id": "/a", "instances": "many"}), "app.instances: must be a number"),
    (dict(app={"id": "/Bad"}, state="absent"), "app.id: segment 'Bad'"),
    (dict(app={"id": "/a"}, url="marathon:8080"), "url:"),
    (dict(app={"id": "/a"}, url=[1, 2]), "url: must be a URL"),
    (dict(app={"id": "/a"}, wait_timeout=-1), "wait_timeout"),
])
def test_bad_input_fails_before_any_request(params, fragment):
    fake = FakeMarathon()
    done = run(fake, **params)
    assert done.failed and fragment in done.result["msg"]
    assert fake.calls == []


def test_create_waits_and_returns_the_app():
    running = dict(HAVE, tasksRunning=2, tasksHealthy=2)
    fake = FakeMarathon({
        ("GET", APP_PATH): [(404, {"message": "App '/t/web' does not exist"}), (200, {"app": running})],
        ("POST", "/v2/apps"): [(201, ({"id": "/t/web"}, {"marathon-deployment-id": "d1"}))],
        ("GET", "/v2/deployments"): [(200, [])],
    })
    done = run(fake, diff=True, app={"id": "t/web", "instances": 2, "cmd": HAVE["cmd"]})
    r = done.result
    assert not done.failed and r["changed"] and r["operation"] == "create" and r["deployment_id"] == "d1"
    assert r["app"]["tasksRunning"] == 2
    assert r["diff"]["before"] == "" and '"instances": 2' in r["diff"]["after"]
    posted = [c for c in fake.calls if c[0] == "POST"][0][2]
    assert posted == {"id": "/t/web", "instances": 2, "cmd": HAVE["cmd"]}


def test_unchanged_is_not_written():
    fake = FakeMarathon({("GET", APP_PATH): [(200, {"app": HAVE})], ("GET", "/v2/deployments"): [(200, [])]})
    done = run(fake, diff=True, app={"id": "/t/web", "instances": 2, "mem": 32, "env": {"A": 1}})
    assert not done.failed and not done.result["changed"] and done.result["deployment_id"] is None
    assert {c[0] for c in fake.calls} == {"GET"}
    assert "diff" not in done.result


def test_unchanged_and_healthy_is_one_read():
    """Nothing to change on a healthy app without deployments: no deployment polling."""
    healthy = dict(HAVE, tasksRunning=2, tasksHealthy=2, deployments=[])
    fake = FakeMarathon({("GET", APP_PATH): [(200, {"app": healthy})]})
    done = run(fake, app={"id": "/t/web", "instances": 2, "mem": 32})
    assert not done.failed and not done.result["changed"] and done.result["app"]["tasksHealthy"] == 2
    assert [c[0] for c in fake.calls] == ["GET"]


def test_unchanged_but_deploying_is_waited_for():
    deploying = dict(HAVE, tasksRunning=1, tasksHealthy=1, deployments=[{"id": "d9"}])
    healthy = dict(HAVE, tasksRunning=2, tasksHealthy=2, deployments=[])
    fake = FakeMarathon({("GET", APP_PATH): [(200, {"app": deploying}), (200, {"app": healthy})],
                         ("GET", "/v2/deployments"): [(200, [])]})
    done = run(fake, app={"id": "/t/web", "instances": 2, "mem": 32})
    assert not done.failed and not done.result["changed"] and done.result["app"]["tasksRunning"] == 2
    assert ("GET", "http://m1:8080/v2/deployments") in [(c[0], c[1]) for c in fake.calls]


def test_update_diff_and_check_mode_write_nothing():
    fake = FakeMarathon({("GET", APP_PATH): [(200, {"app": HAVE})]})
    done = run(fake, check_mode=True, diff=True, app={"id": "/t/web", "instances": 3})
    r = done.result
    assert r["changed"] and r["operation"] == "update" and r["differences"] == ["instances"]
    assert '"instances": 2' in r["diff"]["before"] and '"instances": 3' in r["diff"]["after"]
    assert "backoffFactor" not in r["diff"]["before"]           # only the compared subset
    assert [c[0] for c in fake.calls] == ["GET"]
    assert r["app"]["instances"] == 2                           # Marathon's app, unchanged


def test_update_puts_only_given_fields():
    fake = FakeMarathon({
        ("GET", APP_PATH): [(200, {"app": HAVE}), (200, {"app": dict(HAVE, instances=3, tasksRunning=3,
                                                                    tasksHealthy=3)})],
        ("PUT", "/v2/apps/t/web"): [(200, {"deploymentId": "d2", "version": "v2"})],
        ("GET", "/v2/deployments"): [(200, [])],
    })
    done = run(fake, app={"id": "/t/web", "instances": 3})
    assert done.result["changed"] and done.result["deployment_id"] == "d2"
    assert [c[2] for c in fake.calls if c[0] == "PUT"] == [{"id": "/t/web", "instances": 3}]
    assert done.result["app"]["instances"] == 3


def test_absent_and_absent_again():
    fake = FakeMarathon({
        ("GET", APP_PATH): [(200, {"app": HAVE}), (404, {"message": "gone"})],
        ("DELETE", "/v2/apps/t/web"): [(200, {"deploymentId": "d3"})],
        ("GET", "/v2/deployments"): [(200, [{"id": "d3", "affectedApps": ["/t/web"]}]), (200, [])],
    })
    done = run(fake, diff=True, state="absent", app={"id": "/t/web", "instances": 5})
    assert done.result["changed"] and done.result["deployment_id"] == "d3" and done.result["app"] is None
    assert done.result["diff"]["after"] == ""
    fake = FakeMarathon()
    done = run(fake, state="absent", app={"id": "/t/web"})
    assert not done.result["changed"] and [c[0] for c in fake.calls] == ["GET"]


def test_create_race_falls_back_to_update():
    fake = FakeMarathon({
        ("GET", APP_PATH): [(404, {"message": "no"}), (200, {"app": HAVE})],
        ("POST", "/v2/apps"): [(409, {"message": "An app with id [/t/web] already exists."})],
        ("PUT", "/v2/apps/t/web"): [(200, {"deploymentId": "d4"})],
    })
    done = run(fake, wait=False, app={"id": "/t/web", "instances": 2})
    assert not done.failed and done.result["operation"] == "update" and done.result["deployment_id"] == "d4"


@pytest.mark.parametrize("routes,fragment,status", [
    ({("GET", APP_PATH): [(401, {"message": "Invalid username or password."})]},
     "GET http://m1:8080/v2/apps/t/web?embed=app.counts&embed=app.deployments&embed=app.tasks returned HTTP 401: "
     "Invalid username or password.", 401),
    ({("GET", APP_PATH): [(404, {})], ("POST", "/v2/apps"): [(422, {"message": "Object is not valid"})]},
     "POST http://m1:8080/v2/apps returned HTTP 422: Object is not valid", 422),
    ({("GET", APP_PATH): [(200, b"not json")]}, "not valid JSON", 200),
])
def test_http_and_json_errors_become_messages(routes, fragment, status):
    done = run(FakeMarathon(routes), app={"id": "/t/web", "cmd": "x"})
    assert done.failed and fragment in done.result["msg"] and done.result["status"] == status


def test_unreachable_marathon_names_every_url():
    fake = FakeMarathon(dead=["http://m1:8080", "http://m2:8080"])
    done = run(fake, url=["http://m1:8080", "http://m2:8080"], app={"id": "/t/web"})
    assert done.failed and "no Marathon instance answered" in done.result["msg"]
    assert len(done.result["skipped_urls"]) == 2


def test_wait_timeout_fails_with_deployment_state():
    fake = FakeMarathon({
        ("GET", APP_PATH): [(200, {"app": HAVE})],
        ("PUT", "/v2/apps/t/web"): [(200, {"deploymentId": "d5"})],
        ("GET", "/v2/deployments"): [(200, [{"id": "d5", "affectedApps": ["/t/web"], "currentStep": 1,
                                             "totalSteps": 1, "currentActions": [
                                                 {"action": "ScaleApplication", "app": "/t/web"}]}])],
    })
    done = run(fake, wait_timeout=5, app={"id": "/t/web", "instances": 9})
    assert done.failed and "timed out after 5 s" in done.result["msg"]
    assert "d5 step 1/1 (ScaleApplication /t/web)" in done.result["msg"]
    assert done.result["deployment_id"] == "d5"


def test_documentation_matches_the_argument_spec():
    import yaml
    doc = yaml.safe_load(marathon_app.DOCUMENTATION)
    options = doc["options"]
    assert set(options) == set(marathon_app.ARGUMENT_SPEC) == {
        "url", "app", "state", "force", "wait", "wait_timeout", "username", "password", "validate_certs"}
    for name, spec in marathon_app.ARGUMENT_SPEC.items():
        assert options[name]["type"] == spec["type"], name
        assert options[name].get("default") == spec.get("default"), name
        assert options[name].get("required", False) == spec.get("required", False), name
        assert options[name].get("choices") == spec.get("choices"), name
    assert marathon_app.ARGUMENT_SPEC["password"]["no_log"] is True
    assert doc["attributes"]["check_mode"]["support"] == "full"
    assert doc["attributes"]["diff_mode"]["support"] == "full"
    assert doc["attributes"]["platform"]["platforms"] == "posix"
    returned = yaml.safe_load(marathon_app.RETURN)
    assert {"app", "deployment_id", "changed"} <= set(returned)
    yaml.safe_load(marathon_app.EXAMPLES)
