"""Mesos stand-in: stout-like flag handling and start-up validation (no ZooKeeper, no docker)."""
import pytest

from mesos import flags as mflags
from mesos.flags import Duration, FlagError, agent_flagset, master_flagset
from mesos.main import main_agent, main_master


def load_master(argv, env=None):
    return master_flagset().load(argv, env or {})


def load_agent(argv, env=None):
    return agent_flagset().load(argv, env or {})


def test_equals_and_space_forms():
    f = load_master(["--port=5055", "--work_dir", "/var/lib/mesos", "--cluster=prod"])
    assert f.port == 5055
    assert f.work_dir == "/var/lib/mesos"
    assert f.cluster == "prod"
    assert f.loaded["port"] == "port"


@pytest.mark.parametrize("argv,expected", [
    (["--authenticate_agents"], True),
    (["--no-authenticate_agents"], False),
    (["--authenticate_agents=true"], True),
    (["--authenticate_agents=false"], False),
    (["--authenticate_slaves"], True),       # alias
    ([], False),                              # default
])
def test_boolean_forms(argv, expected):
    assert load_master(argv).authenticate_agents is expected


def test_boolean_does_not_swallow_next_argument():
    f = load_master(["--authenticate_agents", "--port", "6000"])
    assert f.authenticate_agents is True and f.port == 6000


def test_environment_and_precedence():
    env = {"MESOS_PORT": "6060", "MESOS_QUORUM": "2", "MESOS_work_dir": "/w", "MESOS_AUTHENTICATE_AGENTS": "true"}
    f = load_master(["--port=7070"], env)
    assert f.port == 7070          # command line wins
    assert f.quorum == 2
    assert f.work_dir == "/w"       # MESOS_<name> in lower case is accepted too
    assert f.authenticate_agents is True


def test_unknown_environment_variables_warn_and_are_ignored():
    f = load_master([], {"MESOS_BOGUS_THING": "1", "MESOS_PORT": "5051", "PATH": "/bin"})
    assert f.port == 5051
    assert any("MESOS_BOGUS_THING" in w for w in f.warnings)


def test_unknown_flag_message():
    with pytest.raises(FlagError) as err:
        load_master(["--foo=bar"])
    assert str(err.value) == "Failed to load unknown flag 'foo'"
    with pytest.raises(FlagError) as err:
        load_master(["--no-foo"])
    assert str(err.value) == "Failed to load unknown flag 'foo' via 'no-foo'"


def test_duplicates_and_alias_conflicts_are_errors():
    with pytest.raises(FlagError, match="already loaded"):
        load_master(["--port=1", "--port=2"])
    with pytest.raises(FlagError, match="already loaded"):
        load_master(["--agent_ping_timeout=1secs", "--slave_ping_timeout=2secs"])


def test_non_boolean_misuse():
    with pytest.raises(FlagError, match="Missing value"):
        load_master(["--port"])
    with pytest.raises(FlagError, match="non-boolean flag 'port' via 'no-port'"):
        load_master(["--no-port"])
    with pytest.raises(FlagError, match="with value"):
        load_master(["--no-quiet=true"])
    with pytest.raises(FlagError, match="Failed to load flag 'port'"):
        load_master(["--port=abc"])


@pytest.mark.parametrize("text,seconds", [
    ("2secs", 2), ("10mins", 600), ("1hrs", 3600), ("500ms", 0.5), ("1weeks", 604800), ("2days", 172800),
    ("1.5mins", 90), ("0ns", 0), ("250us", 0.00025),
])
def test_durations(text, seconds):
    assert Duration.parse(text).secs == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["2s", "secs", "10", "1 hour", "-1secs", "1hr"])
def test_invalid_durations(bad):
    with pytest.raises(ValueError):
        Duration.parse(bad)


def test_duration_stringify_roundtrip():
    for text in ("15secs", "10mins", "1weeks", "500ms", "6hrs"):
        assert str(Duration.parse(text)) == text


def test_duration_flag_and_validation():
    f = load_master(["--agent_ping_timeout=2secs", "--max_agent_ping_timeouts=3"])
    assert f.agent_ping_timeout.secs == 2 and f.max_agent_ping_timeouts == 3
    with pytest.raises(FlagError, match="at least 10mins"):
        load_master(["--agent_reregister_timeout=1mins"])
    with pytest.raises(FlagError, match="Failed to load flag 'allocation_interval'"):
        load_master(["--allocation_interval=1second"])


def test_file_scheme_values_are_fetched(tmp_path):
    zkfile = tmp_path / "zk"
    zkfile.write_text("zk://10.0.0.1:2181/mesos\n")
    f = load_master(["--zk=file://%s" % zkfile])
    assert f.zk.strip() == "zk://10.0.0.1:2181/mesos"
    creds = tmp_path / "creds"
    f = load_master(["--credentials=file://%s" % creds])   # a Path flag: not read by the flag loader
    assert f.credentials == "file://%s" % creds
    with pytest.raises(FlagError, match="Error reading file"):
        load_master(["--zk=file://%s/missing" % tmp_path])


