"""roles/gitreceive/files/gitreceive.py: paas.yml validation, ref handling, repository
paths, forced-command parsing, keys and authorized_keys lines, the Marathon app built."""
import base64
import hashlib
import json
import os
import struct

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gitreceive as gr  # noqa: E402 - roles/gitreceive/files is on sys.path (conftest.py)

SHA = "0123456789abcdef0123456789abcdef01234567"


def make_key(kind="ssh-ed25519", seed=b"k", comment="alice@laptop"):
    name = kind.encode()
    blob = struct.pack(">I", len(name)) + name + struct.pack(">I", 32) + (seed * 32)[:32]
    return "%s %s %s" % (kind, base64.b64encode(blob).decode(), comment)


GOOD = {"tenant": "acme", "token": "t" * 40, "app": "web"}


# --- paas.yml --------------------------------------------------------------------------

def test_minimal_paas_gets_defaults():
    out, errors = gr.validate_paas(dict(GOOD), "acme", "web")
    assert errors == []
    assert out == dict(GOOD, branch="master", instances=1, cpus=0.1, mem=128, port=8080, env={},
                       health_check="/", constraints=[])


def test_full_paas():
    doc = dict(GOOD, branch="main", instances=2, cpus=0.5, mem=256, port=5000, env={"A": 1, "B": True, "C": "x"},
               health_check={"path": "/healthz"}, constraints=[["hostname", "UNIQUE"], ["rack", "LIKE", "r1"]])
    out, errors = gr.validate_paas(doc, "acme", "web")
    assert errors == []
    assert out["env"] == {"A": "1", "B": "true", "C": "x"}
    assert out["health_check"] == "/healthz"
    assert out["constraints"] == [["hostname", "UNIQUE"], ["rack", "LIKE", "r1"]]
    assert out["cpus"] == 0.5 and out["instances"] == 2 and out["branch"] == "main"


@pytest.mark.parametrize("change, field, words", [
    ({"tenant": None}, "tenant", "required"),
    ({"tenant": "other"}, "tenant", "does not match the remote's tenant"),
    ({"tenant": 3}, "tenant", "must be a string"),
    ({"token": None}, "token", "required"),
    ({"token": ""}, "token", "required"),
    ({"token": 123}, "token", "must be a string"),
    ({"app": None}, "app", "required"),
    ({"app": "Web"}, "app", "not an app name"),
    ({"app": "api"}, "app", "does not match the remote's app"),
    ({"branch": "a..b"}, "branch", "not a branch name"),
    ({"branch": 7}, "branch", "not a branch name"),
    ({"instances": 1.5}, "instances", "integer"),
    ({"instances": -1}, "instances", "between"),
    ({"instances": "2"}, "instances", "integer"),
    ({"instances": True}, "instances", "integer"),
    ({"cpus": 0}, "cpus", "between"),
    ({"cpus": "lots"}, "cpus", "number"),
    ({"mem": 8}, "mem", "between"),
    ({"mem": 12.5}, "mem", "integer"),
    ({"port": 0}, "port", "between"),
    ({"port": 70000}, "port", "between"),
    ({"env": ["A=1"]}, "env", "mapping"),
    ({"env": {"1BAD": "x"}}, "env.1BAD", "variable name"),
    ({"env": {"A": {"b": 1}}}, "env.A", "string, number or boolean"),
    ({"env": {"A": None}}, "env.A", "string, number or boolean"),
    ({"health_check": "healthz"}, "health_check.path", "starting with '/'"),
    ({"health_check": {"path": "/a b"}}, "health_check.path", "starting with '/'"),
    ({"health_check": {"path": "/", "port": 1}}, "health_check", "unknown"),
    ({"constraints": "hostname:UNIQUE"}, "constraints", "list"),
    ({"constraints": [["hostname"]]}, "constraints[0]", "[field, operator]"),
    ({"constraints": [["hostname", "SOMETIMES"]]}, "constraints[0]", "operator"),
    ({"replicas": 3}, "replicas", "unknown setting"),
])
def test_invalid_paas_names_the_field(change, field, words):
    doc = dict(GOOD)
    for k, v in change.items():
        if v is None:
            doc.pop(k)
        else:
            doc[k] = v
    out, errors = gr.validate_paas(doc, "acme", "web")
    assert out is None
    assert any(e.startswith(field + ":") and words in e for e in errors), errors


