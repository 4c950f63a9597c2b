# -*- coding: utf-8 -*-
# Shared ZooKeeper helpers for this project's modules and tests:
# path and ACL validation, normalisation (bytes vs str) and a kazoo
# connection that is always stopped and closed.
#
# Validation raises ZkInputError(field, message) so that callers can report the
# offending field before anything is written.

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import logging
import re
from contextlib import contextmanager

try:
    from kazoo.client import KazooClient
    from kazoo.exceptions import KazooException, NoAuthError, NoNodeError, NotEmptyError
    from kazoo.handlers.threading import KazooTimeoutError
    from kazoo.security import ACL, Id
    HAS_KAZOO = True
    KAZOO_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_KAZOO = False
    KAZOO_IMPORT_ERROR = exc
    KazooException = NoAuthError = NoNodeError = NotEmptyError = KazooTimeoutError = Exception

# Argument specs shared by the modules: one ACL entry ({scheme, id, perms}) and the
# session's credentials (auth), in the form acl, parents_acl and auth take them.
ACL_ENTRY_SPEC = dict(
    scheme=dict(type="str", required=True, choices=["digest", "world", "ip", "auth"]),
    id=dict(type="str"),
    perms=dict(type="str", required=True),
)
AUTH_SPEC = dict(type="list", elements="dict", no_log=True, options=dict(
    scheme=dict(type="str", default="digest", choices=["digest"]),
    credential=dict(type="str", required=True, no_log=True),
))

PERM_BITS = {"r": 1, "w": 2, "c": 4, "d": 8, "a": 16}
PERM_ORDER = "rwcda"
ACL_SCHEMES = ("digest", "world", "ip", "auth")

# Characters ZooKeeper's PathUtils.validatePath rejects inside a node name.
_FORBIDDEN_CHARS = re.compile(
    "[\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff]"
)
_DIGEST_ID = re.compile(r"^[^:\s]+:[A-Za-z0-9+/]{27}=$")


class ZkInputError(ValueError):
    """Invalid input, reported with the name of the field it came from."""

    def __init__(self, field, message):
        super(ZkInputError, self).__init__("%s: %s" % (field, message))
        self.field = field


class ZkError(Exception):
    """A ZooKeeper operation failed; the message says which and where."""


def _check_segments(field, segments, value):
    for seg in segments:
        if seg == "":
            raise ZkInputError(field, "empty path segment in %r" % (value,))
        if seg in (".", ".."):
            raise ZkInputError(field, "relative segment %r is not allowed in %r" % (seg, value))
        bad = _FORBIDDEN_CHARS.search(seg)
        if bad:
            raise ZkInputError(field, "character U+%04X is not allowed by ZooKeeper in %r"
                               % (ord(bad.group(0)), value))


def validate_path(path, field="path"):
    """An absolute namespace root: /a/b, not /, not /zookeeper or below."""
    if not isinstance(path, str) or path == "":
        raise ZkInputError(field, "must be a non-empty string")
    if not path.startswith("/"):
        raise ZkInputError(field, "must be absolute (start with '/'), got %r" % (path,))
    if path == "/":
        raise ZkInputError(field, "must not be the root '/' itself")
    if path.endswith("/"):
        raise ZkInputError(field, "must not end with '/', got %r" % (path,))
    segments = path[1:].split("/")
    _check_segments(field, segments, path)
    if segments[0] == "zookeeper":
        raise ZkInputError(field, "/zookeeper and below are reserved by ZooKeeper, got %r" % (path,))
    return path


def validate_relative(key, field):
    """A relative child path below a namespace root: a or a/b."""
    if not isinstance(key, str) or key == "":
        raise ZkInputError(field, "must be a non-empty relative path")
    if key.startswith("/"):
        raise ZkInputError(field, "must be relative (no leading '/'), got %r" % (key,))
    if key.endswith("/"):
        raise ZkInputError(field, "must not end with '/', got %r" % (key,))
    _check_segments(field, key.split("/"), key)
    return key


