"""Mesos resources and attributes: parsing (text and JSON) and arithmetic.

Resources are kept in the v1 JSON shape the APIs use::

    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 2.0}, "role": "*"}
    {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 32000}]}, "role": "*"}
    {"name": "disks", "type": "SET", "set": {"item": ["a", "b"]}, "role": "*"}

Statically reserved resources (``name(role):value``) additionally carry
``"reservations": [{"type": "STATIC", "role": role}]``.
"""
import json
import re

_NAME_RE = re.compile(r"^([^()]+?)(?:\(([^()]*)\))?$")
_TEXT_RE = re.compile(r"^[A-Za-z0-9_/.\-]+$")


class ResourceError(ValueError):
    pass


def _fixed(v):
    # Mesos uses fixed point arithmetic with three decimal digits for scalars.
    return round(float(v) * 1000.0) / 1000.0


# ---------------------------------------------------------------------------
# Values


def parse_ranges(text):
    t = text.strip()
    if not (t.startswith("[") and t.endswith("]")):
        raise ResourceError("Expecting ranges to be surrounded by '[' and ']' in '%s'" % text)
    inner = t[1:-1].strip()
    out = []
    if not inner:
        return out
    for part in inner.split(","):
        part = part.strip()
        m = re.match(r"^(\d+)\s*-\s*(\d+)$", part)
        if not m:
            m1 = re.match(r"^(\d+)$", part)
            if not m1:
                raise ResourceError("Expecting range like 'a-b' in '%s'" % text)
            b = e = int(m1.group(1))
        else:
            b, e = int(m.group(1)), int(m.group(2))
        if e < b:
            raise ResourceError("Range '%s' has begin greater than end" % part)
        out.append((b, e))
    return normalize_ranges(out)


def normalize_ranges(ranges):
    rs = sorted((int(b), int(e)) for b, e in ranges)
    out = []
    for b, e in rs:
        if out and b <= out[-1][1] + 1:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((b, e))
    return out


def subtract_ranges(a, b):
    out = []
    for (ab, ae) in normalize_ranges(a):
        segments = [(ab, ae)]
        for (bb, be) in normalize_ranges(b):
            nxt = []
            for (sb, se) in segments:
                if be < sb or bb > se:
                    nxt.append((sb, se))
                    continue
                if bb > sb:
                    nxt.append((sb, bb - 1))
                if be < se:
                    nxt.append((be + 1, se))
            segments = nxt
        out.extend(segments)
    return normalize_ranges(out)


def ranges_contain(outer, inner):
    return not subtract_ranges(inner, outer)


def ranges_size(ranges):
    return sum(e - b + 1 for b, e in ranges)


def format_ranges(ranges):
    return "[" + ", ".join("%d-%d" % (b, e) for b, e in ranges) + "]"


def parse_set(text):
    t = text.strip()
    if not (t.startswith("{") and t.endswith("}")):
        raise ResourceError("Expecting set to be surrounded by '{' and '}' in '%s'" % text)
    items = [x.strip() for x in t[1:-1].split(",") if x.strip()]
    return sorted(set(items))


def parse_value(text):
    """Returns (type, value) for a Mesos value string."""
    t = text.strip()
    if t.startswith("["):
        return "RANGES", parse_ranges(t)
    if t.startswith("{"):
        return "SET", parse_set(t)
    try:
        f = float(t)
        if f != f or f in (float("inf"), float("-inf")):
            raise ValueError
        return "SCALAR", f
    except ValueError:
        pass
    if not _TEXT_RE.match(t):
        raise ResourceError("Failed to parse value '%s'" % text)
    return "TEXT", t


def format_scalar(v):
    v = _fixed(v)
    if float(v).is_integer():
        return "%d" % int(v)
    return ("%.3f" % v).rstrip("0").rstrip(".")


# ---------------------------------------------------------------------------
# Resources


def make_scalar(name, value, role="*"):
    r = {"name": name, "type": "SCALAR", "scalar": {"value": _fixed(value)}, "role": role}
    if role != "*":
        r["reservations"] = [{"type": "STATIC", "role": role}]
    return r


