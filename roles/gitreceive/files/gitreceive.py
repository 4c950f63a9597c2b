#!/usr/bin/python3
# -*- coding: utf-8 -*-
"""gitreceive: git push to deploy, for the tenants of this PaaS.

Installed on the git host by the gitreceive role as /usr/local/bin/gitreceive.
It keeps gitreceive's contract:

  gitreceive upload-key <user> [<tenant> ...]   (root) the public key on stdin adds a pusher
  gitreceive run <user> <fingerprint>            the forced command of every authorized_keys line
  gitreceive hook                                the pre-receive hook of every repository
  gitreceive receive <repository> <revision> <user> <fingerprint>
                                                 the receiver: the pushed tree (tar) on stdin
  gitreceive sync-keys                           (root) authorized_keys from the pusher files
  gitreceive authorized-keys <user> [<config>]   sshd's AuthorizedKeysCommand: the tenants' pushers
  gitreceive prune                               (root) remove the repositories of tenants that are gone

Tenants live in ZooKeeper, not on this host: tenant.yml writes each tenant's record
(deploy token's SHA-256, its Marathon's HTTP password, its pushers' keys) as JSON in
the znode <zk_tenants_path>/<tenant>/gitreceive, readable with this host's digest
credentials. A tenant added, changed or removed there is served, changed or refused at
the next push or ssh login; any number of git hosts read the same records.

A remote is git@<host>:<tenant>/<env>/<app>.git with env dev or prod. The receiver
checks paas.yml, builds the image (Dockerfile, or a buildpack builder image), pushes it
to the private registry and deploys it into the tenant's Marathon as /<env>/<app>, in
the pre-receive stage: any failure exits non-zero and git refuses the push.
``ssh git@<host> rollback <tenant>/<env>/<app> [git-<sha12>]`` redeploys an earlier image.

The Marathon client is the project's module_utils/marathon.py, installed next to this
program by the role (``marathon.py`` in the directory named by GITRECEIVE_LIB).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

CONFIG = os.environ.get("GITRECEIVE_CONFIG", "/etc/gitreceive/config.json")
LIB = os.environ.get("GITRECEIVE_LIB", "/usr/local/lib/gitreceive")

ENVS = ("dev", "prod")
# Tenant names (roles/tenant's rule), app names (one Marathon id segment, no dots).
TENANT_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
APP_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
BRANCH_RE = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)(?!.*\.lock$)(?!.*/$)(?!.*\.$)[A-Za-z0-9._/-]+$")
TAG_RE = re.compile(r"^git-[0-9a-f]{12}$")
KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
             "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")
KEY_OPTIONS = "no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding"
PUSHER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
CONSTRAINT_OPS = ("UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS")
ZERO = "0" * 40


class Refused(Exception):
    """A push or command that is refused; the message is shown to the pusher."""


# ---------------------------------------------------------------------------------------
# repository paths and refs

def parse_repo_path(path):
    """(tenant, env, app) from what git sends (``'acme/dev/web.git'``, with or without
    quotes, a leading '/' or '~/' and the '.git' suffix); Refused for anything else."""
    if not isinstance(path, str):
        raise Refused("repository: a path such as <tenant>/<env>/<app>.git is required")
    p = path.strip()
    if len(p) >= 2 and p[0] == p[-1] and p[0] in "'\"":
        p = p[1:-1]
    if p.startswith("~/"):
        p = p[2:]
    p = p.lstrip("/")
    if p.endswith(".git"):
        p = p[:-4]
    parts = p.split("/")
    if any(seg in ("", ".", "..") for seg in parts) or "\\" in p:
        raise Refused("repository %r: '.', '..' and empty path segments are not allowed; "
                      "use <tenant>/<env>/<app>.git" % (path,))
    if len(parts) != 3:
        raise Refused("repository %r: expected <tenant>/<env>/<app>.git (env is %s)" % (path, " or ".join(ENVS)))
    tenant, env, app = parts
    if not TENANT_RE.match(tenant):
        raise Refused("repository %r: %r is not a tenant name (lowercase letters, digits and '-', 3-32 characters)"
                      % (path, tenant))
    if env not in ENVS:
        raise Refused("repository %r: environment %r must be one of %s" % (path, env, ", ".join(ENVS)))
    if not APP_RE.match(app):
        raise Refused("repository %r: %r is not an app name (lowercase letters, digits and '-', "
                      "not starting or ending with '-', at most 63 characters)" % (path, app))
    return tenant, env, app


def parse_ssh_command(command):
    """(verb, args) from SSH_ORIGINAL_COMMAND: ('receive-pack', [repo]), ('upload-pack', [repo])
    or ('rollback', [repo, tag?]); Refused for anything else (no shell)."""
    if not command or not command.strip():
        raise Refused("this account only accepts git push (git@host:<tenant>/<env>/<app>.git) and "
                      "'rollback <tenant>/<env>/<app> [git-<sha12>]'; there is no shell")
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise Refused("cannot parse the command: %s" % exc)
    verb = words[0]
    if verb in ("git-receive-pack", "git-upload-pack") and len(words) == 2:
        return verb[4:], [words[1]]
    if verb in ("git", ) and len(words) == 3 and words[1] in ("receive-pack", "upload-pack"):
        return words[1], [words[2]]
    if verb == "rollback" and len(words) in (2, 3):
        if len(words) == 3 and not TAG_RE.match(words[2]):
            raise Refused("rollback: %r is not an image tag such as git-0123456789ab" % words[2])
        return "rollback", words[1:]
    raise Refused("command %r is not allowed: this account only accepts git push and "
                  "'rollback <tenant>/<env>/<app> [git-<sha12>]'" % (verb,))


def parse_ref_updates(text):
    """[(old, new, ref)] from a pre-receive hook's stdin."""
    updates = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3:
            raise Refused("unexpected ref update line %r" % line)
        updates.append(tuple(parts))
    return updates


