"""Entry points: mesos-master and mesos-agent."""
import logging
import os
import shutil
import signal
import sys
import threading

from standin_common import httpd, log as logsetup
from standin_common.zk import ZkUrlError, parse_zk_url

from . import VERSION
from .auth import CredentialsError, read_credential, read_credentials
from .flags import FlagError, agent_flagset, master_flagset
from .net import resolve_address
from .resources import (ResourceError, Resources, make_ranges, make_scalar, parse_attributes,
                        parse_resources)

log = logging.getLogger("main")


def _die(message, code=1):
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()
    return code


def _load_flags(fs, argv):
    """Returns (flags, exit_code). exit_code is None when the program should continue."""
    args = argv[1:]
    try:
        flags = fs.load(args)
    except FlagError as exc:
        if any(a in ("--help", "--help=true") for a in args):
            print(fs.usage())
            return None, 0
        return None, _die("Failed to load flags: %s\n\n%s" % (exc, fs.usage()))
    if flags.help:
        print(fs.usage())
        return None, 0
    if flags.version:
        print("mesos %s" % VERSION)
        return None, 0
    return flags, None


def _install_signals(stop_event):
    def handler(signum, frame):
        logging.getLogger("main").info("Received signal %d; exiting", signum)
        stop_event.set()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _bind(address, app, name):
    try:
        return httpd.serve((address.bind_ip, address.port), app, name)
    except OSError as exc:
        raise SystemExit(_die("Failed to initialize: Failed to bind on %s:%d: %s"
                              % (address.bind_ip, address.port, exc.strerror or exc)))


# ---------------------------------------------------------------------------
# master


def main_master(argv=None):
    argv = argv if argv is not None else sys.argv
    fs = master_flagset(os.path.basename(argv[0]) or "mesos-master")
    flags, code = _load_flags(fs, argv)
    if flags is None:
        return code
    logsetup.setup_glog("mesos-master", flags.logging_level, flags.quiet, flags.get("log_dir"))
    for w in flags.warnings:
        log.warning(w)
    log.info("Build: %s by %s", "2020-11-24 00:00:00", "root")
    log.info("Version: %s", VERSION)

    if flags.get("zk") and (flags.get("master_contender") or flags.get("master_detector")):
        return _die("Only one of --zk or the --master_contender/--master_detector pair should be specified")
    if flags.get("master_contender") or flags.get("master_detector"):
        return _die("Failed to create a master contender: modules are not supported by this build")
    if flags.registry == "replicated_log":
        if not flags.get("work_dir"):
            return _die("--work_dir needed for replicated log based registry")
    if flags.get("work_dir"):
        try:
            os.makedirs(flags.work_dir, exist_ok=True)
            if flags.registry == "replicated_log":
                os.makedirs(os.path.join(flags.work_dir, "replicated_log"), exist_ok=True)
        except OSError as exc:
            return _die("Failed to create work directory '%s': %s" % (flags.work_dir, exc.strerror))
    zkurl = None
    if flags.get("zk"):
        if flags.registry == "replicated_log" and flags.get("quorum") is None:
            return _die("Need to specify --quorum for replicated log based registry when using ZooKeeper")
        try:
            zkurl = parse_zk_url(flags.zk.strip())
        except ZkUrlError as exc:
            return _die("Error parsing ZooKeeper URL: %s" % exc)
    if flags.get("quorum") is not None and flags.quorum < 1:
        return _die("Invalid --quorum %d: must be at least 1" % flags.quorum)
    if flags.get("agent_removal_rate_limit"):
        parts = flags.agent_removal_rate_limit.split("/")
        if len(parts) != 2 or not parts[0].strip().isdigit():
            return _die("Invalid agent_removal_rate_limit: %s. Format is <Number of agents>/<Duration>"
                        % flags.agent_removal_rate_limit)
    credentials = {}
    if flags.get("credentials"):
        try:
            credentials = read_credentials(flags.credentials)
        except CredentialsError as exc:
            return _die("Failed to load credentials: %s" % exc)
    if (flags.authenticate_frameworks or flags.authenticate_agents or flags.authenticate_http_readonly
            or flags.authenticate_http_readwrite or flags.authenticate_http_frameworks) and not credentials:
        log.warning("Authentication is enabled but no credentials were provided (--credentials): "
                    "authentication requests will be refused")
    try:
        address = resolve_address(flags, 5050)
    except ValueError as exc:
        return _die(str(exc))

    from .master import Master
    from .master_http import MasterApp
    from .zkgroup import MasterGroup

    # src/master/main.cpp: one authorizer only; the default "local" one is created from --acls.
    authorizer_names = [n for n in (flags.authorizers or "").split(",") if n]
    if not authorizer_names:
        return _die("No authorizer specified")
    if len(authorizer_names) > 1:
        return _die("Multiple authorizers not supported")
    if authorizer_names[0] != "local":
        return _die("Could not create '%s' authorizer: authorizer modules are not supported by this build"
                    % authorizer_names[0])
    from .acls import AuthorizerError
    try:
        master = Master(flags, address, credentials, zkurl)
    except AuthorizerError as exc:
        return _die("Could not create 'local' authorizer: %s" % exc)
    stop = threading.Event()
    _install_signals(stop)
    server = _bind(address, MasterApp(master), "master-http")
    log.info("Master %s (%s) started on %s:%d", master.id, address.hostname, address.advertise_ip,
             address.advertise_port)
    group = None
    if zkurl is not None:
        log.info("Using ZooKeeper at %s for leader election (quorum %d)", zkurl.masked(), master.quorum)
        group = MasterGroup(zkurl, flags.zk_session_timeout.secs, master.on_group_change,
                            info_fn=lambda: master.info, name="master-contender")
    else:
        log.info("No --zk given: running as a standalone (non-HA) leading master")
    master.start(group)
    while not stop.wait(1.0):
        pass
    master.stop()
    server.shutdown()
    return 0


