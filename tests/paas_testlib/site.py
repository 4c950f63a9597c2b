"""The whole-site scenario's view of the cluster, shared by its test modules:
addresses come from the scenario's verifier env (PAAS_SITE_*)."""
import json
import os
import subprocess

from paas_testlib import mesos as mh

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pairs(name):
    return dict(item.split("=") for item in os.environ[name].split(","))


class Site:
    masters = _pairs("PAAS_SITE_MASTERS")          # ctl1 -> ip:port
    marathons = _pairs("PAAS_SITE_MARATHONS")      # ctl1 -> ip:port
    agents = _pairs("PAAS_SITE_AGENTS")            # agent1 -> ip:port
    marathon_auth = os.environ.get("PAAS_SITE_MARATHON_AUTH") or None
    operator_auth = os.environ.get("PAAS_SITE_OPERATOR_AUTH") or None
    image = os.environ.get("PAAS_SITE_APP_IMAGE", "paas-test/debian-systemd:bookworm")

    def master_state(self, name):
        return mh.get_json("http://%s/master/state" % self.masters[name])

    def leading_master(self):
        """The name of the one master that says it is elected, or None."""
        elected = []
        for name in self.masters:
            state = self.master_state(name)
            if state and state.get("elected_time"):
                elected.append(name)
        return elected[0] if len(elected) == 1 else None

    def leader_state(self):
        name = self.leading_master()
        return self.master_state(name) if name else None

    def marathon(self, path, method="GET", body=None, name=None, timeout=10.0):
        names = [name] if name else list(self.marathons)
        res = None
        for n in names:
            res = mh.request("http://%s%s" % (self.marathons[n], path), method=method, body=body,
                             auth=self.marathon_auth, timeout=timeout, follow=True)
            if res.status and res.status < 500:
                return res
        return res

    def marathon_leader(self):
        res = self.marathon("/v2/leader")
        if res and res.status == 200:
            leader = res.json.get("leader")
            for n, addr in self.marathons.items():
                if addr == leader:
                    return n
        return None


def docker_exec(name, *cmd, timeout=120, stdin=None):
    return subprocess.run(["docker", "exec"] + (["-i"] if stdin is not None else []) + [name] + list(cmd),
                          capture_output=True, timeout=timeout, stdin=stdin)


def record_timing(name, seconds):
    """Print a measured duration and keep it in build/site-timings.json."""
    root = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.dirname(TESTS))
    path = os.path.join(root, "build", "site-timings.json")
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        data = {}
    data[name] = round(seconds, 1)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    print("TIMING %s: %.1f s" % (name, seconds))
