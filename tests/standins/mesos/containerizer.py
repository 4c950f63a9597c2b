"""Containerizers of the agent stand-in.

* ``docker``: tasks with ``container.type == DOCKER`` run with the host's
  Docker engine through the docker CLI (``docker run -d --name mesos-<id>``).
* ``mesos``: tasks without a container image run as local processes (shell
  command) in a sandbox directory.
"""
import json
import logging
import os
import signal
import subprocess
import time

log = logging.getLogger("containerizer")

LABEL_PREFIX = "mesos."
CPU_SHARES_PER_CPU = 1024
MIN_CPU_SHARES = 2
MIN_MEMORY_MB = 32


class LaunchError(Exception):
    pass


def task_scalar(task_info, name):
    total = 0.0
    for r in task_info.get("resources", []):
        if r.get("name") == name and r.get("type", "SCALAR") == "SCALAR":
            total += float(r.get("scalar", {}).get("value", 0))
    return total


def command_env(command):
    env = {}
    for var in ((command or {}).get("environment") or {}).get("variables", []):
        name = var.get("name")
        if not name:
            continue
        if var.get("type") == "SECRET":
            secret = var.get("secret") or {}
            data = (secret.get("value") or {}).get("data")
            if data is not None:
                import base64
                try:
                    env[name] = base64.b64decode(data).decode("utf-8", "replace")
                except ValueError:
                    env[name] = ""
            continue
        env[name] = var.get("value", "")
    return env


class Docker:
    def __init__(self, binary="docker", config_dir=None, socket_path=None):
        self.binary = binary
        self.config_dir = config_dir
        self.env = None
        if socket_path and socket_path != "/var/run/docker.sock":
            # --docker_socket: point the CLI at another engine socket
            self.env = dict(os.environ, DOCKER_HOST="unix://%s" % socket_path)

    def _cmd(self, args, with_config=False):
        base = [self.binary]
        if with_config and self.config_dir:
            base += ["--config", self.config_dir]
        return base + list(args)

    def run_cli(self, args, timeout=60, with_config=False):
        try:
            proc = subprocess.run(self._cmd(args, with_config), capture_output=True, text=True, timeout=timeout,
                                  env=self.env)
        except FileNotFoundError:
            raise LaunchError("Failed to execute '%s': not found" % self.binary)
        except subprocess.TimeoutExpired:
            raise LaunchError("'docker %s' timed out after %ss" % (args[0], timeout))
        return proc

    def version(self):
        proc = self.run_cli(["version", "--format", "{{.Server.Version}}"], timeout=20)
        if proc.returncode != 0:
            raise LaunchError("Failed to get docker version: %s" % proc.stderr.strip())
        return proc.stdout.strip()

    def image_present(self, image):
        proc = self.run_cli(["image", "inspect", image], timeout=30)
        return proc.returncode == 0

    def pull(self, image, timeout):
        proc = self.run_cli(["pull", image], timeout=timeout, with_config=True)
        if proc.returncode != 0:
            raise LaunchError("Failed to pull image '%s': %s" % (image, (proc.stderr or proc.stdout).strip()))

    def inspect(self, names):
        """name -> inspect JSON for the containers that exist."""
        if not names:
            return {}
        proc = self.run_cli(["inspect", "--type", "container"] + list(names), timeout=30)
        try:
            items = json.loads(proc.stdout or "[]")
        except ValueError:
            items = []
        out = {}
        for item in items or []:
            out[item.get("Name", "").lstrip("/")] = item
        return out

    def list_containers(self, label_filter=None):
        args = ["ps", "-a", "--no-trunc", "--format", "{{.Names}}"]
        if label_filter:
            args += ["--filter", "label=%s" % label_filter]
        proc = self.run_cli(args, timeout=30)
        if proc.returncode != 0:
            raise LaunchError("docker ps failed: %s" % proc.stderr.strip())
        return [n.strip() for n in proc.stdout.splitlines() if n.strip()]

    def stop(self, name, grace_secs):
        self.run_cli(["stop", "-t", str(max(0, int(grace_secs))), name], timeout=grace_secs + 30)

    def rm(self, name):
        self.run_cli(["rm", "-f", name], timeout=60)