def make_ranges(name, ranges, role="*"):
    r = {"name": name, "type": "RANGES",
         "ranges": {"range": [{"begin": b, "end": e} for b, e in normalize_ranges(ranges)]}, "role": role}
    if role != "*":
        r["reservations"] = [{"type": "STATIC", "role": role}]
    return r


def make_set(name, items, role="*"):
    r = {"name": name, "type": "SET", "set": {"item": sorted(set(items))}, "role": role}
    if role != "*":
        r["reservations"] = [{"type": "STATIC", "role": role}]
    return r


def resource_role(r):
    if r.get("reservations"):
        return r["reservations"][-1].get("role", "*")
    return r.get("role") or "*"


def _validate_role(role):
    if role in ("", ".", "..") or role.startswith("-") or re.search(r"[/\\\s]", role):
        raise ResourceError("Invalid role name '%s'" % role)


def parse_resources(text, default_role="*"):
    """Parse the --resources flag (text or JSON) into a list of resources."""
    if text is None:
        return []
    t = text.strip()
    if not t:
        return []
    if t.startswith("["):
        try:
            items = json.loads(t)
        except ValueError as exc:
            raise ResourceError("Failed to parse JSON resources: %s" % exc)
        return [normalize_json_resource(i, default_role) for i in items]
    out = []
    for token in t.split(";"):
        token = token.strip()
        if not token:
            continue
        if ":" not in token:
            raise ResourceError("Failed to parse resource '%s': expecting 'name:value'" % token)
        key, _, value = token.partition(":")
        m = _NAME_RE.match(key.strip())
        if not m or not m.group(1).strip():
            raise ResourceError("Failed to parse resource '%s': bad name" % token)
        name = m.group(1).strip()
        role = m.group(2) if m.group(2) is not None else default_role
        _validate_role(role)
        try:
            vtype, val = parse_value(value)
        except ResourceError as exc:
            raise ResourceError("Bad value for resource %s value %s: %s" % (name, value, exc))
        if vtype == "TEXT":
            raise ResourceError("Bad value for resource %s value %s type TEXT" % (name, value))
        if vtype == "SCALAR":
            if val < 0:
                raise ResourceError("Negative value for resource %s" % name)
            out.append(make_scalar(name, val, role))
        elif vtype == "RANGES":
            out.append(make_ranges(name, val, role))
        else:
            out.append(make_set(name, val, role))
    return out


def normalize_json_resource(item, default_role="*"):
    if not isinstance(item, dict) or "name" not in item:
        raise ResourceError("Invalid JSON resource %s" % json.dumps(item))
    name = item["name"]
    rtype = item.get("type")
    role = item.get("role")
    if item.get("reservations"):
        role = item["reservations"][-1].get("role", role)
    role = role or default_role
    _validate_role(role)
    if rtype == "SCALAR" or (rtype is None and "scalar" in item):
        try:
            value = float(item["scalar"]["value"])
        except (KeyError, TypeError, ValueError):
            raise ResourceError("Invalid scalar resource %s" % json.dumps(item))
        if value < 0:
            raise ResourceError("Negative value for resource %s" % name)
        r = make_scalar(name, value, role)
    elif rtype == "RANGES" or (rtype is None and "ranges" in item):
        try:
            rngs = [(int(x["begin"]), int(x["end"])) for x in item["ranges"].get("range", [])]
        except (KeyError, TypeError, ValueError):
            raise ResourceError("Invalid ranges resource %s" % json.dumps(item))
        r = make_ranges(name, rngs, role)
    elif rtype == "SET" or (rtype is None and "set" in item):
        r = make_set(name, item.get("set", {}).get("item", []), role)
    else:
        raise ResourceError("Unsupported resource type for %s" % json.dumps(item))
    if item.get("reservations"):
        r["reservations"] = item["reservations"]
    return r