@pytest.mark.parametrize("doc", [None, [], "tenant: acme", 3])
def test_paas_must_be_a_mapping(doc):
    out, errors = gr.validate_paas(doc, "acme", "web")
    assert out is None and "mapping" in errors[0]


def test_all_errors_reported_at_once():
    _out, errors = gr.validate_paas({"cpus": -1, "mem": "x"}, "acme", "web")
    fields = sorted(e.split(":")[0] for e in errors)
    assert fields == ["app", "cpus", "mem", "tenant", "token"]


@pytest.mark.parametrize("given, expected, ok", [
    ("secret-token-0123", "secret-token-0123", True),
    ("secret-token-0124", "secret-token-0123", False),
    ("", "", False),
    (None, "x", False),
    ("x", "", False),
])
def test_check_token(given, expected, ok):
    """The record keeps the token's SHA-256, never the token."""
    assert gr.check_token(given, hashlib.sha256(expected.encode()).hexdigest() if expected else "") is ok


def test_check_token_does_not_take_the_token_itself():
    assert not gr.check_token("secret-token-0123", "secret-token-0123")


# --- refs --------------------------------------------------------------------------------

@pytest.mark.parametrize("ref, new, branch, words", [
    ("refs/heads/master", SHA, "master", None),
    ("refs/heads/main", SHA, "main", None),
    ("refs/heads/feature/x", SHA, "master", "deploys branch 'master'"),
    ("refs/heads/master", SHA, "main", "git push <remote> master:main"),
    ("refs/tags/v1", SHA, "master", "only branches are deployed"),
    ("refs/heads/master", gr.ZERO, "master", "deleting refs is not allowed"),
])
def test_check_ref(ref, new, branch, words):
    msg = gr.check_ref(ref, new, branch)
    if words is None:
        assert msg is None
    else:
        assert words in msg and ref in msg


def test_parse_ref_updates():
    text = "%s %s refs/heads/master\n\n" % (gr.ZERO, SHA)
    assert gr.parse_ref_updates(text) == [(gr.ZERO, SHA, "refs/heads/master")]
    with pytest.raises(gr.Refused):
        gr.parse_ref_updates("garbage\n")


# --- repository paths and the forced command --------------------------------------------

@pytest.mark.parametrize("path, want", [
    ("acme/dev/web.git", ("acme", "dev", "web")),
    ("'acme/prod/web.git'", ("acme", "prod", "web")),
    ("/acme/dev/web.git", ("acme", "dev", "web")),
    ("~/acme/dev/web", ("acme", "dev", "web")),
    ("team-42/prod/api-v2.git", ("team-42", "prod", "api-v2")),
])
def test_repo_path_ok(path, want):
    assert gr.parse_repo_path(path) == want


@pytest.mark.parametrize("path, words", [
    ("acme/../other/dev/web.git", "'..'"),
    ("../acme/dev/web.git", "'..'"),
    ("acme/dev/../web.git", "'..'"),
    ("acme/./dev/web.git", "'..'"),
    ("acme//dev/web.git", "empty"),
    ("acme/test/web.git", "environment 'test'"),
    ("acme/staging/web.git", "must be one of dev, prod"),
    ("acme/web.git", "expected <tenant>/<env>/<app>.git"),
    ("acme/dev/web/x.git", "expected <tenant>/<env>/<app>.git"),
    ("Acme/dev/web.git", "not a tenant name"),
    ("acme/dev/Web.git", "not an app name"),
    ("acme/dev/-web.git", "not an app name"),
    ("acme/dev/we_b.git", "not an app name"),
    ("acme\\dev\\web.git", "'..'"),
    ("", "empty"),
])
def test_repo_path_refused(path, words):
    with pytest.raises(gr.Refused) as err:
        gr.parse_repo_path(path)
    assert words in str(err.value)


