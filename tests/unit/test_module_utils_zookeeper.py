"""Validation and normalisation in module_utils/zookeeper.py (no ZooKeeper needed)."""
import pytest

from module_utils import zookeeper as z


@pytest.mark.parametrize("path", ["/a", "/paas/tenants/acme", "/a-b_c.d/e f", "/zookeeperish", "/ünï"])
def test_valid_paths(path):
    assert z.validate_path(path) == path


@pytest.mark.parametrize("path,fragment", [
    ("", "non-empty"),
    (None, "non-empty"),
    ("relative/path", "absolute"),
    ("/", "root"),
    ("/a/", "end with"),
    ("//a", "empty path segment"),
    ("/a//b", "empty path segment"),
    ("/a/./b", "relative segment"),
    ("/a/../b", "relative segment"),
    ("/.", "relative segment"),
    ("/..", "relative segment"),
    ("/zookeeper", "reserved"),
    ("/zookeeper/quota", "reserved"),
    ("/a\x00b", "U+0000"),
    ("/a\x1fb", "U+001F"),
    ("/a\x7fb", "U+007F"),
    ("/a\ud800b", "U+D800"),
    ("/a\ufff0b", "U+FFF0"),
])
def test_invalid_paths(path, fragment):
    with pytest.raises(z.ZkInputError) as err:
        z.validate_path(path, "path")
    assert str(err.value).startswith("path: ")
    assert fragment in str(err.value)


@pytest.mark.parametrize("key,fragment", [
    ("/abs", "relative"), ("a/", "end with"), ("a//b", "empty"), ("./a", "relative segment"),
    ("a/..", "relative segment"), ("", "non-empty"), ("a\x01", "U+0001"),
])
def test_invalid_relative(key, fragment):
    with pytest.raises(z.ZkInputError) as err:
        z.validate_relative(key, "nodes['%s']" % key)
    assert str(err.value).startswith("nodes[")
    assert fragment in str(err.value)


@pytest.mark.parametrize("perms,expected", [
    ("all", "rwcda"), ("r", "r"), ("ar", "ra"), ("dcwr", "rwcd"), ("rwcda", "rwcda"),
])
def test_perms(perms, expected):
    assert z.normalise_perms(perms, "acl[0].perms") == expected


@pytest.mark.parametrize("perms,fragment", [
    ("", "non-empty"), ("x", "unknown"), ("rwx", "unknown"), ("ALL", "unknown"), ("rr", "repeated"),
    (None, "non-empty"), (7, "non-empty"),
])
def test_bad_perms(perms, fragment):
    with pytest.raises(z.ZkInputError) as err:
        z.normalise_perms(perms, "acl[0].perms")
    assert str(err.value).startswith("acl[0].perms: ")
    assert fragment in str(err.value)


GOOD_DIGEST = "acme:cpmxRVihBCotwoSnniNsYAAIo/s="


def test_parse_acl_normalises():
    acl = z.parse_acl([
        {"scheme": "digest", "id": GOOD_DIGEST, "perms": "all"},
        {"scheme": "world", "id": "anyone", "perms": "ar"},
        {"scheme": "ip", "id": "10.0.0.0/8", "perms": "r"},
        {"scheme": "auth", "id": None, "perms": "rw"},
    ])
    assert acl == [
        {"scheme": "digest", "id": GOOD_DIGEST, "perms": "rwcda"},
        {"scheme": "world", "id": "anyone", "perms": "ra"},
        {"scheme": "ip", "id": "10.0.0.0/8", "perms": "r"},
        {"scheme": "auth", "id": "", "perms": "rw"},
    ]


