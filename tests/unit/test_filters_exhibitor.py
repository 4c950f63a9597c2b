import pytest
from ansible.errors import AnsibleFilterError

import exhibitor_filters as f


def test_zoo_cfg_extra_encodes_like_exhibitor():
    # What Exhibitor itself stores for the same settings (read from its shared file).
    assert f.exhibitor_zoo_cfg_extra({"tickTime": 2000, "initLimit": 10, "syncLimit": 5,
                                      "4lw.commands.whitelist": "srvr,ruok,mntr,stat,conf,cons",
                                      "admin.enableServer": "false"}) == \
        "tickTime=2000&initLimit=10&syncLimit=5&4lw.commands.whitelist=srvr%2Cruok%2Cmntr%2Cstat%2Cconf%2Ccons" \
        "&admin.enableServer=false"


@pytest.mark.parametrize("value,expected", [(True, "a=true"), (False, "a=false"), ("x&y", "a=x%26y"),
                                            ("p=q", "a=p%3Dq"), (1.5, "a=1.5"), ("/var/lib", "a=/var/lib")])
def test_zoo_cfg_extra_values(value, expected):
    assert f.exhibitor_zoo_cfg_extra({"a": value}) == expected


@pytest.mark.parametrize("settings", [None, [], "a=b", {"": 1}, {"a=b": 1}, {"a": None}, {"a": [1]}, {"a b": 1}])
def test_zoo_cfg_extra_rejects(settings):
    with pytest.raises(AnsibleFilterError) as err:
        f.exhibitor_zoo_cfg_extra(settings)
    assert "exhibitor_zoo_cfg_extra" in str(err.value)


@pytest.mark.parametrize("value,expected", [
    ("S:1:zk1", "S\\:1\\:zk1"), ("a=b", "a\\=b"), ("plain", "plain"), (None, ""), (True, "true"),
    ("c:\\dir", "c\\:\\\\dir"), (" lead", "\\ lead"), ("two\nlines", "two\\nlines"), ("#!", "\\#\\!"),
    ('export JVMFLAGS="-Xmx1g"', 'export JVMFLAGS\\="-Xmx1g"'),
])
def test_java_properties_escape(value, expected):
    assert f.java_properties_escape(value) == expected


def test_java_properties_round_trip_through_a_properties_parser():
    # Java's Properties.load rules: backslash escapes, first unescaped = or : separates.
    value = "S:1:10.0.0.1,S:2:zk-2.example.org"
    line = "com.netflix.exhibitor.servers-spec=" + f.java_properties_escape(value)
    key, _, raw = line.partition("=")
    decoded, i = [], 0
    while i < len(raw):
        if raw[i] == "\\":
            i += 1
        decoded.append(raw[i])
        i += 1
    assert "".join(decoded) == value


def test_servers_spec_sorted_by_id():
    spec = f.exhibitor_servers_spec([{"id": 3, "hostname": "10.0.0.3"}, {"id": "1", "hostname": "zk1.example.org"},
                                     {"id": 2, "hostname": "zk2", "type": "O"}])
    assert spec == "S:1:zk1.example.org,O:2:zk2,S:3:10.0.0.3"


@pytest.mark.parametrize("members", [[], None, [{"id": "x", "hostname": "a"}], [{"hostname": "a"}],
                                     [{"id": 0, "hostname": "a"}], [{"id": 256, "hostname": "a"}],
                                     [{"id": 1, "hostname": "bad host"}]])
def test_servers_spec_rejects(members):
    with pytest.raises(AnsibleFilterError) as err:
        f.exhibitor_servers_spec(members)
    assert "exhibitor_servers_spec" in str(err.value)


def test_parse_servers_spec():
    assert f.exhibitor_parse_servers_spec("S:1:zk1, O:4:10.0.0.4") == [
        {"type": "S", "id": 1, "hostname": "zk1"}, {"type": "O", "id": 4, "hostname": "10.0.0.4"}]


@pytest.mark.parametrize("spec", ["", "zk1,zk2", "S:1", "X:1:zk1", "S:0:zk1", "S:1:zk1,S:1:zk2",
                                  "S:1:zk1,S:2:zk1", "S:a:zk1", None])
def test_parse_servers_spec_rejects(spec):
    with pytest.raises(AnsibleFilterError):
        f.exhibitor_parse_servers_spec(spec)


def test_members_from_shared_facts_or_inventory():
    hostvars = {"a": {"__exhibitor_member": {"host": "a", "id": 1, "hostname": "10.0.0.1"}},
                "b": {"zookeeper_id": 2, "exhibitor_hostname": "10.0.0.2"},
                "c": {"zookeeper_id": 3}}
    assert f.exhibitor_members(["a", "b", "c"], hostvars) == [
        {"host": "a", "id": 1, "hostname": "10.0.0.1"}, {"host": "b", "id": 2, "hostname": "10.0.0.2"},
        {"host": "c", "id": 3, "hostname": "c"}]


@pytest.mark.parametrize("hosts", ["a", ["missing"]])
def test_members_rejects(hosts):
    with pytest.raises(AnsibleFilterError):
        f.exhibitor_members(hosts, {"a": {}})


@pytest.mark.parametrize("answer,expected", [
    ({"servers": ["172.31.3.11", "172.31.3.12"], "port": 2181}, ["172.31.3.11:2181", "172.31.3.12:2181"]),
    ({"servers": ["zk1.example.org"], "port": "2182"}, ["zk1.example.org:2182"]),
    ({"servers": [" zk1 "], "port": 2181}, ["zk1:2181"]),
])
def test_cluster_hosts(answer, expected):
    assert f.exhibitor_cluster_hosts(answer) == expected


@pytest.mark.parametrize("answer,needle", [
    (None, "cluster/list object"), ([], "cluster/list object"), ({"port": 2181}, "'servers'"),
    ({"servers": [], "port": 2181}, "'servers'"), ({"servers": ["a"], "port": "x"}, "'port'"),
    ({"servers": ["a"]}, "'port'"), ({"servers": ["a"], "port": 0}, "1-65535"),
    ({"servers": ["a:1"], "port": 2181}, "invalid server"), ({"servers": [""], "port": 2181}, "invalid server"),
    ({"servers": [3], "port": 2181}, "invalid server"),
])
def test_cluster_hosts_rejects(answer, needle):
    with pytest.raises(AnsibleFilterError) as err:
        f.exhibitor_cluster_hosts(answer)
    assert needle in str(err.value) and "exhibitor_cluster_hosts" in str(err.value)


@pytest.mark.parametrize("hostvars,expected", [
    ({"a": {"exhibitor_hostname": "10.0.0.1", "zookeeper_address": "x"}}, ["http://10.0.0.1:8080"]),
    ({"a": {"zookeeper_address": "10.0.0.2", "exhibitor_port": "8181"}}, ["http://10.0.0.2:8181"]),
    ({"a": {}}, ["http://a:8080"]),
])
def test_exhibitor_urls(hostvars, expected):
    assert f.exhibitor_urls(list(hostvars), hostvars) == expected


@pytest.mark.parametrize("hosts,hostvars,needle", [
    ("a", {"a": {}}, "must be a list"), (["b"], {"a": {}}, "not in the inventory"),
    (["a"], {"a": {"exhibitor_port": "x"}}, "exhibitor_port of a"),
])
def test_exhibitor_urls_rejects(hosts, hostvars, needle):
    with pytest.raises(AnsibleFilterError) as err:
        f.exhibitor_urls(hosts, hostvars)
    assert needle in str(err.value)
