"""bin/marathon entry point."""
import logging
import os
import signal
import sys
import threading

from standin_common import httpd, log as logsetup
from standin_common.zk import ZkUrlError, parse_zk_url

from . import BUILDREF, VERSION
from .flags import FlagError, Parser

log = logging.getLogger("marathon")


def _die(message, code=1):
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()
    return code


SECRET_FLAGS = ("--http_credentials", "--mesos_authentication_secret", "--ssl_keystore_password")


def _masked_args(args):
    import re
    out = []
    hide_next = False
    for a in args:
        if hide_next:
            out.append("********")
            hide_next = False
            continue
        name, eq, _ = a.partition("=")
        if name in SECRET_FLAGS:
            if eq:
                out.append(name + "=********")
            else:
                out.append(a)
                hide_next = True
            continue
        out.append(re.sub(r"([^/@,:]+):([^/@,]*)@", r"\1:xxxxxxxx@", a))
    return out


def strip_launcher_args(args):
    """Drop the JVM/launcher options the real bin/marathon start script understands (-J, -D, ...)."""
    out = []
    ignored = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-java-home", "-jvm-debug", "-main"):
            ignored.extend(args[i:i + 2])
            i += 2
            continue
        if a in ("-v", "-verbose", "-d", "-debug", "-no-version-check") or \
                (a.startswith("-") and not a.startswith("--") and a[1:2] in ("J", "D", "X")):
            ignored.append(a)
            i += 1
            continue
        out.append(a)
        i += 1
    return out, ignored


def main(argv=None):
    argv = list(argv if argv is not None else sys.argv)
    args, ignored = strip_launcher_args(argv[1:])
    parser = Parser()
    if "--help" in args or "-h" in args or "-help" in args:
        print(parser.usage())
        return 0
    if "--version" in args:
        print(VERSION)
        return 0
    try:
        conf = parser.parse(args)
    except FlagError as exc:
        return _die("[scallop] Error: %s" % exc)
    logsetup.setup_marathon(conf.get("logging_level") or "info")
    log.info("Starting Marathon %s/%s with %s", VERSION, BUILDREF, " ".join(_masked_args(args)))
    if ignored:
        log.info("Ignoring JVM/launcher options: %s", " ".join(ignored))
    if os.environ.get("JAVA_OPTS"):
        log.info("Ignoring JAVA_OPTS=%s", os.environ["JAVA_OPTS"])
    if conf.get("ssl_keystore_path"):
        log.warning("HTTPS (--ssl_keystore_path) is not supported by this build; serving HTTP only")
    try:
        zkurl = parse_zk_url(conf.zk, allow_per_host_credentials=True)
    except ZkUrlError as exc:
        return _die("[scallop] Error: Option 'zk' has an invalid value '%s': %s" % (conf.zk, exc))
    master = conf.master.strip()
    if master.startswith("zk://"):
        try:
            parse_zk_url(master)
        except ZkUrlError as exc:
            return _die("[scallop] Error: Option 'master' has an invalid value: %s" % exc)
    if conf.mesos_authentication and conf.get("mesos_authentication_secret_file"):
        if not os.path.isfile(conf.mesos_authentication_secret_file):
            return _die("Error reading authentication secret from file [%s]" % conf.mesos_authentication_secret_file)

    from .api import MarathonApp
    from .core import Core
    from .mesosclient import MesosDriver
    from .zkstate import LeaderLatch, ZkState

    store = ZkState(zkurl, conf)
    try:
        store.start()
    except Exception as exc:
        log.error("Failed to connect to ZooKeeper at %s: %s", zkurl.masked(), exc)
        return 100
    try:
        store.ensure_layout()
    except Exception as exc:
        log.error("Failed to prepare the ZooKeeper layout under %s: %s", zkurl.path, exc.__class__.__name__
                  + ((": %s" % exc) if str(exc) else ""))
        return 100

    core = Core(conf, store)
    driver_factory = lambda fi_fn, handler: MesosDriver(conf, fi_fn, handler)  # noqa: E731
    me = "%s:%d" % (conf.hostname, conf.http_port)
    election = None
    app = MarathonApp(conf, core, None, zkurl.masked())
    core.event_sink = app.events.publish
    stop = threading.Event()
    exit_code = [0]

    def on_leadership(is_leader, leader_id):
        if is_leader and not core.leader:
            log.info("Elected as leader (%s)", me)
            core.elected(driver_factory)
        elif not is_leader and core.leader:
            log.warning("Leadership lost (current leader: %s)", leader_id)
            core.defeated()
        elif not is_leader:
            log.info("Current leader: %s", leader_id)

    if conf.ha:
        election = LeaderLatch(store, me, on_leadership)
        app.election = election

    def abdicate():
        log.info("Abdicating leadership")
        core.defeated()
        if election is not None:
            election.abdicate()
        exit_code[0] = 105
        stop.set()

    app.abdicate_cb = abdicate
    bind = conf.get("http_address") or "0.0.0.0"
    if not conf.disable_http:
        try:
            server = httpd.serve((bind, conf.http_port), app, "marathon-http")
        except OSError as exc:
            log.error("Failed to bind %s:%d: %s", bind, conf.http_port, exc)
            return 1
    else:
        server = None
    log.info("Listening on http://%s:%d", bind, conf.http_port)

    def on_signal(signum, frame):
        log.info("Received signal %d: shutting down", signum)
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if election is not None:
        election.start()
    else:
        log.info("High availability is disabled (--disable_ha): this instance is the leader")
        core.elected(driver_factory)
    while not stop.wait(1.0):
        pass
    core.defeated()
    if election is not None:
        election.stop()
    store.stop()
    if server is not None:
        server.shutdown()
    logging.shutdown()
    return exit_code[0]
