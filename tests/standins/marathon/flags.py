"""Marathon command line flags (Scallop semantics as documented in command-line-flags.md).

* ``--flag value`` and ``--flag=value``.
* Toggles: ``--ha`` / ``--disable_ha`` (no value).
* Plain boolean options (e.g. ``--disable_http``) take no value.
* Environment: ``MARATHON_<FLAG>`` (``MARATHON_APP_*`` is ignored because
  Marathon passes those to its tasks). An empty value means the boolean form
  (``MARATHON_HA=`` is ``--ha``). Environment arguments are placed before the
  command line ones; giving the same flag both ways (or twice) is an error.
* ``MESOSPHERE_HTTP_CREDENTIALS``, ``MESOSPHERE_KEYSTORE_PATH`` and
  ``MESOSPHERE_KEYSTORE_PASS`` provide defaults for the corresponding flags.
"""
import getpass
import os
import socket


class FlagError(Exception):
    pass


class Opt:
    def __init__(self, name, kind="str", default=None, required=False, help="", env_default=None):
        # kind: str | int | long | toggle | flag
        self.name = name
        self.kind = kind
        self.default = default
        self.required = required
        self.help = help
        self.env_default = env_default


def _opts():
    hostname = socket.gethostname()
    try:
        user = getpass.getuser()
    except Exception:  # pragma: no cover
        user = "root"
    return [
        # core
        Opt("master", required=True, help="The URL of the Mesos master"),
        Opt("access_control_allow_origin"),
        Opt("checkpoint", "toggle", True),
        Opt("enable_features"),
        Opt("deprecated_features"),
        Opt("executor", default="//cmd"),
        Opt("failover_timeout", "long", 604800),
        Opt("framework_name", default="marathon"),
        Opt("ha", "toggle", True),
        Opt("hostname", default=hostname),
        Opt("webui_url"),
        Opt("leader_proxy_connection_timeout", "int", 5000),
        Opt("leader_proxy_read_timeout", "int", 10000),
        Opt("local_port_max", "int", 20000),
        Opt("local_port_min", "int", 10000),
        Opt("mesos_role"),
        Opt("accepted_resource_roles_default_behavior", default="any"),
        Opt("default_accepted_resource_roles"),
        Opt("mesos_user", default=user),
        Opt("reconciliation_initial_delay", "long", 15000),
        Opt("reconciliation_interval", "long", 600000),
        Opt("scale_apps_initial_delay", "long", 15000),
        Opt("scale_apps_interval", "long", 300000),
        Opt("task_launch_timeout", "long", 300000),
        Opt("task_reservation_timeout", "long", 20000),
        Opt("zk", default="zk://localhost:2181/marathon"),
        Opt("zk_max_versions", "int", 50),
        Opt("zk_timeout", "long", 10000),
        Opt("zk_connection_timeout", "long", 10000),
        Opt("zk_session_timeout", "long", 10000),
        Opt("zk_max_node_size", "long", 1024000),
        Opt("zk_compression", "toggle", True),
        Opt("zk_compression_threshold", "long", 65536),
        Opt("mesos_authentication", "toggle", False),
        Opt("mesos_authentication_principal"),
        Opt("mesos_authentication_secret"),
        Opt("mesos_authentication_secret_file"),
        Opt("mesos_leader_ui_url"),
        Opt("env_vars_prefix"),
        Opt("max_apps", "int"),
        Opt("store_cache", "toggle", True),
        Opt("on_elected_prepare_timeout", "long", 180000),
        Opt("default_network_name"),
        Opt("task_lost_expunge_gc", "long", 75000),
        Opt("task_lost_expunge_initial_delay", "long", 300000),
        Opt("task_lost_expunge_interval", "long", 30000),
        Opt("mesos_heartbeat_interval", "long", 15000),
        Opt("mesos_heartbeat_failure_threshold", "int", 5),
        Opt("mesos_bridge_name", default="mesos-bridge"),
        Opt("backup_location"),
        Opt("draining_seconds", "long", 0),
        Opt("max_running_deployments", "int", 100),
        Opt("suppress_offers", "toggle", True),
        Opt("maintenance_mode", "toggle", True),
        Opt("new_group_enforce_role", default="off"),
        Opt("artifact_store"),
        Opt("leader_election_backend", default="curator"),
        Opt("max_queued_root_group_updates", "int", 500),
        Opt("marathon_store_timeout", "long"),
        Opt("event_subscriber"),
        Opt("http_endpoints"),
        Opt("http_event_callback_slow_consumer_timeout", "long", 10000),
        Opt("plugin_dir"),
        Opt("plugin_conf"),
        Opt("graceful_shutdown_timeout", "long", 10000),
        # offer matching / launching
        Opt("max_instances_per_offer", "int", 5),
        Opt("max_tasks_per_offer", "int", 5),
        Opt("max_tasks_per_offer_cycle", "int", 1000),
        Opt("launch_token_refresh_interval", "long", 30000),
        Opt("launch_tokens", "int", 100),
        Opt("offer_matching_timeout", "long", 3000),
        Opt("task_launch_confirm_timeout", "long", 300000),
        Opt("min_revive_offers_interval", "long", 5000),
        Opt("revive_offers_repetitions", "int", 3),
        Opt("revive_offers_for_new_apps", "toggle", True),
        Opt("decline_offer_duration", "long", 120000),
        Opt("gpu_scheduling_behavior", default="restricted"),
        # web site
        Opt("assets_path"),
        Opt("http_address"),
        Opt("http_credentials", env_default="MESOSPHERE_HTTP_CREDENTIALS"),
        Opt("http_port", "int", 8080),
        Opt("disable_http", "flag", False),
        Opt("https_address"),
        Opt("https_port", "int", 8443),
        Opt("http_realm", default="Mesosphere"),
        Opt("ssl_keystore_path", env_default="MESOSPHERE_KEYSTORE_PATH"),
        Opt("ssl_keystore_password", env_default="MESOSPHERE_KEYSTORE_PASS"),
        Opt("leader_proxy_ssl_ignore_hostname", "flag", False),
        Opt("leader_proxy_max_open_connections", "int", 64),
        Opt("http_compression", "toggle", True),
        Opt("http_max_concurrent_requests", "int"),
        # metrics
        Opt("metrics_name_prefix", default="marathon"),
        Opt("metrics_prometheus", "toggle", False),
        Opt("metrics_statsd", "toggle", False),
        Opt("metrics_statsd_host"),
        Opt("metrics_statsd_port", "int"),
        Opt("metrics_statsd_transmission_interval_ms", "long", 10000),
        Opt("metrics_datadog", "toggle", False),
        Opt("metrics_datadog_host"),
        Opt("metrics_datadog_port", "int"),
        Opt("metrics_datadog_protocol", default="udp"),
        Opt("metrics_datadog_transmission_interval_ms", "long", 10000),
        Opt("metrics_histogram_reservoir_significant_digits", "int", 4),
        Opt("metrics_histogram_reservoir_reset_periodically", "toggle", True),
        Opt("metrics_histogram_reservoir_resetting_interval_ms", "long", 5000),
        Opt("metrics_histogram_reservoir_resetting_chunks", "int", 0),
        # debug
        Opt("logging_level"),
        Opt("tracing", "toggle", False),
        Opt("logstash"),
    ]