class DockerContainerizer:
    name = "docker"

    def __init__(self, agent):
        self.agent = agent
        flags = agent.flags
        config_dir = None
        if flags.get("docker_config") is not None:
            config_dir = os.path.join(flags.work_dir, "docker-config")
            os.makedirs(config_dir, exist_ok=True)
            path = os.path.join(config_dir, "config.json")
            with open(path, "w") as fh:
                json.dump(flags.docker_config, fh)
            os.chmod(path, 0o600)
        self.docker = Docker(flags.docker, config_dir, flags.docker_socket)

    def container_name(self, container_id):
        return "mesos-%s" % container_id

    def build_run_args(self, task, env, sandbox):
        """The ``docker run`` argument vector for a task (without the binary)."""
        info = task.info
        container = info.get("container") or {}
        docker = dict(container.get("docker") or {})
        mesos_image = ((container.get("mesos") or {}).get("image") or {})
        if not docker.get("image") and (mesos_image.get("docker") or {}).get("name"):
            # a MESOS container with a docker image (Universal Containerizer): run it with the engine
            docker["image"] = mesos_image["docker"]["name"]
            docker["force_pull_image"] = not mesos_image.get("cached", True)
        image = docker.get("image")
        if not image:
            raise LaunchError("No docker image specified for task %s" % task.task_id)
        flags = self.agent.flags
        name = self.container_name(task.container_id)
        args = ["run", "-d", "--name", name]
        labels = {
            LABEL_PREFIX + "task_id": task.task_id,
            LABEL_PREFIX + "framework_id": task.framework_id,
            LABEL_PREFIX + "agent_id": self.agent.agent_id or "",
            LABEL_PREFIX + "container_id": task.container_id,
            LABEL_PREFIX + "work_dir": self.agent.work_dir,
            LABEL_PREFIX + "hostname": self.agent.hostname,
        }
        for lbl in ((info.get("labels") or {}).get("labels") or []):
            if lbl.get("key"):
                labels[lbl["key"]] = lbl.get("value", "")
        for k in sorted(labels):
            args += ["--label", "%s=%s" % (k, labels[k])]
        cpus = task_scalar(info, "cpus")
        if cpus > 0:
            args += ["--cpu-shares", str(max(MIN_CPU_SHARES, int(cpus * CPU_SHARES_PER_CPU)))]
        mem = task_scalar(info, "mem")
        if mem > 0:
            args += ["--memory", str(int(max(MIN_MEMORY_MB, mem) * 1024 * 1024))]
        for k in sorted(env):
            args += ["-e", "%s=%s" % (k, env[k])]
        args += ["-v", "%s:%s" % (sandbox, flags.sandbox_directory)]
        for vol in container.get("volumes", []) or []:
            cpath = vol.get("container_path")
            hpath = vol.get("host_path")
            if not cpath or not hpath:
                continue
            if not os.path.isabs(hpath):
                hpath = os.path.join(sandbox, hpath)
            mode = "ro" if vol.get("mode") == "RO" else "rw"
            args += ["-v", "%s:%s:%s" % (hpath, cpath, mode)]
        network = (docker.get("network") or "HOST").upper()
        if network == "HOST":
            args += ["--net", "host"]
        elif network == "BRIDGE":
            args += ["--net", "bridge"]
            for pm in docker.get("port_mappings", []) or []:
                protos = (pm.get("protocol") or "tcp").lower().split(",")
                for proto in protos:
                    args += ["-p", "%d:%d/%s" % (int(pm["host_port"]), int(pm["container_port"]), proto.strip())]
        elif network == "NONE":
            args += ["--net", "none"]
        elif network == "USER":
            nets = [n.get("name") for n in container.get("network_infos", []) or [] if n.get("name")]
            if not nets:
                raise LaunchError("No network name specified for USER network mode")
            args += ["--net", nets[0]]
            for pm in docker.get("port_mappings", []) or []:
                args += ["-p", "%d:%d/%s" % (int(pm["host_port"]), int(pm["container_port"]),
                                             (pm.get("protocol") or "tcp").lower())]
        else:
            raise LaunchError("Unsupported docker network mode %s" % network)
        if docker.get("privileged"):
            args += ["--privileged"]
        for p in docker.get("parameters", []) or []:
            key = p.get("key")
            if key:
                args += ["--%s=%s" % (key, p.get("value", ""))]
        hostname = container.get("hostname")
        if hostname and network != "HOST":
            args += ["--hostname", hostname]
        command = info.get("command") or {}
        shell = command.get("shell", True)
        if shell:
            if not command.get("value"):
                raise LaunchError("Shell specified but no command value provided")
            args += ["--entrypoint", "/bin/sh", image, "-c", command["value"]]
        else:
            args += [image]
            if command.get("value"):
                args.append(command["value"])
            args += list(command.get("arguments") or [])
        return args

    def launch(self, task, env, sandbox, deadline):
        info = task.info
        container = info.get("container") or {}
        docker_info = container.get("docker") or {}
        mesos_image = ((container.get("mesos") or {}).get("image") or {})
        image = docker_info.get("image") or (mesos_image.get("docker") or {}).get("name")
        d = self.docker
        force = bool(docker_info.get("force_pull_image")) or (bool(mesos_image) and not mesos_image.get("cached", True))
        remaining = deadline - time.time()
        if remaining <= 0:
            raise LaunchError("Executor registration timed out")
        if force or not d.image_present(image):
            log.info("Pulling docker image '%s' for task %s", image, task.task_id)
            try:
                d.pull(image, timeout=max(1.0, deadline - time.time()))
            except LaunchError as exc:
                if "timed out" in str(exc):
                    raise LaunchError("Container did not start within the executor registration timeout "
                                      "(%s): image pull timed out" % self.agent.flags.executor_registration_timeout)
                if force and d.image_present(image):
                    log.warning("%s; using the local image", exc)
                else:
                    raise
        args = self.build_run_args(task, env, sandbox)
        name = self.container_name(task.container_id)
        # a stale container with the same name would make 'docker run' fail
        d.run_cli(["rm", "-f", name], timeout=60)
        proc = d.run_cli(args, timeout=max(10.0, deadline - time.time() + 30))
        if proc.returncode != 0:
            raise LaunchError("Failed to run docker container: %s" % (proc.stderr or proc.stdout).strip())
        task.container_name = name
        insp = d.inspect([name]).get(name) or {}
        ip = None
        nets = ((insp.get("NetworkSettings") or {}).get("Networks") or {})
        for net in nets.values():
            if net.get("IPAddress"):
                ip = net["IPAddress"]
                break
        task.container_ip = ip
        task.docker_pid = (insp.get("State") or {}).get("Pid")
        return name

    def poll(self, tasks):
        """tasks -> {task_id: (exit_code or None if vanished, error)} for containers that stopped."""
        names = {t.container_name or self.container_name(t.container_id): t for t in tasks}
        info = self.agent.docker_inspect_cache(list(names))
        out = {}
        for name, t in names.items():
            item = info.get(name)
            if item is None:
                out[t.task_id] = (None, "Container %s no longer exists" % name)
                continue
            state = item.get("State") or {}
            if state.get("Running") or state.get("Restarting") or state.get("Status") in ("created",):
                continue
            out[t.task_id] = (int(state.get("ExitCode", -1)), state.get("Error") or "")
        return out

    def kill(self, task, grace_secs):
        name = task.container_name or self.container_name(task.container_id)
        self.docker.stop(name, grace_secs)

    def remove(self, task):
        self.docker.rm(task.container_name or self.container_name(task.container_id))

    def exec_check(self, task, command, timeout):
        name = task.container_name or self.container_name(task.container_id)
        try:
            proc = subprocess.run([self.docker.binary, "exec", name, "/bin/sh", "-c", command],
                                  capture_output=True, timeout=timeout, env=self.docker.env)
            return proc.returncode == 0
        except (subprocess.TimeoutExpired, OSError):
            return False


