"""Offer matching: placement constraints, roles, resources and ports (pure functions)."""
import collections
import random
import re

REASONS = [
    "UnfulfilledRole", "UnfulfilledConstraint", "NoCorrespondingReservationFound", "AgentMaintenance",
    "InsufficientCpus", "InsufficientMemory", "InsufficientDisk", "InsufficientGpus", "InsufficientPorts",
    "DeclinedScarceResources",
]


# ---------------------------------------------------------------------------
# attribute values (as Marathon's Constraints.getValueString)


def format_number(v):
    """java.text.NumberFormat.getInstance.format(double) for the en locale."""
    v = float(v)
    text = "{:,.3f}".format(v).rstrip("0").rstrip(".")
    return text if text not in ("-0",) else "0"


def attr_value_string(attr):
    t = attr.get("type")
    if t == "SCALAR":
        return format_number(attr["scalar"]["value"])
    if t == "RANGES":
        rs = sorted((r["begin"], r["end"]) for r in attr.get("ranges", {}).get("range", []))
        return "[" + ",".join("%d-%d" % r for r in rs) + "]"
    if t == "SET":
        return "{" + ",".join(sorted(attr.get("set", {}).get("item", []))) + "}"
    return (attr.get("text") or {}).get("value", "")


def field_value(field, hostname, attributes, region=None, zone=None):
    if field in ("hostname", "@hostname"):
        return hostname
    if field == "@region":
        return region
    if field == "@zone":
        return zone
    for a in attributes or []:
        if a.get("name") == field:
            return attr_value_string(a)
    return None


def _int(value, default=0):
    if value == "inf":
        return 2 ** 31 - 1
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def meets_constraint(constraint, hostname, attributes, placed, region=None, zone=None):
    """``placed``: [(hostname, attributes)] of the app's other active instances."""
    field, op = constraint[0], constraint[1]
    value = constraint[2] if len(constraint) > 2 else ""
    offer_value = field_value(field, hostname, attributes, region, zone)
    if offer_value is None:
        return op == "UNLIKE"
    values = [field_value(field, h, a) for h, a in placed]
    if op == "UNIQUE":
        return offer_value not in values
    if op == "CLUSTER":
        return (not value or offer_value == value) and all(v == offer_value for v in values)
    if op == "LIKE":
        return bool(value) and re.fullmatch(value, offer_value) is not None
    if op == "UNLIKE":
        return bool(value) and re.fullmatch(value, offer_value) is None
    if op == "GROUP_BY":
        minimum = max(0, _int(value, 0))
        groups = collections.Counter(values)
        if offer_value in groups:
            return len(groups) >= minimum and groups[offer_value] == min(groups.values())
        return True
    if op == "MAX_PER":
        return sum(1 for v in values if v == offer_value) < _int(value, 0)
    if op == "IS":
        if offer_value == value:
            return True
        try:
            return float(offer_value.replace(",", "")) == float(value)
        except ValueError:
            return False
    return False


def meets_all(constraints, hostname, attributes, placed, region=None, zone=None):
    return all(meets_constraint(c, hostname, attributes, placed, region, zone) for c in constraints or [])


def select_kills(app, instances, count):
    """Which instances to kill when scaling down (killSelection; GROUP_BY keeps the spread even)."""
    ordered = sorted(instances, key=lambda i: i.get("stagedAt") or "",
                     reverse=(app.get("killSelection", "YOUNGEST_FIRST") == "YOUNGEST_FIRST"))
    group_by = [c for c in app.get("constraints") or [] if c[1] == "GROUP_BY"]
    if not group_by:
        return ordered[:count]
    chosen = []
    remaining = list(ordered)
    field = group_by[0][0]
    while len(chosen) < count and remaining:
        counts = collections.Counter(field_value(field, i.get("host"), i.get("attributes")) for i in remaining)
        biggest = max(counts.values())
        pick = next(i for i in remaining
                    if counts[field_value(field, i.get("host"), i.get("attributes"))] == biggest)
        chosen.append(pick)
        remaining.remove(pick)
    return chosen


# ---------------------------------------------------------------------------
# resources


def resource_role(r):
    if r.get("reservations"):
        return r["reservations"][-1].get("role", "*")
    return r.get("role") or "*"


class OfferPool:
    """Mutable view of one offer's resources while tasks are matched against it."""

    def __init__(self, offer):
        self.offer = offer
        self.alloc_role = (offer.get("allocation_info") or {}).get("role") or "*"
        self.scalars = collections.defaultdict(float)   # (name, role) -> amount
        self.ranges = collections.defaultdict(list)     # (name, role) -> [(b, e)]
        for r in offer.get("resources", []):
            key = (r["name"], resource_role(r))
            if r.get("type") == "SCALAR":
                self.scalars[key] += float(r["scalar"]["value"])
            elif r.get("type") == "RANGES":
                self.ranges[key].extend((x["begin"], x["end"]) for x in r["ranges"].get("range", []))

    @property
    def hostname(self):
        return self.offer.get("hostname")

    def roles(self):
        return {k[1] for k in self.scalars} | {k[1] for k in self.ranges}

    def available(self, name, roles):
        return sum(v for (n, r), v in self.scalars.items() if n == name and r in roles)

    def ports_available(self, roles):
        out = []
        for (n, r), rs in self.ranges.items():
            if n == "ports" and r in roles:
                for b, e in rs:
                    out.extend((p, r) for p in range(b, e + 1))
        return out

    def take_scalar(self, name, amount, roles_order):
        taken = []
        need = round(amount, 6)
        for role in roles_order:
            if need <= 1e-9:
                break
            have = self.scalars.get((name, role), 0.0)
            if have <= 1e-9:
                continue
            t = min(have, need)
            self.scalars[(name, role)] = round(have - t, 6)
            need = round(need - t, 6)
            taken.append((role, round(t, 6)))
        return taken

    def take_port(self, port, role):
        key = ("ports", role)
        out = []
        for b, e in self.ranges[key]:
            if b <= port <= e:
                if b < port:
                    out.append((b, port - 1))
                if port < e:
                    out.append((port + 1, e))
            else:
                out.append((b, e))
        self.ranges[key] = out


