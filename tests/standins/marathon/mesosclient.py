"""Mesos v1 scheduler HTTP API client: leader detection, SUBSCRIBE stream, calls."""
import http.client
import json
import logging
import threading
import urllib.parse

from standin_common import recordio
from standin_common.httpd import basic_auth_header, http_request
from standin_common.mesosgroup import MasterGroup, leader_url
from standin_common.zk import parse_zk_url

log = logging.getLogger("marathon.mesos")


class MesosDriver:
    def __init__(self, conf, framework_info_fn, handler):
        self.conf = conf
        self.framework_info_fn = framework_info_fn
        self.handler = handler
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self.lock = threading.Lock()
        self.stream_id = None
        self.framework_id = None
        self.master_url = None
        self.detected_url = None
        self.conn = None
        self.detector = None
        self.static_urls = []
        self.thread = None
        self.auth = None
        if conf.mesos_authentication:
            principal = conf.mesos_authentication_principal
            secret = conf.get("mesos_authentication_secret")
            if secret is None and conf.get("mesos_authentication_secret_file"):
                # The file content is used verbatim (like Marathon does, trailing newline included).
                with open(conf.mesos_authentication_secret_file, "rb") as fh:
                    secret = fh.read().decode("utf-8")
            self.auth = basic_auth_header(principal, secret or "")
        master = conf.master.strip()
        if master.startswith("zk://"):
            self.zkurl = parse_zk_url(master)
        else:
            self.zkurl = None
            for item in master.split(","):
                item = item.strip().rstrip("/")
                if not item:
                    continue
                if not item.startswith("http://") and not item.startswith("https://"):
                    item = "http://" + item
                if urllib.parse.urlsplit(item).port is None:
                    item += ":5050"
                self.static_urls.append(item)

    # ------------------------------------------------------------------
    def start(self):
        self.stop_event.clear()
        if self.zkurl is not None and self.detector is None:
            self.detector = MasterGroup(self.zkurl, self.conf.zk_session_timeout / 1000.0, self._on_master,
                                        name="mesos-detector")
            self.detector.start()
        self.thread = threading.Thread(target=self._run, name="mesos-driver", daemon=True)
        self.thread.start()

    def stop(self):
        self.stop_event.set()
        self.wake.set()
        self._close_stream()
        if self.detector is not None:
            self.detector.stop()
            self.detector = None

    def _on_master(self, st):
        url = leader_url(st.leader) if st.connected and st.leader else None
        if url != self.detected_url:
            log.info("Mesos master leader is now %s", url)
            self.detected_url = url
            if self.master_url and url != self.master_url:
                self._close_stream()
            self.wake.set()

    def _close_stream(self):
        conn = self.conn
        if conn is not None:
            try:
                if conn.sock is not None:
                    import socket
                    conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                conn.close()
            except OSError:
                pass

    def _candidates(self):
        if self.zkurl is not None:
            return [self.detected_url] if self.detected_url else []
        return list(self.static_urls)

    def _headers(self):
        h = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.auth:
            h["Authorization"] = self.auth
        return h

    def _run(self):
        backoff = 1.0
        while not self.stop_event.is_set():
            urls = self._candidates()
            if not urls:
                self.wake.wait(1.0)
                self.wake.clear()
                continue
            for url in urls:
                if self.stop_event.is_set():
                    return
                try:
                    subscribed = self._subscribe(url)
                except OSError as exc:
                    log.warning("Connection to Mesos master %s failed: %s", url, exc)
                    subscribed = False
                if subscribed:
                    backoff = 1.0
                if self.stop_event.is_set():
                    return
            if self.wake.wait(backoff):
                backoff = 1.0
            else:
                backoff = min(backoff * 2, 10.0)
            self.wake.clear()

    def _subscribe(self, url, redirects=0):
        fi = self.framework_info_fn()
        body = json.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": fi}}).encode()
        split = urllib.parse.urlsplit(url)
        timeout = max(30.0, (self.conf.mesos_heartbeat_interval / 1000.0) * 3)
        conn = http.client.HTTPConnection(split.hostname, split.port or 5050, timeout=timeout)
        self.conn = conn
        try:
            conn.request("POST", "/api/v1/scheduler", body=body, headers=self._headers())
            resp = conn.getresponse()
            if resp.status == 307:
                loc = resp.getheader("Location") or ""
                resp.read()
                conn.close()
                if loc.startswith("//"):
                    loc = "http:" + loc
                target = urllib.parse.urlsplit(loc)
                if redirects < 3 and target.hostname:
                    log.info("Mesos master %s redirected us to the leader %s", url, loc)
                    return self._subscribe("http://%s:%d" % (target.hostname, target.port or 5050),
                                           redirects + 1)
                return False
            if resp.status != 200:
                data = resp.read()
                log.warning("Mesos master %s refused SUBSCRIBE: %d %s", url, resp.status,
                            data[:300].decode("utf-8", "replace"))
                if resp.status in (401, 403):
                    log.error("Framework authentication with Mesos failed (check --mesos_authentication_* flags)")
                return False
            self.stream_id = resp.getheader("Mesos-Stream-Id")
            self.master_url = url
            decoder = recordio.Decoder()
            got_subscribed = False
            while not self.stop_event.is_set():
                try:
                    chunk = resp.read1(65536)
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    log.warning("Event stream from %s broke: %s", url, exc)
                    break
                if not chunk:
                    log.warning("Mesos master %s closed the event stream", url)
                    break
                for record in decoder.feed(chunk):
                    try:
                        event = json.loads(record.decode("utf-8"))
                    except ValueError:
                        continue
                    if event.get("type") == "SUBSCRIBED":
                        got_subscribed = True
                        self.framework_id = event["subscribed"]["framework_id"]["value"]
                        log.info("Subscribed to Mesos master %s as framework %s", url, self.framework_id)
                    if event.get("type") == "ERROR":
                        log.error("Mesos master sent an error: %s", (event.get("error") or {}).get("message"))
                    try:
                        self.handler(event)
                    except Exception:
                        log.exception("Failed to handle Mesos event %s", event.get("type"))
            return got_subscribed
        finally:
            self.stream_id = None
            self.master_url = None
            self.conn = None
            try:
                conn.close()
            except OSError:
                pass
            try:
                self.handler({"type": "_DISCONNECTED"})
            except Exception:
                log.exception("Disconnect handler failed")

    # ------------------------------------------------------------------
    def call(self, call):
        url = self.master_url
        sid = self.stream_id
        if not url or not sid:
            return None
        call = dict(call)
        if self.framework_id and "framework_id" not in call:
            call["framework_id"] = {"value": self.framework_id}
        headers = self._headers()
        headers["Mesos-Stream-Id"] = sid
        try:
            status, _, data = http_request("POST", url + "/api/v1/scheduler", json.dumps(call).encode(),
                                           headers, timeout=10)
        except OSError as exc:
            log.warning("Mesos call %s failed: %s", call.get("type"), exc)
            return None
        if status != 202:
            log.warning("Mesos call %s answered %d: %s", call.get("type"), status,
                        data[:300].decode("utf-8", "replace"))
        return status

    @property
    def connected(self):
        return self.stream_id is not None