def normalise_perms(perms, field):
    """'all' or a subset of 'rwcda' (any order) -> canonical 'rwcda'-ordered string."""
    if not isinstance(perms, str) or perms == "":
        raise ZkInputError(field, "must be 'all' or a non-empty subset of 'rwcda'")
    if perms == "all":
        return PERM_ORDER
    unknown = sorted(set(perms) - set(PERM_ORDER))
    if unknown:
        raise ZkInputError(field, "unknown permission letter(s) %s in %r; use a subset of 'rwcda' or 'all'"
                           % (", ".join(repr(u) for u in unknown), perms))
    if len(set(perms)) != len(perms):
        raise ZkInputError(field, "repeated permission letter in %r" % (perms,))
    return "".join(p for p in PERM_ORDER if p in perms)


def perms_to_mask(perms):
    return sum(PERM_BITS[p] for p in perms)


def mask_to_perms(mask):
    return "".join(p for p in PERM_ORDER if mask & PERM_BITS[p])


def digest_id(user, password):
    """ZooKeeper digest scheme id: user:base64(sha1(user:password))."""
    raw = hashlib.sha1(("%s:%s" % (user, password)).encode("utf-8")).digest()
    return "%s:%s" % (user, base64.b64encode(raw).decode("ascii"))


def _validate_acl_id(scheme, ident, field):
    if scheme == "world":
        if ident != "anyone":
            raise ZkInputError(field, "the world scheme only has the id 'anyone', got %r" % (ident,))
    elif scheme == "digest":
        if not isinstance(ident, str) or not _DIGEST_ID.match(ident):
            raise ZkInputError(field, "a digest id must be 'user:base64(sha1(user:password))' "
                                      "(28 base64 characters; see the zk_digest filter), got %r" % (ident,))
        try:
            if len(base64.b64decode(ident.split(":", 1)[1], validate=True)) != 20:
                raise ValueError("not a SHA-1")
        except (binascii.Error, ValueError):
            raise ZkInputError(field, "the digest part of %r is not base64 of a SHA-1 hash" % (ident,))
    elif scheme == "ip":
        try:
            ipaddress.ip_network(ident, strict=False)
        except (TypeError, ValueError):
            raise ZkInputError(field, "an ip id must be an address or address/bits, got %r" % (ident,))
    elif scheme == "auth":
        if ident not in ("", None):
            raise ZkInputError(field, "the auth scheme takes an empty id, got %r" % (ident,))


def parse_acl(entries, field="acl"):
    """Validate a list of {scheme, id, perms}; return normalised dicts."""
    if not isinstance(entries, list) or not entries:
        raise ZkInputError(field, "must be a non-empty list of {scheme, id, perms}")
    result = []
    for index, entry in enumerate(entries):
        where = "%s[%d]" % (field, index)
        if not isinstance(entry, dict):
            raise ZkInputError(where, "must be a dict with scheme, id and perms, got %r" % (entry,))
        unknown = sorted(set(entry) - {"scheme", "id", "perms"})
        if unknown:
            raise ZkInputError(where, "unknown key(s) %s; allowed: scheme, id, perms" % ", ".join(unknown))
        scheme = entry.get("scheme")
        if scheme not in ACL_SCHEMES:
            raise ZkInputError(where + ".scheme", "must be one of %s, got %r" % (", ".join(ACL_SCHEMES), scheme))
        ident = entry.get("id")
        if ident is None and scheme != "auth":
            raise ZkInputError(where + ".id", "is required for the %s scheme" % scheme)
        _validate_acl_id(scheme, ident, where + ".id")
        if entry.get("perms") is None:
            raise ZkInputError(where + ".perms", "is required ('all' or a subset of 'rwcda')")
        perms = normalise_perms(entry.get("perms"), where + ".perms")
        result.append({"scheme": scheme, "id": ident or "", "perms": perms})
    return result


