"""The exhibitor_zk_hosts lookup against small HTTP servers on loopback that answer
like Exhibitor (or fail the ways a real one does), run through ansible-playbook."""
import http.server
import json
import os
import socket
import sys
import tempfile
import threading

import pytest

from paas_testlib.ansible_run import failed_task_messages, run_playbook


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""
    status = 200

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path != "/exhibitor/v1/cluster/list":
            self.send_error(404)
            return
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def exhibitor():
    """Start a fake Exhibitor answering with the given status and body; returns its base URL."""
    servers = []

    def start(body, status=200):
        handler = type("H", (_Handler,), {"body": body if isinstance(body, bytes) else json.dumps(body).encode(),
                                          "status": status})
        server = http.server.HTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return "http://127.0.0.1:%d" % server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def dead_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d" % sock.getsockname()[1]


def run_lookup(urls, fallback=None):
    args = ", ".join(repr(u) for u in urls)
    if fallback is not None:
        args += ", fallback=%r" % (fallback,)
    playbook = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Discover
      ansible.builtin.debug:
        msg: "{{ query('exhibitor_zk_hosts', %s) }}"
""" % args
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as fh:
        fh.write(playbook)
    try:
        return run_playbook(fh.name, inventory="localhost,", extra_vars={
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable})
    finally:
        os.unlink(fh.name)


def task_result(result):
    data = json.loads(result.output[result.output.index("{"):result.output.rindex("}") + 1])
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_first_answering_exhibitor_wins(exhibitor):
    good = exhibitor({"servers": ["10.0.0.1", "10.0.0.2", "10.0.0.3"], "port": 2181})
    other = exhibitor({"servers": ["10.9.9.9"], "port": 2181})
    result = run_lookup([dead_url(), good, other], fallback=["inv1:2181"])
    assert task_result(result)["msg"] == ["10.0.0.1:2181", "10.0.0.2:2181", "10.0.0.3:2181"]
    assert "no Exhibitor answered" not in result.output


@pytest.mark.parametrize("status,body", [(500, b"oops"), (200, b"<html>"), (200, {"servers": [], "port": 2181})])
def test_broken_answers_are_skipped(exhibitor, status, body):
    broken = exhibitor(body, status)
    good = exhibitor({"servers": ["zk9"], "port": 2281})
    assert task_result(run_lookup([broken, good]))["msg"] == ["zk9:2281"]


def test_falls_back_to_inventory_with_a_warning():
    url = dead_url()
    result = run_lookup([url], fallback="inv1:2181,inv2:2181")
    assert task_result(result)["msg"] == ["inv1:2181", "inv2:2181"]
    assert "no Exhibitor answered" in result.output and url in result.output


def test_without_fallback_it_is_an_error():
    result = run_lookup([dead_url()])
    assert result.rc != 0
    assert "no Exhibitor answered and there is no fallback" in " ".join(failed_task_messages(result.output))