@pytest.mark.parametrize("command, want", [
    ("git-receive-pack 'acme/dev/web.git'", ("receive-pack", ["acme/dev/web.git"])),
    ("git-upload-pack 'acme/dev/web.git'", ("upload-pack", ["acme/dev/web.git"])),
    ("git receive-pack 'acme/dev/web.git'", ("receive-pack", ["acme/dev/web.git"])),
    ("rollback acme/dev/web", ("rollback", ["acme/dev/web"])),
    ("rollback acme/dev/web git-0123456789ab", ("rollback", ["acme/dev/web", "git-0123456789ab"])),
])
def test_ssh_command_ok(command, want):
    assert gr.parse_ssh_command(command) == want


@pytest.mark.parametrize("command, words", [
    ("", "no shell"),
    ("bash", "not allowed"),
    ("git-receive-pack a b", "not allowed"),
    ("rollback acme/dev/web latest", "not an image tag"),
    ("rollback", "not allowed"),
    ("git-receive-pack 'unterminated", "cannot parse"),
    ("scp -t /tmp", "not allowed"),
])
def test_ssh_command_refused(command, words):
    with pytest.raises(gr.Refused) as err:
        gr.parse_ssh_command(command)
    assert words in str(err.value)


# --- keys ----------------------------------------------------------------------------------

def test_fingerprint_is_openssh_sha256():
    key = make_key()
    blob = base64.b64decode(key.split()[1])
    import hashlib
    want = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    assert gr.key_fingerprint(key) == want