def parse_auth(entries, field="auth"):
    """Validate [{scheme: digest, credential: user:password}] -> [(scheme, credential)]."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ZkInputError(field, "must be a list of {scheme, credential}")
    result = []
    for index, entry in enumerate(entries):
        where = "%s[%d]" % (field, index)
        if not isinstance(entry, dict):
            raise ZkInputError(where, "must be a dict with scheme and credential")
        unknown = sorted(set(entry) - {"scheme", "credential"})
        if unknown:
            raise ZkInputError(where, "unknown key(s) %s; allowed: scheme, credential" % ", ".join(unknown))
        if entry.get("scheme", "digest") != "digest":
            raise ZkInputError(where + ".scheme", "only 'digest' is supported")
        cred = entry.get("credential")
        if not isinstance(cred, str) or ":" not in cred or cred.startswith(":") or cred.endswith(":"):
            # never echo the credential
            raise ZkInputError(where + ".credential", "must be 'user:password'")
        result.append(("digest", cred))
    return result


def expand_acl(acl, auth):
    """Turn 'auth' entries into the digest ids ZooKeeper stores for them."""
    expanded = []
    for entry in acl:
        if entry["scheme"] == "auth":
            if not auth:
                raise ZkInputError("acl", "the 'auth' scheme needs at least one credential in 'auth'")
            for _scheme, cred in auth:
                user, password = cred.split(":", 1)
                expanded.append({"scheme": "digest", "id": digest_id(user, password), "perms": entry["perms"]})
        else:
            expanded.append(dict(entry))
    # ZooKeeper de-duplicates; so do we, keeping order.
    seen, unique = set(), []
    for entry in expanded:
        key = (entry["scheme"], entry["id"], entry["perms"])
        if key not in seen:
            seen.add(key)
            unique.append(entry)
    return unique


def acl_to_kazoo(acl):
    return [ACL(perms_to_mask(e["perms"]), Id(e["scheme"], e["id"])) for e in acl]


def acl_from_kazoo(acls):
    return [{"scheme": a.id.scheme, "id": a.id.id, "perms": mask_to_perms(a.perms)} for a in acls]


def acl_key(acl):
    """An order-independent form for comparing two ACL lists."""
    return sorted((e["scheme"], e["id"], e["perms"]) for e in acl)


def to_bytes(data):
    if data is None:
        return b""
    if isinstance(data, bytes):
        return data
    return str(data).encode("utf-8")


def to_text(data):
    """Node data for display and diff: UTF-8 text, or a hex marker for binary."""
    if data is None:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "<binary 0x%s>" % binascii.hexlify(data).decode("ascii")


def join_path(root, rel):
    return root.rstrip("/") + "/" + rel


@contextmanager
def zk_session(hosts, timeout=10.0, auth=None, read_only=False):
    """A started KazooClient; stopped and closed whatever happens."""
    if not HAS_KAZOO:
        raise ZkError("the kazoo Python library is required: %s" % (KAZOO_IMPORT_ERROR,))
    # kazoo logs connection retries; keep them off the module's output.
    logging.getLogger("kazoo").addHandler(logging.NullHandler())
    logging.getLogger("kazoo").propagate = False
    client = KazooClient(hosts=hosts, timeout=max(float(timeout), 1.0),
                         auth_data=list(auth or []), read_only=read_only,
                         connection_retry={"max_tries": 3, "delay": 0.2, "max_delay": 1},
                         command_retry={"max_tries": 3, "delay": 0.2, "max_delay": 1})
    try:
        try:
            client.start(timeout=float(timeout))
        except KazooTimeoutError:
            raise ZkError("could not connect to ZooKeeper at %s within %s seconds" % (hosts, timeout))
        except (KazooException, ValueError) as exc:
            raise ZkError("could not connect to ZooKeeper at %s: %s" % (hosts, exc))
        yield client
    finally:
        try:
            client.stop()
        finally:
            client.close()


def read_node(client, path):
    """(exists, data bytes, acl list) for one node."""
    try:
        data, _stat = client.get(path)
    except NoNodeError:
        return False, None, None
    except NoAuthError:
        raise ZkError("not authorised to read %s: add a credential that the node's ACL allows to 'auth'" % path)
    acls, _stat = client.get_acls(path)
    return True, data, acl_from_kazoo(acls)


def subtree(client, path):
    """All nodes below and including path, deepest first (the order to delete them)."""
    order = []

    def walk(node):
        try:
            children = client.get_children(node)
        except NoNodeError:
            return
        for child in sorted(children):
            walk(join_path(node, child))
        order.append(node)

    walk(path)
    return order