class Conf:
    def __init__(self, values, supplied):
        self._values = values
        self.supplied = supplied

    def __getattr__(self, name):
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name)

    def get(self, name, default=None):
        v = self._values.get(name)
        return default if v is None else v

    def is_supplied(self, name):
        return name in self.supplied


def env_to_args(environ):
    args = []
    for key in sorted(environ):
        if key.startswith("MARATHON_APP_") or not key.startswith("MARATHON_"):
            continue
        name = key[len("MARATHON_"):].lower()
        if not name:
            continue
        args.append(("--" + name, environ[key], key))
    return args


class Parser:
    def __init__(self):
        self.opts = {o.name: o for o in _opts()}
        self.toggles = {}
        for o in self.opts.values():
            if o.kind == "toggle":
                self.toggles["disable_" + o.name] = o.name

    def usage(self):
        lines = ["Usage: marathon [options]", ""]
        for name in sorted(self.opts):
            o = self.opts[name]
            if o.kind == "toggle":
                lines.append("  --%s, --disable_%s%s" % (name, name, "   (default: %s)" % ("enabled" if o.default else "disabled")))
            elif o.kind == "flag":
                lines.append("  --%s" % name)
            else:
                d = "" if o.default is None else "   (default: %s)" % o.default
                lines.append("  --%s  <arg>%s%s" % (name, d, "   (required)" if o.required else ""))
        return "\n".join(lines)

    def _convert(self, opt, raw):
        if opt.kind in ("int", "long"):
            try:
                return int(raw.strip())
            except ValueError:
                raise FlagError("Bad arguments for option '%s': '%s' - wrong arguments format" % (opt.name, raw))
        return raw

    def parse(self, argv, environ=None):
        environ = os.environ if environ is None else environ
        tokens = []  # (flagtext, value or None, source)
        for flag, value, key in env_to_args(environ):
            tokens.append((flag, value if value != "" else None, "environment variable %s" % key))
        i = 0
        while i < len(argv):
            a = argv[i]
            i += 1
            if not a.startswith("--"):
                raise FlagError("Excess arguments provided: '%s'" % a)
            if "=" in a:
                flag, _, value = a.partition("=")
                tokens.append((flag, value, "command line"))
                continue
            name = a[2:]
            if name not in self.opts and name not in self.toggles:
                raise FlagError("Unknown option '%s'" % name)
            takes_value = name in self.opts and self.opts[name].kind not in ("toggle", "flag")
            if takes_value and i < len(argv) and not argv[i].startswith("--"):
                tokens.append((a, argv[i], "command line"))
                i += 1
            else:
                tokens.append((a, None, "command line"))
        values = {}
        supplied = {}
        for flag, value, source in tokens:
            name = flag[2:]
            if name in self.opts:
                opt = self.opts[name]
                target = opt.name
                if opt.kind == "toggle":
                    if value is not None:
                        raise FlagError("Excess arguments provided: '%s'" % value)
                    v = True
                elif opt.kind == "flag":
                    if value is not None:
                        if value.lower() in ("true", "false"):
                            v = value.lower() == "true"
                        else:
                            raise FlagError("Excess arguments provided: '%s'" % value)
                    else:
                        v = True
                else:
                    if value is None:
                        raise FlagError("Option '%s' needs one argument" % name)
                    v = self._convert(opt, value)
            elif name in self.toggles:
                target = self.toggles[name]
                if value is not None:
                    raise FlagError("Excess arguments provided: '%s'" % value)
                v = False
            else:
                raise FlagError("Unknown option '%s'" % name)
            if target in supplied:
                raise FlagError("Option '%s' was given more than once (%s and %s); a flag may not be specified "
                                "both as an environment variable and on the command line"
                                % (target, supplied[target], source))
            supplied[target] = source
            values[target] = v
        out = {}
        for name, opt in self.opts.items():
            if name in values:
                out[name] = values[name]
            elif opt.env_default and environ.get(opt.env_default):
                out[name] = environ[opt.env_default]
            else:
                out[name] = opt.default
        for name, opt in self.opts.items():
            if opt.required and out.get(name) is None:
                raise FlagError("Required option '%s' not found" % name)
        conf = Conf(out, supplied)
        self.validate(conf)
        return conf

    def validate(self, conf):
        if conf.get("mesos_authentication_secret") and conf.get("mesos_authentication_secret_file"):
            raise FlagError("There should be only one or zero of the following options: "
                            "mesos_authentication_secret, mesos_authentication_secret_file")
        if conf.mesos_authentication and not conf.get("mesos_authentication_principal"):
            raise FlagError("When specifying mesos_authentication, all of the following options must be "
                            "given: mesos_authentication_principal")
        if conf.local_port_min >= conf.local_port_max:
            raise FlagError("local_port_min must be smaller than local_port_max")
        if conf.get("http_credentials") and ":" not in conf.http_credentials:
            raise FlagError("The HTTP credentials must be specified in the form of 'user:password'.")
        if conf.accepted_resource_roles_default_behavior not in ("any", "unreserved", "reserved"):
            raise FlagError("Invalid value '%s' for accepted_resource_roles_default_behavior"
                            % conf.accepted_resource_roles_default_behavior)
        if conf.gpu_scheduling_behavior not in ("restricted", "unrestricted", "undefined"):
            raise FlagError("Invalid gpu_scheduling_behavior '%s'" % conf.gpu_scheduling_behavior)
        if conf.new_group_enforce_role not in ("off", "top"):
            raise FlagError("Invalid new_group_enforce_role '%s'" % conf.new_group_enforce_role)
        if conf.disable_http and not conf.get("ssl_keystore_path"):
            raise FlagError("Invalid configuration: Neither HTTP nor HTTPS support has been configured.")
        if conf.get("enable_features"):
            known = {"vips", "task_killing", "external_volumes", "gpu_resources", "secrets", "maintenance_mode"}
            unknown = [f.strip() for f in conf.enable_features.split(",") if f.strip() and f.strip() not in known]
            if unknown:
                raise FlagError("Unknown features specified: %s. Available features are: %s"
                                % (", ".join(unknown), ", ".join(sorted(known))))