def check_ref(ref, new, branch):
    """None when ``ref`` to ``new`` is a deployable push of ``branch``; else the message
    that refuses it (every ref is answered: other branches, tags and deletions are refused)."""
    if new == ZERO:
        return "%s: deleting refs is not allowed here" % ref
    if not ref.startswith("refs/heads/"):
        return "%s: only branches are deployed; push refs/heads/%s" % (ref, branch)
    name = ref[len("refs/heads/"):]
    if name != branch:
        return ("%s: not deployed: this remote deploys branch '%s' (paas.yml branch); push with "
                "'git push <remote> %s:%s'" % (ref, branch, name, branch))
    return None


# ---------------------------------------------------------------------------------------
# keys

def key_fingerprint(key):
    """OpenSSH's SHA256 fingerprint (SHA256:<base64 without padding>) of a public key line."""
    _type, blob, _comment = split_key(key)
    digest = hashlib.sha256(base64.b64decode(blob)).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def split_key(key):
    """(type, base64 blob, comment) of an OpenSSH public key line; ValueError if it is not one."""
    if not isinstance(key, str) or "\n" in key.strip() or "\r" in key:
        raise ValueError("a public key is one line")
    words = key.strip().split(None, 2)
    if len(words) < 2 or words[0] not in KEY_TYPES:
        raise ValueError("not an OpenSSH public key (expected '<type> <base64> [comment]' with type one of %s)"
                         % ", ".join(KEY_TYPES))
    try:
        raw = base64.b64decode(words[1], validate=True)
    except (ValueError, TypeError):
        raise ValueError("the key's base64 part does not decode")
    # The blob starts with the key type as an SSH string.
    if len(raw) < 4 or raw[4:4 + int.from_bytes(raw[:4], "big")].decode("ascii", "replace") != words[0]:
        raise ValueError("the key's blob does not match its type %s" % words[0])
    return words[0], words[1], (words[2] if len(words) > 2 else "")


def authorized_keys_line(user, key, program="/usr/local/bin/gitreceive"):
    """One authorized_keys line: forced command with the user and fingerprint, no pty and no forwarding."""
    if not isinstance(user, str) or not PUSHER_RE.match(user):
        raise ValueError("pusher name %r: letters, digits, '.', '_', '@' and '-' only" % (user,))
    ktype, blob, _comment = split_key(key)
    fingerprint = key_fingerprint(key)
    return 'command="%s run %s %s",%s %s %s %s' % (program, user, fingerprint, KEY_OPTIONS, ktype, blob, user)


def record_pushers(records):
    """{fingerprint: {"name", "key", "tenants"}} from the tenants' records ({tenant: record})."""
    out = {}
    for tenant in sorted(records):
        for item in records[tenant].get("pushers") or []:
            # An entry that is not a name and one key is skipped, never allowed to stop the
            # other pushers' lines (tenant.yml validates them before writing).
            try:
                if not PUSHER_RE.match(item["name"]):
                    continue
                fp = key_fingerprint(item["key"])
            except (KeyError, TypeError, ValueError):
                continue
            entry = out.setdefault(fp, {"name": item["name"], "key": item["key"], "tenants": []})
            entry["tenants"].append(tenant)
    return out


def load_pushers(paths):
    """{fingerprint: {"name", "key", "tenants"}} from the pusher files (JSON lists); later files
    do not override a fingerprint an earlier one holds."""
    out = {}
    for path in paths:
        try:
            with open(path) as fh:
                items = json.load(fh)
        except FileNotFoundError:
            continue
        for item in items or []:
            fp = key_fingerprint(item["key"])
            out.setdefault(fp, {"name": item["name"], "key": item["key"], "tenants": list(item.get("tenants") or [])})
    return out


