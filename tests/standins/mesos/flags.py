"""Command-line flag handling with the semantics of Mesos' stout library.

* ``--name=value``; booleans as ``--name``, ``--no-name``, ``--name=true|false``.
* ``--name value`` is also accepted for non-boolean flags (convenience; the
  next argument must not start with ``--``).
* Every flag can come from the environment as ``MESOS_<NAME>`` (upper or lower
  case after the prefix). A flag given on the command line wins over the
  environment. Unknown ``MESOS_*`` variables are ignored with a warning.
* A flag given twice (or via name and alias) on the command line is an error:
  ``Flag 'x' is already loaded via name 'x'``.
* Unknown flags: ``Failed to load unknown flag 'foo'``.
* Values of non-path flags that start with ``file://`` are replaced by the
  file's content (stout's ``fetch``).
"""
import json
import os
import re


class FlagError(Exception):
    pass


# ---------------------------------------------------------------------------
# Value types

_DURATION_UNITS = [
    ("weeks", 7 * 24 * 3600 * 10 ** 9),
    ("days", 24 * 3600 * 10 ** 9),
    ("hrs", 3600 * 10 ** 9),
    ("mins", 60 * 10 ** 9),
    ("secs", 10 ** 9),
    ("ms", 10 ** 6),
    ("us", 10 ** 3),
    ("ns", 1),
]
_DURATION_BY_UNIT = dict(_DURATION_UNITS)


class Duration:
    """A stout Duration (nanosecond resolution)."""

    __slots__ = ("ns",)

    def __init__(self, ns):
        self.ns = int(ns)

    @classmethod
    def parse(cls, text):
        s = text.strip()
        i = 0
        while i < len(s) and (s[i].isdigit() or s[i] == "."):
            i += 1
        if i == 0 or i == len(s):
            raise ValueError("Invalid duration '%s'" % text)
        number, unit = s[:i], s[i:]
        if unit not in _DURATION_BY_UNIT:
            raise ValueError("Unknown duration unit '%s'" % unit)
        try:
            value = float(number)
        except ValueError:
            raise ValueError("Invalid duration '%s'" % text)
        return cls(round(value * _DURATION_BY_UNIT[unit]))

    @property
    def secs(self):
        return self.ns / 1e9

    def __str__(self):
        if self.ns == 0:
            return "0ns"
        for unit, factor in _DURATION_UNITS:
            if abs(self.ns) >= factor:
                value = self.ns / factor
                text = ("%.6f" % value).rstrip("0").rstrip(".")
                return text + unit
        return "%dns" % self.ns

    def __repr__(self):
        return "Duration(%s)" % self

    def __eq__(self, other):
        return isinstance(other, Duration) and other.ns == self.ns

    def __lt__(self, other):
        return self.ns < other.ns

    def __le__(self, other):
        return self.ns <= other.ns

    def __hash__(self):
        return hash(self.ns)


_BYTES_UNITS = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}


