"""Run Ansible modules and playbooks from tests, the way an operator would, and
read their results as data (the json callback)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _env(extra=None):
    env = dict(os.environ)
    # The project's own ansible.cfg (molecule's adds timing callbacks that would
    # write into the JSON output); inventories are passed explicitly.
    env["ANSIBLE_CONFIG"] = os.path.join(ROOT, "ansible.cfg")
    # Project plugins, whatever ansible.cfg is in force (molecule writes its own).
    env["ANSIBLE_LIBRARY"] = os.path.join(ROOT, "library")
    env["ANSIBLE_MODULE_UTILS"] = os.path.join(ROOT, "module_utils")
    env["ANSIBLE_FILTER_PLUGINS"] = os.path.join(ROOT, "filter_plugins")
    env["ANSIBLE_LOOKUP_PLUGINS"] = os.path.join(ROOT, "lookup_plugins")
    env["ANSIBLE_ROLES_PATH"] = os.path.join(ROOT, "roles")
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_NOCOLOR"] = "1"
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    if extra:
        env.update(extra)
    return env


@dataclass
class ModuleRun:
    rc: int
    result: dict
    stdout: str
    stderr: str
    seconds: float

    @property
    def failed(self):
        return bool(self.result.get("failed")) or self.rc not in (0, 2) and not self.result

    @property
    def changed(self):
        return bool(self.result.get("changed"))

    @property
    def msg(self):
        return str(self.result.get("msg", ""))


def run_module(module, args, check=False, diff=False, extra_env=None):
    """Run one module on the controller (localhost) with the json callback."""
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-i", "localhost,",
           "-c", "local", "-m", module, "-a", json.dumps(args),
           "-e", "ansible_python_interpreter=%s" % sys.executable]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    env = _env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"})
    if extra_env:
        env.update(extra_env)
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.monotonic() - start
    try:
        data = json.loads(proc.stdout)
        result = data["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible did not return a JSON result (rc=%d):\n%s\n%s"
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return ModuleRun(proc.returncode, result, proc.stdout, proc.stderr, seconds)


@dataclass
class PlaybookRun:
    rc: int
    stats: dict
    output: str
    seconds: float

    def changed(self, host=None):
        hosts = [host] if host else list(self.stats)
        return sum(self.stats[h].get("changed", 0) for h in hosts)

    def failed(self):
        return sum(self.stats[h].get("failures", 0) + self.stats[h].get("unreachable", 0) for h in self.stats)

    def ran_tasks(self, host):
        """Names of the tasks that ran on host (not skipped), from the json callback's output."""
        data = json.loads(self.output[self.output.index("{"):self.output.rindex("}") + 1])
        names = []
        for play in data.get("plays", []):
            for task in play.get("tasks", []):
                result = task.get("hosts", {}).get(host)
                if result is not None and not result.get("skipped"):
                    names.append(task["task"]["name"])
        return names


def run_playbook(playbook, inventory=None, extra_vars=None, limit=None, check=False, extra_env=None,
                 timeout=1800, extra_args=()):
    """Run a playbook with the json callback; returns per-host stats and the raw output."""
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), playbook]
    if inventory:
        cmd += ["-i", inventory]
    for key, value in (extra_vars or {}).items():
        cmd += ["-e", json.dumps({key: value})]
    if limit:
        cmd += ["--limit", limit]
    if check:
        cmd.append("--check")
    cmd += list(extra_args)
    env = _env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"})
    if extra_env:
        env.update(extra_env)
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    seconds = time.monotonic() - start
    try:
        data = json.loads(proc.stdout[proc.stdout.index("{"):])
        stats = data["stats"]
    except (ValueError, KeyError):
        stats = {}
    return PlaybookRun(proc.returncode, stats, proc.stdout + proc.stderr, seconds)


def failed_task_messages(output):
    """The msg of every failed task in a json-callback playbook output."""
    try:
        data = json.loads(output[output.index("{"):output.rindex("}") + 1])
    except ValueError:
        return [output[-2000:]]
    messages = []
    for play in data.get("plays", []):
        for task in play.get("tasks", []):
            for host, res in task.get("hosts", {}).items():
                if res.get("failed") or res.get("unreachable"):
                    messages.append("%s: %s: %s" % (host, task["task"]["name"], res.get("msg", "")))
    return messages
