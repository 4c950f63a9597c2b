"""The exhibitor_zk_hosts lookup against small HTTP servers on loopback that answer
like Exhibitor (or fail the ways a real one does), run through ansible-playbook."""
import datetime
import http.server
import json
import os
import socket
import ssl
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


@pytest.fixture
def tls_exhibitor(tmp_path):
    """A fake Exhibitor over https with a self-signed certificate; returns its base URL."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    pem = tmp_path / "server.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    handler = type("H", (_Handler,), {"body": json.dumps({"servers": ["tls1"], "port": 2181}).encode(), "status": 200})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pem))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "https://localhost:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def not_http():
    """A TCP server that answers every connection with a line that is not HTTP."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)

    def serve():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(b"ZooKeeper says hello\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield "http://127.0.0.1:%d" % sock.getsockname()[1]
    sock.close()


def dead_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d" % sock.getsockname()[1]


def run_lookup(urls, fallback=None, **options):
    args = ", ".join(repr(u) for u in urls)
    if fallback is not None:
        args += ", fallback=%r" % (fallback,)
    for name, value in options.items():
        args += ", %s=%r" % (name, value)
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


def test_an_answer_that_is_not_http_is_skipped(not_http, exhibitor):
    good = exhibitor({"servers": ["zk9"], "port": 2281})
    result = run_lookup([not_http, good])
    assert task_result(result)["msg"] == ["zk9:2281"]


def test_falls_back_to_inventory_with_a_warning():
    url = dead_url()
    result = run_lookup([url], fallback="inv1:2181,inv2:2181")
    assert task_result(result)["msg"] == ["inv1:2181", "inv2:2181"]
    assert "no Exhibitor answered" in result.output and url in result.output


def test_without_fallback_it_is_an_error():
    result = run_lookup([dead_url()])
    assert result.rc != 0
    assert "no Exhibitor answered and there is no fallback" in " ".join(failed_task_messages(result.output))


def test_https_certificate_is_checked_unless_told_not_to(tls_exhibitor):
    checked = run_lookup([tls_exhibitor], fallback=["inv1:2181"])
    assert task_result(checked)["msg"] == ["inv1:2181"]
    assert "CERTIFICATE_VERIFY_FAILED" in checked.output
    unchecked = run_lookup([tls_exhibitor], fallback=["inv1:2181"], validate_certs=False)
    assert task_result(unchecked)["msg"] == ["tls1:2181"]
    assert "no Exhibitor answered" not in unchecked.output


def test_no_credentials_are_sent_and_a_guarded_exhibitor_is_skipped(exhibitor):
    """GET cluster/list is the one Exhibitor call the exhibitor role leaves open: the lookup sends
    no Authorization header, and an Exhibitor that asks for credentials (401) is skipped and named."""
    seen = []

    class Recording(_Handler):
        body = json.dumps({"servers": ["zk7"], "port": 2181}).encode()

        def do_GET(self):  # noqa: N802 (http.server's name)
            seen.append(self.headers.get("Authorization"))
            super().do_GET()

    server = http.server.HTTPServer(("127.0.0.1", 0), Recording)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        guarded = exhibitor(b"<html>401</html>", 401)
        result = run_lookup([guarded, "http://127.0.0.1:%d" % server.server_address[1]], fallback=["inv1:2181"])
    finally:
        server.shutdown()
        server.server_close()
    assert task_result(result)["msg"] == ["zk7:2181"]
    assert seen == [None]
    only_guarded = run_lookup([guarded], fallback=["inv1:2181"])
    assert task_result(only_guarded)["msg"] == ["inv1:2181"]
    assert "HTTP 401" in only_guarded.output and guarded in only_guarded.output