def render_authorized_keys(pushers, program="/usr/local/bin/gitreceive"):
    lines = ["# Managed by gitreceive (sync-keys): every key runs '%s run' and nothing else." % program]
    for fp in sorted(pushers, key=lambda f: (pushers[f]["name"], f)):
        lines.append(authorized_keys_line(pushers[fp]["name"], pushers[fp]["key"], program))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# tenants: their records in ZooKeeper (written by tenant.yml)

RECORD_NODE = "gitreceive"


def parse_record(tenant, data):
    """The tenant's record from its znode's data; Refused when it is not what tenant.yml writes."""
    try:
        rec = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except (UnicodeDecodeError, ValueError):
        raise Refused("tenant %r: its record in ZooKeeper is not JSON" % tenant)
    if (not isinstance(rec, dict) or not re.match(r"^[0-9a-f]{64}$", str(rec.get("token_sha256", "")))
            or not isinstance(rec.get("pushers", []), list)):
        raise Refused("tenant %r: its record in ZooKeeper lacks token_sha256 or pushers" % tenant)
    return rec


class TenantStore:
    """Reads the tenants' records under cfg["zk_tenants_path"] with this host's digest credentials."""

    def __init__(self, cfg, timeout=None):
        self.cfg = cfg
        self.root = cfg.get("zk_tenants_path") or "/paas/tenants"
        self.timeout = float(timeout or cfg.get("zk_timeout", 10))
        self.zk = None

    def __enter__(self):
        import logging
        logging.getLogger("kazoo").addHandler(logging.NullHandler())
        logging.getLogger("kazoo").propagate = False
        try:
            from kazoo.client import KazooClient
            from kazoo.handlers.threading import KazooTimeoutError
        except ImportError:
            raise Refused("this git host lacks the kazoo library (python3-kazoo)")
        user, password = self.cfg.get("zk_username") or "", self.cfg.get("zk_password") or ""
        hosts = self.cfg.get("zk_hosts") or ""
        if not hosts:
            raise Refused("this git host has no ZooKeeper servers configured (gitreceive_zk_hosts)")
        self.zk = KazooClient(hosts=hosts, timeout=self.timeout,
                              auth_data=[("digest", "%s:%s" % (user, password))] if user else None)
        try:
            self.zk.start(timeout=self.timeout)
        except KazooTimeoutError:
            self.close()
            raise Refused("ZooKeeper (%s) did not answer: tenants cannot be looked up" % hosts)
        return self

    def close(self):
        if self.zk is not None:
            try:
                self.zk.stop()
            finally:
                self.zk.close()
                self.zk = None

    def __exit__(self, *exc):
        self.close()
        return False

    def record(self, tenant):
        """The tenant's record, or None when the tenant does not exist (or has no record)."""
        from kazoo.exceptions import KazooException, NoAuthError, NoNodeError
        try:
            data, _stat = self.zk.get("%s/%s/%s" % (self.root, tenant, RECORD_NODE))
        except NoNodeError:
            return None
        except NoAuthError:
            raise Refused("tenant %r: this git host may not read its record (check gitreceive_zk_username and "
                          "gitreceive_zk_password against tenant.yml's)" % tenant)
        except KazooException as exc:
            raise Refused("tenant %r: reading its record from ZooKeeper failed (%s)" % (tenant, type(exc).__name__))
        return parse_record(tenant, data)

    def tenants(self, strict=False):
        """Names of the tenants in ZooKeeper (whether or not they have a record). A missing
        tenants' path is no tenants, or, with strict, Refused (a wrong path must not look empty)."""
        from kazoo.exceptions import KazooException, NoAuthError, NoNodeError
        try:
            return sorted(c for c in self.zk.get_children(self.root) if TENANT_RE.match(c))
        except NoNodeError:
            if strict:
                raise Refused("%s does not exist in ZooKeeper (gitreceive_zk_tenants_path)" % self.root)
            return []
        except NoAuthError:
            raise Refused("this git host may not list %s (its ACL must give gitreceive_zk_username read: "
                          "tenant.yml sets it)" % self.root)
        except KazooException as exc:
            raise Refused("listing %s in ZooKeeper failed (%s)" % (self.root, type(exc).__name__))

    def records(self):
        """{tenant: record} of every tenant this host can read; unreadable ones are logged."""
        out = {}
        for tenant in self.tenants():
            try:
                rec = self.record(tenant)
            except Refused as exc:
                log(str(exc))
                continue
            if rec is not None:
                out[tenant] = rec
        return out


def tenant_store(cfg, timeout=None):
    return TenantStore(cfg, timeout)


def log(message):
    """To syslog (the AuthorizedKeysCommand's stderr is discarded by sshd) and to stderr."""
    try:
        import syslog
        syslog.openlog("gitreceive", syslog.LOG_PID, syslog.LOG_AUTH)
        syslog.syslog(syslog.LOG_WARNING, message)
    except (ImportError, OSError):
        pass
    sys.stderr.write("gitreceive: %s\n" % message)


