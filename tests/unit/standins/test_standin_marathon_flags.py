"""Marathon stand-in: command line flags and environment (command-line-flags.md)."""
import pytest

from marathon.flags import FlagError, Parser
from marathon.main import main


def parse(argv, env=None):
    return Parser().parse(argv, env or {})


def test_both_value_forms_and_defaults():
    c = parse(["--master", "zk://h:2181/mesos", "--http_port=8090", "--framework_name", "mara"])
    assert c.master == "zk://h:2181/mesos" and c.http_port == 8090 and c.framework_name == "mara"
    assert c.zk == "zk://localhost:2181/marathon"
    assert c.ha is True and c.checkpoint is True and c.mesos_authentication is False
    assert c.failover_timeout == 604800 and c.task_launch_timeout == 300000
    assert c.zk_session_timeout == 10000 and c.http_realm == "Mesosphere"


def test_toggles():
    assert parse(["--master", "m", "--disable_ha"]).ha is False
    assert parse(["--master", "m", "--ha"]).ha is True
    assert parse(["--master", "m", "--mesos_authentication", "--mesos_authentication_principal", "p"]
                 ).mesos_authentication is True
    assert parse(["--master", "m", "--disable_checkpoint"]).checkpoint is False
    with pytest.raises(FlagError, match="Excess arguments"):
        parse(["--master", "m", "--ha", "true", "--http_port", "1"])


def test_environment_variables():
    env = {"MARATHON_MASTER": "zk://h:1/mesos", "MARATHON_DISABLE_HA": "", "MARATHON_HTTP_PORT": "9999",
           "MARATHON_APP_ID": "/ignored", "MARATHON_APP_VERSION": "x", "OTHER": "1"}
    c = parse([], env)
    assert c.master == "zk://h:1/mesos" and c.ha is False and c.http_port == 9999


def test_same_flag_twice_is_an_error():
    with pytest.raises(FlagError, match="more than once"):
        parse(["--master", "a"], {"MARATHON_MASTER": "b"})
    with pytest.raises(FlagError, match="more than once"):
        parse(["--master", "a", "--master=b"])
    with pytest.raises(FlagError, match="more than once"):
        parse(["--master", "a", "--ha", "--disable_ha"])


def test_unknown_required_and_bad_values():
    with pytest.raises(FlagError, match="Unknown option 'foo'"):
        parse(["--master", "m", "--foo", "1"])
    with pytest.raises(FlagError, match="Required option 'master' not found"):
        parse([])
    with pytest.raises(FlagError, match="wrong arguments format"):
        parse(["--master", "m", "--http_port", "eighty"])
    with pytest.raises(FlagError, match="needs one argument"):
        parse(["--master", "m", "--http_port"])


def test_cross_flag_validation():
    with pytest.raises(FlagError, match="mesos_authentication_principal"):
        parse(["--master", "m", "--mesos_authentication"])
    with pytest.raises(FlagError, match="only one or zero"):
        parse(["--master", "m", "--mesos_authentication_secret", "s", "--mesos_authentication_secret_file", "/f"])
    with pytest.raises(FlagError, match="user:password"):
        parse(["--master", "m", "--http_credentials", "nocolon"])
    with pytest.raises(FlagError, match="Unknown features"):
        parse(["--master", "m", "--enable_features", "vips,warp_drive"])
    c = parse(["--master", "m"], {"MESOSPHERE_HTTP_CREDENTIALS": "u:p"})
    assert c.http_credentials == "u:p"


def test_documented_flags_exist():
    names = set(Parser().opts)
    for n in ("master", "zk", "hostname", "http_port", "http_address", "framework_name", "mesos_role",
              "mesos_authentication_principal", "mesos_authentication_secret_file", "http_credentials",
              "failover_timeout", "task_launch_timeout", "zk_session_timeout", "webui_url",
              "leader_proxy_connection_timeout", "leader_proxy_read_timeout", "reconciliation_initial_delay",
              "reconciliation_interval", "min_revive_offers_interval", "decline_offer_duration",
              "max_instances_per_offer", "local_port_min", "local_port_max", "env_vars_prefix",
              "zk_max_versions", "logging_level", "https_port", "ssl_keystore_path", "metrics_prometheus",
              "maintenance_mode", "suppress_offers", "zk_compression", "draining_seconds", "backup_location"):
        assert n in names, n


def test_main_exit_codes(capsys):
    assert main(["marathon", "--version"]) == 0
    assert capsys.readouterr().out.strip() == "1.11.24"
    assert main(["marathon"]) == 1
    assert "Required option 'master' not found" in capsys.readouterr().err
    assert main(["marathon", "--master", "m", "--bogus"]) == 1
    assert "Unknown option 'bogus'" in capsys.readouterr().err