class Resources:
    """A bag of resources keyed by (name, role)."""

    def __init__(self, items=None):
        self.scalars = {}
        self.ranges = {}
        self.sets = {}
        for r in items or []:
            self.add_resource(r)

    def copy(self):
        c = Resources()
        c.scalars = dict(self.scalars)
        c.ranges = {k: list(v) for k, v in self.ranges.items()}
        c.sets = {k: set(v) for k, v in self.sets.items()}
        return c

    def add_resource(self, r):
        key = (r["name"], resource_role(r))
        t = r.get("type")
        if t == "SCALAR":
            self.scalars[key] = _fixed(self.scalars.get(key, 0.0) + float(r["scalar"]["value"]))
        elif t == "RANGES":
            rs = [(x["begin"], x["end"]) for x in r.get("ranges", {}).get("range", [])]
            self.ranges[key] = normalize_ranges(self.ranges.get(key, []) + rs)
        elif t == "SET":
            self.sets[key] = set(self.sets.get(key, set())) | set(r.get("set", {}).get("item", []))

    def __add__(self, other):
        c = self.copy()
        for k, v in other.scalars.items():
            c.scalars[k] = _fixed(c.scalars.get(k, 0.0) + v)
        for k, v in other.ranges.items():
            c.ranges[k] = normalize_ranges(c.ranges.get(k, []) + list(v))
        for k, v in other.sets.items():
            c.sets[k] = set(c.sets.get(k, set())) | set(v)
        return c

    def __sub__(self, other):
        c = self.copy()
        for k, v in other.scalars.items():
            if k in c.scalars:
                c.scalars[k] = max(0.0, _fixed(c.scalars[k] - v))
        for k, v in other.ranges.items():
            if k in c.ranges:
                c.ranges[k] = subtract_ranges(c.ranges[k], v)
        for k, v in other.sets.items():
            if k in c.sets:
                c.sets[k] = set(c.sets[k]) - set(v)
        return c

    def contains(self, other):
        for k, v in other.scalars.items():
            if v > 0 and self.scalars.get(k, 0.0) + 1e-9 < v:
                return False
        for k, v in other.ranges.items():
            if v and not ranges_contain(self.ranges.get(k, []), v):
                return False
        for k, v in other.sets.items():
            if not set(v) <= set(self.sets.get(k, set())):
                return False
        return True

    def filter_roles(self, roles):
        """Only resources whose role is in ``roles``."""
        c = Resources()
        c.scalars = {k: v for k, v in self.scalars.items() if k[1] in roles}
        c.ranges = {k: list(v) for k, v in self.ranges.items() if k[1] in roles}
        c.sets = {k: set(v) for k, v in self.sets.items() if k[1] in roles}
        return c

    def scalar(self, name):
        return _fixed(sum(v for (n, _), v in self.scalars.items() if n == name))

    def ranges_of(self, name):
        out = []
        for (n, _), v in self.ranges.items():
            if n == name:
                out.extend(v)
        return normalize_ranges(out)

    def roles(self):
        return sorted({k[1] for k in list(self.scalars) + list(self.ranges) + list(self.sets)})

    def empty(self):
        return (not any(v > 0 for v in self.scalars.values())
                and not any(self.ranges.values()) and not any(self.sets.values()))

    def to_list(self, allocation_role=None):
        out = []
        keys = sorted(set(self.scalars) | set(self.ranges) | set(self.sets))
        for key in keys:
            name, role = key
            if key in self.scalars:
                if self.scalars[key] <= 0:
                    continue
                r = make_scalar(name, self.scalars[key], role)
            elif key in self.ranges:
                if not self.ranges[key]:
                    continue
                r = make_ranges(name, self.ranges[key], role)
            else:
                if not self.sets[key]:
                    continue
                r = make_set(name, self.sets[key], role)
            if allocation_role is not None:
                r["allocation_info"] = {"role": allocation_role}
            out.append(r)
        return out

    def to_v0(self):
        """The object form of /state: {"cpus": 2.0, "mem": ..., "ports": "[31000-32000]"}."""
        out = {"cpus": 0.0, "disk": 0.0, "gpus": 0.0, "mem": 0.0}
        for (name, _), v in self.scalars.items():
            out[name] = _fixed(out.get(name, 0.0) + v)
        names = sorted({k[0] for k in self.ranges})
        for name in names:
            rs = self.ranges_of(name)
            if rs:
                out[name] = format_ranges(rs)
        for (name, _), v in sorted(self.sets.items()):
            if v:
                out[name] = "{" + ",".join(sorted(v)) + "}"
        return out

    def to_v0_by_role(self):
        out = {}
        for role in self.roles():
            if role == "*":
                continue
            out[role] = self.filter_roles({role}).to_v0()
        return out

    def __eq__(self, other):
        if not isinstance(other, Resources):
            return NotImplemented
        a = {k: v for k, v in self.scalars.items() if v > 0}
        b = {k: v for k, v in other.scalars.items() if v > 0}
        ar = {k: v for k, v in self.ranges.items() if v}
        br = {k: v for k, v in other.ranges.items() if v}
        asets = {k: set(v) for k, v in self.sets.items() if v}
        bsets = {k: set(v) for k, v in other.sets.items() if v}
        return a == b and ar == br and asets == bsets

    def __str__(self):
        parts = []
        for key in sorted(set(self.scalars) | set(self.ranges) | set(self.sets)):
            name, role = key
            label = name if role == "*" else "%s(%s)" % (name, role)
            if key in self.scalars:
                parts.append("%s:%s" % (label, format_scalar(self.scalars[key])))
            elif key in self.ranges:
                parts.append("%s:%s" % (label, format_ranges(self.ranges[key])))
            else:
                parts.append("%s:{%s}" % (label, ",".join(sorted(self.sets[key]))))
        return "; ".join(parts)