def token_sha256(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------
# paas.yml

def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def validate_paas(doc, tenant=None, app=None):
    """(settings with defaults, []) or (None, [messages]); every message names its field."""
    errors = []
    if not isinstance(doc, dict):
        return None, ["paas.yml: the file must be a mapping of settings (tenant, token, app, ...)"]
    known = ("tenant", "token", "app", "branch", "instances", "cpus", "mem", "port", "env", "health_check",
             "constraints")
    out = {"branch": "master", "instances": 1, "cpus": 0.1, "mem": 128, "port": 8080, "env": {},
           "health_check": "/", "constraints": []}
    for key in sorted(k for k in doc if k not in known):
        errors.append("%s: unknown setting (allowed: %s)" % (key, ", ".join(known)))

    for key in ("tenant", "token", "app"):
        v = doc.get(key)
        if v is None or v == "":
            errors.append("%s: is required" % key)
        elif not isinstance(v, str):
            errors.append("%s: must be a string, got %s" % (key, type(v).__name__))
        else:
            out[key] = v
    if isinstance(out.get("tenant"), str):
        if tenant is not None and out["tenant"] != tenant:
            errors.append("tenant: %r does not match the remote's tenant %r" % (out["tenant"], tenant))
    if isinstance(out.get("app"), str):
        if not APP_RE.match(out["app"]):
            errors.append("app: %r is not an app name (lowercase letters, digits and '-')" % out["app"])
        elif app is not None and out["app"] != app:
            errors.append("app: %r does not match the remote's app %r" % (out["app"], app))

    if "branch" in doc:
        v = doc["branch"]
        if not isinstance(v, str) or not BRANCH_RE.match(v):
            errors.append("branch: %r is not a branch name" % (v,))
        else:
            out["branch"] = v

    def number(key, kind, low, high):
        if key not in doc:
            return
        v = doc[key]
        if not _is_number(v) or (kind is int and not float(v).is_integer()):
            errors.append("%s: must be %s, got %r" % (key, "an integer" if kind is int else "a number", v))
        elif not low <= v <= high:
            errors.append("%s: must be between %s and %s, got %r" % (key, low, high, v))
        else:
            out[key] = kind(v)

    number("instances", int, 0, 100)
    number("cpus", float, 0.01, 64)
    number("mem", int, 16, 262144)
    number("port", int, 1, 65535)

    if "env" in doc:
        v = doc["env"]
        if v is None:
            v = {}
        if not isinstance(v, dict):
            errors.append("env: must be a mapping of NAME: value")
        else:
            env = {}
            for name in sorted(v, key=str):
                val = v[name]
                if not isinstance(name, str) or not ENV_NAME_RE.match(name):
                    errors.append("env.%s: is not a variable name ([A-Za-z_][A-Za-z0-9_]*)" % (name,))
                elif isinstance(val, (dict, list)) or val is None:
                    errors.append("env.%s: must be a string, number or boolean" % name)
                else:
                    env[name] = ("true" if val else "false") if isinstance(val, bool) else str(val)
            out["env"] = env

    if "health_check" in doc:
        v = doc["health_check"]
        path = v.get("path") if isinstance(v, dict) else v
        extra = sorted(set(v) - {"path"}) if isinstance(v, dict) else []
        if extra:
            errors.append("health_check: unknown setting(s) %s (only path)" % ", ".join(map(str, extra)))
        elif not isinstance(path, str) or not path.startswith("/") or any(c.isspace() for c in path):
            errors.append("health_check.path: must be an HTTP path starting with '/', got %r" % (path,))
        else:
            out["health_check"] = path

    if "constraints" in doc:
        v = doc["constraints"]
        if not isinstance(v, list):
            errors.append("constraints: must be a list of [field, operator(, value)]")
        else:
            good = []
            for i, c in enumerate(v):
                if (not isinstance(c, list) or len(c) not in (2, 3)
                        or not all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in c)):
                    errors.append("constraints[%d]: must be [field, operator] or [field, operator, value]" % i)
                elif str(c[1]) not in CONSTRAINT_OPS:
                    errors.append("constraints[%d]: operator %r is not one of %s" % (i, c[1], ", ".join(CONSTRAINT_OPS)))
                else:
                    good.append([str(x) for x in c])
            out["constraints"] = good
    if errors:
        return None, errors
    return out, []


def check_token(given, expected_sha256):
    """The deploy token in paas.yml against the SHA-256 the tenant's record keeps (constant time)."""
    return (isinstance(given, str) and bool(expected_sha256)
            and hmac.compare_digest(token_sha256(given), expected_sha256))


def image_tag(registry, tenant, app, sha):
    return "%s/%s/%s:git-%s" % (registry, tenant, app, sha[:12])