@pytest.mark.parametrize("kind", ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256"])
def test_authorized_keys_line(kind):
    key = make_key(kind)
    line = gr.authorized_keys_line("alice", key)
    fp = gr.key_fingerprint(key)
    assert line.startswith('command="/usr/local/bin/gitreceive run alice %s",' % fp)
    assert "no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding " in line
    assert line.endswith(" %s %s alice" % (kind, key.split()[1]))
    assert "\n" not in line and "alice@laptop" not in line  # the comment is replaced by the pusher name


@pytest.mark.parametrize("user, key, words", [
    ("alice", "ssh-ed25519", "not an OpenSSH public key"),
    ("alice", "ssh-dss AAAA", "not an OpenSSH public key"),
    ("alice", "ssh-ed25519 !!!!", "does not decode"),
    ("alice", make_key("ssh-ed25519").replace("ssh-ed25519", "ssh-rsa", 1), "does not match its type"),
    ("alice", make_key() + "\nssh-ed25519 AAAA", "one line"),
    ("al ice", make_key(), "pusher name"),
    ('al"ice', make_key(), "pusher name"),
    ("", make_key(), "pusher name"),
])
def test_authorized_keys_line_refuses(user, key, words):
    with pytest.raises(ValueError) as err:
        gr.authorized_keys_line(user, key)
    assert words in str(err.value)


def test_render_authorized_keys_and_pusher_files(tmp_path):
    a, b = make_key(seed=b"a"), make_key(seed=b"b")
    managed = tmp_path / "pushers.json"
    uploaded = tmp_path / "uploaded.json"
    managed.write_text(json.dumps([{"name": "bob", "key": b, "tenants": ["beta"]},
                                   {"name": "alice", "key": a, "tenants": ["acme"]}]))
    # the same key uploaded by hand does not override the inventory's entry
    uploaded.write_text(json.dumps([{"name": "mallory", "key": a, "tenants": ["beta"]}]))
    pushers = gr.load_pushers([str(managed), str(uploaded), str(tmp_path / "missing.json")])
    assert pushers[gr.key_fingerprint(a)]["tenants"] == ["acme"]
    text = gr.render_authorized_keys(pushers)
    lines = text.splitlines()
    assert lines[0].startswith("#")
    assert [line.split()[2] for line in lines[1:]] == ["alice", "bob"]
    assert text == gr.render_authorized_keys(gr.load_pushers([str(managed), str(uploaded)]))  # stable


# --- image and Marathon app -----------------------------------------------------------------

def test_image_tag():
    assert gr.image_tag("reg:5000", "acme", "web", SHA) == "reg:5000/acme/web:git-0123456789ab"


def test_app_definition():
    settings, _ = gr.validate_paas(dict(GOOD, env={"A": "b"}, health_check="/ok", port=5000,
                                        constraints=[["hostname", "UNIQUE"]]), "acme", "web")
    app = gr.app_definition(settings, "dev", "reg/acme/web:git-0123456789ab")
    assert app["id"] == "/dev/web"
    assert app["container"]["docker"]["image"] == "reg/acme/web:git-0123456789ab"
    assert app["container"]["portMappings"][0]["containerPort"] == 5000
    assert app["healthChecks"][0]["path"] == "/ok"
    assert app["env"]["A"] == "b" and app["env"]["PORT"] == "5000"
    assert app["constraints"] == [["hostname", "UNIQUE"]]
    assert "token" not in json.dumps(app)


def test_app_urls():
    app = {"tasks": [{"host": "10.0.0.2", "ports": [31001]}, {"host": "10.0.0.3", "ports": []}]}
    assert gr.app_urls(app) == ["http://10.0.0.2:31001/"]


def test_uses_the_projects_marathon_client(tmp_path, monkeypatch):
    """The program imports marathon.py from GITRECEIVE_LIB (the role copies module_utils/marathon.py there)."""
    monkeypatch.setattr(gr, "LIB", os.path.join(ROOT, "module_utils"))
    m = gr._marathon()
    assert os.path.samefile(m.__file__, os.path.join(ROOT, "module_utils", "marathon.py"))


# --- the commands that touch files: sync-keys, upload-key, authorisation ----------------

@pytest.fixture
def cfg(tmp_path, monkeypatch):
    conf = {"user": os.environ.get("USER") or "root", "program": "/usr/local/bin/gitreceive",
            "pusher_files": [str(tmp_path / "pushers.json"), str(tmp_path / "uploaded.json")],
            "uploaded_pushers_file": str(tmp_path / "uploaded.json"), "repos_dir": str(tmp_path / "repos"),
            "authorized_keys": str(tmp_path / "authorized_keys")}
    monkeypatch.setattr(gr.shutil, "chown", lambda *a, **k: None)
    (tmp_path / "pushers.json").write_text(json.dumps([{"name": "alice", "key": make_key(seed=b"a"),
                                                         "tenants": ["acme"]}]))
    return conf


@pytest.fixture
def said(capsys):
    """What the program says to the pusher."""
    return lambda: capsys.readouterr().out.split()


def test_sync_keys_is_idempotent_and_removes(cfg, tmp_path, said):
    gr.cmd_sync_keys(cfg)
    gr.cmd_sync_keys(cfg)
    assert said() == ["changed", "unchanged"]
    assert "run alice " in (tmp_path / "authorized_keys").read_text()
    assert oct(os.stat(tmp_path / "authorized_keys").st_mode & 0o777) == "0o600"
    (tmp_path / "pushers.json").write_text("[]")
    gr.cmd_sync_keys(cfg)
    assert "run alice" not in (tmp_path / "authorized_keys").read_text()


def test_upload_key_adds_a_pusher(cfg, tmp_path, monkeypatch, said):
    key = make_key(seed=b"c")
    monkeypatch.setattr(gr.sys, "stdin", __import__("io").StringIO(key + "\n"))
    gr.cmd_upload_key(cfg, "carol", ["beta"])
    assert said() == [gr.key_fingerprint(key), "changed"]
    assert "run carol %s" % gr.key_fingerprint(key) in (tmp_path / "authorized_keys").read_text()
    store = FakeStore({"acme": record(), "beta": record()})
    gr.authorize(cfg, store, gr.key_fingerprint(key), "beta")
    with pytest.raises(gr.Refused, match="may not push to tenant 'acme'"):
        gr.authorize(cfg, store, gr.key_fingerprint(key), "acme")


# --- tenants' records (ZooKeeper, written by tenant.yml) --------------------------------

class FakeStore:
    """A TenantStore without ZooKeeper: {tenant: record}; tenants listed without a record too."""

    def __init__(self, records, others=(), missing_root=False):
        self.records_ = records
        self.others = list(others)
        self.missing_root = missing_root
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True
        return False

    def record(self, tenant):
        return self.records_.get(tenant)

    def tenants(self, strict=False):
        if self.missing_root and strict:
            raise gr.Refused("/paas/tenants does not exist in ZooKeeper")
        return sorted(set(self.records_) | set(self.others))

    def records(self):
        return dict(self.records_)


def record(token="deploy-token-of-the-tenant-0123456789", pushers=()):
    return {"token_sha256": hashlib.sha256(token.encode()).hexdigest(), "marathon_username": "t",
            "marathon_password": "p", "pushers": [{"name": n, "key": k} for n, k in pushers]}


@pytest.mark.parametrize("fingerprint, tenant, words", [
    ("SHA256:nope", "acme", "is not registered for tenant 'acme'"),
    (None, "beta", "may not push to tenant 'beta'"),
])
def test_authorize_refuses(cfg, fingerprint, tenant, words):
    fp = fingerprint or gr.key_fingerprint(make_key(seed=b"a"))
    with pytest.raises(gr.Refused, match=words):
        gr.authorize(cfg, FakeStore({"acme": record(), "beta": record()}), fp, tenant)


def test_tenant_without_record_is_refused(cfg, tmp_path):
    (tmp_path / "pushers.json").write_text(json.dumps([{"name": "alice", "key": make_key(seed=b"a"),
                                                         "tenants": ["gone"]}]))
    with pytest.raises(gr.Refused, match="tenant 'gone' does not exist"):
        gr.authorize(cfg, FakeStore({"acme": record()}), gr.key_fingerprint(make_key(seed=b"a")), "gone")


def test_a_key_in_a_tenants_record_pushes_to_that_tenant_only(cfg):
    dave = make_key(seed=b"d", comment="dave")
    store = FakeStore({"acme": record(pushers=[("dave", dave)]), "beta": record()})
    assert gr.authorize(cfg, store, gr.key_fingerprint(dave), "acme") == store.record("acme")
    with pytest.raises(gr.Refused, match="not registered for tenant 'beta'"):
        gr.authorize(cfg, store, gr.key_fingerprint(dave), "beta")


def test_record_pushers_join_tenants_and_skip_bad_keys():
    dave = make_key(seed=b"d", comment="dave")
    out = gr.record_pushers({"acme": record(pushers=[("dave", dave), ("bad", "ssh-ed25519 nope")]),
                             "beta": record(pushers=[("dave-b", dave)])})
    assert list(out) == [gr.key_fingerprint(dave)]
    assert out[gr.key_fingerprint(dave)]["tenants"] == ["acme", "beta"]


@pytest.mark.parametrize("bad", [("bad name", None), (5, None), (None, None), ("", None), ("-dash", None),
                                 ("ok", 12), ("ok", "ssh-ed25519 AAAA"), ("ok", ["ssh-ed25519"])])
def test_a_bad_pusher_entry_does_not_stop_the_others_lines(cfg, monkeypatch, capsys, bad):
    """One record's bad entry is skipped; every other pusher still gets its line."""
    dave, erin = make_key(seed=b"d", comment="dave"), make_key(seed=b"e", comment="erin")
    name, key = bad
    bad_entry = {"name": name, "key": key if key is not None else make_key(seed=b"x")}
    acme = record(pushers=[("dave", dave)])
    acme["pushers"].append(bad_entry)
    store = FakeStore({"acme": acme, "beta": record(pushers=[("erin", erin)])})
    monkeypatch.setattr(gr, "tenant_store", lambda c, timeout=None: store)
    gr.cmd_authorized_keys(cfg, cfg["user"])
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    assert lines == [gr.authorized_keys_line("dave", dave), gr.authorized_keys_line("erin", erin)]


@pytest.mark.parametrize("data, words", [
    (b"not json", "not JSON"),
    (b"\xff", "not JSON"),
    (b"[]", "lacks token_sha256"),
    (b'{"pushers": []}', "lacks token_sha256"),
    (b'{"token_sha256": "abc", "pushers": []}', "lacks token_sha256"),
    (json.dumps({"token_sha256": "a" * 64, "pushers": "alice"}).encode(), "lacks token_sha256 or pushers"),
])
def test_bad_records_are_refused(data, words):
    with pytest.raises(gr.Refused, match=words):
        gr.parse_record("acme", data)


def test_good_record_parses():
    rec = record(pushers=[("dave", make_key(seed=b"d"))])
    assert gr.parse_record("acme", json.dumps(rec).encode()) == rec


def test_authorized_keys_command_lists_the_records_pushers(cfg, monkeypatch, capsys):
    dave, erin = make_key(seed=b"d", comment="dave"), make_key(seed=b"e", comment="erin")
    store = FakeStore({"acme": record(pushers=[("dave", dave)]), "beta": record(pushers=[("erin", erin)])})
    monkeypatch.setattr(gr, "tenant_store", lambda c, timeout=None: store)
    gr.cmd_authorized_keys(cfg, cfg["user"])
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    assert lines == [gr.authorized_keys_line("dave", dave), gr.authorized_keys_line("erin", erin)]
    assert all(line.startswith('command="/usr/local/bin/gitreceive run ') and gr.KEY_OPTIONS in line
               for line in lines)
    assert store.closed
    gr.cmd_authorized_keys(cfg, "someone-else")
    assert capsys.readouterr().out == ""


def test_prune_removes_only_repositories_of_tenants_gone(cfg, tmp_path, monkeypatch, said):
    for t in ("acme", "gone", "idle"):
        (tmp_path / "repos" / t / "dev").mkdir(parents=True)
    monkeypatch.setattr(gr, "tenant_store", lambda c, timeout=None: FakeStore({"acme": record()}, others=["idle"]))
    gr.cmd_prune(cfg)
    assert sorted(os.listdir(tmp_path / "repos")) == ["acme", "idle"]
    gr.cmd_prune(cfg)
    assert said()[-1] == "unchanged"


def test_prune_removes_nothing_when_the_tenants_path_is_missing(cfg, tmp_path, monkeypatch):
    (tmp_path / "repos" / "acme").mkdir(parents=True)
    monkeypatch.setattr(gr, "tenant_store", lambda c, timeout=None: FakeStore({}, missing_root=True))
    with pytest.raises(gr.Refused, match="does not exist"):
        gr.cmd_prune(cfg)
    assert os.listdir(tmp_path / "repos") == ["acme"]


@pytest.mark.parametrize("stdin, words", [
    ("%s %s refs/heads/master\n%s %s refs/heads/dev\n" % (gr.ZERO, SHA, gr.ZERO, SHA), "one branch at a time"),
    ("%s %s refs/heads/master\n" % (SHA, gr.ZERO), "deleting refs"),
    ("%s %s refs/tags/v1\n" % (gr.ZERO, SHA), "only branches"),
])
def test_hook_refuses_before_building(cfg, monkeypatch, stdin, words):
    monkeypatch.setenv("GITRECEIVE_REPOSITORY", "acme/dev/web")
    monkeypatch.setattr(gr.sys, "stdin", __import__("io").StringIO(stdin))
    monkeypatch.setattr(gr.subprocess, "Popen", lambda *a, **k: pytest.fail("nothing may run"))
    with pytest.raises(gr.Refused, match=words):
        gr.cmd_hook(cfg)