def accepted_roles(app, conf_default_roles, framework_role):
    if app.get("acceptedResourceRoles"):
        roles = set(app["acceptedResourceRoles"])
    else:
        roles = set(conf_default_roles)
    return roles & {"*", framework_role}


def required_ports(app):
    """[(requested host port or 0 for any or None for no host port, name, protocol)]"""
    mode = "host"
    nets = app.get("networks") or [{"mode": "host"}]
    if any(n.get("mode") == "container/bridge" for n in nets):
        mode = "bridge"
    elif any(n.get("mode") == "container" for n in nets):
        mode = "container"
    out = []
    if mode == "host":
        for pd in app.get("portDefinitions") or []:
            out.append((pd["port"] if app.get("requirePorts") else 0, pd.get("name"), pd.get("protocol", "tcp")))
    else:
        for pm in ((app.get("container") or {}).get("portMappings") or []):
            out.append((pm.get("hostPort"), pm.get("name"), pm.get("protocol", "tcp")))
    return out


def match(app, pool, placed, roles, maintenance=False, rng=random):
    """Try to fit one instance of ``app`` into ``pool``.

    Returns (allocation or None, reasons). ``allocation``: {"scalars": {name: [(role, amount)]},
    "ports": [(port or None, role)]}; the pool is only modified on success.
    """
    reasons = []
    roles_order = sorted(roles, key=lambda r: (r == "*", r))
    if not any(pool.available(n, roles) > 0 for n in ("cpus", "mem")) and not pool.ports_available(roles):
        reasons.append("UnfulfilledRole")
    attrs = pool.offer.get("attributes", [])
    domain = ((pool.offer.get("domain") or {}).get("fault_domain") or {})
    region = (domain.get("region") or {}).get("name")
    zone = (domain.get("zone") or {}).get("name")
    if not meets_all(app.get("constraints"), pool.hostname, attrs, placed, region, zone):
        reasons.append("UnfulfilledConstraint")
    if maintenance:
        reasons.append("AgentMaintenance")
    need = {"cpus": app.get("cpus", 1.0), "mem": app.get("mem", 128.0), "disk": app.get("disk", 0.0),
            "gpus": float(app.get("gpus", 0))}
    for name, reason in (("cpus", "InsufficientCpus"), ("mem", "InsufficientMemory"),
                         ("disk", "InsufficientDisk"), ("gpus", "InsufficientGpus")):
        if need[name] > 0 and pool.available(name, roles) + 1e-9 < need[name]:
            reasons.append(reason)
    wanted = required_ports(app)
    free = pool.ports_available(roles)
    free_set = {}
    for p, r in free:
        free_set.setdefault(p, r)
    chosen = []
    ok_ports = True
    fixed = [p for p, _, _ in wanted if p]
    for p in fixed:
        if p not in free_set:
            ok_ports = False
    dynamic_needed = sum(1 for p, _, _ in wanted if p == 0)
    pool_dyn = [p for p in free_set if p not in fixed]
    if dynamic_needed > len(pool_dyn):
        ok_ports = False
    if not ok_ports:
        reasons.append("InsufficientPorts")
    if reasons:
        return None, reasons
    dyn = rng.sample(sorted(pool_dyn), dynamic_needed) if dynamic_needed else []
    for p, _, _ in wanted:
        if p is None:
            chosen.append((None, None))
        elif p == 0:
            port = dyn.pop(0)
            chosen.append((port, free_set[port]))
        else:
            chosen.append((p, free_set[p]))
    alloc = {"scalars": {}, "ports": chosen}
    for name in ("cpus", "mem", "disk", "gpus"):
        if need[name] > 0:
            alloc["scalars"][name] = pool.take_scalar(name, need[name], roles_order)
    for port, role in chosen:
        if port is not None:
            pool.take_port(port, role)
    return alloc, []


def allocation_resources(alloc, alloc_role):
    out = []
    for name in ("cpus", "mem", "disk", "gpus"):
        for role, amount in alloc["scalars"].get(name, []):
            r = {"name": name, "type": "SCALAR", "scalar": {"value": amount}, "role": role,
                 "allocation_info": {"role": alloc_role}}
            if role != "*":
                r["reservations"] = [{"type": "STATIC", "role": role}]
            out.append(r)
    by_role = collections.defaultdict(list)
    for port, role in alloc["ports"]:
        if port is not None:
            by_role[role].append(port)
    for role in sorted(by_role):
        r = {"name": "ports", "type": "RANGES",
             "ranges": {"range": [{"begin": p, "end": p} for p in sorted(by_role[role])]},
             "role": role, "allocation_info": {"role": alloc_role}}
        if role != "*":
            r["reservations"] = [{"type": "STATIC", "role": role}]
        out.append(r)
    return out


def reject_summary(reason_lists):
    """rejectSummary*: funnel of processed/declined offers per reason."""
    out = []
    remaining = list(reason_lists)
    for reason in REASONS:
        processed = len(remaining)
        declined = [r for r in remaining if r and r[0] == reason]
        out.append({"reason": reason, "declined": len(declined), "processed": processed})
        remaining = [r for r in remaining if not (r and r[0] == reason)]
    return out
