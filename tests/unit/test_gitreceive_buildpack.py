"""roles/gitreceive/files/gitreceive.py: build_image's buildpack (slug) path, without a Docker
engine. cfg["docker"] points at a fake docker that logs each call's argv (and the tar stream that
`start -ai` gets on stdin) and exits with the status the test sets in FAKE_DOCKER_RC_<SUBCOMMAND>."""
import json
import os
import stat
import subprocess
import sys
import tarfile
import threading

import pytest

import gitreceive as gr  # noqa: E402 - roles/gitreceive/files is on sys.path (conftest.py)

BUILDER = "registry.local:5000/builders/herokuish:v0.10.4"
TAG = "registry.local:5000/acme/web:0123456789ab"
BUILD_CMD = ["/bin/bash", "-c", "mkdir -p /app && tar -xC /app && /build"]

FAKE_DOCKER = r'''#!%(python)s
import json, os, sys
args = sys.argv[1:]
i = 2 if args[:1] == ["--config"] else 0
sub = args[i] if i < len(args) else ""
with open(%(log)r, "a") as fh:
    fh.write(json.dumps(args) + "\n")
if sub == "start":
    if os.environ.get("FAKE_DOCKER_START_READS", "1") == "1":
        with open(%(stdin)r, "wb") as fh:
            fh.write(sys.stdin.buffer.read())
    print("-----> Fake buildpack app detected")
    print("progress 50%%\rprogress 100%%")
    sys.stdout.flush()
rc = int(os.environ.get("FAKE_DOCKER_RC_" + sub.upper(), "0"))
if rc:
    sys.stderr.write("fake docker: %%s failed\n" %% sub)
sys.exit(rc)
'''


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """The fake docker's paths and its log: fake.calls() is the list of argv (without argv[0])."""
    class Fake:
        log = tmp_path / "docker.log"
        stdin = tmp_path / "start-stdin.tar"
        binary = tmp_path / "bin" / "docker"
        config_dir = str(tmp_path / "docker-config")

        def calls(self):
            if not self.log.exists():
                return []
            return [json.loads(line) for line in self.log.read_text().splitlines()]

        def subcommands(self):
            return [c[2] if c[:1] == ["--config"] else c[0] for c in self.calls()]

    f = Fake()
    f.binary.parent.mkdir()
    f.binary.write_text(FAKE_DOCKER % {"python": sys.executable, "log": str(f.log), "stdin": str(f.stdin)})
    f.binary.chmod(0o755)
    for name in list(os.environ):
        if name.startswith("FAKE_DOCKER_"):
            monkeypatch.delenv(name)
    return f


@pytest.fixture
def cfg(fake):
    return {"docker": str(fake.binary), "docker_config_dir": fake.config_dir, "buildpack_image": BUILDER}


@pytest.fixture
def tree(tmp_path):
    """A pushed tree without a Dockerfile: a Procfile app with a subdirectory and an executable."""
    w = tmp_path / "work"
    (w / "bin").mkdir(parents=True)
    (w / "paas.yml").write_text("tenant: acme\napp: web\n")
    (w / "Procfile").write_text("web: bin/serve\n")
    (w / "requirements.txt").write_text("flask==3.0.0\n")
    (w / "bin" / "serve").write_text("#!/bin/sh\nexec python -m app\n")
    (w / "bin" / "serve").chmod(0o755)
    return w


def container_name(calls):
    create = calls[0]
    return create[create.index("--name") + 1]


# --- no Dockerfile, no builder ------------------------------------------------------------

@pytest.mark.parametrize("builder", ["missing", "", None])
def test_no_dockerfile_and_no_builder_is_refused(cfg, fake, tree, builder):
    if builder == "missing":
        del cfg["buildpack_image"]
    else:
        cfg["buildpack_image"] = builder
    with pytest.raises(gr.Refused) as err:
        gr.build_image(cfg, str(tree), TAG)
    assert "add a Dockerfile" in str(err.value)
    assert "gitreceive_buildpack_image" in str(err.value)
    assert fake.calls() == []


# --- with a builder -----------------------------------------------------------------------

def test_buildpack_build_runs_create_start_commit_rm(cfg, fake, tree, capsys):
    gr.build_image(cfg, str(tree), TAG)
    calls = fake.calls()
    name = container_name(calls)
    assert name
    conf = ["--config", fake.config_dir]
    assert calls == [
        conf + ["create", "-i", "--name", name, BUILDER] + BUILD_CMD,
        conf + ["start", "-ai", name],
        conf + ["commit", "--change", 'CMD ["/start", "web"]', name, TAG],
        conf + ["rm", "-f", name],
    ]
    out = capsys.readouterr().out.splitlines()
    assert "-----> Building %s with the buildpack builder %s" % (TAG, BUILDER) in out
    # the build's output reaches the pusher, indented; \r progress shows as separate lines
    assert "       -----> Fake buildpack app detected" in out
    assert "       progress 50%" in out and "       progress 100%" in out


def test_buildpack_build_gets_the_pushed_tree_as_a_tar_on_stdin(cfg, fake, tree):
    gr.build_image(cfg, str(tree), TAG)
    with tarfile.open(fake.stdin) as tar:
        members = {os.path.normpath(m.name): m for m in tar.getmembers()}
        assert {"paas.yml", "Procfile", "requirements.txt", "bin", "bin/serve"} <= set(members)
        assert tar.extractfile(members["Procfile"]).read() == b"web: bin/serve\n"
        assert tar.extractfile(members["bin/serve"]).read() == (tree / "bin" / "serve").read_bytes()
        assert members["bin/serve"].mode & stat.S_IXUSR
        assert "Dockerfile" not in members