@pytest.mark.parametrize("entries,field,fragment", [
    ([], "acl", "non-empty"),
    ("digest:x:rw", "acl", "non-empty list"),
    (["world:anyone:r"], "acl[0]", "must be a dict"),
    ([{"scheme": "sasl", "id": "x", "perms": "r"}], "acl[0].scheme", "must be one of"),
    ([{"scheme": None, "id": "x", "perms": "r"}], "acl[0].scheme", "must be one of"),
    ([{"scheme": "world", "id": "everyone", "perms": "r"}], "acl[0].id", "anyone"),
    ([{"scheme": "world", "perms": "r"}], "acl[0].id", "required"),
    ([{"scheme": "digest", "id": "acme", "perms": "r"}], "acl[0].id", "digest id"),
    ([{"scheme": "digest", "id": "acme:password", "perms": "r"}], "acl[0].id", "digest id"),
    ([{"scheme": "digest", "id": "acme:" + "A" * 27, "perms": "r"}], "acl[0].id", "digest id"),
    ([{"scheme": "digest", "id": ":cpmxRVihBCotwoSnniNsYAAIo/s=", "perms": "r"}], "acl[0].id", "digest id"),
    ([{"scheme": "ip", "id": "10.0.0.300", "perms": "r"}], "acl[0].id", "ip id"),
    ([{"scheme": "ip", "id": "10.0.0.0/33", "perms": "r"}], "acl[0].id", "ip id"),
    ([{"scheme": "auth", "id": "acme", "perms": "r"}], "acl[0].id", "empty id"),
    ([{"scheme": "world", "id": "anyone"}], "acl[0].perms", "required"),
    ([{"scheme": "world", "id": "anyone", "perms": "rwx"}], "acl[0].perms", "unknown"),
    ([{"scheme": "world", "id": "anyone", "perms": "r", "extra": 1}], "acl[0]", "unknown key"),
    ([{"scheme": "world", "id": "anyone", "perms": "r"},
      {"scheme": "digest", "id": "bad", "perms": "r"}], "acl[1].id", "digest id"),
])
def test_parse_acl_rejects(entries, field, fragment):
    with pytest.raises(z.ZkInputError) as err:
        z.parse_acl(entries)
    assert err.value.field == field
    assert fragment in str(err.value)


def test_expand_auth_acl_uses_session_credentials():
    acl = z.parse_acl([{"scheme": "auth", "id": "", "perms": "all"},
                       {"scheme": "digest", "id": GOOD_DIGEST, "perms": "all"}])
    expanded = z.expand_acl(acl, [("digest", "acme:pa55word")])
    # auth:acme:pa55word is the same identity as the explicit digest entry: de-duplicated
    assert expanded == [{"scheme": "digest", "id": GOOD_DIGEST, "perms": "rwcda"}]


def test_auth_acl_without_credentials_is_refused():
    with pytest.raises(z.ZkInputError) as err:
        z.expand_acl(z.parse_acl([{"scheme": "auth", "perms": "r"}]), [])
    assert err.value.field == "acl"


@pytest.mark.parametrize("entries,fragment", [
    ("user:pw", "must be a list"),
    ([{"scheme": "sasl", "credential": "u:p"}], "only 'digest'"),
    ([{"scheme": "digest", "credential": "nopassword"}], "user:password"),
    ([{"scheme": "digest", "credential": ":pw"}], "user:password"),
    ([{"scheme": "digest", "credential": "user:"}], "user:password"),
])
def test_parse_auth_rejects_without_echoing(entries, fragment):
    with pytest.raises(z.ZkInputError) as err:
        z.parse_auth(entries)
    assert fragment in str(err.value)
    assert "nopassword" not in str(err.value)


def test_acl_key_ignores_order():
    a = [{"scheme": "world", "id": "anyone", "perms": "r"}, {"scheme": "ip", "id": "1.2.3.4", "perms": "rw"}]
    assert z.acl_key(a) == z.acl_key(list(reversed(a)))


@pytest.mark.parametrize("mask,perms", [(31, "rwcda"), (1, "r"), (17, "ra"), (0, "")])
def test_mask_round_trip(mask, perms):
    assert z.mask_to_perms(mask) == perms
    assert z.perms_to_mask(perms) == mask


@pytest.mark.parametrize("data,text", [(b"abc", "abc"), (b"", ""), (None, ""), ("é".encode(), "é"),
                                       (b"\xff\x00", "<binary 0xff00>")])
def test_to_text(data, text):
    assert z.to_text(data) == text


def test_to_bytes_compares_equal_to_what_zookeeper_returns():
    assert z.to_bytes("acme") == b"acme"
    assert z.to_bytes(None) == b""
