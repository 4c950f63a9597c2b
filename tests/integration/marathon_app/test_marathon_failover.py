"""marathon_app with two Marathon instances: requests through the standby, and the
leader crashing between two runs (the URL list still works; the client waits while
the standby has no leader yet)."""
import json

from paas_testlib.ansible_run import run_module

APP = {"id": "/itest/ha", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 1}


def why(r):
    return "%s\nstate: %s" % (r.msg, json.dumps(r.result.get("deployment_state"))[:2000])


def args(stack, auth, urls, **kw):
    out = {"url": urls, "app": APP, "wait_timeout": 60}
    out.update(auth)
    out.update(kw)
    return out


def test_failover_when_the_leader_crashes(ha_stack, auth):
    stack = ha_stack
    leader = stack.marathon_leader()
    assert leader is not None
    standby = 1 - leader
    urls = [stack.marathon_urls[standby], stack.marathon_urls[leader]]
    # through the standby (it proxies to the leader)
    r = run_module("marathon_app", args(stack, auth, urls))
    assert not r.failed, why(r)
    assert r.changed and r.result["url"] == stack.marathon_urls[standby] and r.result["app"]["tasksRunning"] == 1
    # the leader crashes; the old leader is first in the list
    stack.kill("marathon%d" % leader)
    urls = [stack.marathon_urls[leader], stack.marathon_urls[standby]]
    r = run_module("marathon_app", args(stack, auth, urls, app=dict(APP, instances=2)))
    assert not r.failed, why(r)
    assert r.changed and r.result["url"] == stack.marathon_urls[standby]
    assert r.result["app"]["instances"] == 2 and r.result["app"]["tasksRunning"] == 2
    assert any(s.startswith(stack.marathon_urls[leader]) for s in r.result["skipped_urls"])
    assert stack.marathon_leader() == standby
    again = run_module("marathon_app", args(stack, auth, urls, app=dict(APP, instances=2)))
    assert not again.failed and not again.changed
    gone = run_module("marathon_app", args(stack, auth, urls, state="absent"))
    assert not gone.failed and gone.changed