class Bytes:
    __slots__ = ("n",)

    def __init__(self, n):
        self.n = int(n)

    @classmethod
    def parse(cls, text):
        s = text.strip()
        m = re.match(r"^(\d+(?:\.\d+)?)([A-Za-z]+)$", s)
        if not m or m.group(2).upper() not in _BYTES_UNITS:
            raise ValueError("Invalid bytes '%s'" % text)
        return cls(float(m.group(1)) * _BYTES_UNITS[m.group(2).upper()])

    def __str__(self):
        for unit in ("TB", "GB", "MB", "KB"):
            f = _BYTES_UNITS[unit]
            if self.n >= f and self.n % f == 0:
                return "%d%s" % (self.n // f, unit)
        return "%dB" % self.n

    def __eq__(self, other):
        return isinstance(other, Bytes) and other.n == self.n


def _parse_bool(text):
    t = text.strip().lower()
    if t in ("true", "1"):
        return True
    if t in ("false", "0"):
        return False
    raise ValueError("Expecting a boolean (e.g., true or false)")


def _parse_int(text):
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError("Failed to convert into required integer")


def _parse_double(text):
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError("Failed to convert into required number")


def _parse_json(text):
    s = text.strip()
    if s.startswith("/"):
        # stout: JSON-typed flags also accept a plain absolute path.
        try:
            with open(s) as fh:
                s = fh.read()
        except OSError as exc:
            raise ValueError("Error reading file '%s': %s" % (s, exc.strerror))
    try:
        return json.loads(s)
    except ValueError as exc:
        raise ValueError("Failed to parse JSON: %s" % exc)


PARSERS = {
    "bool": _parse_bool,
    "string": lambda t: t,
    "path": lambda t: t,
    "int": _parse_int,
    "double": _parse_double,
    "duration": Duration.parse,
    "bytes": Bytes.parse,
    "json": _parse_json,
}


def stringify(ftype, value):
    if value is None:
        return None
    if ftype == "bool":
        return "true" if value else "false"
    if ftype == "json":
        return json.dumps(value)
    if ftype == "double":
        text = repr(float(value))
        return text[:-2] if text.endswith(".0") else text
    return str(value)


class Flag:
    def __init__(self, name, ftype="string", default=None, alias=None, help="", required=False, validate=None):
        self.name = name
        self.type = ftype
        self.alias = alias
        self.help = help
        self.required = required
        self.validate = validate
        if default is not None and not isinstance(default, (bool, int, float)) and ftype not in ("string", "path"):
            default = PARSERS[ftype](default)
        self.default = default

    @property
    def boolean(self):
        return self.type == "bool"


class Flags:
    """Result of loading: attribute access to values, plus bookkeeping."""

    def __init__(self, specs, values, loaded, warnings, program):
        self._specs = specs
        self._values = values
        self.loaded = loaded
        self.warnings = warnings
        self.program = program

    def __getattr__(self, name):
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name)

    def get(self, name, default=None):
        v = self._values.get(name)
        return default if v is None else v

    def set(self, name, value):
        self._values[name] = value

    def as_strings(self):
        """name -> string value for every flag that has a value (like /flags)."""
        out = {}
        for name in sorted(self._specs):
            spec = self._specs[name]
            s = stringify(spec.type, self._values.get(name))
            if s is not None:
                out[name] = s
        return out