def app_definition(settings, env, image):
    """The Marathon app /<env>/<app> for a validated paas.yml and an image."""
    app = {
        "id": "/%s/%s" % (env, settings["app"]),
        "instances": settings["instances"],
        "cpus": settings["cpus"],
        "mem": settings["mem"],
        "env": dict(settings["env"], PAAS_ENV=env, PAAS_APP=settings["app"], PORT=str(settings["port"])),
        "labels": {"paas.tenant": settings["tenant"], "paas.image": image},
        "container": {
            "type": "DOCKER",
            "docker": {"image": image, "forcePullImage": False},
            "portMappings": [{"containerPort": settings["port"], "hostPort": 0, "protocol": "tcp", "name": "http"}],
        },
        "networks": [{"mode": "container/bridge"}],
        "healthChecks": [{"protocol": "HTTP", "path": settings["health_check"], "portIndex": 0,
                          "gracePeriodSeconds": 60, "intervalSeconds": 5, "timeoutSeconds": 5,
                          "maxConsecutiveFailures": 3}],
        "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 1},
    }
    if settings["constraints"]:
        app["constraints"] = settings["constraints"]
    return app


def app_urls(app):
    """http://host:port/ of each running task of an app as Marathon reports it."""
    urls = []
    for task in app.get("tasks") or []:
        ports = task.get("ports") or []
        if task.get("host") and ports:
            urls.append("http://%s:%s/" % (task["host"], ports[0]))
    return sorted(set(urls))


# ---------------------------------------------------------------------------------------
# runtime (on the git host)

OUT = [None]  # None: sys.stdout as it is when saying


def say(msg=""):
    """One line to the pusher. Before git takes over the connection (the forced command),
    stdout carries git's protocol, so messages go to stderr then."""
    out = OUT[0] or sys.stdout
    out.write(msg + "\n")
    out.flush()


def load_config(path=CONFIG):
    with open(path) as fh:
        return json.load(fh)


def repo_dir(cfg, tenant, env, app):
    return os.path.join(cfg["repos_dir"], tenant, env, app + ".git")


def authorize(cfg, store, fingerprint, tenant):
    """The tenant's record when the key may push to the tenant; Refused otherwise.

    A key may push to a tenant when the tenant's record lists it (tenant_pushers in
    tenant.yml) or a pusher file gives it the tenant (gitreceive_pushers, upload-key)."""
    record = store.record(tenant)
    listed = record is not None and fingerprint in record_pushers({tenant: record})
    filed = load_pushers(cfg["pusher_files"]).get(fingerprint)
    if not listed and filed is None:
        raise Refused("key %s is not registered for tenant %r" % (fingerprint, tenant))
    if not listed and tenant not in filed["tenants"]:
        raise Refused("key %s may not push to tenant %r" % (fingerprint, tenant))
    if record is None:
        raise Refused("tenant %r does not exist (no record in ZooKeeper)" % tenant)
    return record