# ---------------------------------------------------------------------------
# Attributes


def parse_attributes(text):
    if text is None:
        return []
    out = []
    for token in text.split(";"):
        token = token.strip()
        if not token:
            continue
        parts = token.split(":", 1)
        if len(parts) != 2 or not parts[0].strip():
            raise ResourceError("Invalid attribute key:value pair '%s'" % token)
        name, value = parts[0].strip(), parts[1].strip()
        try:
            vtype, val = parse_value(value)
        except ResourceError:
            vtype, val = "TEXT", value
        out.append(make_attribute(name, vtype, val))
    return out


def make_attribute(name, vtype, val):
    if vtype == "SCALAR":
        return {"name": name, "type": "SCALAR", "scalar": {"value": _fixed(val)}}
    if vtype == "RANGES":
        return {"name": name, "type": "RANGES", "ranges": {"range": [{"begin": b, "end": e} for b, e in val]}}
    if vtype == "SET":
        return {"name": name, "type": "SET", "set": {"item": list(val)}}
    return {"name": name, "type": "TEXT", "text": {"value": val}}


def attribute_value_string(attr):
    t = attr.get("type")
    if t == "SCALAR":
        return format_scalar(attr["scalar"]["value"])
    if t == "RANGES":
        return format_ranges([(r["begin"], r["end"]) for r in attr["ranges"].get("range", [])])
    if t == "SET":
        return "{" + ",".join(attr["set"].get("item", [])) + "}"
    return attr.get("text", {}).get("value", "")


def attributes_v0(attrs):
    """{"rack": "r1", "n": 2.0} object form used by /state."""
    out = {}
    for a in attrs:
        if a.get("type") == "SCALAR":
            out[a["name"]] = a["scalar"]["value"]
        else:
            out[a["name"]] = attribute_value_string(a)
    return out


def attributes_equal(a, b):
    def key(x):
        return sorted((i["name"], i["type"], attribute_value_string(i)) for i in x)
    return key(a) == key(b)


def attribute_is_superset(new, old):
    """additive policy: the new attribute may only extend ranges/sets."""
    if new["type"] != old["type"]:
        return False
    t = old["type"]
    if t == "RANGES":
        return ranges_contain([(r["begin"], r["end"]) for r in new["ranges"].get("range", [])],
                              [(r["begin"], r["end"]) for r in old["ranges"].get("range", [])])
    if t == "SET":
        return set(old["set"].get("item", [])) <= set(new["set"].get("item", []))
    return attribute_value_string(new) == attribute_value_string(old)


def format_attributes(attrs):
    return ";".join("%s:%s" % (a["name"], attribute_value_string(a)) for a in attrs)