class FlagSet:
    def __init__(self, program, specs, prefix="MESOS_"):
        self.program = program
        self.prefix = prefix
        self.specs = {}
        self.aliases = {}
        for spec in specs:
            if spec.name in self.specs or spec.name in self.aliases:
                raise AssertionError("duplicate flag %s" % spec.name)
            self.specs[spec.name] = spec
            if spec.alias:
                self.aliases[spec.alias] = spec.name

    # -- helpers -----------------------------------------------------------
    def _lookup(self, name):
        if name in self.aliases:
            return self.specs[self.aliases[name]]
        return self.specs.get(name)

    def _is_known(self, name):
        n = name[3:] if name.startswith("no-") else name
        return self._lookup(n) is not None

    def usage(self, message=None):
        lines = []
        if message:
            lines.append(message)
            lines.append("")
        lines.append("Usage: %s [options]" % self.program)
        lines.append("")
        col = {}
        for name in sorted(self.specs):
            spec = self.specs[name]
            if spec.boolean:
                c = "  --[no-]" + name + (", --[no-]" + spec.alias if spec.alias else "")
            else:
                c = "  --" + name + "=VALUE" + (", --" + spec.alias + "=VALUE" if spec.alias else "")
            col[name] = c
        width = max(len(c) for c in col.values()) if col else 0
        for name in sorted(self.specs):
            spec = self.specs[name]
            text = spec.help or ""
            d = stringify(spec.type, spec.default)
            if d is not None:
                text = (text + " " if text else "") + "(default: %s)" % d
            lines.append(col[name] + " " * (5 + width - len(col[name])) + text.replace("\n", " "))
        return "\n".join(lines)

    # -- loading -------------------------------------------------------------
    def parse_argv(self, argv):
        """Returns list of (name, value-or-None) in command line order."""
        out = []
        i = 0
        while i < len(argv):
            arg = argv[i].strip()
            i += 1
            if arg == "--":
                break
            if not arg.startswith("--"):
                continue
            eq = arg.find("=")
            if eq < 0:
                name = arg[2:].lower()
                value = None
                spec = None if name.startswith("no-") else self._lookup(name)
                if spec is not None and not spec.boolean and i < len(argv) and not argv[i].startswith("--"):
                    value = argv[i]
                    i += 1
            else:
                name = arg[2:eq].lower()
                value = arg[eq + 1:]
            out.append((name, value))
        return out

    def load(self, argv, environ=None):
        environ = os.environ if environ is None else environ
        values = {name: spec.default for name, spec in self.specs.items()}
        loaded = {}
        warnings = []
        pairs = self.parse_argv(argv)
        cmd_names = {n for n, _ in pairs}
        env_pairs = []
        for key in sorted(environ):
            if not key.startswith(self.prefix):
                continue
            name = key[len(self.prefix):].lower()
            if not name:
                continue
            if not self._is_known(name):
                warnings.append("Ignoring unknown environment variable '%s'" % key)
                continue
            if name in cmd_names:
                continue
            env_pairs.append((name, environ[key]))

        for name, value in pairs + env_pairs:
            negated = name.startswith("no-")
            flag_name = name[3:] if negated else name
            spec = self._lookup(flag_name)
            if spec is None:
                raise FlagError("Failed to load unknown flag '%s'" % flag_name
                                + ("" if not negated else " via '%s'" % name))
            if spec.name in loaded:
                raise FlagError("Flag '%s' is already loaded via name '%s'" % (flag_name, loaded[spec.name]))
            if not spec.boolean:
                if negated:
                    raise FlagError("Failed to load non-boolean flag '%s' via '%s'" % (flag_name, name))
                if value is None:
                    raise FlagError("Failed to load non-boolean flag '%s': Missing value" % flag_name)
                text = value
            else:
                if value is None or value == "":
                    text = "false" if negated else "true"
                elif not negated:
                    text = value
                else:
                    raise FlagError("Failed to load boolean flag '%s' via '%s' with value '%s'"
                                    % (flag_name, name, value))
            try:
                if spec.type not in ("path",) and text.startswith("file://"):
                    path = text[len("file://"):]
                    try:
                        with open(path) as fh:
                            text = fh.read()
                    except OSError as exc:
                        raise ValueError("Error reading file '%s': %s" % (path, exc.strerror))
                    if spec.type != "string":
                        text = text.strip()
                values[spec.name] = PARSERS[spec.type](text)
            except ValueError as exc:
                raise FlagError("Failed to load flag '%s': Failed to load value '%s': %s" % (flag_name, value, exc))
            loaded[spec.name] = flag_name

        for name in sorted(self.specs):
            spec = self.specs[name]
            if spec.required and name not in loaded:
                raise FlagError("Flag '%s' is required, but it was not provided" % name)
            if spec.validate is not None and values.get(name) is not None:
                err = spec.validate(values[name])
                if err:
                    raise FlagError(err)
        return Flags(self.specs, values, loaded, warnings, self.program)


# ---------------------------------------------------------------------------
# Flag tables (master.md, agent.md, master-and-agent.md)


def _logging_flags():
    return [
        Flag("quiet", "bool", False, help="Disable logging to stderr."),
        Flag("log_dir", help="Location to put log files."),
        Flag("logbufsecs", "int", 0, help="Maximum number of seconds that logs may be buffered for."),
        Flag("logging_level", "string", "INFO", help="Log message at or above this level.",
             validate=lambda v: None if v.upper() in ("INFO", "WARNING", "ERROR")
             else "'%s' is not a valid logging level. Possible values for 'logging_level' flag are: "
                  "'INFO', 'WARNING', 'ERROR'." % v),
        Flag("initialize_driver_logging", "bool", True),
        Flag("external_log_file", help="Location of the externally managed log file."),
    ]


def _common_flags(default_port):
    return [
        Flag("advertise_ip", help="IP address advertised to reach this Mesos master/agent."),
        Flag("advertise_port", help="Port advertised to reach this Mesos master/agent."),
        Flag("authenticate_http_readonly", "bool", False),
        Flag("authenticate_http_readwrite", "bool", False),
        Flag("firewall_rules", "json"),
        Flag("domain", "json"),
        Flag("help", "bool", False, help="Show the help message and exit."),
        Flag("hooks"),
        Flag("hostname", help="The hostname to report/advertise."),
        Flag("hostname_lookup", "bool", True),
        Flag("http_authenticators", "string", "basic"),
        Flag("ip", help="IP address to listen on."),
        Flag("ip_discovery_command"),
        Flag("modules", "json"),
        Flag("modules_dir"),
        Flag("port", "int", default_port, help="Port to listen on.",
             validate=lambda v: None if 0 <= v <= 65535 else "Invalid port %d" % v),
        Flag("version", "bool", False, help="Show version and exit."),
        Flag("zk_session_timeout", "duration", "10secs", help="ZooKeeper session timeout."),
    ] + _logging_flags()