# ---------------------------------------------------------------------------
# agent


def _meminfo_mb():
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 1024.0


def default_resources(work_dir):
    """Auto-detected resources (like Containerizer::resources)."""
    cpus = float(os.cpu_count() or 1)
    total_mem = _meminfo_mb()
    mem = total_mem - 1024 if total_mem >= 2048 else total_mem / 2
    try:
        total_disk = shutil.disk_usage(work_dir).total / (1024.0 * 1024.0)
    except OSError:
        total_disk = 10240.0
    disk = total_disk - 5 * 1024 if total_disk >= 10 * 1024 else total_disk / 2
    return {"cpus": cpus, "mem": float(int(mem)), "disk": float(int(disk)), "ports": [(31000, 32000)]}


def build_agent_resources(text, default_role, work_dir):
    res = parse_resources(text, default_role) if text else []
    names = {r["name"] for r in res}
    defaults = default_resources(work_dir)
    for name in ("cpus", "mem", "disk"):
        if name not in names:
            res.append(make_scalar(name, defaults[name], default_role))
    if "ports" not in names:
        res.append(make_ranges("ports", defaults["ports"], default_role))
    return res


def main_agent(argv=None):
    argv = argv if argv is not None else sys.argv
    fs = agent_flagset(os.path.basename(argv[0]) or "mesos-agent")
    flags, code = _load_flags(fs, argv)
    if flags is None:
        return code
    if not flags.get("master") and not flags.get("master_detector"):
        return _die(fs.usage("Missing required option `--master` or `--master_detector`"))
    if flags.get("master") and flags.get("master_detector"):
        return _die(fs.usage("Only one of --master or --master_detector options should be specified"))
    if flags.get("master_detector"):
        return _die("Failed to create a master detector: modules are not supported by this build")
    if not flags.get("work_dir"):
        return _die(fs.usage("Flag 'work_dir' is required, but it was not provided"))
    logsetup.setup_glog("mesos-agent", flags.logging_level, flags.quiet, flags.get("log_dir"))
    for w in flags.warnings:
        log.warning(w)
    log.info("Version: %s", VERSION)

    names = [c.strip() for c in flags.containerizers.split(",") if c.strip()]
    if not names:
        return _die("Failed to create a containerizer: No containerizers specified")
    for name in names:
        if name not in ("mesos", "docker"):
            return _die("Failed to create a containerizer: Unknown or unsupported containerizer: %s" % name)
    try:
        os.makedirs(flags.work_dir, exist_ok=True)
    except OSError as exc:
        return _die("Failed to create agent work directory '%s': %s" % (flags.work_dir, exc.strerror))
    try:
        resources = build_agent_resources(flags.get("resources"), flags.default_role, flags.work_dir)
    except ResourceError as exc:
        return _die("Failed to determine agent resources from --resources='%s': %s"
                    % (flags.get("resources"), exc))
    try:
        attributes = parse_attributes(flags.get("attributes"))
    except ResourceError as exc:
        return _die("Failed to parse --attributes='%s': %s" % (flags.get("attributes"), exc))
    credential = None
    if flags.get("credential"):
        try:
            credential = read_credential(flags.credential)
        except CredentialsError as exc:
            return _die("Failed to load credential: %s" % exc)
    http_credentials = {}
    if flags.get("http_credentials"):
        try:
            http_credentials = read_credentials(flags.http_credentials)
        except CredentialsError as exc:
            return _die("Failed to load HTTP credentials: %s" % exc)
    master_flag = flags.master.strip()
    zkurl = None
    static = None
    if master_flag.startswith("zk://"):
        try:
            zkurl = parse_zk_url(master_flag)
        except ZkUrlError as exc:
            return _die("Failed to create a master detector: Failed to parse '%s': %s" % (master_flag, exc))
    else:
        hp = master_flag
        if hp.startswith("http://"):
            hp = hp[len("http://"):]
        if hp.startswith("master@"):
            hp = hp[len("master@"):]
        hp = hp.rstrip("/")
        host, _, port = hp.rpartition(":")
        if not host or not port.isdigit():
            return _die("Failed to create a master detector: Failed to parse '%s'" % master_flag)
        static = (host, int(port))
    try:
        address = resolve_address(flags, 5051)
    except ValueError as exc:
        return _die(str(exc))

    from .agent import Agent, FatalError
    from .agent_http import AgentApp
    from .zkgroup import MasterGroup, StaticDetector

    try:
        agent = Agent(flags, address, resources, attributes, credential, http_credentials)
    except FatalError as exc:
        return _die(str(exc))
    dz = agent.containerizers.get("docker")
    if dz is not None:
        try:
            version = dz.docker.version()
            log.info("Docker version %s (using '%s')", version, flags.docker)
        except Exception as exc:  # LaunchError
            return _die("Failed to create a containerizer: Could not create DockerContainerizer: "
                        "Failed to create docker: %s" % exc)
    try:
        agent.recover()
    except FatalError as exc:
        return _die("Agent recovery failed: %s\n\n"
                    "If recovery failed due to a change in configuration and you want to\n"
                    "keep the current agent id, you might want to change the\n"
                    "`--reconfiguration_policy` flag to a more permissive value.\n\n"
                    "To restart this agent with a new agent id instead, do as follows:\n"
                    "rm -f %s\n"
                    "This ensures that the agent does not recover old live executors." % (exc, agent.latest_link()))
    if agent.agent_id:
        agent.kill_orphans()
    stop = agent.stop_event
    _install_signals(stop)
    server = _bind(address, AgentApp(agent), "agent-http")
    log.info("Agent started on %s:%d (hostname %s) with resources %s and attributes %s",
             address.advertise_ip, address.advertise_port, address.hostname, Resources(resources),
             flags.get("attributes") or "")
    threading.Thread(target=agent.registration_loop, name="registration", daemon=True).start()
    threading.Thread(target=agent.monitor_loop, name="monitor", daemon=True).start()
    if zkurl is not None:
        detector = MasterGroup(zkurl, flags.zk_session_timeout.secs, agent.on_master_change, name="master-detector")
    else:
        detector = StaticDetector(static[0], static[1], agent.on_master_change)
    agent.detector = detector
    detector.start()
    while not stop.wait(1.0):
        pass
    log.info("Agent terminating; leaving %d task container(s) running", len(agent.tasks))
    detector.stop()
    server.shutdown()
    return agent.exit_code or 0
