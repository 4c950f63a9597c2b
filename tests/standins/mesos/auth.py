"""Credentials files (--credentials, --credential, --http_credentials)."""
import json


class CredentialsError(ValueError):
    pass


def _strip_file_scheme(path):
    if path.startswith("file://"):
        return path[len("file://"):]
    return path


def read_credentials(path):
    """principal -> secret. JSON ``{"credentials": [...]}`` or text lines ``principal secret``."""
    path = _strip_file_scheme(path)
    try:
        with open(path) as fh:
            content = fh.read()
    except OSError as exc:
        raise CredentialsError("Failed to read credentials file '%s': %s" % (path, exc.strerror))
    creds = {}
    stripped = content.strip()
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            doc = json.loads(stripped)
        except ValueError as exc:
            raise CredentialsError("Failed to parse credentials file '%s': %s" % (path, exc))
        items = doc.get("credentials", []) if isinstance(doc, dict) else doc
        for item in items:
            if not isinstance(item, dict) or "principal" not in item:
                raise CredentialsError("Invalid credential entry in '%s'" % path)
            creds[item["principal"]] = item.get("secret", "")
        return creds
    for line in content.splitlines():
        line = line.strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise CredentialsError("Invalid credential format in '%s': expecting 'principal secret'" % path)
        creds[parts[0]] = parts[1]
    return creds


def read_credential(path):
    """A single credential (agent --credential): JSON ``{"principal", "secret"}`` or ``principal secret``."""
    path = _strip_file_scheme(path)
    try:
        with open(path) as fh:
            content = fh.read()
    except OSError as exc:
        raise CredentialsError("Failed to read credential file '%s': %s" % (path, exc.strerror))
    stripped = content.strip()
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
        except ValueError as exc:
            raise CredentialsError("Failed to parse credential file '%s': %s" % (path, exc))
        if "principal" not in doc:
            raise CredentialsError("Credential file '%s' has no principal" % path)
        return doc["principal"], doc.get("secret", "")
    lines = [line for line in content.splitlines() if line.strip()]
    if len(lines) != 1 or len(lines[0].split()) != 2:
        raise CredentialsError("Expecting only one credential ('principal secret') in '%s'" % path)
    principal, secret = lines[0].split()
    return principal, secret