def _min_duration(name, minimum):
    def check(v):
        if v < Duration.parse(minimum):
            return "Expected `--%s` to be at least %s" % (name, minimum)
        return None
    return check


def _validate_acls(value):
    """--acls is an ``ACLs`` protobuf flag upstream (src/common/parse.hpp): JSON that
    does not convert (see acls.parse_acls) fails the flag load."""
    from .acls import AclError, parse_acls
    try:
        parse_acls(value)
    except AclError as exc:
        return "Failed to load flag 'acls': Failed to load value '%s': %s" % (json.dumps(value), exc)
    return None


def master_flags():
    return _common_flags(5050) + [
        Flag("quorum", "int", help="The size of the quorum of replicas when using 'replicated_log' based registry."),
        Flag("work_dir", help="Path of the master work directory."),
        Flag("zk", help="ZooKeeper URL (used for leader election amongst masters)."),
        Flag("acls", "json", validate=_validate_acls),
        Flag("agent_ping_timeout", "duration", "15secs", alias="slave_ping_timeout"),
        Flag("agent_removal_rate_limit", alias="slave_removal_rate_limit"),
        Flag("agent_reregister_timeout", "duration", "10mins", alias="slave_reregister_timeout",
             validate=_min_duration("agent_reregister_timeout", "10mins")),
        Flag("allocation_interval", "duration", "1secs"),
        Flag("allocator", "string", "HierarchicalDRF"),
        Flag("min_allocatable_resources", "string", "cpus:0.01|mem:32"),
        Flag("authenticate_agents", "bool", False, alias="authenticate_slaves"),
        Flag("authenticate_frameworks", "bool", False, alias="authenticate"),
        Flag("authenticate_http_frameworks", "bool", False),
        Flag("authenticators", "string", "crammd5"),
        Flag("authentication_v0_timeout", "duration", "15secs"),
        Flag("authorizers", "string", "local"),
        Flag("cluster"),
        Flag("credentials", "path"),
        Flag("fair_sharing_excluded_resource_names"),
        Flag("filter_gpu_resources", "bool", True),
        Flag("framework_sorter", "string", "drf"),
        Flag("http_framework_authenticators"),
        Flag("log_auto_initialize", "bool", True),
        Flag("master_contender"),
        Flag("master_detector"),
        Flag("max_agent_ping_timeouts", "int", 5, alias="max_slave_ping_timeouts",
             validate=lambda v: None if v >= 1 else "Expected `--max_agent_ping_timeouts` to be at least 1"),
        Flag("max_completed_frameworks", "int", 50),
        Flag("max_completed_tasks_per_framework", "int", 1000),
        Flag("max_operator_event_stream_subscribers", "int", 1000),
        Flag("max_unreachable_tasks_per_framework", "int", 1000),
        Flag("offer_timeout", "duration"),
        Flag("offer_constraints_re2_max_mem", "bytes", "4KB"),
        Flag("offer_constraints_re2_max_program_size", "int", 100),
        Flag("publish_per_framework_metrics", "bool", True),
        Flag("rate_limits", "json"),
        Flag("recovery_agent_removal_limit", "string", "100%", alias="recovery_slave_removal_limit"),
        Flag("registry", "string", "replicated_log",
             validate=lambda v: None if v in ("replicated_log", "in_memory")
             else "'%s' is not a supported option for registry persistence" % v),
        Flag("registry_fetch_timeout", "duration", "1mins"),
        Flag("registry_gc_interval", "duration", "15mins"),
        Flag("registry_max_agent_age", "duration", "2weeks"),
        Flag("registry_max_agent_count", "int", 102400),
        Flag("registry_store_timeout", "duration", "20secs"),
        Flag("require_agent_domain", "bool", False),
        Flag("roles"),
        Flag("root_submissions", "bool", True),
        Flag("role_sorter", "string", "drf"),
        Flag("webui_dir", "string", "/usr/local/share/mesos/webui"),
        Flag("weights"),
        Flag("whitelist", "path"),
        Flag("max_executors_per_agent", "int", alias="max_executors_per_slave"),
    ]