class MesosContainerizer:
    """Runs the task's command as a local process in its sandbox."""

    name = "mesos"

    def __init__(self, agent):
        self.agent = agent

    def launch(self, task, env, sandbox, deadline):
        info = task.info
        command = info.get("command") or {}
        full_env = dict(os.environ)
        for k in list(full_env):
            if k.startswith("MESOS_") or k.startswith("LIBPROCESS_"):
                del full_env[k]
        full_env.update(env)
        full_env["MESOS_SANDBOX"] = sandbox
        full_env["MESOS_DIRECTORY"] = sandbox
        if command.get("shell", True):
            if not command.get("value"):
                raise LaunchError("Shell specified but no command value provided")
            argv = ["/bin/sh", "-c", command["value"]]
        else:
            if not command.get("value"):
                raise LaunchError("Missing command value")
            args = list(command.get("arguments") or [])
            argv = [command["value"]] + (args[1:] if args else [])
        stdout = open(os.path.join(sandbox, "stdout"), "ab")
        stderr = open(os.path.join(sandbox, "stderr"), "ab")
        try:
            proc = subprocess.Popen(argv, cwd=sandbox, env=full_env, stdout=stdout, stderr=stderr,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise LaunchError("Failed to launch command: %s" % exc)
        finally:
            stdout.close()
            stderr.close()
        task.proc = proc
        task.pid = proc.pid
        task.container_ip = None
        return str(proc.pid)

    def poll(self, tasks):
        out = {}
        for t in tasks:
            if t.proc is not None:
                rc = t.proc.poll()
                if rc is not None:
                    out[t.task_id] = (rc if rc >= 0 else 128 - rc, "")
            elif t.pid:
                if not _pid_alive(t.pid):
                    out[t.task_id] = (None, "Process %d exited while the agent was not running" % t.pid)
            else:
                out[t.task_id] = (None, "No process")
        return out

    def kill(self, task, grace_secs):
        pid = task.pid
        if not pid:
            return
        try:
            os.killpg(pid, signal.SIGTERM)
        except OSError:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                return
        deadline = time.time() + max(0.0, grace_secs)
        while time.time() < deadline:
            if task.proc is not None and task.proc.poll() is not None:
                return
            if task.proc is None and not _pid_alive(pid):
                return
            time.sleep(0.1)
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def remove(self, task):
        pass

    def exec_check(self, task, command, timeout):
        try:
            proc = subprocess.run(["/bin/sh", "-c", command], cwd=task.sandbox, capture_output=True,
                                  timeout=timeout)
            return proc.returncode == 0
        except (subprocess.TimeoutExpired, OSError):
            return False


def _pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as fh:
            fields = fh.read().rsplit(")", 1)[-1].split()
        return fields and fields[0] != "Z"
    except OSError:
        return False