def stream(cmd, stdin=None, env=None, prefix=""):
    """Run cmd, copying its output to ours line by line; returns the exit status."""
    proc = subprocess.Popen(cmd, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    for raw in proc.stdout:
        # Progress lines rewritten with \r show as separate lines.
        for part in raw.decode("utf-8", "replace").rstrip("\n").split("\r"):
            if part.strip():
                say(prefix + part)
    return proc.wait()


def docker(cfg, *args):
    return [cfg.get("docker", "docker"), "--config", cfg["docker_config_dir"]] + list(args)


def _marathon():
    """The project's module_utils/marathon.py, installed by the role into GITRECEIVE_LIB."""
    mod = sys.modules.get("gitreceive_marathon")
    if mod is None:
        import importlib.util
        spec = importlib.util.spec_from_file_location("gitreceive_marathon", os.path.join(LIB, "marathon.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules["gitreceive_marathon"] = mod
        spec.loader.exec_module(mod)
    return mod


def marathon_client(cfg, tenant, record):
    MarathonClient = _marathon().MarathonClient
    # The tenant's Marathon runs as /tenants/<name> on the central Marathon: find its tasks
    # (never a URL from the record, which would let a record send the tenant's password elsewhere).
    central = MarathonClient(cfg["central_marathon_urls"], cfg.get("central_marathon_username") or None,
                             cfg.get("central_marathon_password") or None,
                             validate_certs=cfg.get("validate_certs", True))
    urls = app_urls(central.get_app("/tenants/%s" % tenant) or {})
    if not urls:
        raise Refused("the Marathon of tenant %r (/tenants/%s) has no running task" % (tenant, tenant))
    return MarathonClient(urls, record.get("marathon_username") or tenant, record.get("marathon_password") or None,
                          validate_certs=cfg.get("validate_certs", True), poll_interval=1.0)


def deploy(cfg, tenant, record, definition):
    """Create or update the app and wait until healthy; on failure put the previous definition back."""
    MarathonError, app_subset = _marathon().MarathonError, _marathon().app_subset
    client = marathon_client(cfg, tenant, record)
    timeout = float(cfg.get("deploy_timeout", 300))
    deadline = time.time() + timeout
    app_id = definition["id"]
    previous = client.get_app(app_id)
    say("-----> Deploying %s to tenant %s's Marathon (%s)" % (app_id, tenant, client.urls[client.current]))
    try:
        if previous is None:
            dep = client.create_app(definition, deadline=deadline)
        else:
            dep = client.update_app(definition, deadline=deadline)
        app = client.wait_app(app_id, dep, deadline=deadline)
    except MarathonError as exc:
        say("-----> Deploy failed: %s" % exc)
        if previous is not None:
            say("-----> Putting the previous version back")
            back = app_subset(definition, previous)
            back["id"] = app_id
            try:
                client.update_app(back, force=True)
            except MarathonError as exc2:
                say("       could not restore it: %s" % exc2)
        else:
            try:
                client.delete_app(app_id, force=True)
            except MarathonError:
                pass
        raise Refused("deploy of %s failed" % app_id)
    return app


def record_deploy(cfg, repo, entry):
    with open(os.path.join(repo, "paas-deploys.jsonl"), "a") as fh:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")


def history(repo):
    try:
        with open(os.path.join(repo, "paas-deploys.jsonl")) as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return []


def build_network(cfg):
    """["--network", <name>] when the git host has a build network (its traffic to the control
    plane is dropped by the role's firewall), else nothing."""
    name = cfg.get("build_network") or ""
    return ["--network", name] if name else []


def build_image(cfg, workdir, tag):
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    if os.path.exists(os.path.join(workdir, "Dockerfile")):
        say("-----> Building %s from the Dockerfile" % tag)
        if stream(docker(cfg, "build", "--pull=false", *build_network(cfg), "-t", tag, workdir), env=env, prefix="       ") != 0:
            raise Refused("docker build failed")
        return
    builder = cfg.get("buildpack_image") or ""
    if not builder:
        raise Refused("no Dockerfile in the repository, and this git host has no buildpack builder image "
                      "(gitreceive_buildpack_image): add a Dockerfile")
    say("-----> Building %s with the buildpack builder %s" % (tag, builder))
    # Unique even when a killed receiver left its container and the pid comes round again.
    name = "gitreceive-build-%d-%s" % (os.getpid(), os.urandom(4).hex())
    if subprocess.call(docker(cfg, "create", "-i", "--name", name, *build_network(cfg), builder, "/bin/bash", "-c",
                              "mkdir -p /app && tar -xC /app && /build"), stdout=subprocess.DEVNULL) != 0:
        raise Refused("could not create the builder container from %s" % builder)
    try:
        tar = subprocess.Popen(["tar", "-C", workdir, "-cf", "-", "."], stdout=subprocess.PIPE)
        rc = stream(docker(cfg, "start", "-ai", name), stdin=tar.stdout, prefix="       ")
        # Our copy of the pipe closed: a builder that stopped reading gives tar SIGPIPE
        # instead of leaving it blocked on a full pipe.
        tar.stdout.close()
        tar_rc = tar.wait()
        if rc != 0:
            raise Refused("the buildpack build failed")
        if tar_rc != 0:
            raise Refused("the pushed tree could not be handed to the builder (tar exited %d)" % tar_rc)
        if subprocess.call(docker(cfg, "commit", "--change", 'CMD ["/start", "web"]', name, tag),
                           stdout=subprocess.DEVNULL) != 0:
            raise Refused("could not commit the built slug image")
    finally:
        subprocess.call(docker(cfg, "rm", "-f", name), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def receive(cfg, repository, revision, user, fingerprint, tar_stream, ref=None):
    """The receiver: the pushed tree on ``tar_stream``; check, build, push, deploy."""
    import yaml
    tenant, env, app = parse_repo_path(repository)
    with tenant_store(cfg) as store:
        record = authorize(cfg, store, fingerprint, tenant)
    say("-----> %s pushed %s to %s/%s/%s" % (user, revision[:12], tenant, env, app))
    workdir = tempfile.mkdtemp(prefix="gitreceive-")
    try:
        with tarfile.open(fileobj=tar_stream, mode="r|*") as tar:
            try:
                tar.extractall(workdir, filter="data")
            except TypeError:  # a Python without extraction filters (git archive writes no links out of the tree)
                tar.extractall(workdir)
        path = os.path.join(workdir, "paas.yml")
        if not os.path.isfile(path):
            raise Refused("paas.yml: the repository has no paas.yml at its top")
        try:
            with open(path) as fh:
                doc = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise Refused("paas.yml: not valid YAML: %s" % exc)
        settings, errors = validate_paas(doc, tenant, app)
        if errors:
            raise Refused("paas.yml is invalid:\n" + "\n".join("  " + e for e in errors))
        if not check_token(settings["token"], record["token_sha256"]):
            raise Refused("token: does not match tenant %r's deploy token" % tenant)
        if ref is not None:
            problem = check_ref(ref, revision, settings["branch"])
            if problem:
                raise Refused(problem)
        tag = image_tag(cfg["registry"], tenant, app, revision)
        build_image(cfg, workdir, tag)
        say("-----> Pushing %s" % tag)
        if stream(docker(cfg, "push", tag), prefix="       ") != 0:
            raise Refused("docker push to %s failed" % cfg["registry"])
        definition = app_definition(settings, env, tag)
        result = deploy(cfg, tenant, record, definition)
        record_deploy(cfg, repo_dir(cfg, tenant, env, app),
               {"time": int(time.time()), "tag": tag.rsplit(":", 1)[1], "image": tag, "user": user,
                "app": definition})
        urls = app_urls(result)
        say("-----> %s is running and healthy" % definition["id"])
        for u in urls:
            say("       %s" % u)
        return urls
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def rollback(cfg, fingerprint, repository, tag=None):
    tenant, env, app = parse_repo_path(repository)
    with tenant_store(cfg) as store:
        record = authorize(cfg, store, fingerprint, tenant)
    deploys = history(repo_dir(cfg, tenant, env, app))
    if not deploys:
        raise Refused("rollback: %s/%s/%s has never been deployed" % (tenant, env, app))
    current = deploys[-1]["tag"]
    if tag is None:
        earlier = [d for d in deploys if d["tag"] != current]
        if not earlier:
            raise Refused("rollback: there is no version before %s" % current)
        target = earlier[-1]
    else:
        matches = [d for d in deploys if d["tag"] == tag]
        if not matches:
            raise Refused("rollback: %s was never deployed to %s/%s/%s (known: %s)"
                          % (tag, tenant, env, app, ", ".join(sorted(set(d["tag"] for d in deploys)))))
        target = matches[-1]
    say("-----> Rolling %s/%s/%s back from %s to %s" % (tenant, env, app, current, target["tag"]))
    result = deploy(cfg, tenant, record, target["app"])
    entry = dict(target, time=int(time.time()), rollback_from=current)
    record_deploy(cfg, repo_dir(cfg, tenant, env, app), entry)
    say("-----> %s is running and healthy" % target["app"]["id"])
    for u in app_urls(result):
        say("       %s" % u)


def ensure_repo(cfg, tenant, env, app):
    path = repo_dir(cfg, tenant, env, app)
    if not os.path.isdir(path):
        os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
        subprocess.check_call(["git", "init", "--quiet", "--bare", path])
        say("-----> Created %s/%s/%s.git" % (tenant, env, app))
    hook = os.path.join(path, "hooks", "pre-receive")
    if not os.path.islink(hook) or os.readlink(hook) != cfg["program"]:
        if os.path.lexists(hook):
            os.unlink(hook)
        os.symlink(cfg["program"], hook)
    return path


def cmd_run(cfg, user, fingerprint):
    verb, args = parse_ssh_command(os.environ.get("SSH_ORIGINAL_COMMAND", ""))
    if verb == "rollback":
        return rollback(cfg, fingerprint, *args)
    tenant, env, app = parse_repo_path(args[0])
    with tenant_store(cfg) as store:
        authorize(cfg, store, fingerprint, tenant)
    if verb == "upload-pack":
        path = repo_dir(cfg, tenant, env, app)
        if not os.path.isdir(path):
            raise Refused("repository %s/%s/%s.git does not exist yet: push first" % (tenant, env, app))
    else:
        path = ensure_repo(cfg, tenant, env, app)
    os.environ.update(GITRECEIVE_USER=user, GITRECEIVE_FINGERPRINT=fingerprint,
                      GITRECEIVE_REPOSITORY="%s/%s/%s" % (tenant, env, app))
    os.execvp("git", ["git", verb, path])


def cmd_hook(cfg):
    """pre-receive: every ref update is answered; the deploy branch is built and deployed."""
    repository = os.environ["GITRECEIVE_REPOSITORY"]
    user = os.environ.get("GITRECEIVE_USER", "")
    fingerprint = os.environ.get("GITRECEIVE_FINGERPRINT", "")
    updates = parse_ref_updates(sys.stdin.read())
    if len(updates) != 1:
        raise Refused("push one branch at a time (got %d refs)" % len(updates))
    old, new, ref = updates[0]
    if new == ZERO or not ref.startswith("refs/heads/"):
        raise Refused(check_ref(ref, new, "master"))
    archive = subprocess.Popen(["git", "archive", "--format=tar", new], stdout=subprocess.PIPE)
    rc = subprocess.call([cfg["program"], "receive", repository, new, user, fingerprint, ref],
                         stdin=archive.stdout)
    archive.stdout.close()
    archive.wait()
    return rc


def cmd_receive(cfg, repository, revision, user, fingerprint, ref=None):
    receive(cfg, repository, revision, user, fingerprint, sys.stdin.buffer, ref)


def cmd_upload_key(cfg, user, tenants):
    key = sys.stdin.read().strip()
    split_key(key)
    path = cfg["uploaded_pushers_file"]
    try:
        with open(path) as fh:
            items = json.load(fh)
    except FileNotFoundError:
        items = []
    fp = key_fingerprint(key)
    items = [i for i in items if key_fingerprint(i["key"]) != fp]
    items.append({"name": user, "key": key, "tenants": sorted(set(tenants))})
    with open(path + ".tmp", "w") as fh:
        json.dump(items, fh, indent=2, sort_keys=True)
    os.chmod(path + ".tmp", 0o644)
    os.replace(path + ".tmp", path)
    say(fp)
    cmd_sync_keys(cfg)


def cmd_sync_keys(cfg):
    """authorized_keys from the pusher files; prints 'changed' when it rewrote the file."""
    text = render_authorized_keys(load_pushers(cfg["pusher_files"]), cfg["program"])
    path = cfg["authorized_keys"]
    try:
        with open(path) as fh:
            if fh.read() == text:
                say("unchanged")
                return
    except FileNotFoundError:
        pass
    with open(path + ".tmp", "w") as fh:
        fh.write(text)
    os.chmod(path + ".tmp", 0o600)
    shutil.chown(path + ".tmp", cfg["user"], cfg["user"])
    os.replace(path + ".tmp", path)
    say("changed")


def cmd_authorized_keys(cfg, user, out=None):
    """sshd's AuthorizedKeysCommand: the forced-command lines of the pushers the tenants' records list.

    Keys from the pusher files are in authorized_keys already (sync-keys)."""
    if user != cfg["user"]:
        return
    # Run for every key offered at login: a short wait when ZooKeeper does not answer (the
    # keys in authorized_keys still work; the tenants' keys are refused until it answers).
    try:
        with tenant_store(cfg, timeout=cfg.get("keys_zk_timeout", 3)) as store:
            records = store.records()
    except Refused as exc:
        log("authorized-keys: %s" % exc)
        raise
    out = out or sys.stdout
    out.write(render_authorized_keys(record_pushers(records), cfg["program"]))
    out.flush()


def cmd_prune(cfg):
    """Remove the repositories of tenants that no longer exist in ZooKeeper; prints 'changed' if any.
    Nothing is removed unless the tenants' path itself was read."""
    if not os.path.isdir(cfg["repos_dir"]) or not os.listdir(cfg["repos_dir"]):
        say("unchanged")
        return
    with tenant_store(cfg) as store:
        existing = set(store.tenants(strict=True))
    gone = []
    for name in sorted(os.listdir(cfg["repos_dir"])):
        path = os.path.join(cfg["repos_dir"], name)
        if os.path.isdir(path) and name not in existing:
            shutil.rmtree(path)
            gone.append(name)
    for name in gone:
        say("removed the repositories of tenant %s (no longer in ZooKeeper)" % name)
    say("changed" if gone else "unchanged")


USAGE = __doc__.split("\n\n")[1]


def main(argv):
    OUT[0] = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", line_buffering=True)
    prog = os.path.basename(argv[0])
    args = argv[1:]
    try:
        # authorized-keys runs as an unprivileged user with a configuration of its own (the
        # ZooKeeper settings only), named on its command line.
        keys_config = args[2] if args[:1] == ["authorized-keys"] and len(args) == 3 else None
        cfg = load_config(keys_config or CONFIG)
        cfg.setdefault("program", os.path.abspath(argv[0]) if prog != "pre-receive" else "/usr/local/bin/gitreceive")
        if prog == "pre-receive":
            return cmd_hook(cfg) or 0
        if args[:1] == ["run"] and len(args) == 3:
            OUT[0] = sys.stderr
            cmd_run(cfg, args[1], args[2])
        elif args[:1] == ["hook"]:
            return cmd_hook(cfg) or 0
        elif args[:1] == ["receive"] and len(args) in (5, 6):
            cmd_receive(cfg, *args[1:])
        elif args[:1] == ["upload-key"] and len(args) >= 2:
            cmd_upload_key(cfg, args[1], args[2:])
        elif args[:1] == ["sync-keys"] and len(args) == 1:
            cmd_sync_keys(cfg)
        elif args[:1] == ["authorized-keys"] and len(args) in (2, 3):
            # stdout is read by sshd as key lines; messages go to syslog (sshd discards stderr)
            keys_out, OUT[0] = OUT[0], sys.stderr
            cmd_authorized_keys(cfg, args[1], keys_out)
        elif args[:1] == ["prune"] and len(args) == 1:
            cmd_prune(cfg)
        else:
            sys.stderr.write(USAGE + "\n")
            return 2
    except Refused as exc:
        say("!!!!!> %s" % exc)
        return 1
    except ValueError as exc:
        say("!!!!!> %s" % exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
