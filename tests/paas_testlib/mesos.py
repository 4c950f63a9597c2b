"""Mesos and Marathon probes for tests: plain HTTP with urllib (JSON in, JSON
out), basic auth, and small waits."""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

from paas_testlib.zk import wait_for as _wait_for


class HTTPResult:
    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers

    @property
    def json(self):
        return json.loads(self.body) if self.body else None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def request(url, method="GET", body=None, auth=None, timeout=5.0, follow=False):
    """auth: 'user:password' or None. Errors (4xx/5xx) are returned, not raised;
    a connection failure returns status 0."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    opener = urllib.request.build_opener() if follow else urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=timeout) as resp:
            return HTTPResult(resp.status, resp.read().decode(), dict(resp.headers))
    except urllib.error.HTTPError as err:
        return HTTPResult(err.code, err.read().decode(errors="replace"), dict(err.headers or {}))
    except (urllib.error.URLError, OSError, TimeoutError):
        return HTTPResult(0, "", {})


def get_json(url, auth=None, timeout=5.0):
    res = request(url, auth=auth, timeout=timeout)
    if res.status != 200:
        return None
    try:
        return res.json
    except ValueError:
        return None


def wait_for(predicate, timeout, interval=1.0, message="condition"):
    """paas_testlib.zk.wait_for, polling once a second by default."""
    return _wait_for(predicate, timeout, interval=interval, message=message)


def pid_address(pid):
    """'master@10.0.0.1:5050' -> '10.0.0.1:5050'."""
    return pid.split("@", 1)[-1] if pid else ""