def test_every_docker_call_carries_the_config_dir(cfg, fake, tree):
    cfg["docker_config_dir"] = "/somewhere/else/.docker"
    gr.build_image(cfg, str(tree), TAG)
    calls = fake.calls()
    assert len(calls) == 4
    assert all(c[:2] == ["--config", "/somewhere/else/.docker"] for c in calls)


def test_failing_build_is_refused_removes_the_container_and_never_commits(cfg, fake, tree, monkeypatch):
    monkeypatch.setenv("FAKE_DOCKER_RC_START", "1")
    with pytest.raises(gr.Refused) as err:
        gr.build_image(cfg, str(tree), TAG)
    assert str(err.value) == "the buildpack build failed"
    calls = fake.calls()
    assert fake.subcommands() == ["create", "start", "rm"]
    assert calls[-1] == ["--config", fake.config_dir, "rm", "-f", container_name(calls)]
    assert not any(TAG in c for c in calls)


def test_failing_create_is_refused_with_its_message(cfg, fake, tree, monkeypatch):
    monkeypatch.setenv("FAKE_DOCKER_RC_CREATE", "125")
    with pytest.raises(gr.Refused) as err:
        gr.build_image(cfg, str(tree), TAG)
    assert str(err.value) == "could not create the builder container from %s" % BUILDER
    subs = fake.subcommands()
    assert subs[0] == "create"
    assert "start" not in subs and "commit" not in subs


def test_failing_commit_is_refused_and_removes_the_container(cfg, fake, tree, monkeypatch):
    monkeypatch.setenv("FAKE_DOCKER_RC_COMMIT", "1")
    with pytest.raises(gr.Refused) as err:
        gr.build_image(cfg, str(tree), TAG)
    assert str(err.value) == "could not commit the built slug image"
    calls = fake.calls()
    assert fake.subcommands() == ["create", "start", "commit", "rm"]
    assert calls[-1] == ["--config", fake.config_dir, "rm", "-f", container_name(calls)]


@pytest.mark.parametrize("rc", [0, 1])
def test_a_tree_with_a_dockerfile_never_uses_the_builder(cfg, fake, tree, monkeypatch, capsys, rc):
    (tree / "Dockerfile").write_text("FROM scratch\n")
    monkeypatch.setenv("FAKE_DOCKER_RC_BUILD", str(rc))
    if rc:
        with pytest.raises(gr.Refused, match="^docker build failed$"):
            gr.build_image(cfg, str(tree), TAG)
    else:
        gr.build_image(cfg, str(tree), TAG)
    calls = fake.calls()
    assert calls == [["--config", fake.config_dir, "build", "--pull=false", "-t", TAG, str(tree)]]
    assert not any(BUILDER in c for c in calls)
    out = capsys.readouterr().out
    assert "from the Dockerfile" in out and "buildpack" not in out


# Found by this test: build_image kept tar's stdout pipe open in the parent, so when `docker
# start -ai` exited without reading the whole tree, tar blocked on the full pipe, tar.wait()
# never returned, the push hung and the builder container was never removed.
def test_a_build_that_fails_before_reading_the_tree_does_not_hang(cfg, fake, tree, monkeypatch):
    (tree / "big.bin").write_bytes(os.urandom(1 << 20))  # far more than a pipe buffer
    monkeypatch.setenv("FAKE_DOCKER_START_READS", "0")
    monkeypatch.setenv("FAKE_DOCKER_RC_START", "1")
    procs = []

    class Recording(subprocess.Popen):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            procs.append(self)

    monkeypatch.setattr(gr.subprocess, "Popen", Recording)
    result = {}

    def run():
        try:
            gr.build_image(cfg, str(tree), TAG)
        except Exception as exc:  # noqa: BLE001 - handed to the test thread
            result["exc"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(5)
    hung = thread.is_alive()
    if hung:  # unstick it: kill tar so tar.wait() returns and the finally (rm -f) runs
        for p in procs:
            if p.poll() is None:
                p.kill()
        thread.join(15)
    assert not hung, "build_image still waiting after 5 s"
    assert isinstance(result.get("exc"), gr.Refused) and str(result["exc"]) == "the buildpack build failed"
    assert fake.subcommands()[-1] == "rm"



@pytest.mark.parametrize("dockerfile", [True, False], ids=["dockerfile", "buildpack"])
def test_builds_run_on_the_build_network_when_there_is_one(fake, cfg, tree, dockerfile):
    """The git host's build network (whose traffic to the control plane the role drops) is the
    network of `docker build` and of the builder container; without one, Docker's default."""
    if dockerfile:
        (tree / "Dockerfile").write_text("FROM scratch\n")
    gr.build_image(dict(cfg, build_network="paas-build"), str(tree), TAG)
    first = fake.calls()[0]
    assert first[2] in ("build", "create"), first
    assert first[first.index("--network") + 1] == "paas-build", first
    fake.log.unlink()
    gr.build_image(dict(cfg, build_network=""), str(tree), TAG)
    assert "--network" not in fake.calls()[0], fake.calls()[0]
