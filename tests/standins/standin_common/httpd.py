"""A tiny threaded HTTP framework on top of http.server (stdlib only).

Applications implement ``handle(request) -> Response`` and may raise
``HTTPError``. Responses can be plain (bytes body) or streaming (chunked
transfer encoding, used for the RecordIO event streams of the Mesos
scheduler API).
"""
import base64
import http.client
import json
import logging
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)


class HTTPError(Exception):
    def __init__(self, status, body=b"", content_type="text/plain; charset=utf-8", headers=None):
        super().__init__("%s %r" % (status, body))
        self.status = status
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            content_type = "application/json"
        elif isinstance(body, str):
            body = body.encode()
        self.body = body
        self.content_type = content_type
        self.headers = list(headers or [])

    def response(self):
        r = Response(self.status, self.body, self.content_type)
        r.headers.extend(self.headers)
        return r


class Response:
    def __init__(self, status=200, body=b"", content_type="application/json", headers=None, stream=None):
        self.status = status
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.body = body if body is not None else b""
        self.content_type = content_type
        self.headers = list(headers or [])
        # stream: callable(write_chunk, is_closed) run after the headers were sent.
        self.stream = stream


def json_response(obj, status=200, headers=None):
    return Response(status, json.dumps(obj).encode(), "application/json", headers)


def text_response(text, status=200, content_type="text/plain; charset=utf-8", headers=None):
    return Response(status, text.encode() if isinstance(text, str) else text, content_type, headers)


class Request:
    def __init__(self, handler, method, body):
        self.handler = handler
        self.method = method
        split = urllib.parse.urlsplit(handler.path)
        self.raw_path = handler.path
        self.path = urllib.parse.unquote(split.path) or "/"
        self.query_string = split.query
        self.query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        self.headers = handler.headers
        self.body = body
        self.client_address = handler.client_address

    def arg(self, name, default=None):
        vals = self.query.get(name)
        if not vals:
            return default
        return vals[0]

    def args(self, name):
        return list(self.query.get(name, []))

    def flag(self, name, default=False):
        v = self.arg(name)
        if v is None:
            return default
        return v.strip().lower() in ("", "true", "1", "yes")

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def json(self):
        if not self.body:
            raise HTTPError(400, "Request body is empty")
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPError(400, "Failed to parse body into JSON: %s" % exc)

    def basic_auth(self):
        return parse_basic_auth(self.header("Authorization"))


def parse_basic_auth(value):
    if not value:
        return None
    parts = value.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(parts[1].strip()).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    if ":" not in decoded:
        return None
    user, _, password = decoded.partition(":")
    return user, password


def basic_auth_header(user, password):
    token = base64.b64encode(("%s:%s" % (user, password)).encode("utf-8")).decode("ascii")
    return "Basic " + token


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send_response(self, code, message=None):
        # Like the real programs: no "Server" header.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def log_message(self, fmt, *args):  # noqa: D401 - stdlib signature
        log.debug("HTTP %s - %s", self.client_address[0], fmt % args)

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline()
                if not line:
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # trailers
                    while True:
                        t = self.rfile.readline()
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            return self.rfile.read(length)
        return b""

    def _dispatch(self, method):
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        req = Request(self, method, body)
        app = self.server.app
        try:
            resp = app.handle(req)
        except HTTPError as err:
            resp = err.response()
        except Exception:  # pragma: no cover - defensive
            log.exception("Unhandled error serving %s %s", method, self.path)
            resp = Response(500, b"Internal server error", "text/plain; charset=utf-8")
        if resp is None:
            resp = Response(404, b"", "text/plain; charset=utf-8")
        try:
            self._write(resp, method)
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
            self.close_connection = True

    def _write(self, resp, method):
        self.send_response(resp.status)
        names = {k.lower() for k, _ in resp.headers}
        for k, v in resp.headers:
            self.send_header(k, v)
        if resp.stream is not None:
            if "content-type" not in names:
                self.send_header("Content-Type", resp.content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "keep-alive")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.wfile.flush()
            self.close_connection = True
            lock = threading.Lock()

            def write_chunk(data):
                if isinstance(data, str):
                    data = data.encode()
                if not data:
                    return
                with lock:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()

            def is_closed():
                return _peer_closed(self.connection)

            try:
                resp.stream(write_chunk, is_closed)
            finally:
                try:
                    with lock:
                        self.wfile.write(b"0\r\n\r\n")
                        self.wfile.flush()
                except OSError:
                    pass
            return
        if "content-type" not in names and (resp.body or resp.status not in (204, 304)):
            self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if method != "HEAD" and resp.body:
            self.wfile.write(resp.body)
        self.wfile.flush()

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_OPTIONS(self):
        self._dispatch("OPTIONS")


def _peer_closed(sock):
    """True when the peer closed its side of a (streaming) connection."""
    try:
        sock.setblocking(False)
        try:
            data = sock.recv(1, socket.MSG_PEEK)
        finally:
            sock.setblocking(True)
        return data == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, app):
        self.app = app
        super().__init__(address, _Handler)


def serve(address, app, name="http"):
    """Bind and serve in a daemon thread; returns the server (raises OSError on bind errors)."""
    srv = Server(address, app)
    t = threading.Thread(target=srv.serve_forever, name=name, daemon=True)
    t.start()
    return srv


# ---------------------------------------------------------------------------
# Client side helpers (http.client; the target hosts have no 'requests').


def http_request(method, url, body=None, headers=None, timeout=5.0):
    """Returns (status, headers(dict lower-case), body bytes). Raises OSError on connection problems."""
    split = urllib.parse.urlsplit(url)
    host = split.hostname
    port = split.port or (443 if split.scheme == "https" else 80)
    if split.scheme == "https":
        import ssl
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    path = split.path or "/"
    if split.query:
        path += "?" + split.query
    hdrs = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, bytearray)):
        if isinstance(body, str):
            body = body.encode()
        else:
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        rh = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, rh, data
    except http.client.HTTPException as exc:
        raise OSError(str(exc))
    finally:
        conn.close()


def http_json(method, url, body=None, headers=None, timeout=5.0):
    status, rh, data = http_request(method, url, body, headers, timeout)
    obj = None
    if data:
        try:
            obj = json.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            obj = None
    return status, obj, rh, data