def _choice(name, choices):
    def check(v):
        if v not in choices:
            return "Invalid value '%s' for --%s, expected one of: %s" % (v, name, ", ".join(choices))
        return None
    return check


def agent_flags():
    return _common_flags(5051) + [
        Flag("master", help="May be one of: host:port, zk://host1:port1,host2:port2,.../path, "
                            "zk://username:password@host1:port1,host2:port2,.../path, file:///path/to/file"),
        Flag("work_dir", help="Path of the agent work directory."),
        Flag("acls", "json", validate=_validate_acls),
        Flag("agent_features", "json"),
        Flag("agent_subsystems", alias="slave_subsystems"),
        Flag("effective_capabilities", "json"),
        Flag("bounding_capabilities", "json"),
        Flag("appc_simple_discovery_uri_prefix", "string", "http://"),
        Flag("appc_store_dir", "string", "/tmp/mesos/store/appc"),
        Flag("attributes", help="Attributes of the agent machine, in the form: rack:2 or rack:2;u:1"),
        Flag("authenticate_http_executors", "bool", False),
        Flag("authenticatee", "string", "crammd5"),
        Flag("authentication_backoff_factor", "duration", "1secs"),
        Flag("authentication_timeout_min", "duration", "5secs"),
        Flag("authentication_timeout_max", "duration", "1mins"),
        Flag("authorizer", "string", "local"),
        Flag("cgroups_cpu_enable_pids_and_tids_count", "bool", False),
        Flag("cgroups_destroy_timeout", "duration", "1mins"),
        Flag("cgroups_enable_cfs", "bool", False),
        Flag("cgroups_hierarchy", "string", "/sys/fs/cgroup"),
        Flag("cgroups_limit_swap", "bool", False),
        Flag("cgroups_net_cls_primary_handle"),
        Flag("cgroups_net_cls_secondary_handles"),
        Flag("allowed_devices", "json"),
        Flag("cgroups_root", "string", "mesos"),
        Flag("check_agent_port_range_only", "bool", False),
        Flag("container_disk_watch_interval", "duration", "15secs"),
        Flag("container_logger"),
        Flag("container_ports_isolated_range"),
        Flag("container_ports_watch_interval", "duration", "30secs"),
        Flag("containerizers", "string", "mesos"),
        Flag("credential", "path"),
        Flag("default_container_dns", "json"),
        Flag("default_container_info", "json"),
        Flag("default_role", "string", "*"),
        Flag("default_container_shm_size", "bytes"),
        Flag("disallow_sharing_agent_ipc_namespace", "bool", False),
        Flag("disallow_sharing_agent_pid_namespace", "bool", False),
        Flag("disk_profile_adaptor"),
        Flag("disk_watch_interval", "duration", "1mins"),
        Flag("docker", "string", "docker", help="The absolute path to the docker executable."),
        Flag("docker_config", "json", help="The default docker config file for agent (path or JSON)."),
        Flag("docker_ignore_runtime", "bool", False),
        Flag("docker_kill_orphans", "bool", True),
        Flag("docker_mesos_image"),
        # Upstream defaults to Docker Hub's registry; the stand-in has no default (no host
        # name of a public registry in this repository) and never contacts a registry itself.
        Flag("docker_registry", "string", ""),
        Flag("docker_remove_delay", "duration", "6hrs"),
        Flag("docker_socket", "string", "/var/run/docker.sock"),
        Flag("docker_stop_timeout", "duration", "0ns"),
        Flag("docker_store_dir", "string", "/tmp/mesos/store/docker"),
        Flag("docker_volume_checkpoint_dir", "string", "/var/run/mesos/isolators/docker/volume"),
        Flag("docker_volume_chown", "bool", False),
        Flag("domain_socket_location"),
        Flag("enforce_container_disk_quota", "bool", False),
        Flag("enforce_container_ports", "bool", False),
        Flag("executor_environment_variables", "json",
             validate=lambda v: None if isinstance(v, dict) and all(isinstance(x, str) for x in v.values())
             else "`executor_environment_variables` must only contain string values"),
        Flag("executor_registration_timeout", "duration", "1mins"),
        Flag("executor_reregistration_timeout", "duration", "2secs"),
        Flag("executor_reregistration_retry_interval", "duration"),
        Flag("max_completed_executors_per_framework", "int", 150),
        Flag("jwt_secret_key", "path"),
        Flag("executor_shutdown_grace_period", "duration", "5secs"),
        Flag("fetcher_cache_dir", "string", "/tmp/mesos/fetch"),
        Flag("fetcher_cache_size", "bytes", "2GB"),
        Flag("fetcher_stall_timeout", "duration", "1mins"),
        Flag("frameworks_home", "string", ""),
        Flag("gc_delay", "duration", "1weeks"),
        Flag("gc_disk_headroom", "double", 0.1,
             validate=lambda v: None if 0.0 <= v <= 1.0 else "Invalid --gc_disk_headroom: must be between 0.0 and 1.0"),
        Flag("gc_non_executor_container_sandboxes", "bool", False),
        Flag("hadoop_home", "string", ""),
        Flag("host_path_volume_force_creation"),
        Flag("http_credentials", "path"),
        Flag("http_command_executor", "bool", False),
        Flag("http_executor_domain_sockets", "bool", False),
        Flag("http_heartbeat_interval", "duration", "30secs"),
        Flag("image_providers"),
        Flag("image_provisioner_backend"),
        Flag("image_gc_config", "json"),
        Flag("ip6"),
        Flag("ip6_discovery_command"),
        Flag("isolation", "string", "posix/cpu,posix/mem"),
        Flag("launcher"),
        Flag("launcher_dir", "string", "/usr/local/libexec/mesos"),
        Flag("master_detector"),
        Flag("nvidia_gpu_devices"),
        Flag("network_cni_plugins_dir"),
        Flag("network_cni_config_dir"),
        Flag("network_cni_root_dir_persist", "bool", False),
        Flag("network_cni_metrics", "bool", True),
        Flag("oversubscribed_resources_interval", "duration", "15secs"),
        Flag("perf_duration", "duration", "10secs"),
        Flag("perf_events"),
        Flag("perf_interval", "duration", "60secs"),
        Flag("qos_controller"),
        Flag("qos_correction_interval_min", "duration", "0secs"),
        Flag("reconfiguration_policy", "string", "equal",
             validate=_choice("reconfiguration_policy", ("equal", "additive"))),
        Flag("recover", "string", "reconnect", validate=_choice("recover", ("reconnect", "cleanup"))),
        Flag("recovery_timeout", "duration", "15mins"),
        Flag("registration_backoff_factor", "duration", "1secs"),
        Flag("resource_estimator"),
        Flag("resources", help="Total consumable resources per agent."),
        Flag("resource_provider_config_dir"),
        Flag("csi_plugin_config_dir"),
        Flag("revocable_cpu_low_priority", "bool", True),
        Flag("runtime_dir", "string", "/var/run/mesos"),
        Flag("sandbox_directory", "string", "/mnt/mesos/sandbox"),
        Flag("strict", "bool", True),
        Flag("secret_resolver"),
        Flag("switch_user", "bool", True),
        Flag("systemd_enable_support", "bool", True),
        Flag("systemd_runtime_directory", "string", "/run/systemd/system"),
        Flag("volume_gid_range"),
        Flag("ephemeral_ports_per_container", "int", 1024),
        Flag("eth0_name"),
        Flag("lo_name"),
        Flag("egress_rate_limit_per_container", "bytes"),
        Flag("egress_unique_flow_per_container", "bool", False),
        Flag("egress_flow_classifier_parent"),
        Flag("network_enable_socket_statistics_summary", "bool", False),
        Flag("network_enable_socket_statistics_details", "bool", False),
        Flag("network_enable_snmp_statistics", "bool", False),
        Flag("seccomp_config_dir"),
        Flag("seccomp_profile_name"),
        Flag("xfs_project_range", "string", "[5000-10000]"),
    ]


def master_flagset(program="mesos-master"):
    return FlagSet(program, master_flags())


def agent_flagset(program="mesos-agent"):
    return FlagSet(program, agent_flags())