def test_agent_flag_validation():
    f = load_agent(["--master=zk://h:2181/mesos", "--work_dir=/w", "--docker_config={\"auths\": {}}",
                    "--executor_environment_variables={\"PATH\": \"/bin\"}", "--gc_disk_headroom=0.2"])
    assert f.docker_config == {"auths": {}}
    assert f.executor_environment_variables == {"PATH": "/bin"}
    assert f.docker_kill_orphans is True and f.strict is True and f.reconfiguration_policy == "equal"
    with pytest.raises(FlagError, match="reconfiguration_policy"):
        load_agent(["--reconfiguration_policy=sloppy"])
    with pytest.raises(FlagError, match="recover"):
        load_agent(["--recover=maybe"])
    with pytest.raises(FlagError, match="string values"):
        load_agent(["--executor_environment_variables={\"A\": 1}"])
    with pytest.raises(FlagError, match="gc_disk_headroom"):
        load_agent(["--gc_disk_headroom=2"])


def test_documented_flags_are_accepted():
    master_only = ["quorum", "zk", "acls", "agent_removal_rate_limit", "allocator", "authenticators",
                   "credentials", "http_framework_authenticators", "offer_timeout", "registry", "roles",
                   "weights", "whitelist", "webui_dir", "max_completed_frameworks", "cluster"]
    agent_only = ["master", "attributes", "resources", "containerizers", "credential", "docker", "docker_config",
                  "docker_kill_orphans", "executor_registration_timeout", "http_credentials", "default_role",
                  "reconfiguration_policy", "recover", "strict", "systemd_enable_support", "isolation",
                  "executor_environment_variables", "docker_remove_delay", "sandbox_directory"]
    common = ["ip", "port", "hostname", "advertise_ip", "advertise_port", "log_dir", "logging_level",
              "zk_session_timeout", "version", "help", "hostname_lookup", "authenticate_http_readonly",
              "authenticate_http_readwrite", "quiet", "external_log_file", "modules", "firewall_rules"]
    m = master_flagset().specs
    a = agent_flagset().specs
    for name in master_only + common:
        assert name in m, name
    for name in agent_only + common:
        assert name in a, name
    assert m["port"].default == 5050 and a["port"].default == 5051


def test_as_strings_like_flags_endpoint():
    f = load_master(["--work_dir=/w", "--quorum=2"])
    s = f.as_strings()
    assert s["work_dir"] == "/w" and s["quorum"] == "2"
    assert s["agent_ping_timeout"] == "15secs" and s["authenticate_agents"] == "false"
    assert "zk" not in s                      # flags without value are omitted


# ---------------------------------------------------------------------------
# start-up validation of the programs


def test_master_version_and_help(capsys):
    assert main_master(["mesos-master", "--version"]) == 0
    assert capsys.readouterr().out.strip() == "mesos 1.11.0"
    assert main_master(["mesos-master", "--help"]) == 0
    assert "--work_dir=VALUE" in capsys.readouterr().out


def test_master_unknown_flag_exit_code(capsys):
    assert main_master(["mesos-master", "--foo=1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Failed to load flags: Failed to load unknown flag 'foo'")
    assert "Usage: mesos-master [options]" in err


def test_master_requires_work_dir_and_quorum(capsys, tmp_path):
    assert main_master(["mesos-master", "--ip=127.0.0.1", "--quiet"]) == 1
    assert "--work_dir needed for replicated log based registry" in capsys.readouterr().err
    rc = main_master(["mesos-master", "--quiet", "--work_dir=%s" % tmp_path, "--zk=zk://127.0.0.1:1/m"])
    assert rc == 1
    assert "Need to specify --quorum" in capsys.readouterr().err
    rc = main_master(["mesos-master", "--quiet", "--work_dir=%s" % tmp_path, "--quorum=1", "--zk=http://x"])
    assert rc == 1
    assert "Error parsing ZooKeeper URL" in capsys.readouterr().err


def test_agent_required_flags(capsys, tmp_path):
    assert main_agent(["mesos-agent", "--work_dir=%s" % tmp_path]) == 1
    assert "Missing required option `--master`" in capsys.readouterr().err
    assert main_agent(["mesos-agent", "--master=127.0.0.1:5050"]) == 1
    assert "work_dir" in capsys.readouterr().err


def test_agent_rejects_unknown_containerizer(capsys, tmp_path):
    rc = main_agent(["mesos-agent", "--quiet", "--master=127.0.0.1:5050", "--work_dir=%s" % tmp_path,
                     "--containerizers=docker,rkt"])
    assert rc == 1
    assert "Unknown or unsupported containerizer: rkt" in capsys.readouterr().err


@pytest.mark.parametrize("flag,fragment", [
    ("--resources=cpus:two", "Failed to determine agent resources"),
    ("--resources=cpus:2;mem", "expecting 'name:value'"),
    ("--resources=ports:[31000-30000]", "begin greater than end"),
    ("--attributes=rack;dc:1", "Invalid attribute key:value pair 'rack'"),
])
def test_agent_rejects_malformed_resources_and_attributes(capsys, tmp_path, flag, fragment):
    rc = main_agent(["mesos-agent", "--quiet", "--master=127.0.0.1:5050", "--work_dir=%s" % tmp_path,
                     "--containerizers=mesos", flag])
    assert rc == 1
    assert fragment in capsys.readouterr().err


def test_usage_lists_aliases():
    usage = mflags.master_flagset().usage()
    assert "--[no-]authenticate_agents, --[no-]authenticate_slaves" in usage
    assert "--agent_ping_timeout=VALUE, --slave_ping_timeout=VALUE" in usage
